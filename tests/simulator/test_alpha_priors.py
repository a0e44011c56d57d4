"""The subhalo mass-function slope drawn per image (priors.subhalos.alpha).

``dN/dm = Sigma_sub A (m/m0)^alpha / m0`` with the pivot m0 = 1e8 M_sun (docs/populations.md):
a drawn alpha changes the mean count, the mass distribution and the sheet of every image. The
expectations here are independent of the code's tables: the mean count is the analytic integral
``Sigma_sub A ((m_max/m0)^b - (m_min/m0)^b) / b`` with b = alpha + 1, and each kept halo's mass
is mapped through the analytic CDF of its own image's power law (a probability integral
transform, uniform if the masses follow the drawn slope).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import counting, poisson_z_checks
from scipy.integrate import quad
from scipy.stats import kstest

from xlens.cosmology import Planck15
from xlens.engine import tree_leaves
from xlens.halo_model import rendered_mass_ratio
from xlens.halos import SubhaloConfig, SubhaloPopulation
from xlens.halos.sampling import capacity_for_mean
from xlens.model import Fixed, SimulatorConfig, Uniform, parameter_columns
from xlens.simulator import Simulator

BASE = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1)
SUB = SubhaloConfig(sigma_sub=0.025, m_min=1e7, m_max=1e10, radius=2.0)
ALPHA = {"subhalos": {"alpha": Uniform(-2.0, -1.5), "sigma_sub": Uniform(0.0, 0.05)}}


def _config(priors=None, **kwargs):
    return SimulatorConfig(**{**BASE, "subhalos": SUB, "line_of_sight": None, **kwargs},
                           priors=dict(priors or {}))


def _mean(alpha, sigma_sub, cfg: SubhaloConfig = SUB):
    """Sigma_sub A int_{m_min}^{m_max} (m/m0)^alpha dm/m0 (F = 1), analytic; arrays broadcast."""
    area = math.pi * (cfg.radius * float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2  # [kpc^2]
    b = np.asarray(alpha, dtype=float) + 1.0
    return sigma_sub * area * ((cfg.m_max / 1e8) ** b - (cfg.m_min / 1e8) ** b) / b


@pytest.mark.jax
def test_counts_and_masses_follow_the_drawn_slope_in_one_compile():
    jax = pytest.importorskip("jax")
    from xlens.engine import jit

    sim = Simulator(_config(ALPHA), engine="jax")
    fn, traces = counting(sim.sample_params)
    draw = jit(jax.vmap(fn), "jax")
    n_draws = 400
    params, info = draw(jax.random.split(jax.random.key(41), n_draws))
    draw(jax.random.split(jax.random.key(42), n_draws))
    assert len(traces) == 1  # other keys, other slopes and normalisations: the same program
    assert not np.any(np.asarray(info["subhalos"].overflow))
    alpha = np.asarray(params.hyper["subhalos"]["alpha"])
    sigma = np.asarray(params.hyper["subhalos"]["sigma_sub"])
    assert np.all((alpha >= -2.0) & (alpha <= -1.5))
    assert kstest(alpha, "uniform", args=(-2.0, 0.5)).pvalue > 1e-3
    n = np.asarray(info["subhalos"].n_kept)[:, 0].astype(float)
    lam = _mean(alpha, sigma)
    keep = lam > 5.0
    assert keep.sum() > 300
    poisson_z_checks("subhalo count", n[keep], lam[keep])

    # the masses of each image follow its own slope: F_alpha(m) is uniform on [0, 1]
    batch = params.subhalos["subhalos"]
    mask = np.asarray(batch.mask) > 0
    mass = np.asarray(batch.profile.mass_at_200)
    b = np.broadcast_to((alpha + 1.0)[:, None], mass.shape)
    lo, hi = SUB.m_min ** b, SUB.m_max ** b
    pit = ((mass ** b - lo) / (hi - lo))[mask]
    assert pit.size > 5000
    assert kstest(pit, "uniform").pvalue > 1e-3
    # and not the configured reference slope's (the test can fail): the steep images put
    # more of their haloes at low mass than the shallow ones
    steep, shallow = alpha < -1.85, alpha > -1.65
    low = mass < 1e8
    frac = [np.sum(low & mask & s[:, None]) / np.sum(mask & s[:, None]) for s in (steep, shallow)]
    assert frac[0] > frac[1] + 0.05, frac


def test_capacity_holds_the_largest_mean_of_the_range():
    sim = Simulator(_config(ALPHA), engine="numpy")
    pop = sim.subhalo_population
    assert pop.alpha_range == (-2.0, -1.5) and pop.config.alpha == -1.5 and pop.config.sigma_sub == 0.05
    means = _mean(np.array([-2.0, -1.5]), 0.05)
    assert means[0] > means[1]  # the steep end holds more haloes over 1e7-1e10 M_sun
    np.testing.assert_allclose(pop.largest_means["subhalos"], means.max(), rtol=1e-10)
    assert pop.capacities == {"subhalos": capacity_for_mean(float(means.max()))}
    # the reference expectation is the configured (upper-end) slope's
    np.testing.assert_allclose(pop.expected_counts["subhalos"], means[1], rtol=1e-10)


@pytest.mark.parametrize("alpha", [-2.0, -1.83, -1.5])
def test_sheet_follows_the_drawn_slope(alpha):
    """The sheet cancels Sigma_sub A int m_ren (m/m0)^alpha dm/m0: checked against quad of the
    rendered-mass ratio, and against a population built at that slope."""
    cfg = dataclasses.replace(SUB, sheet=True, alpha=-1.5)
    pop = SubhaloPopulation(cfg, alpha_range=(-2.0, -1.5))
    [(_, profiles)] = pop.plane_profiles({}, alpha=np.float64(alpha))
    kappa = float(profiles["subhalo_sheet"].kappa)
    area = math.pi * (cfg.radius * float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2

    def integrand(ln_m):
        m = math.exp(ln_m)
        return (m / 1e8) ** (alpha + 1.0) * m * float(rendered_mass_ratio(m, cfg.z_lens, 1.0, cfg.concentration_model))

    mass, _ = quad(integrand, math.log(cfg.m_min), math.log(cfg.m_max), epsabs=0.0, epsrel=1e-10, limit=200)
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(cfg.z_lens, cfg.z_source))
    expected = -cfg.sigma_sub * mass / sigma_cr  # the area cancels: mean mass per area / Sigma_cr
    np.testing.assert_allclose(kappa, expected, rtol=1e-7)  # both quadratures are ~1e-10
    ref = SubhaloPopulation(dataclasses.replace(cfg, alpha=alpha))
    np.testing.assert_allclose(kappa, ref.sheet_kappa, rtol=1e-12)
    assert area > 0.0


def test_sheet_with_slope_and_half_mode_mass_drawn():
    """alpha and m_hm drawn together: at a node of the m_hm table the sheet is a population
    built at both values (to rounding); between nodes within the table's 5e-4."""
    cfg = dataclasses.replace(SUB, sheet=True, alpha=-1.5, dark_matter="wdm", m_hm=1e10)
    pop = SubhaloPopulation(cfg, alpha_range=(-2.0, -1.5), m_hm_range=(1e7, 1e10))
    ln_nodes = pop.sheet_terms[1].ln_m_hm
    for m_hm, rtol in ((math.exp(ln_nodes[20]), 1e-10), (10 ** 8.512, 5e-4)):
        [(_, profiles)] = pop.plane_profiles({}, alpha=np.float64(-1.8), m_hm=np.float64(m_hm))
        ref = SubhaloPopulation(dataclasses.replace(cfg, alpha=-1.8, m_hm=m_hm))
        np.testing.assert_allclose(float(profiles["subhalo_sheet"].kappa), ref.sheet_kappa, rtol=rtol)


