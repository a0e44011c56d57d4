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
from ..halo_model.wdm import WDMModel
from ..halos.batch import HaloBatch
from ..model import Prior, SimParams, Uniform
from ..model.priors import Tabulated
from ..profiles.base import unchecked
from ..simulator import Simulator

__all__ = ["Parameter", "ParameterSpace"]

NUMPY = get_xp("numpy")
_HALO_FIELDS = ("log10_mass", "centre_y", "centre_x")
_SUBHALO_PRIORS = ("box", "population")
#: node spacing [dex] of the tabulated WDM mass function: log-linear interpolation error
#: h^2 max|(log S)''| / 8 < 3e-5 relative for the Lovell coefficients (|(log S)''| <= 1.7 per dex^2)
_WDM_NODE_DEX = 0.01
_HALO_NAME = re.compile(r"^subhalos\.(?P<family>[^.]+)\.(?P<field>\w+)\[(?P<slot>\d+)\]$")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One free parameter: its name, prior support, units and prior.

    Attributes
    ----------
    name : str
        A model label ``<galaxy>.<profile>.<field>`` (``lens.mass.einstein_radius``) or
        ``subhalos.<family>.<field>[slot]``.
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
        or a previous fit. Default: the prior midpoints of the model's fields with every
        subhalo and line-of-sight slot empty (a smooth lens).
    free : sequence of str, optional
        Names of the free parameters (see :attr:`candidates`); they keep the canonical
        order whatever the order given. Default: every model field whose prior is not
        a point (support ``low < high``), plus the subhalo parameters when
        ``subhalos=True``.
    subhalos : bool
        With ``free=None``, also free the mass and position of every real (``mask == 1``)
        subhalo of the reference: ``subhalos.<family>.log10_mass[i]`` (log10 of M200c
        [M_sun]), ``subhalos.<family>.centre_y[i]`` and ``.centre_x[i]`` [arcsec], for
        each family and slot ``i``. Line-of-sight haloes always stay fixed.
    subhalo_prior : {"box", "population"}
        Prior of the freed subhalo parameters. "box" (default): uniform in log10 mass over
        ``[m_min, m_max]`` and in the square bounding the disc. "population": the
        population's mass function in log10 M (``M^(alpha+1) S(M)``, a
        :class:`~xlens.model.priors.Tabulated` prior) and, for each freed (y, x) pair,
        uniform in the disc of radius ``SubhaloConfig.radius`` [arcsec] about the lens
        centre (:attr:`discs`; see docs/inference.md, "Priors from the population").

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
    discs : tuple of (int, int, float, float, float)
        ``(i_y, i_x, centre_y, centre_x, radius)`` [arcsec] of each (y, x) pair that is
        uniform in a disc (``subhalo_prior="population"``); empty otherwise.

    Notes
    -----
    The model's names are its labels (``lens.mass.einstein_radius``, ``source.light.intensity``,
    ``lens.multipole.multipole_comps_1``, ...: every untied field with a prior,
    :attr:`~xlens.model.Model.columns`), with their units and the priors of
    ``sim.config.model``; a tied field follows its target, and a catalogue index or a
    presence flag (discrete) stays at the reference's value. Subhalo masses are
    parametrised by ``log10(M200c / M_sun)``: the masses span decades, and an O(1)
    coordinate suits optimisers, samplers and finite differences alike. Their prior is
    uniform in log10 mass over ``[m_min, m_max]`` of ``sim.config.subhalos``, and the
    positions' prior is the square that bounds the population's disc around the
    reference lens centre, unless ``subhalo_prior="population"``.

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
        subhalo_prior: str = "box",
    ):
        if not isinstance(sim, Simulator):
            raise TypeError(f"ParameterSpace takes a Simulator; got {type(sim).__name__}")
        if free is not None and subhalos:
            raise ValueError(
                "ParameterSpace: subhalos=True selects every subhalo parameter when free=None; "
                "with free given, list the subhalo names there instead"
            )
        if subhalo_prior not in _SUBHALO_PRIORS:
            raise ValueError(f"ParameterSpace.subhalo_prior must be one of {_SUBHALO_PRIORS}; got {subhalo_prior!r}")
        self.sim = sim
        self.subhalo_prior = subhalo_prior
        ref = _default_reference(sim) if reference is None else reference
        if not isinstance(ref, SimParams):
            raise TypeError(f"ParameterSpace.reference must be a SimParams; got {type(ref).__name__}")
        # set-up runs on host (NumPy) copies: no op-by-op JAX dispatch, nothing compiles
        ref = tree_map(_host, ref)
        macro, halo = self._candidates(sim, ref, subhalo_prior)
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
                        f"ParameterSpace.free: {name} has the fixed prior {p.low!r} in SimulatorConfig.model; "
                        "give it a (low, high) range or another prior to free it"
                    )
            if len(set(free)) != len(free):
                raise ValueError(f"ParameterSpace.free: repeated names in {free}")
            chosen = [p for p in macro + halo if p.name in set(free)]
        if not chosen:
            raise ValueError("ParameterSpace: no free parameter (every prior is a fixed value)")
        chosen, self.discs = self._disc_priors(chosen, ref) if subhalo_prior == "population" else (chosen, ())
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
        for iy, ix, cy, cx, radius in self.discs:
            r = math.hypot(value[iy] - cy, value[ix] - cx)
            check_range("ParameterSpace.reference", f"{self.names[iy]}, {self.names[ix]} (distance from the "
                        f"disc centre ({cy:g}, {cx:g}))", r, 0.0, radius, low_inclusive=True, high_inclusive=True,
                        units="[arcsec]", hint="A subhalo of the population lies inside its disc")
        self.reference = sim.to_engine(self.to_params(value, ref))

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _candidates(sim: Simulator, ref: SimParams, subhalo_prior: str = "box"
                    ) -> tuple[list[Parameter], list[Parameter]]:
        macro = []
        for slot in sim.config.model.columns:
            if slot.kind != "value":
                continue  # a catalogue index or a presence flag: discrete, never freed
            lo, hi = slot.prior.support
            macro.append(Parameter(slot.label, lo, hi, slot.units, slot.prior))
        halo = []
        cfg = sim.config.subhalos
        lens_centre = np.asarray(sim.lens_centre(ref), dtype=np.float64).reshape(2)
        for family, batch in ref.subhalos.items():
            prof = batch.profile
            if not hasattr(prof, "mass_at_200"):
                continue  # a user batch without M200c: its haloes stay fixed
            ranges = type(prof).ranges["mass_at_200"]
            m_lo, m_hi = (cfg.m_min, cfg.m_max) if cfg is not None else (ranges.low, ranges.high)
            radius = cfg.radius if cfg is not None else 0.5 * max(sim.config.shape_native) * sim.config.pixel_scale
            mass_prior = None
            slots = np.flatnonzero(np.asarray(batch.mask) > 0.5)
            if subhalo_prior == "population" and len(slots):
                if cfg is None:
                    raise ValueError("ParameterSpace: subhalo_prior='population' needs SimulatorConfig.subhalos "
                                     "(the population whose mass function and disc it uses); got None")
                mass_prior = _population_mass_prior(cfg, family, ref.hyper.get("subhalos", {}))
            for slot in slots:
                base = f"subhalos.{family}"
                halo += [
                    Parameter(f"{base}.log10_mass[{slot}]", math.log10(m_lo), math.log10(m_hi), "log10 M_sun",
                              mass_prior),
                    Parameter(f"{base}.centre_y[{slot}]", lens_centre[0] - radius, lens_centre[0] + radius, "arcsec"),
                    Parameter(f"{base}.centre_x[{slot}]", lens_centre[1] - radius, lens_centre[1] + radius, "arcsec"),
                ]
        return macro, halo

    def _disc_priors(self, chosen: list[Parameter], ref: SimParams):
        """The population's disc on the free positions: pairs, and chords for a lone coordinate."""
        cfg = self.sim.config.subhalos
        radius = float(cfg.radius)
        cy, cx = (float(v) for v in np.asarray(self.sim.lens_centre(ref), dtype=np.float64).reshape(2))
        names = [p.name for p in chosen]
        out, discs = list(chosen), []
        for i, p in enumerate(chosen):
            m = _HALO_NAME.match(p.name)
            if m is None or m["field"] != "centre_y" and m["field"] != "centre_x":
                continue
            other = "centre_x" if m["field"] == "centre_y" else "centre_y"
            partner = f"subhalos.{m['family']}.{other}[{m['slot']}]"
            if partner in names:
                if m["field"] == "centre_y":
                    discs.append((i, names.index(partner), cy, cx, radius))
                continue
            # the other coordinate is fixed: the disc's conditional is uniform on the chord through it
            prof = ref.subhalos[m["family"]].profile
            fixed = float(np.asarray(prof.centre, dtype=np.float64)[int(m["slot"]), 1 if other == "centre_x" else 0])
            offset = fixed - (cx if other == "centre_x" else cy)
            if abs(offset) >= radius:
                raise ValueError(f"ParameterSpace: {partner} = {fixed!r} [arcsec] (fixed) lies outside the "
                                 f"population's disc of radius {radius!r} about ({cy!r}, {cx!r}), so {p.name} "
                                 "has no prior support; free both coordinates or fix this one too")
            half = math.sqrt(radius**2 - offset**2)
            mid = cy if m["field"] == "centre_y" else cx
            out[i] = Parameter(p.name, mid - half, mid + half, p.units)
        return out, tuple(discs)

    def _plan(self, ref: SimParams) -> None:
        """Static gather/scatter plan: where each free entry of ``theta`` goes."""
        self._macro: dict[str, int] = {}
        halo: dict[str, dict[str, tuple[list[int], list[int]]]] = {}
        for i, name in enumerate(self.names):
            m = _HALO_NAME.match(name)
            if m is None:
                self._macro[name] = i
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
        scalars = self.sim.config.model.scalars(params.galaxies)
        for label, i in self._macro.items():
            values[i] = xp.asarray(scalars[label], dtype=xp.float64)
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
        model = self.sim.config.model
        scalars = model.scalars(ref.galaxies)
        for label, i in self._macro.items():
            scalars[label] = theta[i]
        galaxies = model.assemble(scalars, xp=xp)
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
        return SimParams(galaxies, subhalos, ref.line_of_sight, ref.hyper)

    # ------------------------------------------------------------------ priors
    def from_unit_cube(self, u: ArrayLike) -> ArrayLike:
        """Each prior's inverse CDF: the prior transform of nested samplers (shape (..., n)).

        ``low + (high - low) u`` for a uniform prior (:meth:`~xlens.model.Prior.from_unit`).
        """
        xp = namespace(u)
        u = xp.asarray(u, dtype=xp.float64)
        columns = [p.prior.from_unit(u[..., i], xp=xp) for i, p in enumerate(self.parameters)]
        for iy, ix, cy, cx, radius in self.discs:  # (u_y, u_x) -> r = R sqrt(u_y), phi = 2 pi u_x
            r = radius * xp.sqrt(u[..., iy])
            phi = 2.0 * math.pi * u[..., ix]
            columns[iy], columns[ix] = cy + r * xp.sin(phi), cx + r * xp.cos(phi)
        return xp.stack(columns, axis=-1)

    def to_unit_cube(self, theta: ArrayLike) -> ArrayLike:
        """Each prior's CDF, the inverse of :meth:`from_unit_cube` (shape (..., n)).

        ``(theta - low) / (high - low)`` for a uniform prior.
        """
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        columns = [p.prior.to_unit(theta[..., i], xp=xp) for i, p in enumerate(self.parameters)]
        for iy, ix, cy, cx, radius in self.discs:
            dy, dx = theta[..., iy] - cy, theta[..., ix] - cx
            columns[iy] = (dy * dy + dx * dx) / radius**2
            columns[ix] = xp.remainder(xp.atan2(dy, dx) / (2.0 * math.pi), 1.0)
        return xp.stack(columns, axis=-1)

    def contains(self, theta: ArrayLike) -> ArrayLike:
        """True where every entry lies in ``[low, high]`` and every disc pair in its disc
        (shape (...) for theta (..., n))."""
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        inside = xp.all((theta >= xp.asarray(self.low)) & (theta <= xp.asarray(self.high)), axis=-1)
        for iy, ix, cy, cx, radius in self.discs:
            dy, dx = theta[..., iy] - cy, theta[..., ix] - cx
            inside = inside & (dy * dy + dx * dx <= radius**2)
        return inside

    @property
    def log_prior_density(self) -> float:
        """``-sum(log(high - low))`` over the uniform priors and ``-log(pi R^2)`` per disc pair:
        their constant log density inside the support (the whole log prior when every prior
        is uniform)."""
        paired = {i for iy, ix, *_ in self.discs for i in (iy, ix)}
        uniform = np.array([isinstance(p.prior, Uniform) and i not in paired for i, p in enumerate(self.parameters)],
                           dtype=bool)
        discs = sum(math.log(math.pi * d[4] ** 2) for d in self.discs)  # uniform in each disc
        return -float(np.sum(np.log(self.high[uniform] - self.low[uniform]))) - discs

    def log_prior(self, theta: ArrayLike) -> ArrayLike:
        """Log prior density (pure): the sum of each prior's log density inside the box
        (:attr:`log_prior_density` plus the non-uniform priors' terms), -inf outside."""
        xp = namespace(theta)
        theta = xp.asarray(theta, dtype=xp.float64)
        value = self.log_prior_density
        for i, p in enumerate(self.parameters):
            if not isinstance(p.prior, Uniform):
                safe = xp.clip(theta[..., i], p.low, p.high)  # -inf outside comes from contains below
                value = value + p.prior.log_density(safe, xp=xp)
        return xp.where(self.contains(theta), value, -math.inf)

    def sample(self, key, shape: tuple[int, ...] = ()) -> ArrayLike:
        """Draws from the priors, shape ``(*shape, n)``, from a JAX or NumPy key."""
        ops = random_ops(key)
        return self.from_unit_cube(ops.uniform(key, (*tuple(shape), self.size)))


