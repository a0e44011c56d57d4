"""Linear theory of the halo model: EH98 transfer, sigma(M) and growth D(z) (PHYSICS.md §11.2).

Why the module is split in two layers:

* **Set-up, NumPy/SciPy, once.** The rms linear overdensity sigma(M) needs an
  integral over the power spectrum and D(z) a hypergeometric function; neither
  belongs inside ``jit``. Both are evaluated once per process on uniform grids
  in ln M and ln(1 + z) and cached in memory (:func:`linear_tables`).
* **Evaluation, in ``xp``, jittable.** :func:`sigma_of_mass` and
  :func:`linear_growth_factor` interpolate those tables with cubic Hermite
  polynomials whose knot derivatives come from cubic splines (so the
  interpolants are the splines themselves), so masses drawn inside ``jit`` can
  be differentiated.

Cosmology conventions (PHYSICS.md §11.2, **convention**): sigma(M) and D(z) use
Omega_m = 0.3089 (CDM + baryons + massive neutrinos), no radiation,
Omega_b = 0.0486, h = 0.6774, sigma_8 = 0.8159, n_s = 0.9667, T_CMB = 2.7255 K
(:data:`PLANCK15_LINEAR`); masses are physical [M_sun]. The tables' grids
(:data:`LOG10_MASS_RANGE`, :data:`REDSHIFT_RANGE`) are shared with the
concentration table of :mod:`xlens.halo_model.concentration`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import numpy as np
import scipy.integrate
import scipy.interpolate
import scipy.special

from ..cosmology import KPC_M, MPC_M, RHO_CRIT_PREFACTOR
from ..engine import ArrayLike
from ..errors import check_range
from .interpolation import as_float64_arrays, hermite_1d, input_namespace

__all__ = [
    "LOG10_MASS_RANGE",
    "PLANCK15_LINEAR",
    "REDSHIFT_RANGE",
    "TRANSFERS",
    "LinearCosmology",
    "LinearTables",
    "check_table_range",
    "check_table_redshift",
    "check_transfer",
    "growth_factor_direct",
    "linear_growth_factor",
    "linear_tables",
    "sigma_of_mass",
    "sigma_of_mass_direct",
    "spline_slopes",
    "table_ln_mass",
    "table_ln_zp1",
    "table_nodes",
]

# --- tabulation grids (uniform, so a cell index is a floor; PHYSICS.md §11.2) ---------
#: log10 M200c range [M_sun] of every table; inputs outside are clamped inside jit.
LOG10_MASS_RANGE = (3.0, 16.0)
_DLOG10_MASS = 0.1
#: Redshift range of every table; inputs outside are clamped inside jit.
REDSHIFT_RANGE = (0.0, 10.0)
#: The redshift axis is uniform in ln(1 + z), where D(z) ~ 1/(1+z) is nearly linear.
_N_LN_ZP1 = 97
#: Wavenumbers of the sigma(M) integral [h Mpc^-1]: Simpson in ln k. The range reaches
#: k R = 4e4 for the smallest radius (f M = 20 M_sun), where the top-hat tail is < 1e-12.
_LNK = np.linspace(math.log(1e-6), math.log(1e8), 8001)

#: Transfer functions of sigma(M): Eisenstein & Hu (1998) with and without baryon wiggles.
TRANSFERS = ("eh98", "eh98_nowiggle")


@dataclasses.dataclass(frozen=True)
class LinearCosmology:
    """Parameters of the linear power spectrum and growth (set-up data, NumPy only).

    Parameters
    ----------
    h : float
        H0 / (100 km s^-1 Mpc^-1) [dimensionless].
    Om0 : float
        Total matter density parameter today, including massive neutrinos [dimensionless].
    Ob0 : float
        Baryon density parameter today [dimensionless].
    sigma8 : float
        rms linear overdensity in spheres of 8 h^-1 Mpc today [dimensionless].
    ns : float
        Spectral index of the primordial power spectrum [dimensionless].
    Tcmb0 : float
        CMB temperature today [K].

    Notes
    -----
    Hashable, so it keys the in-memory table cache. Flat, no radiation
    (PHYSICS.md §11.2).
    """

    h: float = 0.6774
    Om0: float = 0.3089
    Ob0: float = 0.0486
    sigma8: float = 0.8159
    ns: float = 0.9667
    Tcmb0: float = 2.7255

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "h", self.h, low=0.0)
        check_range(owner, "Om0", self.Om0, low=0.0, high=1.0)
        check_range(owner, "Ob0", self.Ob0, low=0.0, high=self.Om0, low_inclusive=True)
        check_range(owner, "sigma8", self.sigma8, low=0.0)
        check_range(owner, "ns", self.ns)
        check_range(owner, "Tcmb0", self.Tcmb0, low=0.0, units="[K]")


#: The Planck 2015 convention of PHYSICS.md §11.2 (colossus ``planck15``).
PLANCK15_LINEAR = LinearCosmology()


# =====================================================================================
# Set-up in NumPy: transfer functions, sigma(M), growth
# =====================================================================================


def _transfer_eh98_nowiggle(k, cosmo: LinearCosmology):
    """Eisenstein & Hu (1998) zero-baryon-oscillation T(k), eqs. 26, 28-31; k [h Mpc^-1]."""
    h, om_h2 = cosmo.h, cosmo.Om0 * cosmo.h**2
    ob_h2, fb = cosmo.Ob0 * cosmo.h**2, cosmo.Ob0 / cosmo.Om0
    theta = cosmo.Tcmb0 / 2.7
    s = 44.5 * math.log(9.83 / om_h2) / math.sqrt(1.0 + 10.0 * ob_h2**0.75)  # [Mpc], eq. 26
    alpha = 1.0 - 0.328 * math.log(431.0 * om_h2) * fb + 0.38 * math.log(22.3 * om_h2) * fb**2
    gamma_eff = cosmo.Om0 * h * (alpha + (1.0 - alpha) / (1.0 + (0.43 * k * h * s) ** 4))  # eq. 30
    q = k * theta**2 / gamma_eff  # eq. 28
    l0 = np.log(2.0 * math.e + 1.8 * q)
    c0 = 14.2 + 731.0 / (1.0 + 62.5 * q)
    return l0 / (l0 + c0 * q * q)  # eq. 29


def _transfer_eh98(k, cosmo: LinearCosmology):
    """Eisenstein & Hu (1998) T(k) with baryon oscillations, eqs. 2-24; k [h Mpc^-1]."""
    om_h2 = cosmo.Om0 * cosmo.h**2
    ob_h2, fb = cosmo.Ob0 * cosmo.h**2, cosmo.Ob0 / cosmo.Om0
    fc = 1.0 - fb
    theta = cosmo.Tcmb0 / 2.7
    kk = k * cosmo.h  # [Mpc^-1]
    z_eq = 2.50e4 * om_h2 * theta**-4  # eq. 2
    k_eq = 7.46e-2 * om_h2 * theta**-2  # eq. 3 [Mpc^-1]
    b1 = 0.313 * om_h2**-0.419 * (1.0 + 0.607 * om_h2**0.674)  # eq. 4
    b2 = 0.238 * om_h2**0.223
    z_d = 1291.0 * om_h2**0.251 / (1.0 + 0.659 * om_h2**0.828) * (1.0 + b1 * ob_h2**b2)
    r_d = 31.5 * ob_h2 * theta**-4 * (1000.0 / z_d)  # eq. 5
    r_eq = 31.5 * ob_h2 * theta**-4 * (1000.0 / z_eq)
    s = (
        2.0
        / (3.0 * k_eq)
        * math.sqrt(6.0 / r_eq)  # eq. 6, sound horizon [Mpc]
        * math.log((math.sqrt(1.0 + r_d) + math.sqrt(r_d + r_eq)) / (1.0 + math.sqrt(r_eq)))
    )
    k_silk = 1.6 * ob_h2**0.52 * om_h2**0.73 * (1.0 + (10.4 * om_h2) ** -0.95)  # eq. 7
    q = kk / (13.41 * k_eq)  # eq. 10
    a1 = (46.9 * om_h2) ** 0.670 * (1.0 + (32.1 * om_h2) ** -0.532)  # eq. 11
    a2 = (12.0 * om_h2) ** 0.424 * (1.0 + (45.0 * om_h2) ** -0.582)
    alpha_c = a1**-fb * a2 ** (-(fb**3))
    bb1 = 0.944 / (1.0 + (458.0 * om_h2) ** -0.708)  # eq. 12
    bb2 = (0.395 * om_h2) ** -0.0266
    beta_c = 1.0 / (1.0 + bb1 * (fc**bb2 - 1.0))

    def t0(alpha, beta):  # eqs. 19-20
        ln = np.log(math.e + 1.8 * beta * q)
        c = 14.2 / alpha + 386.0 / (1.0 + 69.9 * q**1.08)
        return ln / (ln + c * q * q)

    ks = kk * s
    f = 1.0 / (1.0 + (ks / 5.4) ** 4)  # eq. 18
    t_cdm = f * t0(1.0, beta_c) + (1.0 - f) * t0(alpha_c, beta_c)  # eq. 17
    y = (1.0 + z_eq) / (1.0 + z_d)  # eq. 15
    sq = math.sqrt(1.0 + y)
    g_y = y * (-6.0 * sq + (2.0 + 3.0 * y) * math.log((sq + 1.0) / (sq - 1.0)))
    alpha_b = 2.07 * k_eq * s * (1.0 + r_d) ** -0.75 * g_y  # eq. 14
    beta_node = 8.41 * om_h2**0.435  # eq. 23
    s_tilde = s / (1.0 + (beta_node / ks) ** 3) ** (1.0 / 3.0)  # eq. 22
    beta_b = 0.5 + fb + (3.0 - 2.0 * fb) * math.sqrt((17.2 * om_h2) ** 2 + 1.0)  # eq. 24
    j0 = np.sinc(kk * s_tilde / math.pi)  # sin(x)/x
    t_b = (
        t0(1.0, 1.0) / (1.0 + (ks / 5.2) ** 2)
        + alpha_b / (1.0 + (beta_b / ks) ** 3) * np.exp(-((kk / k_silk) ** 1.4))
    ) * j0  # eq. 21
    return fb * t_b + fc * t_cdm  # eq. 16


def _rho_mean0_h(cosmo: LinearCosmology) -> float:
    """Mean matter density today [h^2 M_sun Mpc^-3] (comoving)."""
    h100_si = 100e3 / MPC_M  # 100 km s^-1 Mpc^-1 [s^-1]
    rho_crit_h2 = RHO_CRIT_PREFACTOR * h100_si**2 * (MPC_M / KPC_M) ** 3  # [h^2 M_sun Mpc^-3]
    return cosmo.Om0 * rho_crit_h2


def _tophat_window(y):
    """W(y) = 3 (sin y - y cos y) / y^3, with 1 - y^2/10 below y = 1e-3 (PHYSICS.md §11.2)."""
    small = y < 1e-3
    ys = np.where(small, 1.0, y)
    return np.where(small, 1.0 - y * y / 10.0, 3.0 * (np.sin(ys) - ys * np.cos(ys)) / ys**3)


def _sigma_of_radius_unnormalised(radius_hmpc, cosmo, transfer):
    """sigma(R) for P(k) = k^ns T^2 (arbitrary amplitude); R [h^-1 Mpc]."""
    k = np.exp(_LNK)
    t = _transfer_eh98(k, cosmo) if transfer == "eh98" else _transfer_eh98_nowiggle(k, cosmo)
    power = k ** (3.0 + cosmo.ns) * t**2 / (2.0 * math.pi**2)  # k^3 P(k) / (2 pi^2)
    w = _tophat_window(np.multiply.outer(np.asarray(radius_hmpc), k))
    return np.sqrt(scipy.integrate.simpson(power * w**2, x=_LNK, axis=-1))


def sigma_of_mass_direct(mass_msun, cosmo: LinearCosmology, transfer: str):
    """sigma(M, z=0) by direct integration, normalised to sigma_8; M physical [M_sun]."""
    mass_h = np.asarray(mass_msun, dtype=np.float64) * cosmo.h  # [h^-1 M_sun]
    radius = (3.0 * mass_h / (4.0 * math.pi * _rho_mean0_h(cosmo))) ** (1.0 / 3.0)
    norm = cosmo.sigma8 / _sigma_of_radius_unnormalised(np.array([8.0]), cosmo, transfer)[0]
    return norm * _sigma_of_radius_unnormalised(radius, cosmo, transfer)


def growth_factor_direct(z, cosmo: LinearCosmology):
    """Linear growth D(z)/D(0), flat LCDM without radiation (Heath 1977, as 2F1)."""
    x = (1.0 - cosmo.Om0) / cosmo.Om0

    def unnormalised(a):  # D(a) = a 2F1(1/3, 1; 11/6; -x a^3), D -> a early on
        return a * scipy.special.hyp2f1(1.0 / 3.0, 1.0, 11.0 / 6.0, -x * a**3)

    return unnormalised(1.0 / (1.0 + np.asarray(z, dtype=np.float64))) / unnormalised(1.0)


class LinearTables(NamedTuple):
    """Cached sigma(M) and D(z) tables; every array is float64 NumPy."""

    ln_mass0: float  # first ln M node [ln M_sun]
    dln_mass: float  # ln M spacing
    y0: float  # first ln(1 + z) node
    dy: float  # ln(1 + z) spacing
    ln_sigma0: tuple  # (values, d/dlnM), each shape (n_m,)
    ln_growth: tuple  # (values, d/dy), each shape (n_z,)


def table_nodes() -> tuple[np.ndarray, np.ndarray]:
    """The nodes of every table: ln M [ln M_sun] (0.1 dex) and y = ln(1 + z) (uniform)."""
    n_m = round((LOG10_MASS_RANGE[1] - LOG10_MASS_RANGE[0]) / _DLOG10_MASS) + 1
    ln_m = np.linspace(LOG10_MASS_RANGE[0], LOG10_MASS_RANGE[1], n_m) * math.log(10.0)
    y = np.linspace(math.log1p(REDSHIFT_RANGE[0]), math.log1p(REDSHIFT_RANGE[1]), _N_LN_ZP1)
    return ln_m, y


def spline_slopes(values, x, axis: int):
    """Knot derivatives of the cubic spline through ``values`` along ``axis`` (NumPy)."""
    return scipy.interpolate.CubicSpline(x, values, axis=axis)(x, 1)


@functools.lru_cache(maxsize=8)
def linear_tables(cosmo: LinearCosmology, transfer: str) -> LinearTables:
    """Tabulate ln sigma0(ln M) and ln D(z) once per (cosmology, transfer)."""
    ln_m, y = table_nodes()
    ln_sigma = np.log(sigma_of_mass_direct(np.exp(ln_m), cosmo, transfer))
    ln_growth = np.log(growth_factor_direct(np.expm1(y), cosmo))
    return LinearTables(
        ln_mass0=float(ln_m[0]),
        dln_mass=float(ln_m[1] - ln_m[0]),
        y0=float(y[0]),
        dy=float(y[1] - y[0]),
        ln_sigma0=(ln_sigma, spline_slopes(ln_sigma, ln_m, 0)),
        ln_growth=(ln_growth, spline_slopes(ln_growth, y, 0)),
    )


# =====================================================================================
# Evaluation in xp (jittable)
# =====================================================================================


def check_transfer(transfer: str) -> None:
    if transfer not in TRANSFERS:
        raise ValueError(f"transfer must be one of {TRANSFERS}; got {transfer!r}")


def check_table_range(owner: str, mass_msun, redshift) -> None:
    lo, hi = 10.0 ** LOG10_MASS_RANGE[0], 10.0 ** LOG10_MASS_RANGE[1]
    check_range(
        owner,
        "mass_msun",
        mass_msun,
        low=lo,
        high=hi,
        low_inclusive=True,
        high_inclusive=True,
        units="[M_sun]",
        hint="the tables cover this range; inside jit masses are clamped to it",
    )
    check_table_redshift(owner, redshift)


def check_table_redshift(owner: str, redshift) -> None:
    """Raise :class:`~xlens.errors.ParameterError` for a concrete redshift outside the tables."""
    check_range(
        owner,
        "redshift",
        redshift,
        low=REDSHIFT_RANGE[0],
        high=REDSHIFT_RANGE[1],
        low_inclusive=True,
        high_inclusive=True,
        hint="the tables cover this range; inside jit redshifts are clamped to it",
    )


def table_ln_mass(mass, *, xp):
    """ln M with non-positive masses (padded slots) mapped to the table edge, finite gradients."""
    floor = 10.0 ** LOG10_MASS_RANGE[0]
    return xp.log(xp.where(mass > 0.0, mass, floor))


def table_ln_zp1(z, *, xp):
    """ln(1 + z), the tables' redshift coordinate, after clamping z to the tables."""
    return xp.log1p(xp.clip(z, REDSHIFT_RANGE[0], REDSHIFT_RANGE[1]))


