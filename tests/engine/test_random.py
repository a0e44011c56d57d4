"""engine.random: keys on both engines."""

from __future__ import annotations

import numpy as np
import pytest

from xlens import engine


def test_numpy_keys_are_reproducible_and_split():
    ops = engine.random_ops(7)
    np.testing.assert_array_equal(ops.uniform(7, 4), engine.random_ops(7).uniform(7, 4))
    k1, k2 = engine.split_key(7, 2)
    assert not np.array_equal(ops.uniform(k1, 4), ops.uniform(k2, 4))
    assert engine.default_key("numpy", 3) == 3


def test_key_engine_names_the_engine_or_refuses():
    assert engine.key_engine(np.array([1, 2])) == "numpy"
    assert engine.key_engine(np.random.SeedSequence(1)) == "numpy"
    with pytest.raises(TypeError, match="a key must be a JAX key"):
        engine.key_engine(1.5)
    with pytest.raises(TypeError, match="must hold non-negative integers"):
        engine.numpy_generator(-1)
    jax = pytest.importorskip("jax")
    assert engine.key_engine(jax.random.key(0)) == "jax"
    assert engine.key_engine(engine.default_key("jax", 0)) == "jax"


@pytest.mark.parametrize("eng", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_index_keys_do_not_depend_on_the_batch(eng):
    if eng == "jax":
        pytest.importorskip("jax")
    both = engine.index_keys(5, [3, 4], eng)
    one = engine.index_keys(5, [4], eng)
    ops = engine.random_ops(one[0])
    np.testing.assert_array_equal(np.asarray(ops.uniform(both[1], 3)), np.asarray(ops.uniform(one[0], 3)))
    assert not np.array_equal(np.asarray(ops.uniform(both[0], 3)), np.asarray(ops.uniform(both[1], 3)))
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\*\*32\)"):
        engine.index_keys(5, [-1], eng)


def test_jax_uniform_is_float64_inside_the_scope():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(False), engine.float64_scope():
        u = engine.random_ops(jax.random.key(0)).uniform(jax.random.key(0), (3,))
        assert u.dtype == np.float64


@pytest.mark.jax
@pytest.mark.parametrize("lam", [0.3, 2.5, 9.99, 10.0, 15.0, 120.0, 3000.0, 9.9e4])
def test_jax_poisson_matches_the_poisson_pmf(lam):
    """The one-loop JAX sampler (product method below 10, transformed rejection above)
    against the Poisson pmf: a chi-square test on bins holding >= 1e-4 of the mass at each
    end, 2e5 draws. A correct sampler fails with probability 1e-4 (the threshold); a
    constant of PTRS off by 1% or an off-by-one in the product method gives p ~ 0."""
    jax = pytest.importorskip("jax")
    stats = pytest.importorskip("scipy.stats")
    n = 200_000
    with engine.float64_scope():
        ops = engine.random_ops(jax.random.key(0))
        x = np.asarray(jax.jit(ops.poisson)(jax.random.key(11), jax.numpy.full((n,), lam)))
    assert np.all(x == np.round(x)) and x.min() >= 0
    lo, hi = int(stats.poisson.ppf(1e-4, lam)), int(stats.poisson.isf(1e-4, lam))
    cuts = np.unique(np.linspace(lo, hi + 1, min(60, hi - lo + 2)).astype(int))[1:-1]
    observed = np.histogram(x, bins=np.concatenate([[-np.inf], cuts - 0.5, [np.inf]]))[0]
    p = np.diff(np.concatenate([[0.0], stats.poisson.cdf(cuts - 1, lam), [1.0]]))
    chi2 = np.sum((observed - n * p) ** 2 / (n * p))
    assert stats.chi2.sf(chi2, p.size - 1) > 1e-4
    # mean within 5 standard errors
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / n)


@pytest.mark.jax
def test_jax_poisson_edge_means():
    """Mean 0 gives 0, NaN gives NaN (not a count), and a mix of means across the
    methods' boundary (10) and the normal approximation's (1e5) comes out in one call."""
    jax = pytest.importorskip("jax")
    with engine.float64_scope():
        ops = engine.random_ops(jax.random.key(0))
        lam = jax.numpy.asarray([0.0, np.nan, 9.5, 10.5, 2e5, 0.0])
        x = np.asarray(ops.poisson(jax.random.key(3), lam))
    assert x[0] == 0.0 and x[5] == 0.0 and np.isnan(x[1])
    assert np.all(np.isfinite(x[2:5])) and np.all(x[2:5] == np.round(x[2:5]))
    assert abs(x[4] - 2e5) < 6 * np.sqrt(2e5)
