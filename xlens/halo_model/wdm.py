"""Warm dark matter: suppression of the mass function and of the concentrations (PHYSICS.md §14.2).

Why this module exists: the subhalo and line-of-sight populations apply the same
WDM model to their mass functions (thinning, or a tabulated suppressed function)
and to the concentrations of the rendered haloes, and their negative sheets
integrate both. :class:`WDMModel` holds one configured model so that every one
of those uses calls the same two functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import engine

__all__ = [
    "WDM_COEFFICIENTS",
    "WDMModel",
    "wdm_coefficients",
    "wdm_concentration_factor",
    "wdm_suppression",
]

#: Named (a, b, c) of the WDM suppression S(m) = [1 + (a m_hm / m)^b]^c (PHYSICS.md §14.2).
WDM_COEFFICIENTS: dict[str, tuple[float, float, float]] = {
    "lovell2014": (1.0, 1.0, -1.3),
    "lovell2020_field": (2.3, 0.8, -1.0),
    "lovell2020_subhalo": (4.2, 2.5, -0.2),
}


def wdm_suppression(mass_msun, m_hm: float, coefficients: Sequence[float],
                    a_placement: str = "inside"):
    """WDM suppression of the mass function ``S(m)`` (Lovell et al. 2014; Lovell 2020).

    Parameters
    ----------
    mass_msun : float or array
        Halo mass [M_sun], > 0.
    m_hm : float
        Half-mode mass [M_sun], > 0.
    coefficients : (a, b, c)
        See :data:`WDM_COEFFICIENTS`.
    a_placement : {"inside", "outside"}
        ``"inside"``: ``S = [1 + (a m_hm / m)^b]^c`` as PHYSICS.md §14.2 writes
        Lovell (2020); ``"outside"``: ``S = [1 + a (m_hm / m)^b]^c`` (pyHalo's
        form). Which one the paper means is **unverified**; they differ unless a = 1.

    Returns
    -------
    array, shape of ``mass_msun``
        S in (0, 1] [dimensionless]; on the namespace of the input.
    """
    xp = engine.namespace(mass_msun)
    a, b, c = (float(v) for v in coefficients)
    m = xp.asarray(mass_msun, dtype=xp.float64)
    if a_placement == "inside":
        return (1.0 + (a * m_hm / m) ** b) ** c
    if a_placement == "outside":
        return (1.0 + a * (m_hm / m) ** b) ** c
    raise ValueError(f"a_placement must be 'inside' or 'outside'; got {a_placement!r}")


def wdm_concentration_factor(mass_msun, m_hm: float, redshift):
    """c_WDM / c_CDM of Bose et al. (2016): ``(1 + 60 m_hm/m)^-0.17 (1+z)^(0.026 z - 0.04)``.

    As written in PHYSICS.md §14.2 (**unverified** against the paper). Note that the
    redshift factor does not tend to 1 as ``m_hm -> 0`` (0.989 at z = 0.5).
    """
    xp = engine.namespace(mass_msun, redshift)
    m = xp.asarray(mass_msun, dtype=xp.float64)
    z = xp.asarray(redshift, dtype=xp.float64)
    return (1.0 + 60.0 * m_hm / m) ** -0.17 * (1.0 + z) ** (0.026 * z - 0.04)


def wdm_coefficients(spec) -> tuple[float, float, float]:
    """The (a, b, c) of S(m): ``spec`` itself, or the entry of :data:`WDM_COEFFICIENTS` it names."""
    return WDM_COEFFICIENTS[spec] if isinstance(spec, str) else tuple(spec)


@dataclasses.dataclass(frozen=True)
class WDMModel:
    """One configured WDM model: S(m) and the concentration factor (set-up data).

    Parameters
    ----------
    m_hm : float
        Half-mode mass [M_sun], > 0.
    coefficients : (a, b, c)
        Of S(m); see :data:`WDM_COEFFICIENTS`.
    a_placement : {"inside", "outside"}
        See :func:`wdm_suppression`.
    concentration : bool
        Whether the populations apply the Bose et al. (2016) concentration factor.
    """

    m_hm: float
    coefficients: tuple[float, float, float]
    a_placement: str = "inside"
    concentration: bool = True

    @classmethod
    def from_config(cls, config) -> WDMModel | None:
        """The model of a population configuration (its ``dark_matter``, ``m_hm`` and
        ``wdm_*`` fields), or None when ``dark_matter`` is not ``"wdm"``."""
        if config.dark_matter != "wdm":
            return None
        return cls(config.m_hm, wdm_coefficients(config.wdm_coefficients),
                   config.wdm_a_placement, config.wdm_concentration)

    def suppression(self, mass_msun):
        """S(m) of :func:`wdm_suppression` [dimensionless]."""
        return wdm_suppression(mass_msun, self.m_hm, self.coefficients, self.a_placement)

    def concentration_factor(self, mass_msun, redshift):
        """c_WDM / c_CDM of :func:`wdm_concentration_factor` (whatever ``concentration`` says)."""
        return wdm_concentration_factor(mass_msun, self.m_hm, redshift)
