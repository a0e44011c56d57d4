"""Ludlow et al. (2016) concentrations.

The references are independent of the code under test: colossus 1.4.0's ``ludlow16``
(``tests/data/ludlow16.json``), PHYSICS.md §11.3's reference numbers and the
untabulated NumPy solution of the model (for the interpolation error). The tables are
built once per session (module-level cache, ~0.4 s).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
from helpers import assert_close, load

from xlens.errors import ParameterError
from xlens.halo_model import concentration, conversions, linear

LUDLOW = load("ludlow16.json")

HALO = LUDLOW["NFWTruncatedMCRLudlowSph_1e9"]

#: Full model vs colossus ludlow16: same model (Einasto alpha = 0.18, f = 0.02,
#: C = 650) and EH98 transfer function; colossus differs in its own sigma and growth
#: interpolation tables and includes radiation in D(z) (PHYSICS.md §11.2 convention
#: excludes it). Measured max 9.5e-4 on the table (1e6-1e12 M_sun, z 0.2-1).
COLOSSUS_RTOL = 2e-3

#: Bicubic Hermite table (0.1 dex x 97 nodes in ln(1+z)) vs the root solved directly;
#: measured max 1.1e-7 over 1e3-1e16 M_sun, z 0-10.
TABLE_RTOL = 1e-6


def _ludlow_table():
    for z, row in LUDLOW["c200c"].items():
        masses = np.array([float(m) for m in row])
        yield float(z), masses, np.array(list(row.values()))


def test_full_model_matches_colossus(backend):
    """The issue's requirement (1%) with the measured margin: 0.1%."""
    fn = backend.jit(lambda m, z: concentration.ludlow16_concentration(m, z))
    worst = 0.0
    for z, masses, want in _ludlow_table():
        got = fn(backend.asarray(masses), backend.asarray(z))
        assert_close(
            got,
            want,
            rtol=COLOSSUS_RTOL,
            atol=0.0,
            why=f"colossus ludlow16, z = {z}",
            xp=backend.xp,
        )
        worst = max(worst, float(np.max(np.abs(np.asarray(got) / want - 1.0))))
    assert worst < 0.01, f"issue requirement: within 1% of colossus; worst {worst:.2%}"


def test_no_wiggle_sigma_misses_the_full_model_by_two_percent():
    """Why transfer="eh98" is the default: the no-wiggle sigma is ~1.3% lower at 8 Mpc/h."""
    for z, masses, want in _ludlow_table():
        got = concentration.ludlow16_concentration(masses, z, transfer="eh98_nowiggle")
        rel = got / want - 1.0
        assert np.all((rel < -0.012) & (rel > -0.02)), f"z = {z}: {rel}"


def test_table_interpolation_matches_direct_solution(backend):
    """Off-grid points everywhere in the table: bicubic Hermite vs the root found in NumPy."""
    rng = np.random.default_rng(7)
    log_m = rng.uniform(*linear.LOG10_MASS_RANGE, size=300)
    z = rng.uniform(*linear.REDSHIFT_RANGE, size=300)
    direct = concentration._ludlow16_full_numpy(10.0**log_m, z, linear.PLANCK15_LINEAR, "eh98")
    got = backend.jit(concentration.ludlow16_concentration)(backend.asarray(10.0**log_m), backend.asarray(z))
    assert_close(got, direct, rtol=TABLE_RTOL, atol=0.0, why="table vs direct root", xp=backend.xp)


def test_direct_solution_satisfies_the_model():
    """The root: erfc((delta(z_-2) - delta(z)) / width) = M_-2 / M200 at the returned c."""
    mass, z = np.array([1e5, 1e9, 1e14]), np.array([0.0, 0.5, 3.0])
    c = concentration._ludlow16_full_numpy(mass, z, linear.PLANCK15_LINEAR, "eh98")
    lin = linear.PLANCK15_LINEAR
    a, x = 3.0 / 0.18, 2.0 / 0.18
    ratio = scipy.special.gammainc(a, x) / scipy.special.gammainc(a, x * c**0.18)
    e2 = lin.Om0 * (1 + z) ** 3 + 1 - lin.Om0
    zp1_2 = ((200 * c**3 * ratio * e2 / 650 - 1 + lin.Om0) / lin.Om0) ** (1 / 3)
    growth = [
        scipy.integrate.quad(
            lambda t: (1 + t) / (lin.Om0 * (1 + t) ** 3 + 1 - lin.Om0) ** 1.5,
            zz,
            np.inf,
            epsrel=1e-12,
        )[0]
        * math.sqrt(lin.Om0 * (1 + zz) ** 3 + 1 - lin.Om0)
        for zz in (*z, *(zp1_2 - 1), 0.0)
    ]
    d_z, d_2, d_0 = np.array(growth[:3]), np.array(growth[3:6]), growth[6]
    sig = linear.sigma_of_mass_direct(mass, lin, "eh98")
    sig_f = linear.sigma_of_mass_direct(0.02 * mass, lin, "eh98")
    arg = 1.686 * d_0 * (1 / d_2 - 1 / d_z) / np.sqrt(2 * (sig_f**2 - sig**2))
    np.testing.assert_allclose(
        scipy.special.erfc(arg),
        ratio,
        rtol=1e-8,
        err_msg="collapsed fraction = M_-2/M200 (Heath integral by quad)",
    )


