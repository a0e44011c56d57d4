"""model.priors: inverse CDFs, CDFs and densities against scipy.stats on both engines; the specs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from xlens.model import Fixed, LogUniform, Prior, PriorError, TruncatedNormal, Uniform

#: u from 0 to 1 - 1e-12, dense near both ends (the tails of the inverse CDFs)
U = np.concatenate([[0.0, 1e-300, 1e-15, 1e-9], np.linspace(1e-4, 1 - 1e-4, 37), [1 - 1e-9, 1 - 1e-12]])

#: each prior with its scipy.stats twin; the truncated normals cover both tails and a straddle
CASES = {
    "uniform": (Uniform(0.9, 1.4), scipy.stats.uniform(0.9, 0.5)),
    "log_uniform": (LogUniform(1e6, 1e10), scipy.stats.loguniform(1e6, 1e10)),
    "normal_straddle": (TruncatedNormal(1.1, 0.1, 0.9, 1.4), scipy.stats.truncnorm(-2.0, 3.0, 1.1, 0.1)),
    "normal_upper_tail": (TruncatedNormal(0.0, 1.0, 6.0, 9.0), scipy.stats.truncnorm(6.0, 9.0)),
    "normal_lower_tail": (TruncatedNormal(2.0, 0.5, -10.0, -1.0), scipy.stats.truncnorm(-24.0, -6.0, 2.0, 0.5)),
}
#: scipy's truncnorm works in log space, ours with erfc sums (module notes): both are accurate to
#: a few ulp of x times the condition number of the quantile, ~1e-12 relative here
RTOL = 1e-12


@pytest.mark.parametrize("name", CASES)
def test_from_unit_is_the_scipy_ppf_on_both_engines(backend, name):
    prior, ref = CASES[name]
    x = prior.from_unit(backend.asarray(U), xp=backend.xp)
    assert type(x) is type(backend.xp.asarray(U)), "the result stays in the engine of u"
    np.testing.assert_allclose(np.asarray(x), ref.ppf(U), rtol=RTOL, atol=0, err_msg=f"{name}: inverse CDF")
    lo, hi = prior.support
    assert np.all((np.asarray(x) >= lo) & (np.asarray(x) <= hi)), f"{name}: draws inside the support"


@pytest.mark.parametrize("name", CASES)
def test_to_unit_and_log_density_are_the_scipy_cdf_and_logpdf(backend, name):
    prior, ref = CASES[name]
    lo, hi = prior.support
    # away from the bounds by 1e-9 in u: scipy standardises (lo - loc) / scale, which can round past a
    x = ref.ppf(U[3:-1])
    cdf = np.asarray(prior.to_unit(backend.asarray(x), xp=backend.xp))
    # the CDF near a bound is a difference of two values of Phi: good to ~eps absolute (as scipy's)
    np.testing.assert_allclose(cdf, ref.cdf(x), rtol=1e-10, atol=5e-14, err_msg=f"{name}: CDF")
    logpdf = np.asarray(prior.log_density(backend.asarray(x), xp=backend.xp))
    np.testing.assert_allclose(logpdf, ref.logpdf(x), rtol=1e-12, atol=1e-12, err_msg=f"{name}: log density")
    ends = backend.asarray([lo, hi])
    # the CDF's constants are Python erfc/log, its values the engine's ndtr/log: a few ulp apart
    np.testing.assert_allclose(np.asarray(prior.to_unit(ends, xp=backend.xp)), [0.0, 1.0], rtol=0, atol=1e-13,
                               err_msg=f"{name}: CDF at the bounds")
    assert np.all(np.isfinite(np.asarray(prior.log_density(ends, xp=backend.xp)))), f"{name}: the support is closed"
    outside = np.asarray(prior.log_density(backend.asarray([lo - 1e-3 * (hi - lo), hi * 1.5 + 1.0]),
                                           xp=backend.xp))
    assert np.all(outside == -np.inf), f"{name}: -inf outside the support"


@pytest.mark.parametrize("name", CASES)
def test_draws_pass_a_ks_test(name):
    prior, ref = CASES[name]
    u = np.random.default_rng(11).uniform(size=4000)
    result = scipy.stats.kstest(np.asarray(prior.from_unit(u, xp=np)), ref.cdf)
    assert result.pvalue > 1e-3, (name, result)  # fixed seed: a failure is a real mismatch


def test_uniform_and_fixed_keep_the_formula_of_the_default_model():
    u = np.random.default_rng(2).uniform(size=50)
    np.testing.assert_array_equal(Uniform(-0.05, 0.05).from_unit(u, xp=np), -0.05 + (0.05 - -0.05) * u)
    fixed = Fixed(0.025).from_unit(u, xp=np)
    assert fixed.dtype == np.float64 and np.all(fixed == 0.025)


def test_truncated_normal_gradient_is_finite_on_jax():
    jax = pytest.importorskip("jax")
    prior = TruncatedNormal(1.1, 0.1, 0.9, 1.4)
    u = jax.numpy.asarray([0.1, 0.5, 0.9])
    du = jax.vmap(jax.grad(lambda v: prior.from_unit(v, xp=jax.numpy)))(u)
    x = np.asarray(prior.from_unit(u, xp=jax.numpy))
    # dx/du = 1 / pdf(x): the inverse function theorem
    np.testing.assert_allclose(np.asarray(du), 1.0 / scipy.stats.truncnorm(-2.0, 3.0, 1.1, 0.1).pdf(x), rtol=1e-10)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (2.0, Fixed(2.0)),
        (3, Fixed(3.0)),
        ((0.9, 1.4), Uniform(0.9, 1.4)),
        ([1.0, 1.0], Uniform(1.0, 1.0)),
        ({"log_uniform": [1e6, 1e10]}, LogUniform(1e6, 1e10)),
        ({"normal": (1.1, 0.1), "bounds": (0.9, 1.4)}, TruncatedNormal(1.1, 0.1, 0.9, 1.4)),
        (LogUniform(1.0, 2.0), LogUniform(1.0, 2.0)),
    ],
)
def test_specs_and_their_toml_forms_round_trip(spec, expected):
    prior = Prior.from_spec(spec)
    assert prior == expected
    assert Prior.from_spec(prior.to_toml()) == prior


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"normal": [1.1, -0.1], "bounds": [0.9, 1.4]}, ["sd must be > 0", "-0.1"]),
        ({"normal": [1.1, 0.1], "bounds": [1.4, 0.9]}, ["low < high", "[1.4, 0.9]"]),
        ({"normal": [1.1, 0.1]}, ["needs bounds"]),
        ({"normal": [0.0, 0.01], "bounds": [1.0, 2.0]}, ["within 30 sd", "100 sd"]),
        ({"log_uniform": [-1.0, 2.0]}, ["0 < low <= high", "[-1.0, 2.0]"]),
        ({"log_uniform": [0.0, 2.0]}, ["0 < low <= high"]),
        ({"log_uniform": [3.0, 2.0]}, ["0 < low <= high"]),
        ({"log_uniform": 2.0}, ["[low, high]", "2.0"]),
        ({"uniform": [1.0, 2.0]}, ["log_uniform", "normal", "{'uniform'"]),
        ([2.0, 1.0], ["low <= high", "[2.0, 1.0]"]),
        ([1.0, math.inf], ["finite", "inf"]),
        (math.nan, ["finite", "nan"]),
        (True, ["a prior must be", "True"]),
        ("two", ["a prior must be", "'two'"]),
        ([1.0, 2.0, 3.0], ["a prior must be"]),
    ],
)
def test_bad_specs_name_the_rule_and_the_value(spec, fragments):
    with pytest.raises(PriorError) as info:
        Prior.from_spec(spec)
    for fragment in fragments:
        assert fragment in info.value.reason, (fragment, info.value.reason)
    assert isinstance(info.value, ValueError)


def test_a_uniform_point_mass_has_no_density_error():
    """Uniform(a, a) (a range that collapsed to a point) behaves as Fixed(a): log density 0 at a and
    -inf elsewhere, CDF a step at a, every draw a (no division by the zero width)."""
    point = Uniform(1.5, 1.5)
    x = np.array([1.0, 1.5, 2.0])
    np.testing.assert_array_equal(point.log_density(x, xp=np), Fixed(1.5).log_density(x, xp=np))
    np.testing.assert_array_equal(point.to_unit(x, xp=np), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(point.from_unit(np.array([0.0, 0.3, 0.99]), xp=np), [1.5, 1.5, 1.5])
