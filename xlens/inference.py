"""Inference on the forward model: one parameter space, one compiled likelihood, gradients.

Lens modelling (MAP with optax, Hamiltonian Monte Carlo with blackjax or numpyro) and
simulation-based inference (nested and ensemble samplers, neural posterior estimation)
all ask the simulator the same questions: ``log L(theta)`` of a flat parameter vector,
its gradient, and many of them at once. This module answers them with the simulator's
own pipeline (:meth:`Simulator._forward`, the same code as ``sim(params, key)`` without
the noise), so there is one model for every backend:

* :class:`ParameterSpace` maps a flat vector ``theta`` (names in a fixed order) to a
  :class:`~xlens.simulator.SimParams` and back, with the uniform priors of
  ``SimulatorConfig.priors`` and their unit cube. Every map is a pure function of
  arrays: it runs under ``jit``, ``grad`` and ``vmap`` and on either engine.
* :class:`Likelihood` is the Gaussian log-likelihood of an image. Its *pure* methods
  (:meth:`~Likelihood.log_likelihood`, :meth:`~Likelihood.log_prior`,
  :meth:`~Likelihood.log_posterior`) go inside a user's own ``jit``/``grad``/``vmap``
  (blackjax, numpyro, optax steps). Its *compiled* entry points (``like(theta)``,
  :meth:`~Likelihood.value_and_grad`, :meth:`~Likelihood.batch`,
  :meth:`~Likelihood.params`) turn any input -- a list of Python floats, a NumPy array,
  a JAX array of any float dtype -- into a float64 array of fixed shape *before* the
  jitted call, so each of them compiles once and never retraces. Diagnostics for a plot
  reuse the simulator's own compiled ``diagnostics``.

Data, noise map and the reference parameters are arguments of the compiled programs,
not constants baked into them: :meth:`Likelihood.with_data` swaps the image without a
recompile, and XLA never constant-folds the fixed line-of-sight haloes.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import engine
from .engine import ArrayLike
from .errors import check_range
from .halos.batch import HaloBatch
from .profiles.base import unchecked
from .simulator import _LENS_KEYS, _SOURCE_KEYS, _VECTOR_COMPONENTS, SimParams, Simulator

__all__ = ["Likelihood", "Parameter", "ParameterSpace", "likelihood"]

_GROUPS = (("lens", _LENS_KEYS), ("shear", ("gamma_1", "gamma_2")), ("source", _SOURCE_KEYS))
_UNITS = {
    "centre_y": "arcsec",
    "centre_x": "arcsec",
    "einstein_radius": "arcsec",
    "effective_radius": "arcsec",
    "radius_break": "arcsec",
    "intensity": "e-/s",
    "log10_mass": "log10 M_sun",
}
#: Per-halo quantities of a subhalo slot, in the order they appear in ``theta``.
_HALO_FIELDS = ("log10_mass", "centre_y", "centre_x")
_HALO_NAME = re.compile(r"^subhalos\.(?P<family>[^.]+)\.(?P<field>\w+)\[(?P<slot>\d+)\]$")
_LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One free parameter: its name, uniform prior bounds and units.

    Attributes
    ----------
    name : str
        ``group.field`` (``lens.einstein_radius``) or ``subhalos.<family>.<field>[slot]``.
    low, high : float
        Uniform prior bounds, ``low < high``, in ``units``.
    units : str
        ``arcsec``, ``e-/s``, ``log10 M_sun`` (log10 of M200c in solar masses) or
        ``dimensionless``.
    """

    name: str
    low: float
    high: float
    units: str


def _host(leaf) -> np.ndarray:
    """A leaf as a NumPy array, floats as float64 (the dtype policy of ``Simulator._to_device``)."""
    arr = np.asarray(leaf)
    return arr.astype(np.float64) if np.issubdtype(arr.dtype, np.floating) else arr


def _bounds(spec) -> tuple[float, float]:
    lo, hi = (spec, spec) if np.isscalar(spec) else spec
    return float(lo), float(hi)


