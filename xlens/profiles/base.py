"""The machinery every profile shares: pytree dataclasses, validation and the halo reduction.

A profile is a frozen dataclass whose fields are its parameters. Each parameter
is a scalar (one halo) or an array of shape ``(H,)`` (``(H, 2)`` for ``centre``
and ``ell_comps``); the profile then stands for H haloes of one kind, and its
fields are the sum over the H haloes, computed by :func:`xlens.engine.halo_sum`
in one broadcast-and-reduce per chunk of haloes.

Subclasses implement the physics as methods on *parameter arrays*:
``_convergence(p, y, x, *, xp)``, ``_deflections(p, y, x, *, xp)``,
``_potential(p, y, x, *, xp)`` and ``_image(p, y, x, *, xp)``, where ``p`` maps
each parameter name to an array of shape ``(h, 1)`` (vector parameters to a pair
``(p_y, p_x)`` or ``(e1, e2)`` of such arrays) and ``y, x`` have shape ``(n,)``.
They return arrays of shape ``(h, n)`` (a pair for deflections).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

from .. import engine
from ..engine import ArrayLike
from ..errors import ParameterError, check_range, common_length

__all__ = ["LightProfile", "MassProfile", "Profile", "Range", "unchecked"]


@dataclasses.dataclass(frozen=True)
class Range:
    """The allowed range of a parameter, used by validation and by the property tests."""

    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = False
    high_inclusive: bool = False
    units: str = ""
    hint: str = ""


POSITIVE_ARCSEC = Range(0.0, math.inf, units="[arcsec]")
ANY_ARCSEC = Range(units="[arcsec]")
#: Each component of ``ell_comps``; :func:`check_axis_ratio` checks their magnitude.
ELL_COMPS = Range(-1.0, 1.0, units="(dimensionless)")
#: Surface brightness of light profiles.
INTENSITY = Range(0.0, math.inf, low_inclusive=True, units="[data units]")

#: Axis ratios this far below a bound are accepted: an ``ell_comps`` written for
#: q = 0.2 exactly round-trips to q = 0.19999999999999998.
_Q_SLACK = 1e-12

#: Parameters that carry a trailing axis of length 2.
VECTOR_FIELDS = ("centre", "ell_comps", "multipole_comps")


def vector_from_sequence(owner: str, name: str, value) -> ArrayLike:
    """A parameter given as a tuple or list, as one array.

    Plain numbers and nested lists (``(0.1, -0.2)``, ``[[y1, x1], [y2, x2]]``) are read by
    NumPy, row by row, as float64. A pair holding arrays or JAX tracers (``centre=(y, x)``
    built inside ``jax.jit``/``grad``/``vmap``, or per-halo columns ``(y_array, x_array)``)
    is broadcast and stacked on a last axis in the pair's namespace, so ``(y, x)`` gives
    ``(..., 2)`` on either engine without converting a tracer to NumPy.

    Raises
    ------
    ValueError
        If a sequence holding arrays does not have exactly two entries (y, x).
    """
    if not any(hasattr(v, "shape") for v in value):
        return np.asarray(value, dtype=np.float64)
    if len(value) != 2:
        raise ValueError(
            f"{owner}.{name} given as a sequence of arrays must be a pair (y, x); got {len(value)} entries"
        )
    xp = engine.promoted_namespace(*value)
    parts = [xp.asarray(v) for v in value]
    if not engine.is_jax(xp):
        parts = [xp.astype(v, xp.float64) for v in parts]
    return xp.stack(xp.broadcast_arrays(*parts), axis=-1)


def check_axis_ratio(owner: str, ell_comps: ArrayLike, q_min: float, *, hint: str = "") -> None:
    """Raise :class:`ParameterError` unless ``ell_comps`` gives ``0 < q`` and ``q >= q_min``.

    ``q = (1 - f)/(1 + f)`` with ``f = |ell_comps|`` (PHYSICS.md §1), so ``q > 0``
    means ``f < 1``. Values that are JAX arrays or tracers are not inspected
    (validation runs on concrete NumPy values only). Non-finite components are
    rejected earlier by the per-component range check.
    """
    xp = engine.namespace(ell_comps)
    if engine.is_jax(xp) or not hasattr(ell_comps, "shape"):
        return
    e = xp.reshape(xp.asarray(ell_comps, dtype=xp.float64), (-1, 2))
    f = xp.sqrt(e[:, 0] ** 2 + e[:, 1] ** 2)
    q = (1.0 - f) / (1.0 + f)
    bad = ~((q > 0.0) & (q >= q_min - _Q_SLACK))
    if not bool(xp.any(bad)):
        return
    i = int(xp.argmax(xp.astype(bad, xp.int8)))
    where = f" (halo {i} of {e.shape[0]})" if len(ell_comps.shape) == 2 else ""
    rule = (
        f"[{q_min:g}, 1], i.e. |ell_comps| <= {(1.0 - q_min) / (1.0 + q_min):.6g}"
        if q_min > 0
        else "(0, 1], i.e. |ell_comps| < 1"
    )
    msg = (
        f"{owner}.ell_comps must give an axis ratio q = (1 - |e|)/(1 + |e|) in {rule}; "
        f"got ell_comps ({float(e[i, 0])!r}, {float(e[i, 1])!r}), "
        f"|e| = {float(f[i]):.6g}, q = {float(q[i]):.6g}{where}"
    )
    if hint:
        msg += f". {hint}"
    raise ParameterError(msg, name=f"{owner}.ell_comps", value=float(q[i]), low=q_min, high=1.0)


class Profile:
    """Base class of mass and light profiles (not public)."""

    #: Parameter name -> allowed range. Vector parameters check each component.
    ranges: ClassVar[dict[str, Range]] = {}
    #: Methods (``"_convergence"``, ``"_deflections"``, ``"_potential"``, ``"_image"``)
    #: whose stable forms need float64 (cNFW, PHYSICS.md §10.2; the NFW-family
    #: potentials, §9.1) compute in float64 whatever the grid dtype, and cast back.
    float64_methods: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        owner = type(self).__name__
        shapes = {}
        for f in engine.data_fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple | list):
                # a (y, x) tuple is one parameter, not a pytree of two leaves
                value = vector_from_sequence(owner, f.name, value)
                object.__setattr__(self, f.name, value)
            shape = getattr(value, "shape", None)
            if shape is None:
                shape = np.shape(value) if isinstance(value, int | float | tuple | list) else None
            if shape is None:
                continue
            if f.name in VECTOR_FIELDS:
                if len(shape) == 0 or shape[-1] != 2:
                    raise ValueError(
                        f"{owner}.{f.name} must have shape (2,) or (H, 2) in (y, x) order; "
                        f"got shape {tuple(shape)}"
                    )
                shape = tuple(shape[:-1])
            shapes[f.name] = tuple(shape)
        common_length(owner, shapes)
        for name, rng in self.ranges.items():
            check_range(
                owner,
                name,
                getattr(self, name),
                rng.low,
                rng.high,
                low_inclusive=rng.low_inclusive,
                high_inclusive=rng.high_inclusive,
                units=rng.units,
                hint=rng.hint,
            )
        self._validate()

    def _validate(self) -> None:
        """Extra checks of a subclass (on concrete values only)."""

    # ------------------------------------------------------------------ helpers
    @property
    def n_halos(self) -> int | None:
        """Number of haloes H this object stands for, or None for scalar parameters."""
        shapes = {}
        for f in engine.data_fields(self):
            shape = tuple(np.shape(getattr(self, f.name)))
            shapes[f.name] = shape[:-1] if f.name in VECTOR_FIELDS else shape
        return common_length(type(self).__name__, shapes)

    def _evaluate(self, method: str, grid: ArrayLike, n_out: int, active=None):
        """Run ``method`` over all haloes and points; return arrays shaped like the grid.

        ``active`` (shape (H,), 0/1) marks padded haloes whose chunks may be skipped.
        """
        xp = engine.promoted_namespace(grid, *(getattr(self, f.name) for f in engine.data_fields(self)))
        grid = xp.asarray(grid)
        if grid.ndim == 0 or grid.shape[-1] != 2:
            raise ValueError(
                f"grid must have shape (..., 2) holding (y, x) [arcsec]; got shape {grid.shape}"
            )
        if xp.isdtype(grid.dtype, "real floating"):
            out_dtype = grid.dtype
        else:
            out_dtype = xp.float64
        dtype = xp.float64 if method in self.float64_methods else out_dtype
        batch_shape = grid.shape[:-1]
        points = xp.reshape(xp.astype(grid, dtype), (-1, 2))
        y, x = points[:, 0], points[:, 1]

        names, arrays = [], []
        n_halo = self.n_halos or 1
        for f in engine.data_fields(self):
            value = xp.asarray(getattr(self, f.name), dtype=dtype)
            if f.name in VECTOR_FIELDS:
                value = xp.broadcast_to(xp.reshape(value, (-1, 2)), (n_halo, 2))
                names += [f.name + "_0", f.name + "_1"]
                arrays += [value[:, 0], value[:, 1]]
            else:
                value = xp.broadcast_to(xp.reshape(value, (-1,)), (n_halo,))
                names.append(f.name)
                arrays.append(value)

        def per_chunk(*chunk):
            p = dict(zip(names, chunk, strict=True))
            for v in VECTOR_FIELDS:
                if v + "_0" in p:
                    p[v] = (p.pop(v + "_0"), p.pop(v + "_1"))
            return getattr(self, method)(p, y, x, xp=xp)

        total = engine.halo_sum(per_chunk, arrays, n_halo, y.shape[0], xp=xp, active=active)
        if n_out == 2:
            out = xp.stack(total, axis=-1)
            return xp.astype(xp.reshape(out, (*batch_shape, 2)), out_dtype)
        return xp.astype(xp.reshape(total, batch_shape), out_dtype)


class MassProfile(Profile):
    """A mass profile: convergence, deflections and (where a closed form exists) potential."""

    def convergence_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Convergence kappa (dimensionless) at the grid points.

        Parameters
        ----------
        grid : array, shape (..., 2)
            (y, x) positions [arcsec].

        Returns
        -------
        array, shape (...)
            Sum over the haloes of ``Sigma / Sigma_cr``.
        """
        return self._evaluate("_convergence", grid, 1)

    def deflections_yx_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Reduced deflection angles at the grid points.

        Parameters
        ----------
        grid : array, shape (..., 2)
            (y, x) positions [arcsec].

        Returns
        -------
        array, shape (..., 2)
            ``(alpha_y, alpha_x)`` [arcsec], summed over the haloes.
        """
        return self._evaluate("_deflections", grid, 2)

    def potential_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Lensing potential psi [arcsec^2] at the grid points (``psi = 0`` at the centre).

        Parameters
        ----------
        grid : array, shape (..., 2)
            (y, x) positions [arcsec].

        Returns
        -------
        array, shape (...)
            The potential [arcsec^2], summed over the haloes.
        """
        return self._evaluate("_potential", grid, 1)

    def _potential(self, p: dict[str, Any], y, x, *, xp):
        raise NotImplementedError(f"{type(self).__name__} has no closed-form potential")


class LightProfile(Profile):
    """A light profile: surface brightness."""

    def image_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Surface brightness at the grid points.

        Parameters
        ----------
        grid : array, shape (..., 2)
            (y, x) positions [arcsec].

        Returns
        -------
        array, shape (...)
            Surface brightness in the units of ``intensity`` (electrons per second
            in the PyAutoLens convention), summed over the profiles.
        """
        return self._evaluate("_image", grid, 1)


def unchecked(cls, values: dict):
    """Build a profile (or any xlens pytree dataclass) without validation.

    For values that are already checked or are traced: ``__post_init__`` is not run.
    """
    obj = object.__new__(cls)
    for k, v in values.items():
        object.__setattr__(obj, k, v)
    return obj
