"""The parameters of one image: the model's values, the halo catalogues and the population draws.

Every module that names a parameter (the simulator, the dataset's ``parameters`` array,
:class:`~xlens.ParameterSpace`, the TOML configuration and the plots) reads the model's
labels from :class:`~xlens.model.Model` (``<galaxy>.<profile>.<field>``, e.g.
``lens.mass.einstein_radius``) and the population labels from :data:`POPULATION_PARAMETERS`
(``<population>.<name>``), so the names cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine import pytree_dataclass
from .galaxies import Model
from .priors import Fixed, Prior

__all__ = [
    "POPULATION_PARAMETERS",
    "SimParams",
    "drawn_population_priors",
    "parameter_columns",
    "parameter_table",
    "redshift_range",
    "reference_redshifts",
]


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


def parameter_columns(config) -> tuple[tuple[str, str], ...]:
    """``(label, units)`` of each column of :func:`parameter_table` for a configuration.

    The columns are the model's untied fields (:attr:`Model.columns`, e.g.
    ``("lens.mass.einstein_radius", "arcsec")``, a fixed one too), then the population
    parameters drawn per image, labelled ``<population>.<name>`` (``("subhalos.sigma_sub",
    "kpc^-2")``, ``("line_of_sight.delta_los", "dimensionless")``); a population parameter
    with a fixed value has no column.
    """
    model = config.model
    drawn = tuple((f"{g}.{n}", POPULATION_PARAMETERS[g][n][0])
                  for g, names in drawn_population_priors(config.priors).items() for n in names)
    return tuple((s.label, s.units) for s in model.columns) + drawn


@pytree_dataclass
class SimParams:
    """The data of one image: the model's values and the padded halo batches.

    Attributes
    ----------
    galaxies : dict
        ``{galaxy: {profile: {field: array}}}``: every field of every profile of the model
        (:meth:`Model.draw`; ties resolved, vector fields stacked (y, x) / (1, 2), a
        ``present`` flag (0 or 1) for a light profile drawn with a probability), e.g.
        ``params.galaxies["lens"]["mass"]["einstein_radius"]`` [arcsec]. The profiles
        themselves: :meth:`Simulator.profiles_from`.
    subhalos : dict of HaloBatch
        Subhalo batches by family (e.g. ``{"cdm": ...}``), at ``z_lens``.
    line_of_sight : HaloBatch or None
        A ``(planes, capacity)`` batch of line-of-sight haloes.
    hyper : dict
        The population parameters drawn for this image from their priors
        (:data:`POPULATION_PARAMETERS`): ``{"subhalos": {"sigma_sub": scalar [kpc^-2],
        "m_hm": scalar [M_sun], "f_c", "p_cc", "b_c": scalars (dimensionless)},
        "line_of_sight": {"delta_los": scalar (dimensionless),
        "m_hm": scalar [M_sun]}, "redshifts": {"z_lens", "z_source"}}``, only the drawn ones;
        empty (the default) when the configuration draws none.
    """

    galaxies: dict
    subhalos: dict
    line_of_sight: Any
    hyper: dict = dataclasses.field(default_factory=dict)

    def value(self, label: str):
        """The value of one model label, e.g. ``"lens.mass.einstein_radius"`` or
        ``"source.light.centre_x"`` (a component of a vector field), or a drawn population
        label (``"subhalos.sigma_sub"``)."""
        parts = label.split(".")
        if len(parts) == 2 and parts[0] in self.hyper and parts[1] in self.hyper[parts[0]]:
            return self.hyper[parts[0]][parts[1]]
        if len(parts) != 3 or parts[0] not in self.galaxies or parts[1] not in self.galaxies[parts[0]]:
            raise KeyError(f"SimParams.value: no label {label!r}; the model labels are <galaxy>.<profile>.<field> "
                           f"of the galaxies {list(self.galaxies)}")
        fields = self.galaxies[parts[0]][parts[1]]
        for field, k in ((parts[2], None), *((f, i) for f, names in _VECTOR_LABELS.items()
                                              for i, n in enumerate(names) if n == parts[2])):
            if field in fields:
                v = fields[field]
                return v if k is None else v[..., k]
        raise KeyError(f"SimParams.value: {parts[0]}.{parts[1]} has no field {parts[2]!r}; it has {list(fields)}")


_VECTOR_LABELS = {"centre": ("centre_y", "centre_x"), "ell_comps": ("ell_comps_1", "ell_comps_2"),
                  "multipole_comps": ("multipole_comps_1", "multipole_comps_2")}


def parameter_table(params: SimParams, config) -> np.ndarray:
    """The ``(..., P)`` float64 table of (a batch of) params, one column per label of
    :func:`parameter_columns`: the model's untied fields, then the population
    parameters drawn per image (``params.hyper``) in the order of :data:`POPULATION_PARAMETERS`."""
    model: Model = config.model
    scalars = model.scalars(params.galaxies)
    cols = [np.asarray(scalars[s.label], dtype=np.float64) for s in model.columns]
    for group, allowed in POPULATION_PARAMETERS.items():
        for name in allowed:
            if name in params.hyper.get(group, {}):
                cols.append(np.asarray(params.hyper[group][name], dtype=np.float64))
    return np.stack(cols, axis=-1)
