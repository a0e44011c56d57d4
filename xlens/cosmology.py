"""Flat Lambda-CDM cosmology with radiation and massive neutrinos (PHYSICS.md §2).

Why this module exists: lensing needs angular-diameter distances, critical surface
densities and the critical density at a few redshifts per plane, on either engine
and inside ``jit``. astropy gives the reference numbers but cannot be traced, so
xlens re-implements astropy's ``FlatLambdaCDM`` bookkeeping exactly:

* the expansion rate ``E(z)`` of §2.2 (photons, massless neutrinos, and massive
  neutrinos through the Komatsu et al. 2011 fitting function), with astropy's
  literal constants ``0.22710731766`` and ``0.54644808743`` and the SI constants of
  §2.4, so that ``E(z)`` and the distances agree with astropy to ~1e-16;
* distances by 24-node Gauss-Legendre quadrature of ``1/E`` (§2.3: machine
  precision up to z = 6), which has a fixed cost and no adaptive loop, so it is
  jittable and differentiable. ``D(z1, z2)`` is integrated directly on
  ``[z1, z2]`` rather than formed as a difference of two comoving distances.

Every method resolves its namespace from its inputs and the cosmology's fields
(Python floats give NumPy) and computes in float64 whatever the input dtype
(§16: distances and critical densities are set-up data).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import engine
from .engine import ArrayLike, pytree_dataclass
from .errors import ParameterError, check_range, concrete

__all__ = [
    "C_KM_S",
    "KPC_M",
    "MPC_M",
    "RAD_PER_ARCSEC",
    "RHO_CRIT_PREFACTOR",
    "TABLE_INTERVALS",
    "FlatLambdaCDM",
    "Planck15",
]

# --- constants (PHYSICS.md §2.4; astropy 8: CODATA 2018/2022, IAU 2015) -------
_C_M_S = 299792458.0  # speed of light [m s^-1]
_G_SI = 6.67430e-11  # Newton's constant [m^3 kg^-1 s^-2]
_M_SUN_KG = 1.3271244e20 / _G_SI  # IAU 2015 nominal G M_sun / G [kg]
_PC_M = 149597870700.0 * 648000.0 / math.pi  # parsec = au * 648000 / pi [m]
#: kiloparsec [m].
KPC_M = 1e3 * _PC_M
#: megaparsec [m].
MPC_M = 1e6 * _PC_M
_K_B = 1.380649e-23  # Boltzmann constant [J K^-1], exact SI
_H_P = 6.62607015e-34  # Planck constant [J s], exact SI
_EV_J = 1.602176634e-19  # electron volt [J], exact SI
_SIGMA_SB = 2.0 * math.pi**5 * _K_B**4 / (15.0 * _H_P**3 * _C_M_S**2)  # [W m^-2 K^-4]

#: c / 1000 [km s^-1]: Hubble distance c/H0 in Mpc for H0 in km s^-1 Mpc^-1.
C_KM_S = _C_M_S / 1e3
#: c^2 / (4 pi G) [M_sun kpc^-1] (PHYSICS.md §2.4: 1.6629165e15).
_SIGMA_CRIT_PREFACTOR = _C_M_S**2 / (4.0 * math.pi * _G_SI) * KPC_M / _M_SUN_KG
#: 3 / (8 pi G) times unit conversions: rho_crit [M_sun kpc^-3] = this * H[s^-1]^2.
RHO_CRIT_PREFACTOR = 3.0 / (8.0 * math.pi * _G_SI) * KPC_M**3 / _M_SUN_KG
#: radians per arcsec.
RAD_PER_ARCSEC = math.pi / 648000.0

# --- neutrinos (PHYSICS.md §2.2; astropy's literals, a convention for parity) ------
_NU_PREFACTOR = 0.22710731766  # 7/8 (4/11)^(4/3), as astropy hard-codes it
_KOMATSU_A = 0.3173  # Komatsu et al. (2011) eq. 26
_KOMATSU_P = 1.83
_KOMATSU_INV_P = 0.54644808743  # 1/1.83, as astropy hard-codes it
_TNU_OVER_TCMB = (4.0 / 11.0) ** (1.0 / 3.0)

#: Gauss-Legendre nodes and weights on [-1, 1] (PHYSICS.md §2.3: 24 nodes reach
#: machine precision for chi(z) up to z = 6). Computed once, in NumPy.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)

#: Intervals of the table of ``chi`` in ``a = ln(1 + z)`` behind the ``tabulated=True``
#: distances (:meth:`FlatLambdaCDM.comoving_distance_mpc`), each integrated by 2-node
#: Gauss-Legendre and interpolated by the cubic Hermite polynomial through its ends (values
#: and the exact slopes ``dchi/da = D_H (1 + z)/E(z)``): relative error of ``chi`` against
#: the quadrature <= 2e-10 for 1e-4 <= z <= 10 and <= 2e-12 above z = 0.1
#: (tests/test_cosmology.py), for 3 x 1024 + 1 evaluations of ``E`` however many redshifts.
TABLE_INTERVALS = 1024
_TABLE_GL_NODES, _TABLE_GL_WEIGHTS = np.polynomial.legendre.leggauss(2)


class _Densities(NamedTuple):
    """Density parameters today, derived from the cosmology's fields."""

    ogamma0: ArrayLike  # shape=(), photons
    onu0: ArrayLike  # shape=(), all neutrino species
    ode0: ArrayLike  # shape=(), dark energy: 1 - Om0 - Ogamma0 - Onu0
    nu_y: tuple  # per species: m_nu c^2 / (k_B T_nu0), each shape=(); None if statically massless