def test_sidm_with_a_drawn_slope_keeps_both_families_on_the_power_law():
    cfg = dataclasses.replace(SUB, dark_matter="sidm", f_c=0.5, p_cc=0.3, b_c=2.0, alpha=-1.5)
    pop = SubhaloPopulation(cfg, alpha_range=(-2.0, -1.5))
    total = _mean(np.array([-2.0, -1.5]), SUB.sigma_sub)
    assert pop.capacities == {"cored": capacity_for_mean(0.7 * total[0]),
                              "collapsed": capacity_for_mean(0.3 * total[0])}
    counts = np.array([np.asarray(pop.sample(seed, alpha=np.float64(-2.0))[1].n_kept) for seed in range(60)])
    # cored + collapsed at alpha = -2: Poisson(N(-2)) over 60 draws (4 standard errors)
    assert abs(counts.sum(axis=1).mean() - total[0]) < 4.0 * math.sqrt(total[0] / 60)


def test_fixed_slope_prior_is_the_configuration_without_it():
    plain = Simulator(_config(), engine="numpy")
    fixed = Simulator(_config({"subhalos": {"alpha": Fixed(-1.9)}}), engine="numpy")
    assert fixed.population_priors == {} and fixed.subhalo_population.alpha_range is None
    for seed in (1, 2):
        a, b = plain.sample(seed), fixed.sample(seed)
        assert all(np.array_equal(np.asarray(x), np.asarray(y))
                   for x, y in zip(tree_leaves(a.params), tree_leaves(b.params), strict=True))
        assert np.array_equal(np.asarray(a.data), np.asarray(b.data))


def test_numpy_engine_draws_with_the_slope_and_labels_it():
    sim = Simulator(_config(ALPHA), engine="numpy")
    ex = sim.sample(5)
    assert -2.0 <= float(ex.params.hyper["subhalos"]["alpha"]) <= -1.5
    assert np.all(np.isfinite(np.asarray(ex.data)))
    cols = [c for c, _ in parameter_columns(sim.config)]
    assert cols[-2:] == ["subhalos.sigma_sub", "subhalos.alpha"]


@pytest.mark.parametrize(
    ("priors", "kwargs", "message"),
    [
        ({"subhalos": {"alpha": (-2.0, 0.5)}}, {}, r"reaches 0.5, outside the allowed range \[-3, 0\]"),
        ({"subhalos": {"alpha": (-3.5, -1.5)}}, {}, r"reaches -3.5, outside the allowed range \[-3, 0\]"),
        ({"subhalos": {"alpha": (-2.0, -1.5)}},
         {"subhalos": dataclasses.replace(SUB, dark_matter="wdm", m_hm=1e8, wdm_sampling="direct")},
         r"alpha'\] = .*wdm_sampling = 'thinning'"),
        ({"subhalos": {"alpha": (-2.0, -1.5)}}, {"subhalos": None}, r"SimulatorConfig.subhalos is None"),
    ],
)
def test_bad_slope_priors(priors, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _config(priors, **kwargs)


def test_population_refuses_a_slope_it_was_not_built_for():
    with pytest.raises(ValueError, match="alpha_range"):
        SubhaloPopulation(SUB).sample(0, alpha=np.float64(-1.8))
    with pytest.raises(ValueError, match=r"-3 <= low <= high <= 0"):
        SubhaloPopulation(SUB, alpha_range=(-1.0, 0.5))
    with pytest.raises(ValueError, match="wdm_sampling='thinning'"):
        SubhaloPopulation(dataclasses.replace(SUB, dark_matter="wdm", m_hm=1e8, wdm_sampling="direct"),
                          alpha_range=(-2.0, -1.5))
