"""The (M200, c) -> lensing-parameter chain of NFW and cored-NFW haloes.

References: the derived halo of ``tests/data/ludlow16.json`` (own mpmath cosmology)
and quadrature of the densities.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
from helpers import AD, assert_close, load

from xlens.cosmology import Planck15
from xlens.halo_model import concentration, conversions

LUDLOW = load("ludlow16.json")

HALO = LUDLOW["NFWTruncatedMCRLudlowSph_1e9"]

#: Full model vs colossus ludlow16: same model (Einasto alpha = 0.18, f = 0.02,
#: C = 650) and EH98 transfer function; colossus differs in its own sigma and growth
#: interpolation tables and includes radiation in D(z) (PHYSICS.md §11.2 convention
#: excludes it). Measured max 9.5e-4 on the table (1e6-1e12 M_sun, z 0.2-1).
COLOSSUS_RTOL = 2e-3

#: Derived halo parameters vs ludlow16.json: same formulae, float64 vs mpmath distances
#: (cosmology.json: <= 6e-16); measured 2.2e-16.
DERIVED_RTOL = 1e-12


def test_derived_halo_of_reference_block(backend):
    """ludlow16.json's NFWTruncatedMCRLudlowSph_1e9 from its own concentration."""
    fn = backend.jit(conversions.nfw_parameters_from_m200)
    p = fn(
        backend.asarray(HALO["mass_at_200_msun"]),
        backend.asarray(HALO["concentration_c200c"]),
        backend.asarray(HALO["redshift_object"]),
        backend.asarray(HALO["redshift_source"]),
    )
    for name, key in (
        ("kappa_s", "kappa_s"),
        ("scale_radius_arcsec", "scale_radius_arcsec"),
        ("radius_at_200_kpc", "radius_at_200_kpc"),
        ("rho_s_msun_per_kpc3", "rho_s_msun_per_kpc3"),
    ):
        assert_close(
            getattr(p, name),
            np.asarray(HALO[key]),
            rtol=DERIVED_RTOL,
            atol=0.0,
            why=f"{name}: same formulae, mpmath distances",
            xp=backend.xp,
        )
    # what the truncated profile will use: r_t = 2 r200 in arcsec, tau = 2c
    r_t = 2.0 * float(p.radius_at_200_kpc) / float(Planck15.kpc_per_arcsec(0.5))
    np.testing.assert_allclose(
        r_t, HALO["truncation_radius_arcsec"], rtol=DERIVED_RTOL, err_msg="r_t [arcsec]"
    )
    np.testing.assert_allclose(
        r_t / float(p.scale_radius_arcsec), HALO["tau"], rtol=DERIVED_RTOL, err_msg="tau = 2c"
    )
    # and the full model reproduces the block's (colossus) concentration
    np.testing.assert_allclose(
        concentration.ludlow16_concentration(1e9, 0.5),
        HALO["concentration_c200c"],
        rtol=COLOSSUS_RTOL,
        err_msg="c200c of the block",
    )


@pytest.mark.parametrize("core_fraction", [0.0, 0.05, 0.3, 0.9, 1.0, 1.004, 1.7])
def test_mass_inside_r200_is_m200(core_fraction):
    """Quadrature of 4 pi r^2 rho(r) to r200 returns M200 (PHYSICS.md §11.1)."""
    mass, c, z = 3e10, 9.0, 0.4
    if core_fraction == 0.0:
        p = conversions.nfw_parameters_from_m200(mass, c, z, 1.2)
        rho_s, r200 = float(p.rho_s_msun_per_kpc3), float(p.radius_at_200_kpc)
    else:
        p = conversions.cored_nfw_parameters_from_m200(mass, c, core_fraction, z, 1.2)
        rho_s, r200 = float(p.rho_s_msun_per_kpc3), float(p.radius_at_200_kpc)
        np.testing.assert_allclose(
            p.core_radius_arcsec,
            core_fraction * p.scale_radius_arcsec,
            rtol=1e-15,
            err_msg="r_c = f r_s",
        )
    r_s, r_c = r200 / c, core_fraction * r200 / c
    m3d, _ = scipy.integrate.quad(
        lambda r: 4 * math.pi * r * r * rho_s * r_s**3 / ((r + r_c) * (r + r_s) ** 2),
        0.0,
        r200,
        points=[r_c, r_s] if r_c > 0 else [r_s],
        epsabs=0.0,
        epsrel=1e-13,
        limit=200,
    )
    # 2e-7: the quadratic interpolation of mu within |1 - f| < 0.01 (PHYSICS.md §10.2)
    rtol = 2e-7 if abs(core_fraction - 1.0) < 0.01 else 1e-12
    np.testing.assert_allclose(m3d, mass, rtol=rtol, err_msg=f"M(<r200), f_c = {core_fraction}")