@pytree_dataclass
class FlatLambdaCDM:
    """Flat Lambda-CDM with photons and (massive) neutrinos, as astropy's ``FlatLambdaCDM``.

    Parameters
    ----------
    H0 : float
        Hubble constant today [km s^-1 Mpc^-1]; must be > 0.
    Om0 : float
        Density parameter of cold dark matter plus baryons today, **excluding**
        massive neutrinos [dimensionless]; in (0, 1).
    Ob0 : float
        Baryon density parameter today [dimensionless]; in [0, Om0]. Only recorded
        (the expansion rate does not use it).
    Tcmb0 : float
        CMB temperature today [K]; must be > 0.
    Neff : float
        Effective number of neutrino species [dimensionless]; >= 0.
    m_nu : tuple of float
        Neutrino masses [eV], one per species, each >= 0. The ``Neff`` species
        are shared equally among ``len(m_nu)`` species.

    Notes
    -----
    ``E(z)^2 = Om0 (1+z)^3 + Ogamma0 (1+z)^4 [1 + I_nu(z)] + Ode0`` with
    ``Ode0 = 1 - Om0 - Ogamma0 - Onu0`` (PHYSICS.md §2.2); ``I_nu`` uses the
    Komatsu et al. (2011, eq. 26) fitting function for massive species, as astropy.
    Distances are in Mpc (``*_mpc``) or kpc (``*_kpc``); all are proper
    angular-diameter distances except ``comoving_distance_mpc``.

    The fields are pytree leaves, so a cosmology can be passed through
    ``jax.jit``; validation runs only on concrete values.

    Examples
    --------
    >>> from xlens.cosmology import Planck15
    >>> round(float(Planck15.angular_diameter_distance_mpc(0.5)), 6)
    1297.040841
    """

    H0: ArrayLike = 67.74
    Om0: ArrayLike = 0.3075
    Ob0: ArrayLike = 0.0486
    Tcmb0: ArrayLike = 2.7255
    Neff: ArrayLike = 3.046
    m_nu: tuple = (0.0, 0.0, 0.06)

    def __post_init__(self) -> None:
        owner = type(self).__name__
        m_nu = self.m_nu
        if isinstance(m_nu, int | float):
            m_nu = (float(m_nu),) * 3
        elif isinstance(m_nu, np.ndarray):
            m_nu = tuple(float(m) for m in m_nu.ravel())
        m_nu = tuple(m_nu)
        if len(m_nu) == 0:
            raise ValueError(f"{owner}.m_nu must list at least one species [eV]; got ()")
        object.__setattr__(self, "m_nu", m_nu)
        check_range(owner, "H0", self.H0, low=0.0, units="[km s^-1 Mpc^-1]")
        check_range(owner, "Om0", self.Om0, low=0.0, high=1.0)
        check_range(owner, "Tcmb0", self.Tcmb0, low=0.0, units="[K]")
        check_range(owner, "Neff", self.Neff, low=0.0, low_inclusive=True)
        for m in m_nu:
            check_range(owner, "m_nu", m, low=0.0, low_inclusive=True, units="[eV]")
        om0 = self.Om0 if isinstance(self.Om0, int | float) else 1.0
        check_range(
            owner,
            "Ob0",
            self.Ob0,
            low=0.0,
            high=om0,
            low_inclusive=True,
            high_inclusive=True,
            hint="Ob0 is a part of Om0",
        )

    # --- namespace and derived densities ---------------------------------------

    def leaves(self) -> tuple:
        return (self.H0, self.Om0, self.Tcmb0, self.Neff, *self.m_nu)

    def _xp(self, *args):
        args = tuple(np.asarray(a) if isinstance(a, list | tuple) else a for a in args)
        return engine.namespace(*args, *self.leaves())

    def _densities(self, *, xp) -> _Densities:
        """Ogamma0, Onu0, Ode0 and the neutrino y_i (PHYSICS.md §2.1-2.2)."""
        f64 = xp.float64
        h0 = xp.asarray(self.H0, dtype=f64)
        tcmb = xp.asarray(self.Tcmb0, dtype=f64)
        h0_si = h0 * (1e3 / MPC_M)  # [s^-1]
        rho_crit0_si = 3.0 * h0_si**2 / (8.0 * math.pi * _G_SI)  # [kg m^-3]
        ogamma0 = 4.0 * _SIGMA_SB * tcmb**4 / (_C_M_S**3 * rho_crit0_si)
        k_tnu = _K_B * _TNU_OVER_TCMB * tcmb  # [J]
        # a species whose mass is a Python 0 (static, not traced) is marked None: it contributes
        # exactly 1 to I_nu, which saves two pow per species at every z (most of the cost of the
        # haloes' mass conversion: docs/performance.md, issue 16)
        nu_y = tuple(None if isinstance(m, int | float) and m == 0 else xp.asarray(m, dtype=f64) * _EV_J / k_tnu
                     for m in self.m_nu)
        onu0 = ogamma0 * self._neutrino_to_photon(nu_y, xp.asarray(1.0, dtype=f64), xp=xp)
        ode0 = 1.0 - xp.asarray(self.Om0, dtype=f64) - ogamma0 - onu0
        return _Densities(ogamma0, onu0, ode0, nu_y)

    def _neutrino_to_photon(self, nu_y, zp1, *, xp):
        """I_nu = rho_nu / rho_gamma at 1 + z = ``zp1`` (PHYSICS.md §2.2, Komatsu eq. 26)."""
        total = 0.0
        for y in nu_y:  # a massless species has y = 0 and contributes exactly 1
            if y is None:  # known massless (see _densities): the same 1, without the pow
                total = total + 1.0
                continue
            total = total + xp.pow(1.0 + xp.pow(_KOMATSU_A * y / zp1, _KOMATSU_P), _KOMATSU_INV_P)
        neff_per_species = xp.asarray(self.Neff, dtype=xp.float64) / len(nu_y)
        return _NU_PREFACTOR * neff_per_species * total

    @property
    def Ogamma0(self):  # noqa: N802 - astropy's name
        """Photon density parameter today [dimensionless]."""
        return self._densities(xp=self._xp()).ogamma0

    @property
    def Onu0(self):  # noqa: N802 - astropy's name
        """Neutrino density parameter today (all species) [dimensionless]."""
        return self._densities(xp=self._xp()).onu0

    @property
    def Ode0(self):  # noqa: N802 - astropy's name
        """Dark-energy density parameter today, ``1 - Om0 - Ogamma0 - Onu0`` [dimensionless]."""
        return self._densities(xp=self._xp()).ode0

    @property
    def h(self):
        """Dimensionless Hubble constant ``H0 / (100 km s^-1 Mpc^-1)``."""
        return self.H0 / 100.0

    # --- expansion rate ----------------------------------------------------------

    def _efunc(self, z, dens: _Densities, *, xp):
        zp1 = 1.0 + z
        om0 = xp.asarray(self.Om0, dtype=xp.float64)
        rad = dens.ogamma0 * (1.0 + self._neutrino_to_photon(dens.nu_y, zp1, xp=xp))
        return xp.sqrt(om0 * zp1**3 + rad * zp1**4 + dens.ode0)

    def efunc(self, z: ArrayLike):
        """Dimensionless expansion rate ``E(z) = H(z) / H0``.

        Parameters
        ----------
        z : float or array_like
            Redshift [dimensionless]; >= 0.

        Returns
        -------
        array, shape of ``z``, float64
            ``E(z)`` [dimensionless] (PHYSICS.md §2.2).
        """
        _check_redshift("efunc", "z", z)
        xp = self._xp(z)
        z = xp.asarray(z, dtype=xp.float64)
        return self._efunc(z, self._densities(xp=xp), xp=xp)

    def hubble_parameter(self, z: ArrayLike):
        """Hubble parameter ``H(z) = H0 E(z)`` [km s^-1 Mpc^-1]; ``z`` >= 0."""
        return self.H0 * self.efunc(z)

    # --- distances --------------------------------------------------------------

    def _inverse_efunc_integral(self, z1, z2, *, xp):
        """int_{z1}^{z2} dz / E(z) by 24-node Gauss-Legendre (PHYSICS.md §2.3)."""
        nodes = xp.asarray(_GL_NODES, dtype=xp.float64)
        weights = xp.asarray(_GL_WEIGHTS, dtype=xp.float64)
        half = 0.5 * (z2 - z1)
        mid = 0.5 * (z2 + z1)
        zk = half[..., None] * nodes + mid[..., None]  # (..., 24)
        inv_e = 1.0 / self._efunc(zk, self._densities(xp=xp), xp=xp)
        return half * xp.sum(weights * inv_e, axis=-1)

    def _hubble_distance_mpc(self, *, xp):
        return C_KM_S / xp.asarray(self.H0, dtype=xp.float64)

    def _tabulated_chi(self, zs, *, xp):
        """``chi`` [Mpc] at each of the float64 arrays ``zs`` from one table on
        ``[0, ln(1 + max z)]`` (:data:`TABLE_INTERVALS`): its cost does not grow with the
        number of redshifts, where the quadrature's is 24 evaluations of ``E`` per redshift."""
        dens = self._densities(xp=xp)
        d_h = self._hubble_distance_mpc(xp=xp)
        top = zs[0].max() if zs[0].size else xp.zeros((), dtype=xp.float64)
        for z in zs[1:]:
            if z.size:
                top = xp.maximum(top, z.max())
        a_max = xp.log1p(xp.maximum(top, 1e-12))
        n = TABLE_INTERVALS
        h = a_max / n
        a = h * xp.arange(n + 1, dtype=xp.float64)  # the nodes in ln(1 + z)

        def slope(a):  # dchi/da [Mpc]
            zp1 = xp.exp(a)
            return d_h * zp1 / self._efunc(zp1 - 1.0, dens, xp=xp)

        nodes = xp.asarray(_TABLE_GL_NODES, dtype=xp.float64)
        weights = xp.asarray(_TABLE_GL_WEIGHTS, dtype=xp.float64)
        mid = a[:-1] + 0.5 * h
        pieces = 0.5 * h * xp.sum(weights * slope(mid[:, None] + 0.5 * h * nodes), axis=-1)  # (n,)
        chi = xp.concatenate([xp.zeros(1, dtype=xp.float64), xp.cumulative_sum(pieces)])
        d = h * slope(a)
        # the cubic of each interval in t = (a - a_i)/h: c0 + t (c1 + t (c2 + t c3)), one row each
        dchi = chi[1:] - chi[:-1]
        coef = xp.stack([chi[:-1], d[:-1], 3.0 * dchi - 2.0 * d[:-1] - d[1:], d[:-1] + d[1:] - 2.0 * dchi], axis=1)
        out = []
        for z in zs:
            u = xp.log1p(z) / h
            i = xp.clip(xp.astype(xp.floor(u), xp.int32), 0, n - 1)
            t = u - xp.astype(i, xp.float64)
            c = coef[i]  # (..., 4)
            out.append(c[..., 0] + t * (c[..., 1] + t * (c[..., 2] + t * c[..., 3])))
        return out

    def comoving_distance_mpc(self, z: ArrayLike, *, tabulated: bool = False):
        """Line-of-sight comoving distance ``chi(z) = (c/H0) int_0^z dz'/E(z')`` [Mpc].

        Parameters
        ----------
        z : float or array_like
            Redshift [dimensionless]; >= 0.
        tabulated : bool
            False (default): 24-node Gauss-Legendre quadrature at every redshift. True: the
            cubic Hermite interpolation of one table of ``chi`` in ``ln(1 + z)`` up to the
            largest ``z`` (:data:`TABLE_INTERVALS`; relative error <= 2e-10 up to z = 10),
            whose cost does not grow with the number of redshifts: for thousands of them
            (the haloes of a realisation, :func:`xlens.halo_model.nfw_parameters_from_m200`).

        Returns
        -------
        array, shape of ``z``, float64
            Comoving distance [Mpc] (equal to the transverse one: the cosmology is flat).
        """
        _check_redshift("comoving_distance_mpc", "z", z)
        xp = self._xp(z)
        z = xp.asarray(z, dtype=xp.float64)
        if tabulated:
            return self._tabulated_chi([z], xp=xp)[0]
        return self._hubble_distance_mpc(xp=xp) * self._inverse_efunc_integral(
            xp.zeros_like(z), z, xp=xp
        )

    def angular_diameter_distance_mpc(self, z: ArrayLike):
        """Angular-diameter distance ``D(z) = chi(z) / (1 + z)`` [Mpc].

        Parameters
        ----------
        z : float or array_like
            Redshift [dimensionless]; >= 0.

        Returns
        -------
        array, shape of ``z``, float64
            Proper angular-diameter distance [Mpc].
        """
        _check_redshift("angular_diameter_distance_mpc", "z", z)
        xp = self._xp(z)
        z = xp.asarray(z, dtype=xp.float64)
        chi = self._hubble_distance_mpc(xp=xp) * self._inverse_efunc_integral(
            xp.zeros_like(z), z, xp=xp
        )
        return chi / (1.0 + z)

    def angular_diameter_distance_z1z2_mpc(self, z1: ArrayLike, z2: ArrayLike):
        """Angular-diameter distance between two redshifts, ``D(z1, z2)`` [Mpc].

        Parameters
        ----------
        z1, z2 : float or array_like (broadcastable)
            Redshifts [dimensionless] with ``0 <= z1 <= z2``.

        Returns
        -------
        array, broadcast shape, float64
            ``(c/H0) int_{z1}^{z2} dz/E / (1 + z2)`` [Mpc], integrated directly on
            ``[z1, z2]`` (no difference of comoving distances, PHYSICS.md §2.3).

        Raises
        ------
        ParameterError
            If a concrete ``z1`` or ``z2`` is negative, or ``z2 < z1``.
        """
        name = "angular_diameter_distance_z1z2_mpc"
        _check_redshift(name, "z1", z1)
        _check_redshift(name, "z2", z2)
        _check_ordered(name, z1, z2, strict=False)
        xp = self._xp(z1, z2)
        z1 = xp.asarray(z1, dtype=xp.float64)
        z2 = xp.asarray(z2, dtype=xp.float64)
        z1, z2 = xp.broadcast_arrays(z1, z2)
        integral = self._inverse_efunc_integral(z1, z2, xp=xp)
        return self._hubble_distance_mpc(xp=xp) * integral / (1.0 + z2)

    def angular_diameter_distance_kpc(self, z: ArrayLike):
        """Angular-diameter distance ``D(z)`` [kpc]; see :meth:`angular_diameter_distance_mpc`."""
        return 1e3 * self.angular_diameter_distance_mpc(z)

    def angular_diameter_distance_z1z2_kpc(self, z1: ArrayLike, z2: ArrayLike):
        """``D(z1, z2)`` [kpc]; see :meth:`angular_diameter_distance_z1z2_mpc`."""
        return 1e3 * self.angular_diameter_distance_z1z2_mpc(z1, z2)

    # --- lensing conversions ----------------------------------------------------

    def kpc_per_arcsec(self, z: ArrayLike, *, tabulated: bool = False):
        """Proper length subtended by one arcsec at redshift ``z`` [kpc arcsec^-1].

        Parameters
        ----------
        z : float or array_like
            Redshift [dimensionless]; >= 0.
        tabulated : bool
            Distances by quadrature at every redshift (False, default) or from one table
            (True; see :meth:`comoving_distance_mpc`).

        Returns
        -------
        array, shape of ``z``, float64
            ``D(z)[kpc] * pi / 648000`` [kpc arcsec^-1] (PHYSICS.md §2.4).
        """
        _check_redshift("kpc_per_arcsec", "z", z)
        if tabulated:
            xp = self._xp(z)
            z = xp.asarray(z, dtype=xp.float64)
            return 1e3 * self._tabulated_chi([z], xp=xp)[0] / (1.0 + z) * RAD_PER_ARCSEC
        return self.angular_diameter_distance_kpc(z) * RAD_PER_ARCSEC

    def arcsec_per_kpc(self, z: ArrayLike):
        """Angle subtended by one proper kpc at redshift ``z`` [arcsec kpc^-1]; ``z`` > 0."""
        check_range(
            "FlatLambdaCDM.arcsec_per_kpc",
            "z",
            z,
            low=0.0,
            units="[dimensionless redshift]",
            hint="D_A(0) = 0",
        )
        return 1.0 / self.kpc_per_arcsec(z)

    def critical_density_msun_per_kpc3(self, z: ArrayLike):
        """Critical density ``rho_crit(z) = 3 H(z)^2 / (8 pi G)`` [M_sun kpc^-3].

        Parameters
        ----------
        z : float or array_like
            Redshift [dimensionless]; >= 0.

        Returns
        -------
        array, shape of ``z``, float64
            Critical density [M_sun kpc^-3] (127.35344 today for Planck15).
        """
        _check_redshift("critical_density_msun_per_kpc3", "z", z)
        xp = self._xp(z)
        z = xp.asarray(z, dtype=xp.float64)
        h_si = xp.asarray(self.H0, dtype=xp.float64) * (1e3 / MPC_M)  # [s^-1]
        e = self._efunc(z, self._densities(xp=xp), xp=xp)
        return RHO_CRIT_PREFACTOR * (h_si * e) ** 2

    def critical_surface_density_msun_per_kpc2(self, z_lens: ArrayLike, z_source: ArrayLike, *,
                                               tabulated: bool = False):
        """Critical surface density ``Sigma_cr = c^2 D_s / (4 pi G D_l D_ls)`` [M_sun kpc^-2].

        Parameters
        ----------
        z_lens : float or array_like
            Lens redshift [dimensionless]; > 0.
        z_source : float or array_like (broadcastable)
            Source redshift [dimensionless]; > ``z_lens``.
        tabulated : bool
            Distances by quadrature at every redshift (False, default) or from one table of
            ``chi`` (True; see :meth:`comoving_distance_mpc`), with
            ``D_ls = (chi_s - chi_l)/(1 + z_s)``.

        Returns
        -------
        array, broadcast shape, float64
            ``Sigma_cr`` [M_sun kpc^-2] (PHYSICS.md §2.4).

        Raises
        ------
        ParameterError
            If a concrete redshift is negative or ``z_source <= z_lens``.
        """
        name = "critical_surface_density_msun_per_kpc2"
        _check_redshift(name, "z_lens", z_lens)
        _check_redshift(name, "z_source", z_source)
        _check_ordered(name, z_lens, z_source, strict=True)
        if tabulated:
            xp = self._xp(z_lens, z_source)
            zl, zs = (xp.asarray(v, dtype=xp.float64) for v in (z_lens, z_source))
            chi_l, chi_s = self._tabulated_chi([zl, zs], xp=xp)
            # D_s / (D_l D_ls) = (1 + z_l) chi_s / (chi_l (chi_s - chi_l)) [Mpc^-1 = 1e-3 kpc^-1]
            return _SIGMA_CRIT_PREFACTOR * (1.0 + zl) * chi_s / (1e3 * chi_l * (chi_s - chi_l))
        d_l = self.angular_diameter_distance_kpc(z_lens)
        d_s = self.angular_diameter_distance_kpc(z_source)
        d_ls = self.angular_diameter_distance_z1z2_kpc(z_lens, z_source)
        return _SIGMA_CRIT_PREFACTOR * d_s / (d_l * d_ls)

    def critical_surface_density_msun_per_arcsec2(self, z_lens: ArrayLike, z_source: ArrayLike):
        """Critical surface density per arcsec^2 at the lens [M_sun arcsec^-2].

        ``Sigma_cr [M_sun kpc^-2] * kpc_per_arcsec(z_lens)^2``; arguments as in
        :meth:`critical_surface_density_msun_per_kpc2`.
        """
        sigma = self.critical_surface_density_msun_per_kpc2(z_lens, z_source)
        return sigma * self.kpc_per_arcsec(z_lens) ** 2


