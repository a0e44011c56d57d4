"""Inference on the forward model: one parameter space, one compiled likelihood, gradients.

Lens modelling (MAP with optax, Hamiltonian Monte Carlo with blackjax or numpyro) and
simulation-based inference (nested and ensemble samplers, neural posterior estimation)
all ask the simulator the same questions: ``log L(theta)`` of a flat parameter vector,
its gradient, and many of them at once. This module answers them with the simulator's
own pipeline (:meth:`Simulator.forward`, the same code as ``sim(params, key)`` without
the noise), so there is one model for every backend:

* :class:`ParameterSpace` maps a flat vector ``theta`` (names in a fixed order) to a
  :class:`~xlens.model.SimParams` and back, with the priors of
  ``SimulatorConfig.priors`` (uniform, log-uniform, truncated normal), their densities
  and their unit cube (the inverse CDFs). Every map is a pure function of
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
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import (
    ArrayLike,
    at_set,
    data_fields,
    get_xp,
    meta_fields,
    namespace,
    random_ops,
    scoped_methods,
    tree_leaves,
    tree_map,
)
from ..errors import check_range
from ..halos.batch import HaloBatch
from ..model import MACRO_PARAMETERS, MACRO_PROFILES, Prior, SimParams, Uniform, macro_profiles
from ..profiles.base import unchecked
from ..simulator import Simulator

__all__ = ["Parameter", "ParameterSpace"]

#: (group, prior name) -> (profile field, component or None), from the one parameter table.
_FIELDS = {(p.group, p.name): (p.field, p.component) for p in MACRO_PARAMETERS}
NUMPY = get_xp("numpy")
_HALO_FIELDS = ("log10_mass", "centre_y", "centre_x")
_HALO_NAME = re.compile(r"^subhalos\.(?P<family>[^.]+)\.(?P<field>\w+)\[(?P<slot>\d+)\]$")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One free parameter: its name, prior support, units and prior.

    Attributes
    ----------
    name : str
        ``group.field`` (``lens.einstein_radius``) or ``subhalos.<family>.<field>[slot]``.
    low, high : float
        The prior's support, ``low < high`` for a free parameter, in ``units``.
    units : str
        ``arcsec``, ``e-/s``, ``log10 M_sun`` (log10 of M200c in solar masses) or
        ``dimensionless``.
    prior : Prior
        The prior (default: ``Uniform(low, high)``); its support is ``(low, high)``.
    """

    name: str
    low: float
    high: float
    units: str
    prior: Prior | None = None

    def __post_init__(self) -> None:
        if self.prior is None:
            object.__setattr__(self, "prior", Uniform(self.low, self.high))
        elif tuple(self.prior.support) != (self.low, self.high):
            raise ValueError(f"Parameter {self.name}: low, high = ({self.low!r}, {self.high!r}) must be the "
                             f"support of its prior {self.prior!r}")


def _host(leaf) -> np.ndarray:
    """A leaf as a NumPy array, floats as float64 (the dtype policy of ``Simulator.to_engine``)."""
    arr = np.asarray(leaf)
    return arr.astype(np.float64) if np.issubdtype(arr.dtype, np.floating) else arr