def test_cored_mass_factor_near_one_and_at_zero(backend):
    """mu(c, f) against mpmath quadrature of the density, through the interpolated band at f = 1."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    c_values = [12.0, 12.0, 12.0, 5.0, 5.0, 20.0]
    f_values = [0.0, 0.99999, 1.0, 1.00999, 0.991, 0.3]
    got = np.asarray(
        backend.jit(conversions.cored_nfw_mass_factor)(backend.asarray(c_values), backend.asarray(f_values))
    )
    for value, c, f in zip(got, c_values, f_values, strict=True):
        want = mpmath.quad(lambda x, f=f: x * x / ((x + f) * (1 + x) ** 2), [0, f, 1, c])
        # 1.5e-7: quadratic interpolation within |1 - f| < 0.01 (PHYSICS.md §10.2)
        rtol = 1.5e-7 if abs(f - 1.0) < 0.01 else 1e-14
        np.testing.assert_allclose(value, float(want), rtol=rtol, err_msg=f"mu({c}, {f})")


def test_jit_and_gradients():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def kappa_s(log10_m, z):
        m = 10.0**log10_m
        return conversions.nfw_parameters_from_m200(m, concentration.ludlow16_concentration(m, z), z, 2.0).kappa_s

    value, grad = jax.jit(jax.value_and_grad(kappa_s))(9.0, 0.5)
    np.testing.assert_allclose(value, kappa_s(9.0, 0.5), rtol=1e-13, err_msg="jit vs eager NumPy")
    h = 1e-4
    fd = (kappa_s(9.0 + h, 0.5) - kappa_s(9.0 - h, 0.5)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, err_msg="d kappa_s / d log10 M vs FD")
    # a padded slot (mass 0) gives a finite concentration and a zero, finite gradient
    g0 = jax.jit(jax.grad(lambda m: concentration.ludlow16_concentration(m, 0.5)))(0.0)
    assert np.isfinite(g0) and g0 == 0.0
    gf = jax.jit(jax.vmap(jax.grad(lambda f: conversions.cored_nfw_mass_factor(10.0, f))))(
        jnp.asarray([0.0, 1.0])
    )
    assert np.all(np.isfinite(gf)), "double where keeps d mu / d f finite at f = 0 and f = 1"
    fd_f = (
        conversions.cored_nfw_mass_factor(10.0, 1.0 + 1e-5) - conversions.cored_nfw_mass_factor(10.0, 1.0 - 1e-5)
    ) / 2e-5
    np.testing.assert_allclose(gf[1], fd_f, rtol=AD.float32, err_msg="d mu/d f at f = 1")


def test_truncated_nfw_total_mass_by_quadrature():
    # m_inf(tau) against the integral of the BMO09 density, int x tau^2 / ((1+x)^2 (tau^2+x^2))
    for tau in (0.5, 2.0, 23.38):
        num = scipy.integrate.quad(lambda x, t=tau: x / (1 + x) ** 2 * t * t / (t * t + x * x),
                                   0, np.inf, limit=200)[0]
        assert conversions.truncated_nfw_mass_ratio(tau) == pytest.approx(num, rel=1e-10)


@pytest.mark.parametrize("cored", [False, True])
def test_many_haloes_take_the_tabulated_distances(backend, cored):
    """From TABULATE_FROM haloes on, the distances come from one table of chi: each halo's
    parameters match its own conversion (quadrature) within the table's bound, 2.5e-10
    (tests/test_cosmology.py; measured 8.4e-11 at z = 0.001)."""
    n = 100
    assert n >= conversions.TABULATE_FROM
    m, c, z = np.geomspace(1e6, 1e11, n), np.linspace(5.0, 20.0, n), np.geomspace(1e-3, 5.0, n)
    if cored:
        fn = lambda *a: conversions.cored_nfw_parameters_from_m200(a[0], a[1], 0.3, a[2], a[3])  # noqa: E731
    else:
        fn = conversions.nfw_parameters_from_m200
    many = backend.jit(fn)(*(backend.asarray(v) for v in (m, c, z, np.full(n, 6.0))))
    for i in (0, 1, 37, n - 1):
        one = fn(m[i], c[i], z[i], 6.0)
        for got, want in zip(many, one, strict=True):
            np.testing.assert_allclose(np.asarray(got)[i], want, rtol=2.5e-10, atol=0.0)
