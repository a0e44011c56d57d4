"""Halo mass functions: Sheth & Tormen (1999), the double cone, the subhalo scaling (PHYSICS.md §14).

Why this module exists: the line-of-sight population needs, once per
configuration, the expected number of haloes per mass and per slab of the light
cone. Everything here is *set-up data*: NumPy, float64, evaluated at
configuration time and never traced. The populations turn it into the small
tables they sample from inside ``jit`` (:mod:`xlens.halos`).

Conventions (PHYSICS.md §14.4, §11.2):

* The mass function is comoving: ``dn/dln M`` [Mpc^-3] (comoving Mpc, physical
  M_sun). ``rho_m0 = Omega_m rho_crit,0`` uses the linear-theory Omega_m = 0.3089
  of :data:`~xlens.halo_model.linear.PLANCK15_LINEAR` (as colossus), and
  sigma(M) its tables. The model's native mass is a friends-of-friends mass;
  the populations render it as M200c (**convention**, as pyHalo does).
* Distances and volumes use the lensing cosmology :data:`xlens.cosmology.Planck15`
  (astropy's Planck 2015), as the rendered profiles do.
"""

from __future__ import annotations

import math

import numpy as np

from ..cosmology import (
    C_KM_S,
    MPC_M,
    RAD_PER_ARCSEC,
    RHO_CRIT_PREFACTOR,
    FlatLambdaCDM,
    Planck15,
)
from ..errors import check_range
from .linear import (
    LOG10_MASS_RANGE,
    PLANCK15_LINEAR,
    LinearCosmology,
    linear_growth_factor,
    sigma_of_mass,
)

__all__ = [
    "DELTA_C",
    "ST_A",
    "ST_NORMALISATION",
    "ST_P",
    "SUBHALO_PIVOT_MASS",
    "DoubleCone",
    "gauss_legendre",
    "mean_matter_density_msun_per_mpc3",
    "sheth_tormen_dndlnm",
    "sheth_tormen_multiplicity",
    "subhalo_host_scaling",
]

#: Spherical-collapse threshold (PHYSICS.md §14.4).
DELTA_C = 1.686
#: Sheth & Tormen (1999) shape parameters.
ST_A = 0.707
ST_P = 0.3
#: Normalisation A = [1 + 2^-p Gamma(1/2 - p) / sqrt(pi)]^-1 = 0.32218, so that int f dnu = 1.
ST_NORMALISATION = 1.0 / (1.0 + 2.0**-ST_P * math.gamma(0.5 - ST_P) / math.sqrt(math.pi))

#: Pivot mass m_0 of the subhalo mass function [M_sun] (PHYSICS.md §14.1).
SUBHALO_PIVOT_MASS = 1e8

#: Step of the central difference for d ln sigma / d ln M. sigma comes from a cubic
#: spline in ln M (0.1 dex knots), so the O(h^2) error is ~1e-9.
_DLNM = 1e-4


