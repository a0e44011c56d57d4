"""Ludlow et al. (2016) concentrations c200c(M200c, z) (PHYSICS.md §11.2).

Why the module is split in two layers:

* **Set-up, NumPy/SciPy, once.** The full Ludlow et al. (2016) model needs a root
  finder per (mass, redshift). It is solved once per process on the (ln M, z)
  grid of :mod:`xlens.halo_model.linear` and cached in memory
  (:func:`concentration_table`, about 0.4 s per transfer function).
* **Evaluation, in ``xp``, jittable.** :func:`ludlow16_concentration`
  interpolates the table with bicubic Hermite polynomials whose knot
  derivatives come from cubic splines (C1), so masses can be drawn inside
  ``jit`` and differentiated.

The full model (Ludlow et al. 2016, MNRAS 460, 1214, section 4 and eq. 6): the
mean density inside the scale radius r_-2 is ``C`` times the critical density at
the redshift z_-2 at which the *collapsed mass history* (the mass in progenitors
more massive than ``f M200``, extended Press-Schechter)

    M_coll(z_-2) / M200 = erfc( (delta_sc(z_-2) - delta_sc(z)) / w ),
    w = sqrt(2 [sigma^2(f M200) - sigma^2(M200)]),

equals the mass inside r_-2. The halo mass profile used for M_-2 and <rho_-2> is
Einasto with shape alpha = 0.18 (the profile of Ludlow et al. 2016), so with
``c = r200 / r_-2``

    M_-2 / M200 = P(3/alpha, 2/alpha) / P(3/alpha, (2/alpha) c^alpha),
    <rho_-2> / rho_crit(z) = 200 c^3 M_-2 / M200,

P being the regularised lower incomplete gamma function; f = 0.02, C = 650.
sigma(M) uses the Eisenstein & Hu (1998) transfer function *with* baryon
oscillations (their eqs. 2-24) by default: with the no-wiggle form of PHYSICS.md
§11.2 the full model is 1.7% below colossus, with the oscillations 0.1%. The
no-wiggle form stays available (``transfer="eh98_nowiggle"``), as does the
fitting formula of PHYSICS.md §11.2 (``model="fit"``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special

from ..engine import ArrayLike
from ..errors import check_range
from .interpolation import as_float64_arrays, hermite_1d, hermite_2d, input_namespace
from .linear import (
    PLANCK15_LINEAR,
    LinearCosmology,
    check_table_range,
    check_transfer,
    growth_factor_direct,
    linear_tables,
    sigma_of_mass_direct,
    spline_slopes,
    table_ln_mass,
    table_ln_zp1,
    table_nodes,
)

__all__ = ["MODELS", "concentration_table", "ludlow16_concentration"]

# --- model constants ---------------------------------------------------------------
_LUDLOW_F = 0.02  # progenitor mass fraction f (Ludlow et al. 2016, best fit)
_LUDLOW_C = 650.0  # <rho_-2> = C rho_crit(z_-2) (Ludlow et al. 2016, best fit)
_EINASTO_ALPHA = 0.18  # Einasto shape of the model's mass profile (Ludlow et al. 2016)
_DELTA_SC = 1.686  # spherical-collapse threshold (PHYSICS.md §11.2)

#: Root bracket of the full model in c: at c = 1.2 the collapse redshift is below z
#: (the equation is positive), at 1000 it is negative; the solution lies above ~1.6.
_C_BRACKET = (1.2, 1000.0)
_ROOT_ITERATIONS = 60

#: Highest redshift of the fitting formula: its nu_0 polynomial (PHYSICS.md §11.2)
#: falls from 0.45 at z = 7 to zero at z = 7.8. Inside jit larger z are clamped to it.
_FIT_MAX_REDSHIFT = 7.0

#: Concentration models: the semi-analytic model and its fitting formula.
MODELS = ("full", "fit")


def _einasto_mass_ratio(c):
    """M(<r_-2) / M(<r200) of an Einasto profile with alpha = 0.18 and c = r200 / r_-2."""
    a = 3.0 / _EINASTO_ALPHA
    x = 2.0 / _EINASTO_ALPHA
    return scipy.special.gammainc(a, x) / scipy.special.gammainc(a, x * c**_EINASTO_ALPHA)


def _ludlow16_full_numpy(mass_msun, z, cosmo: LinearCosmology, transfer: str):
    """Solve the full Ludlow et al. (2016) model for c200c; broadcast over M and z."""
    mass = np.asarray(mass_msun, dtype=np.float64)
    s2 = (
        sigma_of_mass_direct(_LUDLOW_F * mass, cosmo, transfer) ** 2
        - sigma_of_mass_direct(mass, cosmo, transfer) ** 2
    )  # before broadcasting: one integral per distinct mass
    # sqrt(2 (sigma^2(f M) - sigma^2(M))) at z = 0
    width, z = np.broadcast_arrays(np.sqrt(2.0 * s2), np.asarray(z, dtype=np.float64))
    om, ol = cosmo.Om0, 1.0 - cosmo.Om0
    e2_z = om * (1.0 + z) ** 3 + ol
    delta_z = _DELTA_SC / growth_factor_direct(z, cosmo)

    def residual(ln_c):
        c = np.exp(ln_c)
        ratio = _einasto_mass_ratio(c)  # M_-2 / M200
        e2_2 = 200.0 * c**3 * ratio * e2_z / _LUDLOW_C  # rho_crit(z_-2) / rho_crit(0)
        collapsed_later = e2_2 > e2_z  # z_-2 > z; otherwise the collapsed fraction is 1
        zp1_2 = np.cbrt(np.where(collapsed_later, (e2_2 - ol) / om, 1.0))
        delta_2 = _DELTA_SC / growth_factor_direct(zp1_2 - 1.0, cosmo)
        arg = np.where(collapsed_later, (delta_2 - delta_z) / width, 0.0)
        return scipy.special.erfc(arg) - ratio

    lo = np.full(z.shape, math.log(_C_BRACKET[0]))
    hi = np.full(z.shape, math.log(_C_BRACKET[1]))
    return np.exp(_illinois(residual, lo, hi, iterations=_ROOT_ITERATIONS))


def _illinois(fun, lo, hi, *, iterations):
    """Vectorised Illinois (modified regula falsi) root of ``fun`` bracketed by [lo, hi]."""
    f_lo, f_hi = fun(lo), fun(hi)
    if not (np.all(f_lo > 0) and np.all(f_hi < 0)):
        raise RuntimeError("Ludlow16 root is not bracketed; widen _C_BRACKET")
    for _ in range(iterations):
        denom = f_hi - f_lo
        converged = (denom == 0) | (hi == lo)
        x = np.where(converged, hi, hi - f_hi * (hi - lo) / np.where(converged, 1.0, denom))
        f_x = fun(x)
        keep_lo = np.sign(f_x) == np.sign(f_hi)  # the root stays in [lo, x]
        f_lo = np.where(keep_lo, 0.5 * f_lo, f_hi)
        lo = np.where(keep_lo, lo, hi)
        hi, f_hi = x, f_x
        if np.all(np.abs(f_hi) < 1e-14):
            break
    return hi


@functools.lru_cache(maxsize=8)
def concentration_table(cosmo: LinearCosmology, transfer: str) -> tuple:
    """ln c_full on the (ln M, ln(1 + z)) nodes and its knot derivatives, cached.

    Returns ``(f, f_lnM, f_y, f_lnM_y)``, each float64 NumPy of shape (n_m, n_z):
    the table of the bicubic interpolant of :func:`ludlow16_concentration`.
    """
    ln_m, y = table_nodes()
    ln_c = np.log(_ludlow16_full_numpy(np.exp(ln_m)[:, None], np.expm1(y)[None, :], cosmo, transfer))
    c_m = spline_slopes(ln_c, ln_m, 0)
    c_y = spline_slopes(ln_c, y, 1)
    c_my = spline_slopes(c_m, y, 1)
    return (ln_c, c_m, c_y, c_my)


def _ludlow16_fit(sigma, z, growth, *, xp):
    """Ludlow et al. (2016) eq. C1 and the parameter equations after it (PHYSICS.md §11.2)."""
    zp1 = 1.0 + z
    a_inv = zp1
    nu = _DELTA_SC / sigma
    c0 = 3.395 * zp1**-0.215
    beta = 0.307 * zp1**0.540
    gamma1 = 0.628 * zp1**-0.047
    gamma2 = 0.317 * zp1**-0.893
    nu0 = (
        4.135 - 0.564 * a_inv - 0.210 * a_inv**2 + 0.0557 * a_inv**3 - 0.00348 * a_inv**4
    ) / growth
    x = nu / nu0
    return c0 * x**-gamma1 * (1.0 + x ** (1.0 / beta)) ** (-beta * (gamma2 - gamma1))


def ludlow16_concentration(
    mass_msun: ArrayLike,
    redshift: ArrayLike,
    *,
    model: str = "full",
    transfer: str = "eh98",
    cosmology: LinearCosmology = PLANCK15_LINEAR,
):
    """Ludlow et al. (2016) concentration c200c(M200c, z) (jittable).

    Parameters
    ----------
    mass_msun : float or array_like
        M200c [M_sun] (physical); in [1e3, 1e16] (clamped inside jit; a mass <= 0,
        as in a padded slot, gives the value at 1e3 with finite gradients).
    redshift : float or array_like
        Halo redshift [dimensionless]; in [0, 10] (clamped inside jit). Broadcast
        with the mass.
    model : {"full", "fit"}, optional
        ``"full"``: the semi-analytic collapsed-mass-history model, solved once per
        process on a (ln M, z) grid and interpolated bicubically (default).
        ``"fit"``: the fitting formula of Ludlow et al. (2016, eq. C1), PHYSICS.md §11.2.
    transfer : {"eh98", "eh98_nowiggle"}, optional
        Transfer function of sigma(M) (see :func:`sigma_of_mass`).
    cosmology : LinearCosmology, optional
        Defaults to :data:`PLANCK15_LINEAR`.

    Returns
    -------
    array, broadcast shape, float64
        c200c = r200c / r_-2 [dimensionless].

    Raises
    ------
    ParameterError
        If a concrete mass or redshift lies outside the tables.
    ValueError
        For an unknown ``model`` or ``transfer``.

    Notes
    -----
    Against colossus 1.4.0 ``ludlow16`` (``tests/data/ludlow16.json``,
    1e6-1e12 M_sun, z = 0.2-1) the full model agrees to 0.1% with
    ``transfer="eh98"`` and to 1.7% with ``"eh98_nowiggle"``; the fit differs from
    the full model by up to ~3% (PHYSICS.md §11.2). The full-model table (0.1 dex
    in M, 97 nodes uniform in ln(1 + z)) reproduces the directly solved model to
    1.1e-7 (measured over the whole table).

    Examples
    --------
    >>> from xlens.halo_model import ludlow16_concentration
    >>> round(float(ludlow16_concentration(1e9, 0.5)), 2)
    12.04
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}; got {model!r}")
    check_transfer(transfer)
    check_table_range("ludlow16_concentration", mass_msun, redshift)
    if model == "fit":
        check_range(
            "ludlow16_concentration",
            "redshift",
            redshift,
            low=0.0,
            high=_FIT_MAX_REDSHIFT,
            low_inclusive=True,
            high_inclusive=True,
            hint="nu_0 of the fit turns negative at z = 7.8; use model='full'",
        )
    xp = input_namespace(mass_msun, redshift)
    mass, z = as_float64_arrays(mass_msun, redshift, xp=xp)
    tab = linear_tables(cosmology, transfer)
    ln_m = table_ln_mass(mass, xp=xp)
    if model == "full":
        return xp.exp(
            hermite_2d(
                ln_m,
                table_ln_zp1(z, xp=xp),
                tab.ln_mass0,
                tab.dln_mass,
                tab.y0,
                tab.dy,
                *concentration_table(cosmology, transfer),
                xp=xp,
            )
        )
    z_fit = xp.clip(z, 0.0, _FIT_MAX_REDSHIFT)
    growth = xp.exp(hermite_1d(table_ln_zp1(z_fit, xp=xp), tab.y0, tab.dy, *tab.ln_growth, xp=xp))
    sigma0 = xp.exp(hermite_1d(ln_m, tab.ln_mass0, tab.dln_mass, *tab.ln_sigma0, xp=xp))
    return _ludlow16_fit(sigma0 * growth, z_fit, growth, xp=xp)
