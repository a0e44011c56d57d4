"""Subhalo population: reference counts, draws, WDM and SIDM on both engines, keys, jit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from conftest import needs_jax
from population_draws import (
    ENGINES,
    N_DRAWS,
    SIGMAS,
    TRACES,
    assert_mean,
    draw_many,
    jitted_sample,
    ks_test,
    population,
    real_values,
    sample_arrays,
)

from xlens import Galaxy, engine, mp
from xlens.cosmology import Planck15
from xlens.halo_model import wdm_suppression
from xlens.halos import (
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
)


# ===================================================================== reference numbers
def test_subhalo_counts_match_physics_reference():
    # PHYSICS.md §14.1: A = 1118.0 kpc^2, N(1e6-1e10) = 1959.0, N(1e7-1e10) = 246.2, and the
    # mean convergence of the M200 masses (1e6-1e10, z_s = 1) 7.94e-3; quoted to 4-5 digits.
    pop = SubhaloPopulation(SubhaloConfig(m_min=1e6))
    assert pop.config.area_kpc2 == pytest.approx(1118.0, rel=1e-4)
    assert pop.expected_counts["subhalos"] == pytest.approx(1959.0, rel=1e-4)
    assert population("cdm").expected_counts["subhalos"] == pytest.approx(246.2, rel=2e-4)
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    mass = pop.tables["subhalos"].integrate(lambda m: m)
    assert mass / (sigma_cr * pop.config.area_kpc2) == pytest.approx(7.94e-3, rel=1e-3)


# ===================================================================== statistics, both engines
@pytest.mark.parametrize("eng", ENGINES)
def test_subhalo_counts_masses_positions(eng):
    pop, d = population("cdm"), draw_many("cdm", eng)
    mean = pop.expected_counts["subhalos"]
    n = d["n_drawn"][:, 0]
    assert_mean(n, mean, mean, "Poisson count")  # false alarm 6.3e-5
    # Var(N) = mean: sample variance has SE ~ mean sqrt(2/K) (false alarm 6.3e-5)
    se_var = mean * math.sqrt(2.0 / n.size)
    assert abs(n.var(ddof=1) - mean) < SIGMAS * se_var, f"count variance {n.var(ddof=1):.1f}"
    np.testing.assert_array_equal(d["n_kept"][:, 0], n)  # no thinning, no overflow
    assert not d["overflow"].any()

    m = real_values(d, "subhalos", "mass")
    beta = pop.config.alpha + 1.0
    lo, hi = pop.config.m_min, pop.config.m_max
    assert m.min() >= lo and m.max() <= hi
    ks_test(m, lambda x: ((x / lo) ** beta - 1.0) / ((hi / lo) ** beta - 1.0), "power-law masses")

    yx = real_values(d, "subhalos", "centre")
    r2 = (yx ** 2).sum(-1) / pop.config.radius**2
    assert r2.max() <= 1.0
    ks_test(r2, "uniform", "(r/R)^2 uniform in the disc")
    ks_test(np.arctan2(yx[:, 0], yx[:, 1]) / (2 * np.pi) + 0.5, "uniform", "angle")


@pytest.mark.parametrize("eng", ENGINES)
def test_wdm_removes_low_mass_haloes_by_the_expected_factor(eng):
    wdm, cdm = population("wdm"), population("cdm")
    d, dc = draw_many("wdm", eng), draw_many("cdm", eng)
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
        assert_mean(got, want, want, f"WDM count in [{lo:.3g}, {hi:.3g})")  # 3 x 6.3e-5
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
    f = real_values(d, "subhalos", "cfactor")
    mm = real_values(d, "subhalos", "mass")
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
    draws = [sample_arrays(direct.sample(i)) for i in range(40)]
    ms = np.concatenate([d["subhalos/mass"][d["subhalos/mask"] > 0.5] for d in draws])
    grid = np.linspace(math.log(1e7), math.log(1e10), 20001)
    dens = np.exp(beta * grid) * np.asarray(wdm_suppression(np.exp(grid), 1e8, (4.2, 2.5, -0.2)))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    ks_test(ms, lambda m: np.interp(np.log(m), grid, cdf / cdf[-1]), "direct WDM masses")
    # line of sight: Lovell 2020 field coefficients, fewer haloes per plane
    los_wdm = LineOfSightPopulation(LineOfSightConfig(dark_matter="wdm", m_hm=1e8))
    assert np.all(los_wdm.expected_counts < 0.3 * population("los").expected_counts)
    assert np.all(los_wdm.sheet_kappa > population("los").sheet_kappa)


@pytest.mark.parametrize("eng", ENGINES)
def test_sidm_split_into_cored_and_collapsed(eng):
    pop, d = population("sidm"), draw_many("sidm", eng)
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
            assert_mean(got, want, want, f"{fam} count in [{lo:.3g}, {hi:.3g})")  # 4 x 6.3e-5
    batches, _ = pop.sample(3)
    assert isinstance(batches["cored"].profile, mp.cNFWMCRLudlowSph)
    assert isinstance(batches["collapsed"].profile, mp.NFWTruncatedMCRLudlowSph)
    np.testing.assert_array_equal(np.asarray(batches["cored"].profile.f_c), 0.2)
    assert np.all(real_values(d, "collapsed", "cfactor") == 3.0)
    assert np.all(real_values(d, "cored", "cfactor") == 1.0)
    assert pop.capacities["collapsed"] < pop.capacities["cored"]


@pytest.mark.jax
@needs_jax
def test_jit_compiles_once_for_different_keys():
    jax = engine.import_jax()
    counts = [int(jitted_sample("tiny")(jax.random.key(s))[1].n_drawn[0]) for s in (5, 6, 7)]
    assert len(TRACES["jit-tiny"]) == 1 and len(set(counts)) > 1
    # the vmapped samplers of the statistical tests: one trace, whatever the keys
    draw_many("cdm", "jax")
    draw_many("cdm", "jax", N_DRAWS["jax"], 1)
    assert len(TRACES["cdm"]) == 1
    # traceable end to end with the planes for the tracer and a traced centre (no compile)
    def planes(k, c):
        batch, info = population("los").sample(k, c)
        return [Galaxy(z, **p) for z, p in population("los").plane_profiles(batch, c)], info

    out = jax.eval_shape(planes, jax.random.key(0), jax.numpy.zeros(2))
    assert [g.redshift for g in out[0]] == list(population("los").plane_redshifts)
    assert out[0][0].profiles["los_halos"].mask.shape == (population("los").capacity,)


@pytest.mark.parametrize("eng", ENGINES)
def test_same_key_same_draw(eng):
    if eng == "jax":
        jax = engine.import_jax()
        first, again, other = (sample_arrays(jitted_sample("tiny")(jax.random.key(s))) for s in (11, 11, 12))
    else:
        first, again, other = (sample_arrays(population("tiny").sample(s)) for s in (11, 11, 12))
    for k in first:
        np.testing.assert_array_equal(first[k], again[k], err_msg=k)
    assert not np.array_equal(first["subhalos/mass"], other["subhalos/mass"])


def test_numpy_key_types():
    pop = population("cdm")
    ref = sample_arrays(pop.sample(5))
    for key in (np.int64(5), np.asarray(5), np.random.SeedSequence(5)):
        got = sample_arrays(pop.sample(key))["subhalos/mass"]
        np.testing.assert_array_equal(got, ref["subhalos/mass"])
    gen = np.random.default_rng(1)
    a, b = sample_arrays(pop.sample(gen)), sample_arrays(pop.sample(gen))  # a Generator is consumed
    assert not np.array_equal(a["subhalos/mass"], b["subhalos/mass"])
    assert engine.key_engine(np.array([1, 2])) == "numpy"
    k1, k2 = engine.split_key(7, 2)
    assert not np.array_equal(sample_arrays(pop.sample(k1))["subhalos/mass"],
                              sample_arrays(pop.sample(k2))["subhalos/mass"])
    with pytest.raises(TypeError, match="a key must be a JAX key"):
        pop.sample("seed")
    with pytest.raises(TypeError, match="non-negative integers"):
        pop.sample(-1)