def gauss_legendre(a: float, b: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the n-point Gauss-Legendre rule on [a, b] (float64)."""
    x, w = np.polynomial.legendre.leggauss(n)
    half, mid = 0.5 * (b - a), 0.5 * (b + a)
    return mid + half * x, half * w


def mean_matter_density_msun_per_mpc3(cosmology: LinearCosmology = PLANCK15_LINEAR) -> float:
    """Comoving mean matter density today ``Omega_m rho_crit,0`` [M_sun Mpc^-3].

    ``rho_crit,0`` is that of the Hubble constant ``100 h`` of ``cosmology``
    (h = 0.6774, Omega_m = 0.3089 by default: 3.934e10 M_sun Mpc^-3).
    """
    h0_si = 100.0 * cosmology.h * 1e3 / MPC_M  # H0 [s^-1]
    rho_crit0 = RHO_CRIT_PREFACTOR * h0_si**2  # [M_sun kpc^-3]
    return cosmology.Om0 * rho_crit0 * 1e9


def sheth_tormen_multiplicity(nu):
    """``nu f(nu)`` of Sheth & Tormen (1999), ``int f dnu = 1`` (NumPy, float64).

    ``f(nu) = A sqrt(2a/pi) [1 + (a nu^2)^-p] exp(-a nu^2 / 2)`` with a = 0.707,
    p = 0.3, A = 0.32218 (PHYSICS.md §14.4).
    """
    nu = np.asarray(nu, dtype=np.float64)
    anu2 = ST_A * nu * nu
    amplitude = ST_NORMALISATION * math.sqrt(2.0 * ST_A / math.pi)
    f = amplitude * (1.0 + anu2**-ST_P) * np.exp(-0.5 * anu2)
    return nu * f


def sheth_tormen_dndlnm(
    mass_msun,
    redshift,
    *,
    transfer: str = "eh98",
    cosmology: LinearCosmology = PLANCK15_LINEAR,
) -> np.ndarray:
    """Comoving Sheth & Tormen (1999) mass function ``dn/dln M`` [Mpc^-3] (NumPy set-up).

    Parameters
    ----------
    mass_msun : float or array_like
        Halo mass [M_sun] (physical M_sun, not h^-1), in [1e3, 1e16] (the sigma table).
    redshift : float or array_like
        Redshift [dimensionless] in [0, 10]; broadcast with the mass.
    transfer : {"eh98", "eh98_nowiggle"}, optional
        Transfer function of sigma(M) (:func:`~xlens.halo_model.linear.sigma_of_mass`).
        ``"eh98"`` (with baryon oscillations, default) is what colossus uses; the
        no-wiggle form of PHYSICS.md §11.2 differs from it by <= 0.5%.
    cosmology : LinearCosmology, optional
        Linear-theory parameters (default Omega_m = 0.3089, PHYSICS.md §11.2).

    Returns
    -------
    numpy.ndarray, broadcast shape, float64
        ``dn/dln M = (rho_m0 / M) nu f(nu) |d ln sigma / d ln M|`` [comoving Mpc^-3],
        ``nu = 1.686 / sigma(M, z)``.

    Notes
    -----
    Against colossus 1.4.0 ``sheth99`` (``tests/data/massfunction.json``, z = 0.5,
    1e7-1e10 M_sun): <= 0.08% with ``"eh98"``, <= 0.45% with ``"eh98_nowiggle"``.
    """
    owner = "sheth_tormen_dndlnm"
    lo, hi = (10.0**e for e in LOG10_MASS_RANGE)
    check_range(owner, "mass_msun", mass_msun, lo, hi, low_inclusive=True,
                high_inclusive=True, units="[M_sun]")
    check_range(owner, "redshift", redshift, 0.0, 10.0, low_inclusive=True,
                high_inclusive=True)
    m = np.asarray(mass_msun, dtype=np.float64)
    z = np.asarray(redshift, dtype=np.float64)
    # sigma(M, z) = sigma(M, 0) D(z): the slope is independent of z
    m_up = np.minimum(m * math.exp(_DLNM), hi)
    m_down = np.maximum(m * math.exp(-_DLNM), lo)
    up = np.log(sigma_of_mass(m_up, transfer=transfer, cosmology=cosmology))
    down = np.log(sigma_of_mass(m_down, transfer=transfer, cosmology=cosmology))
    step = np.log(m_up) - np.log(m_down)
    slope = np.abs((up - down) / step)
    sigma0 = np.asarray(sigma_of_mass(m, transfer=transfer, cosmology=cosmology))
    growth = np.asarray(linear_growth_factor(z, cosmology=cosmology))
    nu = DELTA_C / (sigma0 * growth)
    rho = mean_matter_density_msun_per_mpc3(cosmology)
    return rho / m * sheth_tormen_multiplicity(nu) * slope


def subhalo_host_scaling(host_mass_msun: float | None, z_lens: float) -> float:
    """pyHalo's host scaling ``F`` of the subhalo density (PHYSICS.md §14.1, **unverified**).

    ``log10 F = 0.88 log10(M_host / 1e13 M_sun) + 1.7 log10(z_l + 0.5)``; ``F = 1``
    when ``host_mass_msun`` is None (the default of :class:`SubhaloConfig`).
    """
    if host_mass_msun is None:
        return 1.0
    return 10.0 ** (0.88 * math.log10(host_mass_msun / 1e13) + 1.7 * math.log10(z_lens + 0.5))



class DoubleCone:
    """The pyHalo double cone that bounds the rendered line-of-sight haloes (PHYSICS.md §14.4).

    Parameters
    ----------
    theta_arcsec : float
        Angular radius of the cone at (and in front of) the main lens [arcsec], > 0.
    z_lens, z_source : float
        Main-lens and source redshifts, 0 < z_lens < z_source <= 10.
    cosmology : FlatLambdaCDM, optional
        Distances (default :data:`xlens.cosmology.Planck15`).

    Notes
    -----
    Comoving radius ``R(chi) = theta chi`` for ``chi <= chi_l`` and
    ``R(chi) = theta chi_l (chi_s - chi) / (chi_s - chi_l)`` behind the lens: the
    cone follows the rays that the main lens deflects towards the source and
    closes there. Flat universe, comoving volumes [Mpc^3].
    """

    def __init__(self, theta_arcsec: float, z_lens: float, z_source: float,
                 cosmology: FlatLambdaCDM = Planck15):
        owner = "DoubleCone"
        check_range(owner, "theta_arcsec", theta_arcsec, 0.0, units="[arcsec]")
        check_range(owner, "z_lens", z_lens, 0.0, 10.0)
        check_range(owner, "z_source", z_source, z_lens, 10.0, high_inclusive=True,
                    hint="the source must lie behind the lens")
        self.theta_arcsec = float(theta_arcsec)
        self.theta_rad = self.theta_arcsec * RAD_PER_ARCSEC
        self.z_lens, self.z_source = float(z_lens), float(z_source)
        self.cosmology = cosmology
        self.chi_lens = float(cosmology.comoving_distance_mpc(self.z_lens))
        self.chi_source = float(cosmology.comoving_distance_mpc(self.z_source))
        self.hubble_distance_mpc = C_KM_S / float(cosmology.H0)

    def radius_mpc(self, chi) -> np.ndarray:
        """Comoving radius R(chi) [Mpc] at comoving distance ``chi`` [Mpc] in [0, chi_s]."""
        chi = np.asarray(chi, dtype=np.float64)
        front = self.theta_rad * chi
        back = self.theta_rad * self.chi_lens * (self.chi_source - chi) / (
            self.chi_source - self.chi_lens
        )
        return np.where(chi <= self.chi_lens, front, back)

    def angular_radius_arcsec(self, z) -> np.ndarray:
        """Angular radius R(chi(z)) / chi(z) [arcsec] of the cone at redshift ``z`` > 0."""
        chi = np.asarray(self.cosmology.comoving_distance_mpc(np.asarray(z, dtype=np.float64)))
        return self.radius_mpc(chi) / chi / RAD_PER_ARCSEC

    def dvdz_mpc3(self, z) -> np.ndarray:
        """Comoving volume per unit redshift ``pi R(chi(z))^2 c / (H0 E(z))`` [Mpc^3]."""
        z = np.asarray(z, dtype=np.float64)
        chi = np.asarray(self.cosmology.comoving_distance_mpc(z))
        e = np.asarray(self.cosmology.efunc(z))
        return math.pi * self.radius_mpc(chi) ** 2 * self.hubble_distance_mpc / e

    def volume_mpc3(self, z_a: float, z_b: float) -> float:
        """Comoving volume of the cone between redshifts ``z_a <= z_b`` [Mpc^3] (closed form).

        ``int pi R^2 dchi`` with R piecewise linear in chi:
        ``pi theta^2 (chi_b^3 - chi_a^3) / 3`` in front of the lens and
        ``pi theta^2 chi_l^2 [(chi_s - chi_a)^3 - (chi_s - chi_b)^3] / (3 (chi_s - chi_l)^2)``
        behind it.
        """
        chi_a = float(self.cosmology.comoving_distance_mpc(float(z_a)))
        chi_b = float(self.cosmology.comoving_distance_mpc(float(z_b)))
        chi_l, chi_s, th = self.chi_lens, self.chi_source, self.theta_rad
        vol = 0.0
        lo, hi = chi_a, min(chi_b, chi_l)
        if hi > lo:
            vol += math.pi * th**2 * (hi**3 - lo**3) / 3.0
        lo, hi = max(chi_a, chi_l), min(chi_b, chi_s)
        if hi > lo:
            vol += (math.pi * th**2 * chi_l**2 * ((chi_s - lo) ** 3 - (chi_s - hi) ** 3)
                    / (3.0 * (chi_s - chi_l) ** 2))
        return vol

    def redshift_nodes(self, z_a: float, z_b: float, n: int = 24) -> tuple[np.ndarray, np.ndarray]:
        """Gauss-Legendre nodes in z on [z_a, z_b] and weights times dV/dz [Mpc^3].

        The interval is split at the lens, where R(chi) has a kink, so that
        ``sum(weights * f(nodes))`` integrates ``int f dV`` for smooth ``f`` to
        near machine precision (``n`` nodes per piece).
        """
        pieces = [(z_a, z_b)]
        if z_a < self.z_lens < z_b:
            pieces = [(z_a, self.z_lens), (self.z_lens, z_b)]
        nodes, weights = [], []
        for a, b in pieces:
            x, w = gauss_legendre(a, b, n)
            nodes.append(x)
            weights.append(w * self.dvdz_mpc3(x))
        return np.concatenate(nodes), np.concatenate(weights)

    def expected_count(
        self,
        z_a: float,
        z_b: float,
        m_min: float,
        m_max: float,
        *,
        transfer: str = "eh98",
        n_z: int = 24,
        n_m: int = 48,
    ) -> float:
        """Expected number of Sheth-Tormen haloes in [m_min, m_max] [M_sun] between z_a and z_b.

        ``int dV int_{ln m_min}^{ln m_max} dn/dln M dln M`` by Gauss-Legendre in z
        (split at the lens) and in ln M (``n_m`` nodes in each decade, at least
        ``n_m`` in all); the mass function varies with z inside the interval.
        """
        z, wz = self.redshift_nodes(z_a, z_b, n_z)
        n_decades = max(1, math.ceil(math.log10(m_max / m_min)))
        edges = np.linspace(math.log(m_min), math.log(m_max), n_decades + 1)
        total = 0.0
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            x, wx = gauss_legendre(a, b, n_m)
            dn = sheth_tormen_dndlnm(np.exp(x)[:, None], z[None, :], transfer=transfer)
            total += float(wx @ dn @ wz)
        return total