@scoped_methods
class ParameterSpace:
    """Flat parameter vectors <-> :class:`~xlens.model.SimParams`, with their priors.

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
        order whatever the order given. Default: every macro parameter whose prior is not
        a point (support ``low < high``), plus the subhalo parameters when
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
        The priors' supports.
    reference : SimParams
        The reference, on the simulator's engine (float64 leaves).
    candidates : tuple of str
        Every name that may be freed.

    Notes
    -----
    Macro names are ``lens.{centre_y, centre_x, ell_comps_1, ell_comps_2, einstein_radius,
    slope}``, ``shear.{gamma_1, gamma_2}`` and ``source.{centre_y, centre_x, ell_comps_1,
    ell_comps_2, intensity, effective_radius, sersic_index, radius_break, gamma, alpha}``,
    with the units of :data:`~xlens.model.DEFAULT_PRIORS` and the priors of
    ``sim.config.priors`` (:class:`~xlens.model.Prior`). Subhalo masses are
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
        ref = tree_map(_host, ref)
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
                        "give it a (low, high) range or another prior to free it"
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
        self.reference = sim.to_engine(self.to_params(value, ref))

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _candidates(sim: Simulator, ref: SimParams) -> tuple[list[Parameter], list[Parameter]]:
        priors = sim.config.priors
        macro = []
        for p in MACRO_PARAMETERS:
            prior = priors[p.group][p.name]
            lo, hi = prior.support
            macro.append(Parameter(p.label, lo, hi, p.units, prior))
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
        self._macro: dict[str, dict[str, int]] = {g: {} for g in MACRO_PROFILES}
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
        xp = namespace(*tree_leaves(params))
        values = [None] * self.size
        for group, fields in self._macro.items():
            obj = getattr(params, group)
            for field, i in fields.items():
                vector, k = _FIELDS[group, field]
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
        """A :class:`~xlens.model.SimParams` from a flat vector (pure: jit, grad, vmap).

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
        xp = namespace(theta, *tree_leaves(ref))
        theta = xp.asarray(theta, dtype=xp.float64)
        if theta.shape != (self.size,):
            raise ValueError(
                f"ParameterSpace.to_params: theta must have shape ({self.size},) for {self.size} free "
                f"parameters; got {tuple(theta.shape)} (map batches with Likelihood.batch or vmap)"
            )
        values: dict[str, dict[str, Any]] = {group: {} for group in MACRO_PROFILES}
        for p in MACRO_PARAMETERS:
            i = self._macro[p.group].get(p.name)
            if i is not None:
                values[p.group][p.name] = theta[i]
            else:
                old = xp.asarray(getattr(getattr(ref, p.group), p.field), dtype=xp.float64)
                values[p.group][p.name] = old if p.component is None else old[p.component]
        groups = macro_profiles(values, xp=xp)
        subhalos = dict(ref.subhalos)
        for family, fields in self._halo.items():
            batch = ref.subhalos[family]
            prof = batch.profile
            values = {n: getattr(prof, n) for n in meta_fields(prof)}
            values.update({f.name: getattr(prof, f.name) for f in data_fields(prof)})
            mass = xp.asarray(prof.mass_at_200, dtype=xp.float64)
            centre = xp.asarray(prof.centre, dtype=xp.float64)
            for field, (slots, positions) in fields.items():
                column = xp.take(theta, xp.asarray(positions))
                if field == "log10_mass":
                    mass = at_set(mass, slots, 10.0**column, xp=xp)
                else:
                    k = 0 if field == "centre_y" else 1
                    centre = at_set(centre, (slots, k), column, xp=xp)
            values["mass_at_200"], values["centre"] = mass, centre
            subhalos[family] = unchecked(HaloBatch, {"profile": unchecked(type(prof), values), "mask": batch.mask})
        return SimParams(groups["lens"], groups["shear"], groups["source"], subhalos, ref.line_of_sight, ref.hyper)

    # ------------------------------------------------------------------ priors
    def from_unit_cube(self, u: ArrayLike) -> ArrayLike:
        """Each prior's inverse CDF: the prior transform of nested samplers (shape (..., n)).

        ``low + (high - low) u`` for a uniform prior (:meth:`~xlens.model.Prior.from_unit`).
        """
        xp = namespace(u)
        u = xp.asarray(u, dtype=xp.float64)
        return xp.stack([p.prior.from_unit(u[..., i], xp=xp) for i, p in enumerate(self.parameters)], axis=-1)

    def to_unit_cube(self, theta: ArrayLike) -> ArrayLike:
        """Each prior's CDF, the inverse of :meth:`from_unit_cube` (shape (..., n)).

        ``(theta - low) / (high - low)`` for a uniform prior.
        """
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        return xp.stack([p.prior.to_unit(theta[..., i], xp=xp) for i, p in enumerate(self.parameters)], axis=-1)

    def contains(self, theta: ArrayLike) -> ArrayLike:
        """True where every entry lies in ``[low, high]`` (shape (...) for theta (..., n))."""
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        return xp.all((theta >= xp.asarray(self.low)) & (theta <= xp.asarray(self.high)), axis=-1)

    @property
    def log_prior_density(self) -> float:
        """``-sum(log(high - low))`` over the uniform priors: their constant log density inside
        the box (the whole log prior when every prior is uniform)."""
        uniform = np.array([isinstance(p.prior, Uniform) for p in self.parameters], dtype=bool)
        return -float(np.sum(np.log(self.high[uniform] - self.low[uniform])))

    def log_prior(self, theta: ArrayLike) -> ArrayLike:
        """Log prior density (pure): the sum of each prior's log density inside the box
        (:attr:`log_prior_density` plus the non-uniform priors' terms), -inf outside."""
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        value = self.log_prior_density
        for i, p in enumerate(self.parameters):
            if not isinstance(p.prior, Uniform):
                value = value + p.prior.log_density(theta[..., i], xp=xp)
        return xp.where(self.contains(theta), value, -math.inf)

    def sample(self, key, shape: tuple[int, ...] = ()) -> ArrayLike:
        """Draws from the priors, shape ``(*shape, n)``, from a JAX or NumPy key."""
        ops = random_ops(key)
        return self.from_unit_cube(ops.uniform(key, (*tuple(shape), self.size)))


def _default_reference(sim: Simulator) -> SimParams:
    """Prior midpoints of the macro model (and of the population priors); every halo slot empty."""
    params, _ = sim.sample_params(0)  # a NumPy key: drawn eagerly on NumPy, nothing compiles
    priors = sim.config.priors
    mid: dict[str, dict[str, Any]] = {group: {} for group in MACRO_PROFILES}
    for p in MACRO_PARAMETERS:
        mid[p.group][p.name] = np.asarray(0.5 * sum(priors[p.group][p.name].support))
    groups = macro_profiles(mid, xp=NUMPY)

    def empty(batch):
        return unchecked(HaloBatch, {"profile": batch.profile, "mask": np.zeros_like(np.asarray(batch.mask))})

    subhalos = {k: empty(b) for k, b in params.subhalos.items()}
    los = None if params.line_of_sight is None else empty(params.line_of_sight)
    hyper = {g: {n: np.asarray(0.5 * sum(prior.support)) for n, prior in group.items()}
             for g, group in sim.population_priors.items()}  # the population priors' midpoints
    return SimParams(groups["lens"], groups["shear"], groups["source"], subhalos, los, hyper)
