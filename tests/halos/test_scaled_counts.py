"""Populations drawn at a per-image normalisation (sigma_sub, delta_los; issue 14).

``sample(key, sigma_sub=...)`` / ``sample(key, delta_los=...)`` scale the mean counts and
draw them from a traced Poisson CDF (``poisson_cdf_traced``); ``plane_profiles`` scales the
sheets. The references here are scipy's Poisson CDF and populations rebuilt at the value.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats

from xlens.halos import LineOfSightConfig, LineOfSightPopulation, SubhaloConfig, SubhaloPopulation
from xlens.halos.sampling import poisson_cdf_traced, scale_to_reference

SUB = SubhaloConfig(sigma_sub=0.05, m_min=1e8, m_max=1e10, radius=2.0, sheet=True)
LOS = LineOfSightConfig(n_planes=3, m_min=1e8, m_max=1e10, delta_los=2.0)


def test_traced_poisson_cdf_matches_scipy_and_a_zero_mean_gives_no_haloes():
    means = np.array([0.0, 1e-3, 0.7, 21.0, 246.0, 900.0])
    cdf = poisson_cdf_traced(means, 1100, xp=np)
    want = scipy.stats.poisson.cdf(np.arange(1100)[None, :], means[:, None])
    assert np.all(np.isfinite(cdf))
    # a cumulative sum of ~1000 terms: rounding ~1e3 eps
    np.testing.assert_allclose(cdf, want, rtol=0, atol=1e-12, err_msg="Poisson CDF k log(lam) - lam - lgamma(k+1)")
    assert np.all(cdf[0] == 1.0)  # lam = 0: every uniform gives k = 0


def test_traced_poisson_cdf_has_finite_gradients_at_zero_mean():
    jax = pytest.importorskip("jax")
    from xlens.engine import float64_scope

    with float64_scope():
        g = jax.grad(lambda lam: poisson_cdf_traced(jax.numpy.stack([lam]), 50, xp=jax.numpy)[0, 3])(0.0)
    assert np.isfinite(float(g))


def test_scaled_subhalo_draws_at_the_configured_value_equal_the_static_tables():
    pop = SubhaloPopulation(SUB)
    for seed in range(10):
        static, info_s = pop.sample(seed)
        traced, info_t = pop.sample(seed, sigma_sub=np.float64(SUB.sigma_sub))
        np.testing.assert_array_equal(info_s.n_drawn, info_t.n_drawn)
        np.testing.assert_array_equal(static["subhalos"].mask, traced["subhalos"].mask)
    _, info0 = pop.sample(0, sigma_sub=np.float64(0.0))
    assert int(info0.n_drawn[0]) == 0


def test_a_population_built_at_zero_draws_nothing_whatever_the_value():
    pop = SubhaloPopulation(dataclasses.replace(SUB, sigma_sub=0.0))
    _, info = pop.sample(1, sigma_sub=np.float64(0.1))
    assert int(info.n_drawn[0]) == 0
    assert float(scale_to_reference(np.float64(0.1), 0.0, np)) == 0.0


@pytest.mark.parametrize("value", [0.0, 0.013, 0.05])
def test_subhalo_sheet_scales_like_a_population_built_at_the_value(value):
    pop = SubhaloPopulation(SUB)
    batches, _ = pop.sample(0)
    [(_, profiles)] = pop.plane_profiles(batches, sigma_sub=np.float64(value))
    rebuilt = SubhaloPopulation(dataclasses.replace(SUB, sigma_sub=value)).sheet_kappa
    np.testing.assert_allclose(float(profiles["subhalo_sheet"].kappa), rebuilt, rtol=1e-12, atol=1e-18,
                               err_msg="the sheet is linear in sigma_sub (rebuilt population as reference)")


@pytest.mark.parametrize("value", [0.0, 0.5, 1.3])
def test_line_of_sight_sheets_and_means_scale_like_a_population_built_at_the_value(value):
    pop = LineOfSightPopulation(LOS)
    batch, _ = pop.sample(0)
    planes = pop.plane_profiles(batch, delta_los=np.float64(value))
    rebuilt = LineOfSightPopulation(dataclasses.replace(LOS, delta_los=value))
    got = np.array([float(p["los_sheet"].kappa) for _, p in planes])
    np.testing.assert_allclose(got, rebuilt.sheet_kappa, rtol=1e-12, atol=1e-18,
                               err_msg="the sheets are linear in delta_los")
    np.testing.assert_allclose(pop.expected_counts * value / LOS.delta_los, rebuilt.expected_counts,
                               rtol=1e-12, atol=1e-12, err_msg="the means are linear in delta_los")


def test_a_normalisation_must_be_a_scalar():
    pop = SubhaloPopulation(SUB)
    with pytest.raises(ValueError, match="scalar"):
        pop.sample(0, sigma_sub=np.array([0.01, 0.02]))
