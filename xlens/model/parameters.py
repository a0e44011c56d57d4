"""The macro model's parameters: one table of names, profile fields, components and units.

Every other module that names a macro parameter (the simulator's priors, the dataset's
``parameters`` array, :class:`~xlens.ParameterSpace`, the TOML configuration and the
plots) reads it from :data:`MACRO_PARAMETERS`, so the names cannot drift apart.

A parameter is named ``<group>.<name>``: the group is the profile (``lens`` a
:class:`~xlens.mp.PowerLaw`, ``shear`` an :class:`~xlens.mp.ExternalShear`, ``source`` a
:class:`~xlens.lp.SersicCore`) and the name is the profile's field, or one component of a
vector field (``centre_y``/``centre_x`` of ``centre`` (y, x), ``ell_comps_1``/``ell_comps_2``
of ``ell_comps``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine import ArrayLike, pytree_dataclass
from ..profiles.base import unchecked
from ..profiles.light.sersic import SersicCore
from ..profiles.mass.power_law import PowerLaw
from ..profiles.mass.sheets import ExternalShear
from .priors import Fixed, Prior

__all__ = [
    "DEFAULT_PRIORS",
    "MACRO_PARAMETERS",
    "MACRO_PROFILES",
    "MacroParameter",
    "POPULATION_PARAMETERS",
    "SimParams",
    "drawn_population_priors",
    "macro_profiles",
    "parameter_columns",
    "parameter_names",
    "parameter_table",
    "redshift_range",
    "reference_redshifts",
]

#: The profile class of each group of the macro model.
MACRO_PROFILES: dict[str, type] = {"lens": PowerLaw, "shear": ExternalShear, "source": SersicCore}


@dataclasses.dataclass(frozen=True)
class MacroParameter:
    """One scalar of the macro model.

    Attributes
    ----------
    group : str
        ``"lens"``, ``"shear"`` or ``"source"`` (a key of :data:`MACRO_PROFILES`).
    name : str
        The prior's key, e.g. ``"einstein_radius"`` or ``"centre_y"``.
    field : str
        The profile's field, e.g. ``"centre"`` for ``centre_y``.
    component : int or None
        Index into a vector field ((y, x) for ``centre``), None for a scalar field.
    units : str
        ``"arcsec"``, ``"e-/s"`` or ``"dimensionless"``.
    """

    group: str
    name: str
    field: str
    component: int | None
    units: str

    @property
    def label(self) -> str:
        """``<group>.<name>``, e.g. ``"lens.einstein_radius"``: the dataset column and the
        :class:`~xlens.ParameterSpace` name."""
        return f"{self.group}.{self.name}"


def _p(group: str, name: str, units: str = "dimensionless") -> MacroParameter:
    field, component = {
        "centre_y": ("centre", 0), "centre_x": ("centre", 1),
        "ell_comps_1": ("ell_comps", 0), "ell_comps_2": ("ell_comps", 1),
    }.get(name, (name, None))
    return MacroParameter(group, name, field, component, units)


#: Every macro parameter, in the canonical order (the dataset's columns, ParameterSpace's order).
MACRO_PARAMETERS: tuple[MacroParameter, ...] = (
    _p("lens", "centre_y", "arcsec"),
    _p("lens", "centre_x", "arcsec"),
    _p("lens", "ell_comps_1"),
    _p("lens", "ell_comps_2"),
    _p("lens", "einstein_radius", "arcsec"),
    _p("lens", "slope"),
    _p("shear", "gamma_1"),
    _p("shear", "gamma_2"),
    _p("source", "centre_y", "arcsec"),
    _p("source", "centre_x", "arcsec"),
    _p("source", "ell_comps_1"),
    _p("source", "ell_comps_2"),
    _p("source", "intensity", "e-/s"),
    _p("source", "effective_radius", "arcsec"),
    _p("source", "sersic_index"),
    _p("source", "radius_break", "arcsec"),
    _p("source", "gamma"),
    _p("source", "alpha"),
)


#: Population fields (and the redshifts) that may be drawn per image from ``priors.<group>.<name>``, with
#: their units and allowed range (low, high): ``{population: {name: (units, low, high)}}``.
#: A prior's support must lie in the range; an absent key keeps the population's value.
POPULATION_PARAMETERS: dict[str, dict[str, tuple[str, float, float]]] = {
    "subhalos": {
        "sigma_sub": ("kpc^-2", 0.0, float("inf")),
        "alpha": ("dimensionless", -3.0, 0.0),
        "m_hm": ("M_sun", 0.0, float("inf")),
        "f_c": ("dimensionless", 0.0, 10.0),
        "p_cc": ("dimensionless", 0.0, 1.0),
        "b_c": ("dimensionless", 1.0, 100.0),
    },
    "line_of_sight": {"delta_los": ("dimensionless", 0.0, float("inf")), "m_hm": ("M_sun", 0.0, float("inf"))},
    # not a population: the redshifts of the main lens and the source, which move every plane
    "redshifts": {"z_lens": ("dimensionless", 0.0, 10.0), "z_source": ("dimensionless", 0.0, 10.0)},
}


def drawn_population_priors(priors: Mapping[str, Mapping[str, Prior]]) -> dict[str, dict[str, Prior]]:
    """The population priors drawn per image: ``{population: {name: Prior}}`` in the order of
    :data:`POPULATION_PARAMETERS`, without :class:`~xlens.model.Fixed` ones (those only set
    the population's value) and without empty populations."""
    out: dict[str, dict[str, Prior]] = {}
    for group, allowed in POPULATION_PARAMETERS.items():
        drawn = {n: priors[group][n] for n in allowed
                 if n in priors.get(group, {}) and not isinstance(priors[group][n], Fixed)}
        if drawn:
            out[group] = drawn
    return out


def reference_redshifts(config) -> tuple[float, float]:
    """``(z_lens, z_source)`` the simulator lays out its planes and tables at: a fixed
    ``priors.redshifts`` value, else the midpoint of the prior's support, else the config's."""
    out = []
    for name in ("z_lens", "z_source"):
        prior = config.priors.get("redshifts", {}).get(name)
        if prior is None:
            out.append(float(getattr(config, name)))
        elif isinstance(prior, Fixed):
            out.append(float(prior.value))
        else:
            lo, hi = prior.support
            out.append(0.5 * (float(lo) + float(hi)))
    return out[0], out[1]


def redshift_range(config) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((z_lens_low, z_lens_high), (z_source_low, z_source_high))``: the supports of the
    redshift priors (a point for a fixed or absent one, at :func:`reference_redshifts`)."""
    ref = reference_redshifts(config)
    out = []
    for name, value in zip(("z_lens", "z_source"), ref, strict=True):
        prior = config.priors.get("redshifts", {}).get(name)
        if prior is None or isinstance(prior, Fixed):
            out.append((value, value))
        else:
            out.append(tuple(float(v) for v in prior.support))
    return out[0], out[1]


def parameter_columns(priors: Mapping[str, Mapping[str, Prior]]) -> tuple[tuple[str, str], ...]:
    """``(label, units)`` of each column of :func:`parameter_table` for a configuration's priors.

    The columns are :data:`MACRO_PARAMETERS` (e.g. ``("lens.einstein_radius", "arcsec")``),
    then the population parameters drawn per image, labelled ``<population>.<name>``
    (``("subhalos.sigma_sub", "kpc^-2")``, ``("line_of_sight.delta_los", "dimensionless")``);
    a population parameter with a fixed value has no column.
    """
    macro = tuple((p.label, p.units) for p in MACRO_PARAMETERS)
    drawn = tuple((f"{g}.{n}", POPULATION_PARAMETERS[g][n][0])
                  for g, names in drawn_population_priors(priors).items() for n in names)
    return macro + drawn


def parameter_names(group: str) -> tuple[str, ...]:
    """The prior keys of one group, in canonical order (e.g. ``parameter_names("shear")``)."""
    if group not in MACRO_PROFILES:
        raise ValueError(f"group must be one of {tuple(MACRO_PROFILES)}; got {group!r}")
    return tuple(p.name for p in MACRO_PARAMETERS if p.group == group)


#: Uniform priors (low, high) of the default model, or a fixed value, by group and name
#: (units of :data:`MACRO_PARAMETERS`). Chosen to give galaxy-scale lenses with an Einstein
#: ring inside the 5'' x 5'' field.
DEFAULT_PRIORS: dict[str, dict[str, Any]] = {
    "lens": {
        "centre_y": (-0.05, 0.05),
        "centre_x": (-0.05, 0.05),
        "ell_comps_1": (-0.2, 0.2),
        "ell_comps_2": (-0.2, 0.2),
        "einstein_radius": (0.9, 1.4),
        "slope": (1.9, 2.2),
    },
    "shear": {"gamma_1": (-0.05, 0.05), "gamma_2": (-0.05, 0.05)},
    "source": {
        "centre_y": (-0.15, 0.15),
        "centre_x": (-0.15, 0.15),
        "ell_comps_1": (-0.25, 0.25),
        "ell_comps_2": (-0.25, 0.25),
        "intensity": (0.5, 2.0),
        "effective_radius": (0.1, 0.4),
        "sersic_index": (1.0, 3.0),
        "radius_break": 0.025,
        "gamma": 0.0,
        "alpha": 2.0,
    },
}


def macro_profiles(values: Mapping[str, Mapping[str, Any]], *, xp) -> dict[str, Any]:
    """The macro profiles from scalar values by group and name, built without validation.

    Parameters
    ----------
    values : mapping
        ``{group: {name: scalar}}`` with every name of :data:`MACRO_PARAMETERS` (scalars of
        ``xp``, possibly traced).
    xp : namespace
        Array namespace of the values (vector fields are stacked with it).

    Returns
    -------
    dict
        ``{"lens": PowerLaw, "shear": ExternalShear, "source": SersicCore}``. Validation is
        skipped because the values may be traced; callers check priors outside jit.
    """
    out = {}
    for group, cls in MACRO_PROFILES.items():
        fields: dict[str, Any] = {}
        for p in MACRO_PARAMETERS:
            if p.group != group:
                continue
            v = values[group][p.name]
            if p.component is None:
                fields[p.field] = v
            else:  # the table lists components in order
                fields.setdefault(p.field, []).append(v)
        out[group] = unchecked(cls, {k: xp.stack(v) if isinstance(v, list) else v for k, v in fields.items()})
    return out


@pytree_dataclass
class SimParams:
    """The data of one image: macro lens, shear, source and the padded halo batches.

    Attributes
    ----------
    lens : PowerLaw
    shear : ExternalShear
    source : SersicCore
    subhalos : dict of HaloBatch
        Subhalo batches by family (e.g. ``{"cdm": ...}``), at ``z_lens``.
    line_of_sight : HaloBatch or None
        A ``(planes, capacity)`` batch of line-of-sight haloes.
    hyper : dict
        The population parameters drawn for this image from their priors
        (:data:`POPULATION_PARAMETERS`): ``{"subhalos": {"sigma_sub": scalar [kpc^-2],
        "m_hm": scalar [M_sun], "f_c", "p_cc", "b_c": scalars (dimensionless)},
        "line_of_sight": {"delta_los": scalar (dimensionless),
        "m_hm": scalar [M_sun]}}``, only the drawn ones;
        empty (the default) when the configuration draws none. The tracer's sheets use
        them; a population without an entry uses its configured value.
    """

    lens: PowerLaw
    shear: ExternalShear
    source: SersicCore
    subhalos: dict
    line_of_sight: Any
    hyper: dict = dataclasses.field(default_factory=dict)


def parameter_table(params: SimParams) -> np.ndarray:
    """The ``(..., P)`` float64 table of (a batch of) params, one column per label of
    :func:`parameter_columns`: the :data:`MACRO_PARAMETERS`, then the population
    parameters drawn per image (``params.hyper``) in the order of :data:`POPULATION_PARAMETERS`."""
    cols = []
    for p in MACRO_PARAMETERS:
        value: ArrayLike = np.asarray(getattr(getattr(params, p.group), p.field), dtype=np.float64)
        cols.append(value[..., p.component] if p.component is not None else value)
    for group, allowed in POPULATION_PARAMETERS.items():
        for name in allowed:
            if name in params.hyper.get(group, {}):
                cols.append(np.asarray(params.hyper[group][name], dtype=np.float64))
    return np.stack(cols, axis=-1)