def test_concentration_decreases_with_mass_and_redshift():
    """CDM c(M, z) is monotonic (Ludlow et al. 2016, abstract), over the whole table."""
    ln_c = concentration.concentration_table(linear.PLANCK15_LINEAR, "eh98")[0]
    assert np.all(np.diff(ln_c, axis=0) < 0), "c must fall with mass"
    assert np.all(np.diff(ln_c, axis=1) < 0), "c must fall with redshift"


def test_physics_reference_numbers():
    """PHYSICS.md §11.3 (M200 = 1e9 M_sun, z = 0.5, z_s = 1; no-wiggle sigma), printed digits."""
    nw = {"transfer": "eh98_nowiggle"}
    np.testing.assert_allclose(linear.linear_growth_factor(0.5), 0.770632, rtol=1e-6, err_msg="D(0.5)")
    sigma = linear.sigma_of_mass(1e9, 0.5, **nw)
    np.testing.assert_allclose(sigma, 3.7249, rtol=2e-5, err_msg="sigma(M, z)")
    np.testing.assert_allclose(1.686 / sigma, 0.45263, rtol=2e-5, err_msg="nu")
    c_fit = concentration.ludlow16_concentration(1e9, 0.5, model="fit", **nw)
    np.testing.assert_allclose(c_fit, 11.691, rtol=1e-4, err_msg="c_fit")
    np.testing.assert_allclose(
        concentration.ludlow16_concentration(1e9, 0.5),
        12.042,
        rtol=COLOSSUS_RTOL,
        err_msg="full model (colossus)",
    )
    p = conversions.nfw_parameters_from_m200(1e9, c_fit, 0.5, 1.0)
    np.testing.assert_allclose(p.radius_at_200_kpc, 17.549919, rtol=1e-7, err_msg="r200")
    np.testing.assert_allclose(p.radius_at_200_kpc / c_fit, 1.501149, rtol=1e-6, err_msg="r_s kpc")
    np.testing.assert_allclose(p.scale_radius_arcsec, 0.2387235, rtol=1e-6, err_msg="r_s arcsec")
    np.testing.assert_allclose(p.rho_s_msun_per_kpc3, 1.452404e7, rtol=1e-6, err_msg="rho_s")
    np.testing.assert_allclose(p.kappa_s, 7.26290e-3, rtol=1e-5, err_msg="kappa_s")
    cored = conversions.cored_nfw_parameters_from_m200(1e9, c_fit, 0.2, 0.5, 1.0)
    np.testing.assert_allclose(
        conversions.cored_nfw_mass_factor(c_fit, 0.2), 1.485908, rtol=1e-6, err_msg="mu(c, 0.2)"
    )
    np.testing.assert_allclose(cored.kappa_s, 7.91680e-3, rtol=1e-5, err_msg="cored kappa_s")
    np.testing.assert_allclose(cored.core_radius_arcsec, 0.0477447, rtol=1e-5, err_msg="r_c")
    # §11.1: the (1 - f)^2 normalisation at c = 12, f = 0.2 (the (1 + f)^2 bug gives 0.0291)
    np.testing.assert_allclose(
        conversions.cored_nfw_mass_factor(12.0, 0.2), 1.5077, rtol=1e-4, err_msg="mu(12, 0.2)"
    )


def test_fit_agrees_with_full_model_within_physics_bound():
    """PHYSICS.md §11.2: the fit is within +-2.7% of the full model, 1e6-1e13 M_sun, z 0.2-2."""
    log_m, z = np.meshgrid(np.linspace(6, 13, 15), np.linspace(0.2, 2.0, 10))
    m = 10.0**log_m
    rel = concentration.ludlow16_concentration(m, z, model="fit") / concentration.ludlow16_concentration(m, z) - 1
    assert np.max(np.abs(rel)) < 0.03, f"fit vs full: {np.max(np.abs(rel)):.3%}"