def _default_reference(sim: Simulator) -> SimParams:
    """Prior midpoints of the model's fields (and of the population priors); every halo slot empty.

    A catalogue index and a presence flag (discrete) take the draw of key 0."""
    params, _ = sim.sample_params(0)  # a NumPy key: drawn eagerly on NumPy, nothing compiles
    model = sim.config.model
    mid: dict[str, Any] = model.scalars(params.galaxies)
    for slot in model.columns:
        if slot.kind == "value":
            mid[slot.label] = np.asarray(0.5 * sum(slot.prior.support))
    galaxies = model.assemble(mid, xp=NUMPY)

    def empty(batch):
        return unchecked(HaloBatch, {"profile": batch.profile, "mask": np.zeros_like(np.asarray(batch.mask))})

    subhalos = {k: empty(b) for k, b in params.subhalos.items()}
    los = None if params.line_of_sight is None else empty(params.line_of_sight)
    hyper = {g: {n: np.asarray(0.5 * sum(prior.support)) for n, prior in group.items()}
             for g, group in sim.population_priors.items()}  # the population priors' midpoints
    return SimParams(galaxies, subhalos, los, hyper)


def _population_mass_prior(cfg, family: str, hyper: dict) -> Tabulated:
    """The population's mass function of ``family`` as a prior on log10(M200c / M_sun).

    ``p(x) ~ 10**((alpha + 1) x) S(10**x) w(10**x)`` on ``[log10 m_min, log10 m_max]``:
    dN/dln m ~ m^(alpha+1) (docs/populations.md), S the WDM suppression (1 for CDM and
    SIDM), w the SIDM family's share (1 - p_cc for "cored", p_cc for "collapsed", per mass
    bin; 1 otherwise). ``alpha``, ``m_hm`` and ``p_cc`` drawn per image (in ``hyper``) take
    the reference's values.
    """
    lo, hi = math.log10(cfg.m_min), math.log10(cfg.m_max)
    alpha = float(np.asarray(hyper["alpha"])) if "alpha" in hyper else float(cfg.alpha)
    slope = (alpha + 1.0) * math.log(10.0)
    wdm = WDMModel.from_config(cfg)
    if wdm is not None and "m_hm" in hyper:
        wdm = dataclasses.replace(wdm, m_hm=float(np.asarray(hyper["m_hm"])))
    if wdm is None:
        edges = [lo, hi]
    else:
        edges = list(np.linspace(lo, hi, max(2, int(math.ceil((hi - lo) / _WDM_NODE_DEX)) + 1)))
    weights = [(lo, hi, 1.0)]
    if cfg.dark_matter == "sidm":
        if "p_cc" in hyper:
            p_bins, breaks = [float(np.asarray(hyper["p_cc"]))], []
        else:
            p_bins, breaks = list(cfg.p_cc), list(cfg.p_cc_log10_breaks)
        bounds = [lo] + [b for b in breaks] + [hi]
        weights = []
        for k, p in enumerate(p_bins):
            a, b = max(bounds[k], lo), min(bounds[k + 1], hi)
            if a < b:
                share = 1.0 - p if family == "cored" else p
                if share <= 0.0:
                    raise ValueError(f"ParameterSpace: subhalo_prior='population': the {family!r} family has no "
                                     f"haloes in [{a:g}, {b:g}] log10 M_sun (p_cc = {p!r}); a tabulated prior needs "
                                     "a positive density on its whole support: use subhalo_prior='box'")
                weights.append((a, b, share))
    nodes, values = [], []
    for a, b, share in weights:
        inner = [x for x in edges if a < x < b]
        for x in [a, *inner, b]:
            log_s = 0.0 if wdm is None else math.log(float(wdm.suppression(np.asarray(10.0**x))))
            nodes.append(x)
            values.append(slope * x + log_s + math.log(share))
    return Tabulated(tuple(nodes), tuple(values))