def _check_redshift(method: str, name: str, z) -> None:
    check_range(
        f"FlatLambdaCDM.{method}",
        name,
        z,
        low=0.0,
        low_inclusive=True,
        units="[dimensionless redshift]",
    )


def _check_ordered(method: str, z1, z2, *, strict: bool) -> None:
    """Raise unless concrete ``z2 > z1`` (``>=`` when not ``strict``)."""
    a, b = concrete(z1), concrete(z2)
    if a is None or b is None:
        return
    diff = np.broadcast_to(b, np.broadcast_shapes(a.shape, b.shape)) - a
    ok = diff > 0 if strict else diff >= 0
    if np.all(ok):
        return
    idx = int(np.argmin(ok.ravel()))
    za = float(np.broadcast_to(a, diff.shape).ravel()[idx])
    zb = float(np.broadcast_to(b, diff.shape).ravel()[idx])
    rule = ">" if strict else ">="
    msg = (
        f"FlatLambdaCDM.{method}: the second redshift must be {rule} the first; "
        f"got {za!r} and {zb!r}"
    )
    if strict:
        msg += ". A source at or in front of the lens is not lensed (Sigma_cr is infinite)"
    raise ParameterError(msg, name=f"FlatLambdaCDM.{method}.z2", value=zb, low=za, high=math.inf)


#: astropy's ``Planck15`` (Planck 2015 XIII, Table 4, TT,TE,EE+lowP+lensing+ext; PHYSICS.md §2.1).
Planck15 = FlatLambdaCDM(
    H0=67.74, Om0=0.3075, Ob0=0.0486, Tcmb0=2.7255, Neff=3.046, m_nu=(0.0, 0.0, 0.06)
)