def linear_growth_factor(redshift: ArrayLike, *, cosmology: LinearCosmology = PLANCK15_LINEAR):
    """Linear growth factor D(z), normalised to D(0) = 1 (jittable).

    Parameters
    ----------
    redshift : float or array_like
        Redshift [dimensionless]; in [0, 10] (clamped to it inside jit).
    cosmology : LinearCosmology, optional
        Defaults to :data:`PLANCK15_LINEAR` (Omega_m = 0.3089, no radiation).

    Returns
    -------
    array, shape of ``redshift``, float64
        D(z) [dimensionless]; flat LCDM, Heath (1977), PHYSICS.md §11.2
        (0.770632 at z = 0.5). Spline-interpolated in ln(1 + z): error 2e-8.
    """
    check_table_redshift("linear_growth_factor", redshift)
    xp = input_namespace(redshift)
    (z,) = as_float64_arrays(redshift, xp=xp)
    tab = linear_tables(cosmology, "eh98")
    return xp.exp(hermite_1d(table_ln_zp1(z, xp=xp), tab.y0, tab.dy, *tab.ln_growth, xp=xp))


def sigma_of_mass(
    mass_msun: ArrayLike,
    redshift: ArrayLike = 0.0,
    *,
    transfer: str = "eh98",
    cosmology: LinearCosmology = PLANCK15_LINEAR,
):
    """rms linear overdensity sigma(M, z) = sigma(M, 0) D(z) of a top-hat of mass M (jittable).

    Parameters
    ----------
    mass_msun : float or array_like
        Mass [M_sun] (physical, not h^-1); in [1e3, 1e16] (clamped inside jit).
    redshift : float or array_like, optional
        Redshift [dimensionless]; in [0, 10] (clamped inside jit). Broadcast with the mass.
    transfer : {"eh98", "eh98_nowiggle"}, optional
        Eisenstein & Hu (1998) transfer function with baryon oscillations (default)
        or the no-wiggle form of PHYSICS.md §11.2.
    cosmology : LinearCosmology, optional
        Defaults to :data:`PLANCK15_LINEAR`.

    Returns
    -------
    array, broadcast shape, float64
        sigma [dimensionless], normalised to sigma_8 at z = 0; comoving top-hat radius
        R = (3 M / (4 pi rho_m0))^(1/3). Spline-interpolated in ln M (0.1 dex):
        relative error ~1e-7.

    Raises
    ------
    ParameterError
        If a concrete mass or redshift lies outside the tables.
    """
    check_transfer(transfer)
    check_table_range("sigma_of_mass", mass_msun, redshift)
    xp = input_namespace(mass_msun, redshift)
    mass, z = as_float64_arrays(mass_msun, redshift, xp=xp)
    tab = linear_tables(cosmology, transfer)
    ln_sigma0 = hermite_1d(table_ln_mass(mass, xp=xp), tab.ln_mass0, tab.dln_mass, *tab.ln_sigma0, xp=xp)
    ln_growth = hermite_1d(table_ln_zp1(z, xp=xp), tab.y0, tab.dy, *tab.ln_growth, xp=xp)
    return xp.exp(ln_sigma0 + ln_growth)