class ParameterSpace:
    """Flat parameter vectors <-> :class:`~xlens.simulator.SimParams`, with uniform priors.

    Parameters
    ----------
    sim : Simulator
        The simulator whose priors (``sim.config.priors``) and halo populations define
        the space.
    reference : SimParams, optional
        Values of every parameter that is not free, and the padded halo batches (their
        capacities fix the compiled shapes). Typically the truth, ``sim.sample_params(key)[0]``
        or a previous fit. Default: the prior midpoints of the macro model with every
        subhalo and line-of-sight slot empty (a smooth lens).
    free : sequence of str, optional
        Names of the free parameters (see :attr:`candidates`); they keep the canonical
        order whatever the order given. Default: every macro parameter whose prior is a
        ``(low, high)`` range with ``low < high``, plus the subhalo parameters when
        ``subhalos=True``.
    subhalos : bool
        With ``free=None``, also free the mass and position of every real (``mask == 1``)
        subhalo of the reference: ``subhalos.<family>.log10_mass[i]`` (log10 of M200c
        [M_sun]), ``subhalos.<family>.centre_y[i]`` and ``.centre_x[i]`` [arcsec], for
        each family and slot ``i``. Line-of-sight haloes always stay fixed.

    Attributes
    ----------
    names : tuple of str
        Free parameter names, in the order of ``theta``.
    parameters : tuple of Parameter
        Name, bounds and units of each entry of ``theta``.
    low, high : ndarray, shape (n,)
        Uniform prior bounds.
    reference : SimParams
        The reference, on the simulator's engine (float64 leaves).
    candidates : tuple of str
        Every name that may be freed.

    Notes
    -----
    Macro names are ``lens.{centre_y, centre_x, ell_comps_1, ell_comps_2, einstein_radius,
    slope}``, ``shear.{gamma_1, gamma_2}`` and ``source.{centre_y, centre_x, ell_comps_1,
    ell_comps_2, intensity, effective_radius, sersic_index, radius_break, gamma, alpha}``,
    with the units of :data:`~xlens.simulator.DEFAULT_PRIORS`. Subhalo masses are
    parametrised by ``log10(M200c / M_sun)``: the masses span decades, and an O(1)
    coordinate suits optimisers, samplers and finite differences alike. Their prior is
    uniform in log10 mass over ``[m_min, m_max]`` of ``sim.config.subhalos``, and the
    positions' prior is the square that bounds the population's disc around the
    reference lens centre (neither is the population's own mass function or disc).

    Examples
    --------
    >>> import xlens                                             # doctest: +SKIP
    >>> sim = xlens.Simulator()                                  # doctest: +SKIP
    >>> truth, _ = sim.sample_params(0)                          # doctest: +SKIP
    >>> space = xlens.ParameterSpace(sim, truth)                 # doctest: +SKIP
    >>> theta = space.to_vector(truth)                           # doctest: +SKIP
    >>> params = space.to_params(theta)                          # doctest: +SKIP
    """

    def __init__(
        self,
        sim: Simulator,
        reference: SimParams | None = None,
        *,
        free: Sequence[str] | None = None,
        subhalos: bool = False,
    ):
        if not isinstance(sim, Simulator):
            raise TypeError(f"ParameterSpace takes a Simulator; got {type(sim).__name__}")
        if free is not None and subhalos:
            raise ValueError(
                "ParameterSpace: subhalos=True selects every subhalo parameter when free=None; "
                "with free given, list the subhalo names there instead"
            )
        self.sim = sim
        ref = _default_reference(sim) if reference is None else reference
        if not isinstance(ref, SimParams):
            raise TypeError(f"ParameterSpace.reference must be a SimParams; got {type(ref).__name__}")
        # set-up runs on host (NumPy) copies: no op-by-op JAX dispatch, nothing compiles
        ref = engine.tree_map(_host, ref)
        macro, halo = self._candidates(sim, ref)
        self.candidates = tuple(p.name for p in macro + halo)
        by_name = {p.name: p for p in macro + halo}
        if free is None:
            chosen = [p for p in macro if p.low < p.high] + (halo if subhalos else [])
        else:
            free = [free] if isinstance(free, str) else list(free)
            for name in free:
                if name not in by_name:
                    shown = ", ".join(self.candidates[:24]) + (", ..." if len(self.candidates) > 24 else "")
                    raise ValueError(f"ParameterSpace.free: unknown parameter {name!r}; the candidates are {shown}")
                p = by_name[name]
                if not p.low < p.high:
                    raise ValueError(
                        f"ParameterSpace.free: {name} has the fixed prior {p.low!r} in SimulatorConfig.priors; "
                        "give it a (low, high) range to free it"
                    )
            if len(set(free)) != len(free):
                raise ValueError(f"ParameterSpace.free: repeated names in {free}")
            chosen = [p for p in macro + halo if p.name in set(free)]
        if not chosen:
            raise ValueError("ParameterSpace: no free parameter (every prior is a fixed value)")
        self.parameters = tuple(chosen)
        self.names = tuple(p.name for p in chosen)
        self.low = np.array([p.low for p in chosen], dtype=np.float64)
        self.high = np.array([p.high for p in chosen], dtype=np.float64)
        self._plan(ref)
        # the reference in the canonical layout that to_params returns (vector fields as (2,) arrays)
        value = np.asarray(self.to_vector(ref), dtype=np.float64)
        for p, v in zip(self.parameters, value, strict=True):
            units = "(dimensionless)" if p.units == "dimensionless" else f"[{p.units}]"
            check_range("ParameterSpace.reference", p.name, float(v), p.low, p.high, low_inclusive=True,
                        high_inclusive=True, units=units,
                        hint="The reference must lie inside the prior of every free parameter")
        self.reference = sim._to_device(self.to_params(value, ref))

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _candidates(sim: Simulator, ref: SimParams) -> tuple[list[Parameter], list[Parameter]]:
        priors = sim.config.priors
        macro = []
        for group, names in _GROUPS:
            for n in names:
                lo, hi = _bounds(priors[group][n])
                macro.append(Parameter(f"{group}.{n}", lo, hi, _UNITS.get(n, "dimensionless")))
        halo = []
        cfg = sim.config.subhalos
        lens_centre = np.asarray(ref.lens.centre, dtype=np.float64).reshape(2)
        for family, batch in ref.subhalos.items():
            prof = batch.profile
            if not hasattr(prof, "mass_at_200"):
                continue  # a user batch without M200c: its haloes stay fixed
            ranges = type(prof).ranges["mass_at_200"]
            m_lo, m_hi = (cfg.m_min, cfg.m_max) if cfg is not None else (ranges.low, ranges.high)
            radius = cfg.radius if cfg is not None else 0.5 * max(sim.config.shape_native) * sim.config.pixel_scale
            for slot in np.flatnonzero(np.asarray(batch.mask) > 0.5):
                base = f"subhalos.{family}"
                halo += [
                    Parameter(f"{base}.log10_mass[{slot}]", math.log10(m_lo), math.log10(m_hi), "log10 M_sun"),
                    Parameter(f"{base}.centre_y[{slot}]", lens_centre[0] - radius, lens_centre[0] + radius, "arcsec"),
                    Parameter(f"{base}.centre_x[{slot}]", lens_centre[1] - radius, lens_centre[1] + radius, "arcsec"),
                ]
        return macro, halo

    def _plan(self, ref: SimParams) -> None:
        """Static gather/scatter plan: where each free entry of ``theta`` goes."""
        self._macro: dict[str, dict[str, int]] = {g: {} for g, _ in _GROUPS}
        halo: dict[str, dict[str, tuple[list[int], list[int]]]] = {}
        for i, name in enumerate(self.names):
            m = _HALO_NAME.match(name)
            if m is None:
                group, field = name.split(".")
                self._macro[group][field] = i
            else:
                slots, positions = halo.setdefault(m["family"], {}).setdefault(m["field"], ([], []))
                slots.append(int(m["slot"]))
                positions.append(i)
        self._halo = {
            fam: {f: (np.asarray(s, dtype=np.int64), np.asarray(p, dtype=np.int64)) for f, (s, p) in fields.items()}
            for fam, fields in halo.items()
        }

    # --------------------------------------------------------------- properties
    @property
    def size(self) -> int:
        """Number of free parameters n (the length of ``theta``)."""
        return len(self.names)

    def __len__(self) -> int:
        return self.size

    @property
    def bounds(self) -> np.ndarray:
        """Prior bounds, shape (n, 2): ``(low, high)`` per parameter, in its units."""
        return np.stack([self.low, self.high], axis=-1)

    @property
    def units(self) -> tuple[str, ...]:
        """Units of each entry of ``theta``."""
        return tuple(p.units for p in self.parameters)

    def index(self, name: str) -> int:
        """Position of ``name`` in ``theta``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"ParameterSpace.index: {name!r} is not free; the free names are {self.names}") from None

    def __repr__(self) -> str:
        rows = ", ".join(f"{p.name} in [{p.low:g}, {p.high:g}]" for p in self.parameters[:6])
        more = f", ... ({self.size} in all)" if self.size > 6 else ""
        return f"ParameterSpace({rows}{more})"

    # ------------------------------------------------------------------- maps
    def to_vector(self, params: SimParams) -> ArrayLike:
        """The free parameters of ``params`` as a flat vector.

        Parameters
        ----------
        params : SimParams
            Parameters with the reference's structure (e.g. from :meth:`to_params`,
            ``sim.sample_params`` or the truth).

        Returns
        -------
        array, shape (n,)
            float64, in the order of :attr:`names`, on the engine of ``params``
            (subhalo masses as log10(M200c / M_sun)).
        """
        xp = engine.namespace(*engine.tree_leaves(params))
        values = [None] * self.size
        for group, fields in self._macro.items():
            obj = getattr(params, group)
            for field, i in fields.items():
                vector, k = _VECTOR_COMPONENTS.get(field, (field, None))
                v = xp.asarray(getattr(obj, vector), dtype=xp.float64)
                values[i] = v if k is None else v[k]
        for family, fields in self._halo.items():
            prof = params.subhalos[family].profile
            mass = xp.asarray(prof.mass_at_200, dtype=xp.float64)
            centre = xp.asarray(prof.centre, dtype=xp.float64)
            for field, (slots, positions) in fields.items():
                if field == "log10_mass":
                    column = xp.log10(xp.take(mass, xp.asarray(slots)))
                else:
                    column = xp.take(centre[:, 0 if field == "centre_y" else 1], xp.asarray(slots))
                for j, i in enumerate(positions):
                    values[int(i)] = column[j]
        return xp.stack([xp.reshape(v, ()) for v in values])

    def to_params(self, theta: ArrayLike, reference: SimParams | None = None) -> SimParams:
        """A :class:`~xlens.simulator.SimParams` from a flat vector (pure: jit, grad, vmap).

        Parameters
        ----------
        theta : array, shape (n,)
            Free parameters in the order of :attr:`names` (units of :attr:`units`).
        reference : SimParams, optional
            Values of the fixed parameters (default :attr:`reference`); the compiled
            programs of :class:`Likelihood` pass it as an argument.

        Returns
        -------
        SimParams
            The reference with the free entries replaced: same structure, shapes and
            float64 dtype, so the simulator's compiled functions are reused.
        """
        ref = self.reference if reference is None else reference
        xp = engine.namespace(theta, *engine.tree_leaves(ref))
        theta = xp.asarray(theta, dtype=xp.float64)
        if theta.shape != (self.size,):
            raise ValueError(
                f"ParameterSpace.to_params: theta must have shape ({self.size},) for {self.size} free "
                f"parameters; got {tuple(theta.shape)} (map batches with Likelihood.batch or vmap)"
            )
        groups = {}
        for group, fields in self._macro.items():
            obj = getattr(ref, group)
            values = {n: getattr(obj, n) for n in getattr(obj, "_meta_fields", ())}
            for f in engine.data_fields(obj):
                old = xp.asarray(getattr(obj, f.name), dtype=xp.float64)
                if f.name in ("centre", "ell_comps"):
                    names = [n for n, (vec, _) in _VECTOR_COMPONENTS.items() if vec == f.name]
                    values[f.name] = xp.stack(
                        [theta[fields[n]] if n in fields else old[k] for k, n in enumerate(names)]
                    )
                else:
                    values[f.name] = theta[fields[f.name]] if f.name in fields else old
            groups[group] = unchecked(type(obj), values)
        subhalos = dict(ref.subhalos)
        for family, fields in self._halo.items():
            batch = ref.subhalos[family]
            prof = batch.profile
            values = {n: getattr(prof, n) for n in getattr(prof, "_meta_fields", ())}
            values.update({f.name: getattr(prof, f.name) for f in engine.data_fields(prof)})
            mass = xp.asarray(prof.mass_at_200, dtype=xp.float64)
            centre = xp.asarray(prof.centre, dtype=xp.float64)
            for field, (slots, positions) in fields.items():
                column = xp.take(theta, xp.asarray(positions))
                if field == "log10_mass":
                    mass = engine.at_set(mass, slots, 10.0**column, xp=xp)
                else:
                    k = 0 if field == "centre_y" else 1
                    centre = engine.at_set(centre, (slots, k), column, xp=xp)
            values["mass_at_200"], values["centre"] = mass, centre
            subhalos[family] = unchecked(HaloBatch, {"profile": unchecked(type(prof), values), "mask": batch.mask})
        return SimParams(groups["lens"], groups["shear"], groups["source"], subhalos, ref.line_of_sight)

    # ------------------------------------------------------------------ priors
    def from_unit_cube(self, u: ArrayLike) -> ArrayLike:
        """``low + (high - low) u``: the prior transform of nested samplers (shape (..., n))."""
        xp = engine.namespace(u)
        u = xp.asarray(u, dtype=xp.float64)
        return xp.asarray(self.low) + xp.asarray(self.high - self.low) * u

    def to_unit_cube(self, theta: ArrayLike) -> ArrayLike:
        """``(theta - low) / (high - low)``, the inverse of :meth:`from_unit_cube` (shape (..., n))."""
        xp = engine.namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        return (theta - xp.asarray(self.low)) / xp.asarray(self.high - self.low)

    def contains(self, theta: ArrayLike) -> ArrayLike:
        """True where every entry lies in ``[low, high]`` (shape (...) for theta (..., n))."""
        xp = engine.namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        return xp.all((theta >= xp.asarray(self.low)) & (theta <= xp.asarray(self.high)), axis=-1)

    @property
    def log_prior_density(self) -> float:
        """``-sum(log(high - low))``: the log density of the uniform prior inside its box."""
        return -float(np.sum(np.log(self.high - self.low)))

    def log_prior(self, theta: ArrayLike) -> ArrayLike:
        """Log density of the uniform prior: :attr:`log_prior_density` inside the box, -inf outside."""
        xp = engine.namespace(theta)
        return xp.where(self.contains(theta), self.log_prior_density, -math.inf)

    def sample(self, key, shape: tuple[int, ...] = ()) -> ArrayLike:
        """Draws from the uniform prior, shape ``(*shape, n)``, from a JAX or NumPy key."""
        ops = engine.random_ops(key)
        return self.from_unit_cube(ops.uniform(key, (*tuple(shape), self.size)))


def _default_reference(sim: Simulator) -> SimParams:
    """Prior midpoints of the macro model; every halo slot empty (a smooth lens)."""
    params, _ = sim.sample_params(0)  # a NumPy key: drawn eagerly on NumPy, nothing compiles
    priors = sim.config.priors
    groups = {}
    for group, names in _GROUPS:
        mid = {n: 0.5 * sum(_bounds(priors[group][n])) for n in names}
        obj = getattr(params, group)
        values = {}
        for f in engine.data_fields(obj):
            if f.name in ("centre", "ell_comps"):
                comps = [n for n, (vec, _) in _VECTOR_COMPONENTS.items() if vec == f.name]
                values[f.name] = np.array([mid[n] for n in comps])
            else:
                values[f.name] = np.asarray(mid[f.name])
        groups[group] = unchecked(type(obj), values)

    def empty(batch):
        return unchecked(HaloBatch, {"profile": batch.profile, "mask": np.zeros_like(np.asarray(batch.mask))})

    subhalos = {k: empty(b) for k, b in params.subhalos.items()}
    los = None if params.line_of_sight is None else empty(params.line_of_sight)
    return SimParams(groups["lens"], groups["shear"], groups["source"], subhalos, los)


class Likelihood:
    """The Gaussian log-likelihood of an image under the simulator, compiled once.

    Parameters
    ----------
    sim : Simulator
        The forward model (its engine, dtype and fast/exact path are used as they are).
    data : array, shape ``sim.config.shape_native``
        The observed image [e-/s].
    noise_map : array, same shape
        Per-pixel standard deviation [e-/s], > 0 and finite.
    space : ParameterSpace, optional
        The free parameters (default ``ParameterSpace(sim)``: every macro parameter
        with a range prior, a smooth lens).
    mask : array of bool, same shape, optional
        True for the pixels that enter the likelihood (default: all).

    Notes
    -----
    ``log L = -1/2 sum_i ((d_i - m_i)/sigma_i)^2 - sum_i log sigma_i - (N/2) log 2 pi``
    over the N unmasked pixels, with ``m`` the noiseless PSF-convolved model image of
    ``space.to_params(theta)`` (``sim.model_image``). The normalisation *is* included,
    so ``log L`` is the log density of the data and nested-sampling evidences are
    absolute. The sum is taken in float64 whatever the simulator's dtype. The noise map
    is fixed (it does not follow the model's Poisson variance), as is usual in lens
    modelling.

    Pure functions of ``theta`` (use them inside your own ``jit``, ``grad``, ``vmap``,
    blackjax, numpyro): :meth:`log_likelihood`, :meth:`log_prior`, :meth:`log_posterior`.
    Compiled entry points (each compiles once per input shape; inputs of any type are
    converted to float64 arrays first): ``like(theta)``, :meth:`value_and_grad`,
    :meth:`batch`, :meth:`params`; :meth:`diagnostics` adds the simulator's own compiled
    diagnostics. :attr:`traces` counts how often each compiled program was traced.

    Examples
    --------
    >>> like = xlens.likelihood(sim, example.data, example.noise_map, space)   # doctest: +SKIP
    >>> like(space.to_vector(truth))                      # doctest: +SKIP
    >>> value, grad = like.value_and_grad(space.to_vector(truth))             # doctest: +SKIP
    >>> like.batch(space.sample(jax.random.key(0), (256,))).shape             # doctest: +SKIP
    (256,)
    """

    def __init__(
        self,
        sim: Simulator,
        data: ArrayLike,
        noise_map: ArrayLike,
        space: ParameterSpace | None = None,
        *,
        mask: ArrayLike | None = None,
    ):
        if not isinstance(sim, Simulator):
            raise TypeError(f"Likelihood takes a Simulator; got {type(sim).__name__}")
        self.sim = sim
        self.space = ParameterSpace(sim) if space is None else space
        if self.space.sim is not sim:
            raise ValueError("Likelihood: the ParameterSpace was built for another Simulator")
        shape = tuple(sim.config.shape_native)
        if mask is None:
            weights = np.ones(shape)
        else:
            mask = np.asarray(mask)
            if mask.shape != shape or mask.dtype != np.bool_:
                raise ValueError(
                    f"Likelihood.mask must be a boolean array of shape {shape}; got {mask.dtype} {mask.shape}"
                )
            if not mask.any():
                raise ValueError("Likelihood.mask selects no pixel")
            weights = mask.astype(np.float64)
        self._weights = weights
        self._jit: dict[Any, Callable] = {}
        #: Number of times each compiled program was traced (a retrace means a recompile).
        self.traces: dict[str, int] = {}
        self._set_data(data, noise_map)

    def _set_data(self, data, noise_map) -> None:
        shape = tuple(self.sim.config.shape_native)
        d = np.asarray(data, dtype=np.float64)
        s = np.asarray(noise_map, dtype=np.float64)
        for name, arr in (("data", d), ("noise_map", s)):
            if arr.shape != shape:
                raise ValueError(f"Likelihood.{name} must have shape {shape} (shape_native); got {arr.shape}")
        check_range("Likelihood", "data", d, units="[e-/s]")
        check_range("Likelihood", "noise_map", s, 0.0, units="[e-/s]",
                    hint="a zero or negative standard deviation has no likelihood")
        w = self._weights
        #: The data-independent part of log L: -sum(log sigma) - (N/2) log(2 pi) over unmasked pixels.
        self.log_normalisation = float(-np.sum(w * np.log(s)) - 0.5 * np.sum(w) * _LOG_2PI)
        xp = self.sim.xp
        self.data = xp.asarray(d)
        self.noise_map = xp.asarray(s)
        # arguments of every compiled program (never constants baked into it: see the module notes)
        self._args = (self.space.reference, self.data, xp.asarray(w / s), xp.asarray(self.log_normalisation))

    def with_data(self, data: ArrayLike, noise_map: ArrayLike) -> Likelihood:
        """A likelihood of another image of the same shape that reuses these compiled programs."""
        other = object.__new__(Likelihood)
        other.__dict__.update(self.__dict__)
        other._set_data(data, noise_map)
        return other

    # ----------------------------------------------------------- pure functions
    def _log_likelihood(self, theta, reference, data, inv_sigma, log_norm):
        params = self.space.to_params(theta, reference)
        key = engine.default_key(self.sim.engine)  # the noise is not used: only model_image is kept
        model = self.sim._forward(params, key, False)["model_image"]
        xp = engine.namespace(model, data)
        r = (data - xp.astype(model, xp.float64)) * inv_sigma
        return -0.5 * xp.sum(r * r) + log_norm

    def _log_posterior(self, theta, reference, data, inv_sigma, log_norm):
        xp = engine.namespace(theta)
        # evaluate the model inside the box only (a double where keeps gradients finite)
        inside = self.space.contains(theta)
        safe = xp.clip(theta, xp.asarray(self.space.low), xp.asarray(self.space.high))
        value = self._log_likelihood(safe, reference, data, inv_sigma, log_norm) + self.space.log_prior_density
        return xp.where(inside, value, -math.inf)

    def log_likelihood(self, theta: ArrayLike) -> ArrayLike:
        """log L(theta) (pure; ``theta`` shape (n,) float64); see the class notes."""
        return self._log_likelihood(theta, *self._args)

    def log_prior(self, theta: ArrayLike) -> ArrayLike:
        """Log density of the uniform prior (pure): constant inside the box, -inf outside."""
        return self.space.log_prior(theta)

    def log_posterior(self, theta: ArrayLike) -> ArrayLike:
        """log L + log prior (pure), -inf outside the prior box (where the model is not evaluated)."""
        return self._log_posterior(theta, *self._args)

    # --------------------------------------------------------- compiled entries
    def _theta(self, theta, ndim: int):
        """Any input -> a float64 array of the engine, shape (n,) or (B, n): one trace per shape."""
        xp = self.sim.xp
        n = self.space.size
        if isinstance(theta, list | tuple | float | int | np.ndarray | np.generic):
            theta = xp.asarray(np.asarray(theta, dtype=np.float64))
        else:
            theta = xp.asarray(theta, dtype=xp.float64)  # JAX arrays (any float dtype) and tracers
        if theta.ndim != ndim or theta.shape[-1] != n:
            want = f"({n},)" if ndim == 1 else f"(batch, {n})"
            raise ValueError(
                f"Likelihood: theta must have shape {want} for the free parameters {self.space.names[:3]}...; "
                f"got {tuple(theta.shape)}"
            )
        return theta

    def _program(self, kind: str, posterior: bool = False) -> Callable:
        key = (kind, posterior)
        if key in self._jit:
            return self._jit[key]
        target = self._log_posterior if posterior else self._log_likelihood
        label = "params" if kind == "params" else f"{kind}_{'log_posterior' if posterior else 'log_likelihood'}"
        eng = self.sim.engine

        if kind == "value":
            inner = target
        elif kind == "value_and_grad":
            inner = engine.value_and_grad(target, eng)
        elif kind == "batch":
            def inner(thetas, *args):
                return engine.map_batch(lambda t: target(t, *args), eng)(thetas)
        elif kind == "params":
            def inner(theta, reference, *_):
                return self.space.to_params(theta, reference)
        else:  # pragma: no cover - internal
            raise KeyError(kind)

        traces = self.traces

        def program(theta, *args):
            traces[label] = traces.get(label, 0) + 1  # runs once per trace
            return inner(theta, *args)

        program.__name__ = program.__qualname__ = f"xlens_{label}"
        self._jit[key] = engine.jit(program, eng)
        return self._jit[key]

    def __call__(self, theta: ArrayLike, *, posterior: bool = False) -> ArrayLike:
        """log L(theta) (or the log posterior), compiled once.

        Parameters
        ----------
        theta : array_like, shape (n,)
            A list of floats, a NumPy array or a JAX array of any float dtype.
        posterior : bool
            Return :meth:`log_posterior` instead (a separate program, also compiled once).

        Returns
        -------
        array, shape ()
            float64 on the simulator's engine.
        """
        return self._program("value", posterior)(self._theta(theta, 1), *self._args)

    def value_and_grad(self, theta: ArrayLike, *, posterior: bool = False) -> tuple[ArrayLike, ArrayLike]:
        """``(log L, d log L / d theta)`` at ``theta`` (shape (n,)), compiled once (JAX only).

        The gradient has shape (n,), in the inverse units of :attr:`ParameterSpace.units`.

        Raises
        ------
        NotImplementedError
            On the NumPy engine.
        """
        return self._program("value_and_grad", posterior)(self._theta(theta, 1), *self._args)

    def batch(self, thetas: ArrayLike, *, posterior: bool = False) -> ArrayLike:
        """log L of a batch, shape (B,), for ``thetas`` of shape (B, n), in one compiled call.

        ``engine.map_batch`` inside one program (``lax.map`` on a CPU, which keeps the
        skipping of empty halo chunks; ``vmap`` on accelerators). One compile per B.
        """
        return self._program("batch", posterior)(self._theta(thetas, 2), *self._args)

    def params(self, theta: ArrayLike) -> SimParams:
        """``space.to_params(theta)`` as one compiled call (no op-by-op dispatch for a plot)."""
        return self._program("params")(self._theta(theta, 1), *self._args)

    def diagnostics(self, theta: ArrayLike, key=None) -> dict[str, ArrayLike]:
        """``sim.diagnostics`` at ``theta``: the simulator's own compiled function (no new compile)."""
        return self.sim.diagnostics(self.params(theta), key)

    def model_image(self, theta: ArrayLike) -> ArrayLike:
        """The noiseless PSF-convolved model image [e-/s] at ``theta`` (via :meth:`diagnostics`)."""
        return self.diagnostics(theta)["model_image"]

    def __repr__(self) -> str:
        return f"Likelihood({self.sim.engine}, {self.sim.dtype}, {self.space.size} free parameters)"


def likelihood(
    sim: Simulator,
    data: ArrayLike,
    noise_map: ArrayLike,
    space: ParameterSpace | None = None,
    *,
    mask: ArrayLike | None = None,
) -> Likelihood:
    """The Gaussian log-likelihood of ``data`` under ``sim``: see :class:`Likelihood`.

    Parameters
    ----------
    sim : Simulator
    data, noise_map : array, shape ``sim.config.shape_native``
        Image and per-pixel standard deviation [e-/s].
    space : ParameterSpace, optional
        Free parameters and the reference for the fixed ones.
    mask : array of bool, optional
        Pixels to use.

    Returns
    -------
    Likelihood
    """
    return Likelihood(sim, data, noise_map, space, mask=mask)

