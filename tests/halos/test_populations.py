"""Subhalo and line-of-sight populations: reference counts, statistics on both engines, jit/vmap.

Statistical tests use fixed seeds, so they are deterministic; each states the probability
that a *correct* sampler would fail it for a fresh seed (its false-alarm rate). Counts are
compared with their expectation within 4 standard errors (two-sided normal tail 6.3e-5 per
comparison); Kolmogorov-Smirnov tests require p > 1e-3 (false alarm 1e-3 each).

NumPy draws realisations in a Python loop (a few hundred); JAX draws thousands in one
jitted, vmapped call. Both engines run the same assertions.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from conftest import needs_jax
from helpers import counting, load

from xlens import Galaxy, ParameterError, Tracer, engine, mp
from xlens.cosmology import Planck15
from xlens.halos.mass_concentration import ludlow16_concentration, nfw_mass_factor
from xlens.halos.mass_function import (
    DoubleCone,
    mean_matter_density_msun_per_mpc3,
    sheth_tormen_dndlnm,
    sheth_tormen_multiplicity,
)
from xlens.halos.populations import (
    CapacityOverflowError,
    CellTable,
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
    key_engine,
    plane_layout,
    split_key,
    truncated_nfw_mass_ratio,
    wdm_suppression,
)

MF = load("massfunction.json")
ENGINES = [pytest.param("numpy", id="numpy"),
           pytest.param("jax", id="jax", marks=[pytest.mark.jax, needs_jax])]
#: realisations per statistical test: a Python loop on NumPy, one vmapped call on JAX
N_DRAWS = {"numpy": 300, "jax": 2000}
SIGMAS = 4.0  # 4 standard errors: two-sided false-alarm rate 6.3e-5 per comparison
KS_P = 1e-3  # KS tests: false-alarm rate 1e-3 each
KS_MAX = 50_000  # at most this many values per KS test (power enough, fast)


# ------------------------------------------------------------------ populations (built once)
@functools.cache
def _pop(name: str):
    if name == "cdm":
        return SubhaloPopulation(SubhaloConfig())
    if name == "wdm":
        return SubhaloPopulation(SubhaloConfig(dark_matter="wdm", m_hm=1e8))
    if name == "sidm":
        return SubhaloPopulation(SubhaloConfig(dark_matter="sidm", f_c=0.2, p_cc=(0.1, 0.6),
                                               p_cc_log10_breaks=(8.5,), b_c=3.0))
    if name == "los":
        return LineOfSightPopulation(LineOfSightConfig())
    if name == "tiny":
        return SubhaloPopulation(SubhaloConfig(), capacity=8)
    raise KeyError(name)


# ------------------------------------------------------------------ drawing on either engine
_TRACES: dict[str, list] = {}


@functools.cache
def _vmapped(name: str):
    """``jax.jit(jax.vmap(pop.sample))`` with a trace counter in ``_TRACES[name]``."""
    jax = engine._jax()
    sample, _TRACES[name] = counting(_pop(name).sample)
    return jax.jit(jax.vmap(sample))


@functools.cache
def _jitted(name: str):
    """``jax.jit(pop.sample)`` with a trace counter in ``_TRACES["jit-" + name]``."""
    jax = engine._jax()
    sample, _TRACES["jit-" + name] = counting(_pop(name).sample)
    return jax.jit(sample)


def _arrays(out) -> dict:
    """NumPy arrays of a sample() result (one draw or a vmapped batch)."""
    batches, info = out
    if not isinstance(batches, dict):
        batches = {"los": batches}
    res = {k: np.asarray(v) for k, v in info._asdict().items()}
    for fam, b in batches.items():
        res[f"{fam}/mass"] = np.asarray(b.profile.mass_at_200)
        res[f"{fam}/centre"] = np.asarray(b.profile.centre)
        res[f"{fam}/mask"] = np.asarray(b.mask)
        res[f"{fam}/cfactor"] = np.asarray(b.profile.concentration_factor)
    return res


@functools.cache
def _draws(name: str, eng: str, n: int | None = None, seed: int = 0) -> dict:
    """``n`` realisations of population ``name``, stacked along a leading axis."""
    n = N_DRAWS[eng] if n is None else n
    if eng == "jax":
        jax = engine._jax()
        keys = jax.random.split(jax.random.key(seed), n)
        return _arrays(_vmapped(name)(keys))
    outs = [_arrays(_pop(name).sample(seed * 1_000_003 + i)) for i in range(n)]
    return {k: np.stack([o[k] for o in outs]) for k in outs[0]}


@functools.cache
def _m_ren_table(z: float):
    """ln(m_ren / M200) on a 0.0015-dex grid: interpolation error < 1e-8, fast for 1e6 masses."""
    lnm = np.linspace(math.log(1e7), math.log(1e10), 2001)
    c = np.asarray(ludlow16_concentration(np.exp(lnm), z))
    return lnm, np.log(truncated_nfw_mass_ratio(2 * c) / np.asarray(nfw_mass_factor(c)))


def _m_ren(m, z):
    """Mass carried by an NFWTruncatedMCRLudlowSph of M200 = m at z: m m_inf(2c) / mu(c)."""
    lnm, ratio = _m_ren_table(float(z))
    return m * np.exp(np.interp(np.log(m), lnm, ratio))


def _real(d: dict, fam: str, field: str):
    """Values of the real (unmasked) haloes, flattened."""
    return d[f"{fam}/{field}"][d[f"{fam}/mask"] > 0.5]


def _assert_mean(samples, expected, variance, what):
    samples = np.asarray(samples, dtype=float)
    se = math.sqrt(variance / samples.size)
    dev = (samples.mean() - expected) / se
    assert abs(dev) < SIGMAS, (
        f"{what}: mean {samples.mean():.4f}, expected {expected:.4f} ({dev:+.1f} SE)")


def _ks(values, cdf, what):
    values = np.asarray(values)[:KS_MAX]
    p = scipy.stats.kstest(values, cdf).pvalue
    assert p > KS_P, f"{what}: KS p = {p:.2e} for {values.size} values"


# ===================================================================== reference numbers
def test_subhalo_counts_match_physics_reference():
    # PHYSICS.md §14.1: A = 1118.0 kpc^2, N(1e6-1e10) = 1959.0, N(1e7-1e10) = 246.2, and the
    # mean convergence of the M200 masses (1e6-1e10, z_s = 1) 7.94e-3; quoted to 4-5 digits.
    pop = SubhaloPopulation(SubhaloConfig(m_min=1e6))
    assert pop.config.area_kpc2 == pytest.approx(1118.0, rel=1e-4)
    assert pop.expected_counts["subhalos"] == pytest.approx(1959.0, rel=1e-4)
    assert _pop("cdm").expected_counts["subhalos"] == pytest.approx(246.2, rel=2e-4)
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    mass = pop.tables["subhalos"].integrate(lambda m: m)
    assert mass / (sigma_cr * pop.config.area_kpc2) == pytest.approx(7.94e-3, rel=1e-3)


def test_sheth_tormen_matches_colossus():
    m = np.array(MF["mass_msun"])
    want = np.array(MF["dndlnM_comoving_Mpc^-3"])
    # measured 0.08%: colossus uses the same EH98 transfer function with wiggles
    np.testing.assert_allclose(sheth_tormen_dndlnm(m, MF["redshift"]), want, rtol=2e-3)
    # the 2% also holds with the no-wiggle sigma of PHYSICS.md §11.2 (measured 0.45%)
    np.testing.assert_allclose(sheth_tormen_dndlnm(m, MF["redshift"], transfer="eh98_nowiggle"),
                               want, rtol=0.02)
    x, w = np.polynomial.legendre.leggauss(64)
    lnm = 0.5 * math.log(1e3) * x + 0.5 * math.log(1e17)  # 1e7..1e10
    density = 0.5 * math.log(1e3) * w @ sheth_tormen_dndlnm(np.exp(lnm), 0.5)
    assert density == pytest.approx(MF["number_density_1e7_1e10_at_z0.5_comoving_Mpc^-3"], rel=2e-3)


def test_sheth_tormen_normalisation():
    # int f dnu = 1 (PHYSICS.md §14.4) and rho_m0 of Omega_m = 0.3089, h = 0.6774
    val = scipy.integrate.quad(lambda nu: sheth_tormen_multiplicity(nu) / nu, 0, np.inf)[0]
    assert val == pytest.approx(1.0, rel=1e-10)
    assert mean_matter_density_msun_per_mpc3() == pytest.approx(
        0.3089 * 2.77536627e11 * 0.6774**2, rel=1e-8)  # rho_crit,0 = 2.775e11 h^2 M_sun Mpc^-3


def test_double_cone_volume_and_count_match_reference():
    ref = MF["double_cone"]
    cone = DoubleCone(ref["theta_arcsec"], ref["z_lens"], ref["z_source"])
    # closed form vs the table's quadrature with astropy distances (identical to 1e-16)
    assert cone.volume_mpc3(0.0, 1.0) == pytest.approx(ref["comoving_volume_Mpc^3"], rel=1e-10)
    z, w = cone.redshift_nodes(0.0, 1.0)
    assert w.sum() == pytest.approx(ref["comoving_volume_Mpc^3"], rel=1e-10)
    # counts: measured 0.014%, 0.015% and 0.013% from the colossus-sigma table
    assert cone.expected_count(0, 0.5, 1e7, 1e10) == pytest.approx(
        ref["expected_number_z_0_to_lens"], rel=1e-3)
    assert cone.expected_count(0.5, 1.0, 1e7, 1e10) == pytest.approx(
        ref["expected_number_lens_to_source"], rel=1e-3)
    los = _pop("los")
    assert los.expected_counts.sum() == pytest.approx(ref["expected_number_total"], rel=1e-3)
    assert los.slab_volumes_mpc3.sum() == pytest.approx(ref["comoving_volume_Mpc^3"], rel=1e-12)


def test_line_of_sight_plane_counts_are_slab_integrals():
    los = _pop("los")
    assert los.n_planes == 8 and 0.5 in los.plane_redshifts
    for i, (a, b) in enumerate(zip(los.slab_edges[:-1], los.slab_edges[1:], strict=True)):
        # the table (log-linear in ln m, 0.02 dex) vs Gauss-Legendre quadrature: < 1e-5
        want = los.cone.expected_count(a, b, 1e7, 1e10, n_z=16, n_m=32)
        assert los.expected_counts[i] == pytest.approx(want, rel=2e-5), f"plane {i}"


def test_plane_layout():
    z, edges = plane_layout(8, 0.5, 1.0)
    assert z.size == 8 and edges.size == 9
    assert edges[0] == 0.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)
    assert np.all((edges[:-1] < z) & (z < edges[1:]))
    assert 0.5 in z
    z1, edges1 = plane_layout(1, 0.3, 2.0)
    np.testing.assert_array_equal(z1, [0.3])
    np.testing.assert_array_equal(edges1, [0.0, 2.0])


def test_truncated_nfw_total_mass_by_quadrature():
    # m_inf(tau) against the integral of the BMO09 density, int x tau^2 / ((1+x)^2 (tau^2+x^2))
    for tau in (0.5, 2.0, 23.38):
        num = scipy.integrate.quad(lambda x, t=tau: x / (1 + x) ** 2 * t * t / (t * t + x * x),
                                   0, np.inf, limit=200)[0]
        assert truncated_nfw_mass_ratio(tau) == pytest.approx(num, rel=1e-10)


def test_rendered_profile_carries_the_sheet_mass():
    """The rendered tNFW profiles carry M200 m_inf(2c) / mu(c), as the sheets assume."""
    batches, _ = _pop("cdm").sample(7)
    b = batches["subhalos"]
    lens = b.masked_profile()
    sel = np.asarray(b.mask) > 0.5
    ell = float(Planck15.kpc_per_arcsec(0.5))
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    ks, rs, rt = (np.asarray(getattr(lens, n))[sel] for n in
                  ("kappa_s", "scale_radius", "truncation_radius"))
    total = 4 * np.pi * ks * (rs * ell) ** 2 * truncated_nfw_mass_ratio(rt / rs) * sigma_cr
    m = np.asarray(b.profile.mass_at_200)[sel]
    c = np.asarray(ludlow16_concentration(m, 0.5))
    np.testing.assert_allclose(total, m * truncated_nfw_mass_ratio(2 * c) / nfw_mass_factor(c),
                               rtol=1e-10)


def test_sheets_equal_the_expected_rendered_mass():
    """kappa_sheet = -int m_ren dN / (Sigma_cr A), by quadrature independent of the tables."""
    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    cfg = sub.config

    def m_ren(m, z):
        c = np.asarray(ludlow16_concentration(m, z))
        return m * truncated_nfw_mass_ratio(2 * c) / np.asarray(nfw_mass_factor(c))

    norm = cfg.sigma_sub * cfg.area_kpc2 / 1e8
    mass = scipy.integrate.quad(lambda m: norm * (m / 1e8) ** cfg.alpha * m_ren(m, 0.5), 1e7, 1e10,
                                epsrel=1e-10, limit=200)[0]
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    assert sub.sheet_kappa == pytest.approx(-mass / (sigma_cr * cfg.area_kpc2), rel=1e-8)

    los = _pop("los")
    x, w = np.polynomial.legendre.leggauss(40)
    for i in (0, 4, 6):
        zi = los.plane_redshifts[i]
        z, wz = los.cone.redshift_nodes(los.slab_edges[i], los.slab_edges[i + 1], 16)
        lnm = 0.5 * math.log(1e3) * x + 0.5 * math.log(1e17)
        m = np.exp(lnm)
        dn = sheth_tormen_dndlnm(m[:, None], z[None, :]) @ wz
        mass = 0.5 * math.log(1e3) * np.sum(w * dn * m_ren(m, zi))
        area = np.pi * (los.angular_radii[i] * float(Planck15.kpc_per_arcsec(zi))) ** 2
        sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(zi, 1.0))
        # the table interpolates dn/dln m log-linearly between 0.02-dex nodes: ~1e-5
        want = -mass / (sigma_cr * area)
        assert los.sheet_kappa[i] == pytest.approx(want, rel=5e-5), f"plane {i}"


# ===================================================================== statistics, both engines
@pytest.mark.parametrize("eng", ENGINES)
def test_subhalo_counts_masses_positions(eng):
    pop, d = _pop("cdm"), _draws("cdm", eng)
    mean = pop.expected_counts["subhalos"]
    n = d["n_drawn"][:, 0]
    _assert_mean(n, mean, mean, "Poisson count")  # false alarm 6.3e-5
    # Var(N) = mean: sample variance has SE ~ mean sqrt(2/K) (false alarm 6.3e-5)
    se_var = mean * math.sqrt(2.0 / n.size)
    assert abs(n.var(ddof=1) - mean) < SIGMAS * se_var, f"count variance {n.var(ddof=1):.1f}"
    np.testing.assert_array_equal(d["n_kept"][:, 0], n)  # no thinning, no overflow
    assert not d["overflow"].any()

    m = _real(d, "subhalos", "mass")
    beta = pop.config.alpha + 1.0
    lo, hi = pop.config.m_min, pop.config.m_max
    assert m.min() >= lo and m.max() <= hi
    _ks(m, lambda x: ((x / lo) ** beta - 1.0) / ((hi / lo) ** beta - 1.0), "power-law masses")

    yx = _real(d, "subhalos", "centre")
    r2 = (yx ** 2).sum(-1) / pop.config.radius**2
    assert r2.max() <= 1.0
    _ks(r2, "uniform", "(r/R)^2 uniform in the disc")
    _ks(np.arctan2(yx[:, 0], yx[:, 1]) / (2 * np.pi) + 0.5, "uniform", "angle")


@pytest.mark.parametrize("eng", ENGINES)
def test_line_of_sight_counts_masses_positions(eng):
    los, d = _pop("los"), _draws("los", eng)
    for i, mean in enumerate(los.expected_counts):
        _assert_mean(d["n_drawn"][:, i], mean, mean, f"plane {i} count")  # 8 x 6.3e-5
    assert not d["overflow"].any()
    mask = d["los/mask"] > 0.5
    np.testing.assert_array_equal(mask.sum(-1), d["n_drawn"])

    # masses: probability integral transform with each plane's slab-integrated ST CDF, built
    # here by trapezoid on 4001 nodes with 16 z nodes per piece (the population: 24 nodes,
    # piecewise power law); pooled PIT values must be uniform (false alarm 1e-3)
    lnm = np.linspace(math.log(1e7), math.log(1e10), 4001)
    pit = []
    for i in range(los.n_planes):
        z, wz = los.cone.redshift_nodes(los.slab_edges[i], los.slab_edges[i + 1], 16)
        dens = sheth_tormen_dndlnm(np.exp(lnm)[:, None], z[None, :]) @ wz
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(lnm))])
        m = d["los/mass"][:, i][mask[:, i]]
        pit.append(np.interp(np.log(m), lnm, cdf / cdf[-1]))
        # positions in the plane's disc (radius of the double cone / chi)
        r2 = (d["los/centre"][:, i][mask[:, i]] ** 2).sum(-1) / los.angular_radii[i] ** 2
        assert r2.size == 0 or r2.max() <= 1.0 + 1e-12
    pit = np.concatenate(pit)
    rng = np.random.default_rng(0)
    _ks(rng.permutation(pit), "uniform", "LOS masses (PIT)")
    yx = d["los/centre"][mask]
    plane = np.broadcast_to(np.arange(los.n_planes)[None, :, None], mask.shape)[mask]
    r2 = (yx ** 2).sum(-1) / los.angular_radii[plane] ** 2
    _ks(rng.permutation(r2), "uniform", "LOS (r/R)^2")


@pytest.mark.parametrize("eng", ENGINES)
def test_sheets_cancel_the_mean_rendered_convergence(eng):
    """Monte Carlo: mean over draws of sum(m_ren) / (Sigma_cr A) + kappa_sheet = 0 (4 SE)."""
    m_ren = _m_ren
    los, d = _pop("los"), _draws("los", eng)
    for i, z in enumerate(los.plane_redshifts):
        m = d["los/mass"][:, i]
        total = np.sum(np.where(d["los/mask"][:, i] > 0.5, m_ren(m, z), 0.0), axis=-1)
        area = np.pi * (los.angular_radii[i] * float(Planck15.kpc_per_arcsec(z))) ** 2
        kappa = total / (float(Planck15.critical_surface_density_msun_per_kpc2(z, 1.0)) * area)
        _assert_mean(kappa, -los.sheet_kappa[i], kappa.var(ddof=1), f"plane {i} mean kappa")

    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    d = _draws("cdm", eng)
    m = d["subhalos/mass"]
    total = np.sum(np.where(d["subhalos/mask"] > 0.5, m_ren(m, 0.5), 0.0), axis=-1)
    kappa = total / (float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
                     * sub.config.area_kpc2)
    _assert_mean(kappa, -sub.sheet_kappa, kappa.var(ddof=1), "subhalo mean kappa")


@pytest.mark.parametrize("eng", ENGINES)
def test_wdm_removes_low_mass_haloes_by_the_expected_factor(eng):
    wdm, cdm = _pop("wdm"), _pop("cdm")
    d, dc = _draws("wdm", eng), _draws("cdm", eng)
    cfg = wdm.config
    beta = cfg.alpha + 1.0
    norm = cfg.sigma_sub * cfg.area_kpc2 * 1e8**-beta
    abc = (4.2, 2.5, -0.2)  # Lovell 2020 subhaloes, 'a' inside the power
    m = d["subhalos/mass"]
    kept = d["subhalos/mask"] > 0.5
    for lo, hi in [(1e7, 10**7.5), (10**7.5, 1e8), (1e8, 1e10)]:
        want = scipy.integrate.quad(
            lambda x: norm * math.exp(beta * x) * float(wdm_suppression(math.exp(x), 1e8, abc)),
            math.log(lo), math.log(hi), epsrel=1e-10)[0]
        got = np.sum(kept & (m >= lo) & (m < hi), axis=-1)
        _assert_mean(got, want, want, f"WDM count in [{lo:.3g}, {hi:.3g})")  # 3 x 6.3e-5
        cdm_mean = norm * (hi**beta - lo**beta) / beta
        if hi <= 1e8:  # the suppression is strong below the half-mode mass
            assert want < 0.5 * cdm_mean
    assert wdm.expected_counts["subhalos"] == pytest.approx(
        scipy.integrate.quad(lambda x: norm * math.exp(beta * x)
                             * float(wdm_suppression(math.exp(x), 1e8, abc)),
                             math.log(1e7), math.log(1e10), epsrel=1e-12)[0], rel=1e-9)
    # thinning keeps the CDM draw of the same key: WDM haloes are a subset of the CDM ones
    same = dc["subhalos/mass"][:50]
    np.testing.assert_array_equal(d["subhalos/mass"][:50], same)
    assert np.all(dc["subhalos/mask"][:50] >= d["subhalos/mask"][:50])
    # WDM concentrations: the Bose et al. (2016) factor, < 1
    f = _real(d, "subhalos", "cfactor")
    mm = _real(d, "subhalos", "mass")
    np.testing.assert_allclose(f, (1 + 60 * 1e8 / mm) ** -0.17 * 1.5 ** (0.026 * 0.5 - 0.04),
                               rtol=1e-12)
    assert cdm.capacities == wdm.capacities


def test_wdm_options():
    base = dict(dark_matter="wdm", m_hm=1e8)
    thin = SubhaloPopulation(SubhaloConfig(**base))
    direct = SubhaloPopulation(SubhaloConfig(**base, wdm_sampling="direct"))
    # the tabulated suppressed function integrates to the same mean (0.02-dex nodes: ~1e-5)
    assert direct.expected_counts["subhalos"] == pytest.approx(
        thin.expected_counts["subhalos"], rel=2e-5)
    assert direct.capacities["subhalos"] < thin.capacities["subhalos"]
    assert direct.sheet_kappa == pytest.approx(thin.sheet_kappa, rel=2e-5)
    # 'a' outside the power: S = [1 + a (m_hm/m)^b]^c
    out = SubhaloPopulation(SubhaloConfig(**base, wdm_a_placement="outside"))
    beta, cfg = -0.9, out.config
    norm = cfg.sigma_sub * cfg.area_kpc2 * 1e8**-beta
    want = scipy.integrate.quad(lambda x: norm * math.exp(beta * x)
                                * (1 + 4.2 * (1e8 / math.exp(x)) ** 2.5) ** -0.2,
                                math.log(1e7), math.log(1e10), epsrel=1e-12)[0]
    assert out.expected_counts["subhalos"] == pytest.approx(want, rel=1e-9)
    # direct sampling: KS of the masses against the suppressed mass function (false alarm 1e-3)
    draws = [_arrays(direct.sample(i)) for i in range(40)]
    ms = np.concatenate([d["subhalos/mass"][d["subhalos/mask"] > 0.5] for d in draws])
    grid = np.linspace(math.log(1e7), math.log(1e10), 20001)
    dens = np.exp(beta * grid) * np.asarray(wdm_suppression(np.exp(grid), 1e8, (4.2, 2.5, -0.2)))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    _ks(ms, lambda m: np.interp(np.log(m), grid, cdf / cdf[-1]), "direct WDM masses")
    # line of sight: Lovell 2020 field coefficients, fewer haloes per plane
    los_wdm = LineOfSightPopulation(LineOfSightConfig(dark_matter="wdm", m_hm=1e8))
    assert np.all(los_wdm.expected_counts < 0.3 * _pop("los").expected_counts)
    assert np.all(los_wdm.sheet_kappa > _pop("los").sheet_kappa)


@pytest.mark.parametrize("eng", ENGINES)
def test_sidm_split_into_cored_and_collapsed(eng):
    pop, d = _pop("sidm"), _draws("sidm", eng)
    assert pop.family_names == ("cored", "collapsed")
    cfg = pop.config
    beta = cfg.alpha + 1.0
    norm = cfg.sigma_sub * cfg.area_kpc2 * 1e8**-beta

    def n_between(lo, hi):
        return norm * (hi**beta - lo**beta) / beta

    brk = 10**8.5
    for fam, probs in (("cored", (0.9, 0.4)), ("collapsed", (0.1, 0.6))):
        m, kept = d[f"{fam}/mass"], d[f"{fam}/mask"] > 0.5
        for (lo, hi), p in zip([(1e7, brk), (brk, 1e10)], probs, strict=True):
            want = p * n_between(lo, hi)
            got = np.sum(kept & (m >= lo) & (m < hi), axis=-1)
            _assert_mean(got, want, want, f"{fam} count in [{lo:.3g}, {hi:.3g})")  # 4 x 6.3e-5
    batches, _ = pop.sample(3)
    assert isinstance(batches["cored"].profile, mp.cNFWMCRLudlowSph)
    assert isinstance(batches["collapsed"].profile, mp.NFWTruncatedMCRLudlowSph)
    np.testing.assert_array_equal(np.asarray(batches["cored"].profile.f_c), 0.2)
    assert np.all(_real(d, "collapsed", "cfactor") == 3.0)
    assert np.all(_real(d, "cored", "cfactor") == 1.0)
    assert pop.capacities["collapsed"] < pop.capacities["cored"]


# ===================================================================== overflow, jit, vmap, keys
@pytest.mark.parametrize("eng", ENGINES)
def test_overflow_is_flagged_and_reported(eng):
    pop = _pop("tiny")  # capacity 8 for a mean of 246
    if eng == "jax":
        jax = engine._jax()
        outs = [_jitted("tiny")(jax.random.key(s)) for s in range(3)]
    else:
        outs = [pop.sample(s) for s in range(3)]
    d = {k: np.stack([_arrays(o)[k] for o in outs]) for k in _arrays(outs[0])}
    assert d["overflow"].all()
    assert np.all(d["n_drawn"][:, 0] > 8) and np.all(d["n_kept"][:, 0] == 8)
    assert np.all(d["subhalos/mask"].sum(-1) == 8)
    n0 = int(d["n_drawn"][0, 0])
    with pytest.raises(CapacityOverflowError, match=f"family 'subhalos' drew {n0} haloes but its "
                                                    r"capacity is 8.*capacity=512 or more"):
        pop.check(outs[0][1])
    with pytest.warns(RuntimeWarning, match="capacity is 8"):
        pop.check(outs[0][1], action="warn")
    stacked = type(outs[0][1])(*(np.stack([np.asarray(o[1][i]) for o in outs]) for i in range(3)))
    with pytest.raises(CapacityOverflowError, match=f"drew {n0} haloes.*realisation 0 of 3; "
                                                    "3 overflowed"):
        pop.check(stacked)
    _pop("cdm").check(_pop("cdm").sample(0)[1])  # no overflow: silent


@pytest.mark.jax
@needs_jax
def test_jit_compiles_once_for_different_keys():
    jax = engine._jax()
    counts = [int(_jitted("tiny")(jax.random.key(s))[1].n_drawn[0]) for s in (5, 6, 7)]
    assert len(_TRACES["jit-tiny"]) == 1 and len(set(counts)) > 1
    # the vmapped samplers of the statistical tests: one trace, whatever the keys
    _draws("cdm", "jax")
    _draws("cdm", "jax", N_DRAWS["jax"], 1)
    assert len(_TRACES["cdm"]) == 1
    # traceable end to end with the galaxies for the tracer and a traced centre (no compile)
    out = jax.eval_shape(lambda k, c: _pop("los").sample_galaxies(k, c), jax.random.key(0),
                         jax.numpy.zeros(2))
    assert [g.redshift for g in out[0]] == list(_pop("los").plane_redshifts)
    assert out[0][0].profiles["los_halos"].mask.shape == (_pop("los").capacity,)


@pytest.mark.parametrize("eng", ENGINES)
def test_same_key_same_draw(eng):
    if eng == "jax":
        jax = engine._jax()
        first, again, other = (_arrays(_jitted("tiny")(jax.random.key(s))) for s in (11, 11, 12))
    else:
        first, again, other = (_arrays(_pop("tiny").sample(s)) for s in (11, 11, 12))
    for k in first:
        np.testing.assert_array_equal(first[k], again[k], err_msg=k)
    assert not np.array_equal(first["subhalos/mass"], other["subhalos/mass"])


def test_numpy_key_types():
    pop = _pop("cdm")
    ref = _arrays(pop.sample(5))
    for key in (np.int64(5), np.asarray(5), np.random.SeedSequence(5)):
        got = _arrays(pop.sample(key))["subhalos/mass"]
        np.testing.assert_array_equal(got, ref["subhalos/mass"])
    gen = np.random.default_rng(1)
    a, b = _arrays(pop.sample(gen)), _arrays(pop.sample(gen))  # a Generator is consumed
    assert not np.array_equal(a["subhalos/mass"], b["subhalos/mass"])
    assert key_engine(np.array([1, 2])) == "numpy"
    k1, k2 = split_key(7, 2)
    assert not np.array_equal(_arrays(pop.sample(k1))["subhalos/mass"],
                              _arrays(pop.sample(k2))["subhalos/mass"])
    with pytest.raises(TypeError, match="a key must be a JAX key"):
        pop.sample("seed")
    with pytest.raises(TypeError, match="non-negative integers"):
        pop.sample(-1)


def test_galaxies_feed_the_tracer():
    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    los = _pop("los")
    k1, k2 = split_key(3, 2)
    subs, _ = sub.sample_galaxies(k1)
    planes, _ = los.sample_galaxies(k2)
    lens = Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0))
    tracer = Tracer([lens, *subs, *planes, Galaxy(1.0)])
    assert tracer.n_planes == los.n_planes + 1  # LOS planes (one at z_lens) + source
    assert planes[4].profiles["los_sheet"].kappa == los.sheet_kappa[4]
    assert subs[0].profiles["subhalo_sheet"].kappa == sub.sheet_kappa
    # the LOS planes in front of and behind the lens share one structure: each run is scanned
    from xlens.tracer import plane_segments

    runs = plane_segments(tracer._plane_masses()[:-1])
    assert (0, 4) in runs and (5, 8) in runs
    grid = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    defl = tracer.deflections_yx_2d_from(grid)
    assert defl.shape == (50, 2) and np.all(np.isfinite(defl))


def test_edge_cases_and_centre_override():
    empty = SubhaloPopulation(SubhaloConfig(sigma_sub=0.0, sheet=True))
    batches, info = empty.sample(1)
    assert empty.capacities["subhalos"] == 8 and int(info.n_drawn[0]) == 0
    assert not np.asarray(batches["subhalos"].mask).any() and empty.sheet_kappa == 0.0
    none = LineOfSightPopulation(LineOfSightConfig(delta_los=0.0))
    assert not np.asarray(none.sample(1)[0].mask).any() and np.all(none.sheet_kappa == 0.0)
    one = LineOfSightPopulation(LineOfSightConfig(n_planes=1))
    assert one.expected_counts.sum() == pytest.approx(_pop("los").expected_counts.sum(), rel=1e-6)
    # alpha = -1: uniform in ln m (KS false alarm 1e-3)
    flat = SubhaloPopulation(SubhaloConfig(alpha=-1.0))
    draws = [_arrays(flat.sample(i)) for i in range(10)]
    m = np.concatenate([d["subhalos/mass"][d["subhalos/mask"] > 0.5] for d in draws])
    _ks(np.log(m / 1e7) / math.log(1e3), "uniform", "alpha = -1 masses")
    assert flat.expected_counts["subhalos"] == pytest.approx(0.025 * 1118.02 * math.log(1e3), 1e-4)
    # a centre given to sample() moves the disc and the sheet
    sub = SubhaloPopulation(SubhaloConfig(sheet=True, radius=0.5))
    galaxies, _ = sub.sample_galaxies(3, centre=np.array([1.0, -2.0]))
    yx = np.asarray(galaxies[0].profiles["subhalos"].profile.centre)
    assert np.all(np.hypot(yx[:, 0] - 1.0, yx[:, 1] + 2.0) <= 0.5)
    np.testing.assert_array_equal(np.asarray(galaxies[0].profiles["subhalo_sheet"].centre),
                                  [1.0, -2.0])


def test_cell_table_inverse_cdf():
    # a two-cell table with a jump and a flat cell: sample_ln_mass inverts cdf exactly
    table = CellTable(left=np.array([[0.0, 1.0]]), width=np.array([[1.0, 2.0]]),
                      slope=np.array([[0.0, -1.5]]), weight=np.array([[3.0, 1.0]]))
    u = np.linspace(0.0, 0.999, 37)[None]
    x = table.sample_ln_mass(u, xp=engine.get_xp("numpy"))
    np.testing.assert_allclose(table.cdf(x[0]), u[0], rtol=1e-12, atol=1e-14)
    assert table.integrate(lambda m: np.ones_like(m)) == pytest.approx(4.0, rel=1e-12)


# ===================================================================== validation
_S, _L = SubhaloConfig, LineOfSightConfig
_SIDM = dict(dark_matter="sidm", f_c=0.1, b_c=2.0)
BAD_CONFIGS = [
    (_S, dict(m_min=1e10, m_max=1e9),
     r"SubhaloConfig\.m_max must be in \(1e\+10, 1e\+16\] \[M_sun\]; got 1000000000\.0"),
    (_S, dict(m_min=0.0), r"SubhaloConfig\.m_min must be in \[1000, 1e\+16\) \[M_sun\]; got 0\.0"),
    (_S, dict(sigma_sub=-0.01),
     r"SubhaloConfig\.sigma_sub must be in \[0, inf\) \[kpc\^-2\]; got -0\.01"),
    (_S, dict(z_lens=0.5, z_source=0.4), r"SubhaloConfig\.z_source must be in \(0\.5, 10\]"),
    (_S, dict(radius=0.0), r"SubhaloConfig\.radius must be in \(0, inf\) \[arcsec\]; got 0\.0"),
    (_S, dict(alpha=-3.5), r"SubhaloConfig\.alpha must be in \(-3, 0\)"),
    (_S, dict(dark_matter="wdm"), r"SubhaloConfig\.m_hm .* is required when dark_matter='wdm'"),
    (_S, dict(dark_matter="wdm", m_hm=-1e8), r"SubhaloConfig\.m_hm must be in \(0, inf\)"),
    (_S, dict(m_hm=1e8), r"m_hm is used only when dark_matter='wdm'"),
    (_S, dict(dark_matter="fuzzy"), r"SubhaloConfig\.dark_matter must be one of"),
    (_S, dict(dark_matter="sidm", p_cc=0.1, b_c=2.0), r"SubhaloConfig\.f_c is required"),
    (_S, dict(_SIDM, p_cc=1.5),
     r"SubhaloConfig\.p_cc must be in \[0, 1\] \(probability\); got 1\.5"),
    (_S, dict(_SIDM, p_cc=(0.1, 0.2)),
     r"p_cc_log10_breaks must hold len\(p_cc\) - 1 = 1 bin edges; got 0"),
    (_S, dict(_SIDM, p_cc=0.1, sheet=True), r"sheet=True needs haloes of finite mass"),
    (_S, dict(wdm_coefficients="lovell2099"), r"wdm_coefficients must be \(a, b, c\) or one of"),
    (_L, dict(n_planes=0), r"LineOfSightConfig\.n_planes must be in \[1, 200\]; got 0\.0"),
    (_L, dict(z_lens=1.0, z_source=1.0), r"LineOfSightConfig\.z_source must be in \(1, 10\]"),
    (_L, dict(m_min=1e9, m_max=1e8), r"LineOfSightConfig\.m_max must be in \(1e\+09, 1e\+16\]"),
    (_L, dict(delta_los=-1.0), r"LineOfSightConfig\.delta_los must be in \[0, inf\)"),
    (_L, dict(dark_matter="sidm"), r"'sidm' is not supported for the line of sight"),
    (_L, dict(cone_radius=-3.0),
     r"LineOfSightConfig\.cone_radius must be in \(0, inf\) \[arcsec\]"),
]


@pytest.mark.parametrize(("cls", "kwargs", "match"), BAD_CONFIGS,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD_CONFIGS])
def test_validation_messages(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_validation_error_attributes_and_capacity():
    with pytest.raises(ParameterError) as err:
        SubhaloConfig(m_min=1e9, m_max=1e8)
    assert (err.value.name, err.value.value, err.value.low) == ("SubhaloConfig.m_max", 1e8, 1e9)
    with pytest.raises(ValueError, match="capacity must be a positive integer; got 0"):
        SubhaloPopulation(SubhaloConfig(), capacity=0)
    with pytest.raises(ValueError, match="unknown families"):
        SubhaloPopulation(SubhaloConfig(), capacity={"cored": 8})
    with pytest.raises(TypeError, match="takes a SubhaloConfig"):
        SubhaloPopulation(LineOfSightConfig())