def test_validation():
    with pytest.raises(
        ParameterError, match=r"ludlow16_concentration.mass_msun must be in \[1000, 1e\+16\]"
    ):
        concentration.ludlow16_concentration(1e17, 0.5)
    with pytest.raises(
        ParameterError, match=r"ludlow16_concentration.redshift must be in \[0, 10\]"
    ):
        concentration.ludlow16_concentration(1e9, -0.1)
    with pytest.raises(ParameterError, match="nu_0 of the fit turns negative"):
        concentration.ludlow16_concentration(1e9, 8.0, model="fit")
    with pytest.raises(ValueError, match="model must be one of"):
        concentration.ludlow16_concentration(1e9, 0.5, model="duffy")
    with pytest.raises(ValueError, match="transfer must be one of"):
        linear.sigma_of_mass(1e9, 0.5, transfer="bbks")
    with pytest.raises(
        ParameterError, match=r"nfw_parameters_from_m200.concentration must be in \(0, inf\)"
    ):
        conversions.nfw_parameters_from_m200(1e9, -3.0, 0.5, 1.0)
    with pytest.raises(ParameterError, match="a halo at z = 0 has no angular size"):
        conversions.nfw_parameters_from_m200(1e9, 10.0, 0.0, 1.0)
    with pytest.raises(ParameterError, match="second redshift must be > the first"):
        conversions.nfw_parameters_from_m200(1e9, 10.0, 1.0, 0.5)
    with pytest.raises(ParameterError, match=r"core_fraction must be in \[0, inf\)"):
        conversions.cored_nfw_parameters_from_m200(1e9, 10.0, -0.1, 0.5, 1.0)
    with pytest.raises(ParameterError, match=r"LinearCosmology.Ob0 must be in \[0, 0.3\)"):
        linear.LinearCosmology(Om0=0.3, Ob0=0.35)


def test_out_of_range_is_clamped_inside_jit():
    jax = pytest.importorskip("jax")
    fn = jax.jit(concentration.ludlow16_concentration)
    got = fn(jax.numpy.asarray([1e2, 1e17, 1e9]), jax.numpy.asarray([0.5, 0.5, 12.0]))
    want = concentration.ludlow16_concentration(np.array([1e3, 1e16, 1e9]), np.array([0.5, 0.5, 10.0]))
    np.testing.assert_allclose(got, want, rtol=1e-14, err_msg="clamped to the table edges")


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore:transferFunction.. is deprecated")
def test_colossus_oracle_wide_range():
    """Outside the reference table: 1e3-1e16 M_sun, z 0-10 (measured max 0.41%: 1e3, z = 10)."""
    pytest.importorskip("colossus")
    from colossus.cosmology import cosmology
    from colossus.halo import concentration
    from colossus.lss import peaks

    cosmo = cosmology.setCosmology("planck15")
    h = cosmo.H0 / 100.0
    log_m = np.arange(3.0, 16.01, 1.0)
    for z in (0.0, 0.5, 2.0, 5.0, 10.0):
        theirs = concentration.concentration(10.0**log_m * h, "200c", z, model="ludlow16")
        np.testing.assert_allclose(
            concentration.ludlow16_concentration(10.0**log_m, z),
            theirs,
            rtol=5e-3,
            err_msg=f"colossus ludlow16, z = {z}",
        )
    # the EH98 transfer functions themselves: same formulae, so agreement to rounding
    # (measured 7.8e-16 with and 6.7e-16 without oscillations)
    from colossus.cosmology import power_spectrum

    lin = linear.PLANCK15_LINEAR
    k = np.logspace(-4.0, 3.0, 40)  # [h Mpc^-1]
    for transfer, name, ours in (
        ("eisenstein98", "eh98", linear._transfer_eh98),
        ("eisenstein98_zb", "eh98_nowiggle", linear._transfer_eh98_nowiggle),
    ):
        theirs = power_spectrum.transferFunction(
            k, lin.h, lin.Om0, lin.Ob0, lin.Tcmb0, model=transfer
        )
        np.testing.assert_allclose(ours(k, lin), theirs, rtol=1e-12, err_msg=f"T(k), {name}")
    radius = peaks.lagrangianR(10.0**log_m * h)
    np.testing.assert_allclose(
        linear.sigma_of_mass(10.0**log_m, 0.0),
        cosmo.sigma(radius, 0.0),
        rtol=1e-3,
        err_msg="EH98 sigma(M) vs colossus",
    )
