"""(M200c, c) -> lensing parameters of NFW and cored-NFW haloes (PHYSICS.md §11.1, §11.3).

Why this module exists: the mass-concentration profiles
(:mod:`xlens.profiles.mass.mcr`) and the populations' negative sheets need the
same chain from a halo mass to the parameters a lensing profile takes. The
chain is jittable (``xp``, float64); the mass ratios of the rendered profiles
(:func:`truncated_nfw_mass_ratio`, :func:`rendered_mass_ratio`) are NumPy set-up
for the sheets. Distances and densities use :mod:`xlens.cosmology` (astropy's
Planck15).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..cosmology import FlatLambdaCDM, Planck15
from ..engine import ArrayLike
from ..errors import check_range
from .concentration import ludlow16_concentration
from .interpolation import as_float64_arrays, input_namespace, interpolate_about_f1

__all__ = [
    "TABULATE_FROM",
    "CoredNFWParameters",
    "NFWParameters",
    "cored_nfw_mass_factor",
    "cored_nfw_parameters_from_m200",
    "nfw_mass_factor",
    "nfw_parameters_from_m200",
    "rendered_mass_ratio",
    "rendered_mass_ratio_of_concentration",
    "truncated_nfw_mass_ratio",
]


class NFWParameters(NamedTuple):
    """Lensing parameters of an NFW halo of given (M200c, c)."""

    kappa_s: ArrayLike  # rho_s r_s / Sigma_cr [dimensionless]
    scale_radius_arcsec: ArrayLike  # r_s [arcsec]
    radius_at_200_kpc: ArrayLike  # r200c [kpc]
    rho_s_msun_per_kpc3: ArrayLike  # rho_s [M_sun kpc^-3]


class CoredNFWParameters(NamedTuple):
    """Lensing parameters of a cored NFW halo of given (M200c, c, f_c)."""

    kappa_s: ArrayLike  # rho_s r_s / Sigma_cr [dimensionless]
    scale_radius_arcsec: ArrayLike  # r_s [arcsec]
    core_radius_arcsec: ArrayLike  # r_c = f_c r_s [arcsec]
    radius_at_200_kpc: ArrayLike  # r200c [kpc]
    rho_s_msun_per_kpc3: ArrayLike  # rho_s [M_sun kpc^-3]


def nfw_mass_factor(concentration: ArrayLike):
    """NFW mass factor ``mu(c) = ln(1 + c) - c / (1 + c)`` [dimensionless].

    ``M(< c r_s) = 4 pi rho_s r_s^3 mu(c)``; jittable, float64, shape of ``concentration``.
    """
    xp = input_namespace(concentration)
    (c,) = as_float64_arrays(concentration, xp=xp)
    return _nfw_mu(c, xp=xp)


def _nfw_mu(c, *, xp):
    return xp.log1p(c) - c / (1.0 + c)


def _cored_mu_closed(c, f, *, xp):
    """mu(c, f) for f != 1 (PHYSICS.md §10.1); f = 0 gives the NFW factor."""
    one_minus_f = 1.0 - f
    f_pos = f > 0.0
    f_safe = xp.where(f_pos, f, 1.0)  # keep ln(1 + c/f) finite where f = 0
    core_term = xp.where(f_pos, f * f * xp.log1p(c / f_safe), 0.0)
    return (core_term + (1.0 - 2.0 * f) * xp.log1p(c)) / one_minus_f**2 - c / (
        (1.0 + c) * one_minus_f
    )


def cored_nfw_mass_factor(concentration: ArrayLike, core_fraction: ArrayLike):
    """Cored-NFW mass factor mu(c, f): ``M(<c r_s) = 4 pi rho_s r_s^3 mu(c, f)`` (jittable).

    Parameters
    ----------
    concentration : float or array_like
        c = r200 / r_s [dimensionless]; > 0.
    core_fraction : float or array_like
        f = r_c / r_s [dimensionless]; >= 0 (0 is the NFW value). Broadcast with ``c``.

    Returns
    -------
    array, broadcast shape, float64
        mu(c, f) [dimensionless] (PHYSICS.md §10.1).

    Notes
    -----
    ``mu = f^2/(1-f)^2 ln(1 + c/f) + (1-2f)/(1-f)^2 ln(1+c) - c/((1+c)(1-f))``.
    For |1 - f| < 0.01 the value is the quadratic interpolation in f through
    f = 0.99, 1, 1.01 with the f = 1 closed form at the middle node (PHYSICS.md
    §10.2), with both branches fed safe arguments (double ``where``).
    """
    xp = input_namespace(concentration, core_fraction)
    c, f = as_float64_arrays(concentration, core_fraction, xp=xp)
    return _cored_mu(c, f, xp=xp)


def _cored_mu(c, f, *, xp):
    """mu(c, f) with the quadratic interpolation about f = 1 (PHYSICS.md §10.2)."""
    cp1 = 1.0 + c
    mu_one = xp.log1p(c) + 2.0 / cp1 - 0.5 / cp1**2 - 1.5
    return interpolate_about_f1(f, lambda ff: _cored_mu_closed(c, ff, xp=xp), mu_one, xp=xp)


def _check_halo_inputs(owner, mass_msun, concentration, redshift, redshift_source):
    check_range(owner, "mass_msun", mass_msun, low=0.0, low_inclusive=True, units="[M_sun]")
    check_range(owner, "concentration", concentration, low=0.0)
    check_range(
        owner, "redshift", redshift, low=0.0, hint="a halo at z = 0 has no angular size (D_l = 0)"
    )
    check_range(owner, "redshift_source", redshift_source, low=0.0)


#: From this many haloes on, the conversions take their distances from one table of the
#: comoving distance (``tabulated=True`` of :class:`xlens.cosmology.FlatLambdaCDM`, relative
#: error <= 2e-10) instead of a 24-node quadrature per halo and distance: on a realisation's
#: ~4200 halo slots ``nfw_parameters_from_m200`` took 8.9 ms, 2.2 ms with the table
#: (docs/performance.md, "Issue 16, round 4").
TABULATE_FROM = 64


def _distances(z, z_s, cosmology):
    """``Sigma_cr(z, z_s)`` [M_sun kpc^-2] and ``kpc_per_arcsec(z)``, tabulated for many haloes."""
    tabulated = int(np.prod(np.broadcast_shapes(np.shape(z), np.shape(z_s)))) >= TABULATE_FROM
    return (cosmology.critical_surface_density_msun_per_kpc2(z, z_s, tabulated=tabulated),
            cosmology.kpc_per_arcsec(z, tabulated=tabulated))


def _r200_rs_kpc(mass, c, z, cosmology, *, xp):
    rho_crit = cosmology.critical_density_msun_per_kpc3(z)
    r200 = xp.pow(3.0 * mass / (4.0 * math.pi * 200.0 * rho_crit), 1.0 / 3.0)
    return r200, r200 / c, rho_crit


def nfw_parameters_from_m200(
    mass_msun: ArrayLike,
    concentration: ArrayLike,
    redshift: ArrayLike,
    redshift_source: ArrayLike,
    cosmology: FlatLambdaCDM = Planck15,
) -> NFWParameters:
    """Lensing parameters of an NFW halo from (M200c, c) (PHYSICS.md §11.1; jittable).

    Parameters
    ----------
    mass_msun : float or array_like
        M200c [M_sun]; >= 0 (0 gives kappa_s = 0 and zero radii).
    concentration : float or array_like
        c200c = r200 / r_s [dimensionless]; > 0.
    redshift : float or array_like
        Halo (lens-plane) redshift [dimensionless]; > 0.
    redshift_source : float or array_like
        Source redshift [dimensionless]; > ``redshift``. All four broadcast together.
    cosmology : FlatLambdaCDM, optional
        Distances and rho_crit (default :data:`xlens.cosmology.Planck15`).

    Returns
    -------
    NFWParameters
        ``(kappa_s, scale_radius_arcsec, radius_at_200_kpc, rho_s_msun_per_kpc3)``:
        kappa_s = rho_s r_s / Sigma_cr [dimensionless], r_s [arcsec], r200c [kpc],
        rho_s [M_sun kpc^-3]; float64, broadcast shape.

    Notes
    -----
    ``r200 = (3 M / (4 pi 200 rho_crit(z)))^(1/3)``, ``r_s = r200 / c``,
    ``rho_s = (200/3) c^3 rho_crit(z) / mu(c)`` with ``mu(c) = ln(1+c) - c/(1+c)``,
    ``kappa_s = rho_s r_s[kpc] / Sigma_cr(z, z_s)``, ``r_s[''] = r_s[kpc] / kpc_per_arcsec(z)``.
    From :data:`TABULATE_FROM` haloes on, the distances come from one table of the comoving
    distance (``tabulated=True`` of :class:`~xlens.cosmology.FlatLambdaCDM`; relative error
    <= 2e-10) instead of a quadrature per halo.
    """
    _check_halo_inputs(
        "nfw_parameters_from_m200", mass_msun, concentration, redshift, redshift_source
    )
    xp = input_namespace(mass_msun, concentration, redshift, redshift_source, *cosmology.leaves())
    mass, c, z, z_s = as_float64_arrays(mass_msun, concentration, redshift, redshift_source, xp=xp)
    r200, r_s, rho_crit = _r200_rs_kpc(mass, c, z, cosmology, xp=xp)
    rho_s = (200.0 / 3.0) * c**3 * rho_crit / _nfw_mu(c, xp=xp)
    sigma_crit, kpc_per_arcsec = _distances(z, z_s, cosmology)
    return NFWParameters(rho_s * r_s / sigma_crit, r_s / kpc_per_arcsec, r200, rho_s)


def cored_nfw_parameters_from_m200(
    mass_msun: ArrayLike,
    concentration: ArrayLike,
    core_fraction: ArrayLike,
    redshift: ArrayLike,
    redshift_source: ArrayLike,
    cosmology: FlatLambdaCDM = Planck15,
) -> CoredNFWParameters:
    """Lensing parameters of a cored NFW halo from (M200c, c, f_c) (PHYSICS.md §11.1; jittable).

    Parameters
    ----------
    mass_msun : float or array_like
        M200c [M_sun]; >= 0.
    concentration : float or array_like
        c200c = r200 / r_s of the NFW halo [dimensionless]; > 0.
    core_fraction : float or array_like
        f_c = r_c / r_s [dimensionless]; >= 0.
    redshift, redshift_source : float or array_like
        Halo and source redshifts [dimensionless]; 0 < z < z_s. All broadcast together.
    cosmology : FlatLambdaCDM, optional
        Default :data:`xlens.cosmology.Planck15`.

    Returns
    -------
    CoredNFWParameters
        ``(kappa_s, scale_radius_arcsec, core_radius_arcsec, radius_at_200_kpc,
        rho_s_msun_per_kpc3)``; float64, broadcast shape.

    Notes
    -----
    The cored halo keeps the NFW r200 and r_s and is normalised so that
    M(<r200) = M200: ``rho_s = M200 / (4 pi r_s^3 mu(c, f_c))`` with the
    ``(1 - f)^2`` denominator of :func:`cored_nfw_mass_factor` (PHYSICS.md §11.1;
    PyAutoGalaxy's ``(1 + f)^2`` is a known bug), ``r_c = f_c r_s``.
    """
    owner = "cored_nfw_parameters_from_m200"
    _check_halo_inputs(owner, mass_msun, concentration, redshift, redshift_source)
    check_range(owner, "core_fraction", core_fraction, low=0.0, low_inclusive=True)
    xp = input_namespace(
        mass_msun, concentration, core_fraction, redshift, redshift_source, *cosmology.leaves()
    )
    mass, c, f, z, z_s = as_float64_arrays(
        mass_msun, concentration, core_fraction, redshift, redshift_source, xp=xp
    )
    r200, r_s, _ = _r200_rs_kpc(mass, c, z, cosmology, xp=xp)
    r_s_safe = xp.where(r_s > 0.0, r_s, 1.0)  # a zero mass gives rho_s = 0, not 0/0
    rho_s = xp.where(r_s > 0.0, mass / (4.0 * math.pi * r_s_safe**3 * _cored_mu(c, f, xp=xp)), 0.0)
    sigma_crit, kpc_per_arcsec = _distances(z, z_s, cosmology)
    r_s_arcsec = r_s / kpc_per_arcsec
    return CoredNFWParameters(rho_s * r_s / sigma_crit, r_s_arcsec, f * r_s_arcsec, r200, rho_s)


def truncated_nfw_mass_ratio(tau):
    """``m_inf(tau)``: total mass of a BMO09 (n = 1) truncated NFW over ``4 pi rho_s r_s^3``.

    ``m_inf = tau^2 / (tau^2 + 1)^2 [(tau^2 - 1) ln tau + pi tau - (tau^2 + 1)]``
    (Baltz, Marshall & Oguri 2009). Float64, in the namespace of ``tau`` (jittable).
    """
    xp = input_namespace(tau)
    (t,) = as_float64_arrays(tau, xp=xp)
    t2 = t * t
    return t2 / (t2 + 1.0) ** 2 * ((t2 - 1.0) * xp.log(t) + math.pi * t - (t2 + 1.0))


def rendered_mass_ratio(mass_msun, redshift, concentration_factor, model: str) -> np.ndarray:
    """m_ren / M200 of ``NFWTruncatedMCRLudlowSph``: ``m_inf(2c) / mu(c)`` (PHYSICS.md §11.3; NumPy).

    ``c`` is the Ludlow et al. (2016) concentration (``model``) times
    ``concentration_factor``; the truncated profile (``tau = 2c``) carries
    1.3-1.6 M200, the mass the populations' negative sheets cancel.
    """
    c = np.asarray(ludlow16_concentration(mass_msun, redshift, model=model)) * concentration_factor
    return rendered_mass_ratio_of_concentration(c)


def rendered_mass_ratio_of_concentration(concentration) -> np.ndarray:
    """m_ren / M200 of a truncated NFW (``tau = 2c``) of concentration ``c``: ``m_inf(2c) / mu(c)``
    [dimensionless] (jittable, in the namespace of ``concentration``); :func:`rendered_mass_ratio`
    with the concentration given."""
    xp = input_namespace(concentration)
    (c,) = as_float64_arrays(concentration, xp=xp)
    return truncated_nfw_mass_ratio(2.0 * c) / nfw_mass_factor(c)
