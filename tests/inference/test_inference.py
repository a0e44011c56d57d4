"""Inference: the parameter space, the likelihood against its formula and the other engine,
gradients against finite differences, MAP with optax, NUTS with blackjax, a batch of 256,
and one compile per entry point.

One small simulator (24 x 24 pixels, 2 x 2 over-sampling, two subhaloes, no line of sight)
and one likelihood serve every JAX test, so the suite pays each compile once: the value,
value-and-gradient and batch programs of the likelihood and the simulator's diagnostics.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats
from helpers import count_diagnostics_traces

from xlens import engine
from xlens.errors import ParameterError
from xlens.halos import SubhaloConfig
from xlens.inference import Likelihood, ParameterSpace, likelihood
from xlens.model import LogUniform, SimulatorConfig, TruncatedNormal
from xlens.simulator import Simulator

jax = pytest.importorskip("jax")

SMALL = SimulatorConfig(
    shape_native=(24, 24),
    pixel_scale=0.2,
    sub_size=2,
    psf_shape=(5, 5),
    psf_sigma=0.15,
    exposure_time=5000.0,
    subhalos=SubhaloConfig(sigma_sub=0.05, m_min=1e9, m_max=1e10, radius=2.0),
    line_of_sight=None,
)
#: Population key whose draw holds exactly two subhaloes (slots 0 and 1).
SEED = 3
#: The injected parameters: inside every prior, away from round values (ell_comps = (0, 0) has its
#: own test; at a subhalo on the lens centre positions are degenerate).
TRUTH = {
    "lens.mass.centre_y": 0.013, "lens.mass.centre_x": -0.011, "lens.mass.ell_comps_1": 0.052,
    "lens.mass.ell_comps_2": -0.087, "lens.mass.einstein_radius": 1.173, "lens.mass.slope": 2.041,
    "lens.shear.gamma_1": 0.016, "lens.shear.gamma_2": -0.012,
    "source.light.centre_y": 0.061, "source.light.centre_x": -0.027, "source.light.ell_comps_1": 0.065,
    "source.light.ell_comps_2": -0.08, "source.light.intensity": 1.37, "source.light.effective_radius": 0.235,
    "source.light.sersic_index": 1.78,
    "subhalos.subhalos.log10_mass[0]": 9.61, "subhalos.subhalos.centre_y[0]": 0.85,
    "subhalos.subhalos.centre_x[0]": 0.55, "subhalos.subhalos.log10_mass[1]": 9.33,
    "subhalos.subhalos.centre_y[1]": -0.7, "subhalos.subhalos.centre_x[1]": -0.95,
}  # fmt: skip
BATCH = 256


def truth_params(sim: Simulator):
    """The injected SimParams: the population draw of SEED with TRUTH written over it (NumPy)."""
    drawn, _ = Simulator(sim.config, engine="numpy").sample_params(SEED)
    space = ParameterSpace(Simulator(sim.config, engine="numpy"), drawn, subhalos=True)
    return space.to_params(np.array([TRUTH[n] for n in space.names]))


def n_compiled(jitted) -> int:
    """Executables in a jitted function's cache (a private JAX method: called from here only)."""
    return jitted._cache_size()


@pytest.fixture(scope="module")
def setup():
    """JAX float64 fast-path simulator (counting traces of its diagnostics), data, likelihood."""
    sim = count_diagnostics_traces(Simulator(SMALL, engine="jax"))
    truth = truth_params(sim)
    space = ParameterSpace(sim, truth, subhalos=True)
    out = sim.diagnostics(truth, jax.random.key(1))  # compiles the simulator's one program
    like = likelihood(sim, out["data"], out["noise_map"], space)
    theta = np.array([TRUTH[n] for n in space.names])
    return sim, space, like, theta


@pytest.fixture(scope="module")
def fit(setup):
    """MAP of the macro parameters (subhaloes held at the truth) with optax Adam.

    The optimiser works in the prior's unit cube (every coordinate O(1)), projected back
    into the box after each step; the loop runs in Python around the compiled
    ``like.value_and_grad`` and a jitted optax update (neither retraces).
    """
    optax = pytest.importorskip("optax")
    sim, space, like, theta = setup
    width = space.high - space.low
    macro = np.array([not n.startswith("subhalos.") for n in space.names], dtype=np.float64)
    rng = np.random.default_rng(0)
    start = theta + macro * rng.uniform(-0.1, 0.1, space.size) * width  # 10% of each prior width
    steps = 300
    opt = optax.adam(optax.exponential_decay(1e-2, steps, 1e-2))

    @jax.jit
    def update(grad, state, u):
        updates, state = opt.update(-grad * width * macro, state)  # minimise -log L; subhaloes fixed
        return optax.projections.projection_box(optax.apply_updates(u, updates), 0.0, 1.0), state

    u = jax.numpy.asarray(space.to_unit_cube(start))
    state = opt.init(u)
    for _ in range(steps):
        _, grad = like.value_and_grad(space.from_unit_cube(u))
        u, state = update(grad, state, u)
    return start, np.asarray(space.from_unit_cube(u)), macro.astype(bool)


# ---------------------------------------------------------------- the parameter space (NumPy)


def test_parameter_space_round_trip_units_and_priors():
    sim = Simulator(SMALL, engine="numpy")
    truth = truth_params(sim)
    space = ParameterSpace(sim, truth, subhalos=True)
    assert space.size == 21 and space.names[:2] == ("lens.mass.centre_y", "lens.mass.centre_x")
    assert space.names[15:18] == ("subhalos.subhalos.log10_mass[0]", "subhalos.subhalos.centre_y[0]",
                                  "subhalos.subhalos.centre_x[0]")
    assert space.units[4] == "arcsec" and space.units[15] == "log10 M_sun" and space.units[12] == "e-/s"
    np.testing.assert_array_equal(space.bounds[4], [0.9, 1.4], err_msg="lens.mass.einstein_radius prior")
    np.testing.assert_allclose(space.bounds[15], [9.0, 10.0], rtol=1e-15, err_msg="log10 of m_min, m_max")
    theta = np.array([TRUTH[n] for n in space.names])
    # to_params then to_vector is the identity (exactly but for 10**log10 of the masses)
    np.testing.assert_allclose(space.to_vector(space.to_params(theta)), theta, rtol=1e-15, atol=0,
                               err_msg="vector -> params -> vector")
    params = space.to_params(theta)
    np.testing.assert_allclose(params.subhalos["subhalos"].profile.mass_at_200[:2], 10 ** theta[[15, 18]],
                               rtol=1e-15, err_msg="log10 M200c -> M200c")
    np.testing.assert_array_equal(params.galaxies["lens"]["mass"]["centre"], [0.013, -0.011],
                                  err_msg="(y, x) order of the centre")
    np.testing.assert_array_equal(params.subhalos["subhalos"].profile.mass_at_200[2:],
                                  truth.subhalos["subhalos"].profile.mass_at_200[2:], err_msg="padded slots kept")
    # fixed priors stay fixed at the reference; the unit cube maps onto the box
    assert "source.light.radius_break" not in space.names and float(params.value("source.light.radius_break")) == 0.025
    np.testing.assert_allclose(space.from_unit_cube(space.to_unit_cube(theta)), theta, rtol=1e-14,
                               err_msg="unit-cube round trip")
    np.testing.assert_array_equal(space.from_unit_cube(np.zeros(space.size)), space.low, err_msg="u = 0 is low")
    assert space.log_prior(theta) == pytest.approx(-np.sum(np.log(space.high - space.low)), rel=1e-15)
    assert space.log_prior(np.where(np.arange(space.size) == 4, 1.5, theta)) == -np.inf
    draws = space.sample(np.random.default_rng(0), (100,))
    assert draws.shape == (100, 21) and bool(np.all(space.contains(draws)))
    # without a reference: the prior midpoints and no halo (a smooth lens)
    smooth = ParameterSpace(sim)
    assert smooth.size == 15 and float(smooth.reference.value("lens.mass.einstein_radius")) == 1.15
    np.testing.assert_array_equal(smooth.to_vector(smooth.reference), 0.5 * (smooth.low + smooth.high),
                                  err_msg="the default reference is the prior midpoint")
    assert float(np.sum(smooth.reference.subhalos["subhalos"].mask)) == 0.0


def test_parameter_space_uses_each_prior_density_and_inverse_cdf():
    model = SMALL.model.to_dict()
    model["lens"]["mass"]["einstein_radius"] = TruncatedNormal(1.1, 0.1, 0.9, 1.4)
    model["source"]["light"]["intensity"] = LogUniform(0.3, 3.0)
    sim = Simulator(dataclasses.replace(SMALL, model=model), engine="numpy")
    space = ParameterSpace(sim)
    i, j = space.index("lens.mass.einstein_radius"), space.index("source.light.intensity")
    np.testing.assert_array_equal(space.bounds[[i, j]], [[0.9, 1.4], [0.3, 3.0]], err_msg="the supports")
    refs = {i: scipy.stats.truncnorm(-2.0, 3.0, 1.1, 0.1), j: scipy.stats.loguniform(0.3, 3.0)}
    u = np.random.default_rng(5).uniform(size=(20, space.size))
    theta = space.from_unit_cube(u)
    for k in range(space.size):
        expected = refs[k].ppf(u[:, k]) if k in refs else space.low[k] + (space.high[k] - space.low[k]) * u[:, k]
        np.testing.assert_allclose(theta[:, k], expected, rtol=1e-12, atol=0, err_msg=space.names[k])
    np.testing.assert_allclose(space.to_unit_cube(theta), u, rtol=1e-9, atol=1e-14, err_msg="CDF o inverse CDF")
    uniform = [k for k in range(space.size) if k not in refs]
    expected = (refs[i].logpdf(theta[:, i]) + refs[j].logpdf(theta[:, j])
                - np.sum(np.log(space.high[uniform] - space.low[uniform])))
    np.testing.assert_allclose(space.log_prior(theta), expected, rtol=1e-13, err_msg="sum of the log densities")
    assert space.log_prior(np.where(np.arange(space.size) == j, 3.5, theta[0])) == -np.inf
    assert bool(np.all(space.contains(space.sample(np.random.default_rng(1), (50,)))))


def test_parameter_space_errors_name_the_parameter():
    sim = Simulator(SMALL, engine="numpy")
    truth = truth_params(sim)
    with pytest.raises(ValueError, match="unknown parameter 'lens.theta_e'"):
        ParameterSpace(sim, truth, free=["lens.theta_e"])
    with pytest.raises(ValueError, match=r"source.light.alpha has the fixed prior 2.0"):
        ParameterSpace(sim, truth, free=["source.light.alpha"])
    galaxies = {**truth.galaxies, "lens": {**truth.galaxies["lens"], "mass": {
        **truth.galaxies["lens"]["mass"], "einstein_radius": np.asarray(1.6)}}}
    bad = dataclasses.replace(truth, galaxies=galaxies)
    with pytest.raises(ParameterError,
                       match=r"lens.mass.einstein_radius must be in \[0.9, 1.4\] \[arcsec\]; got 1.6") as e:
        ParameterSpace(sim, bad)
    assert (e.value.name, e.value.value, e.value.low, e.value.high) == (
        "ParameterSpace.reference.lens.mass.einstein_radius", 1.6, 0.9, 1.4)
    space = ParameterSpace(sim, truth, free=["lens.mass.einstein_radius", "source.light.intensity"])
    assert space.names == ("lens.mass.einstein_radius", "source.light.intensity")
    with pytest.raises(ValueError, match=r"theta must have shape \(2,\)"):
        space.to_params(np.zeros(3))


# ------------------------------------------------------------- the likelihood (NumPy engine)


def test_log_likelihood_is_the_gaussian_formula_and_the_engines_agree(setup):
    sim_jax, _, like_jax, theta = setup
    sim = Simulator(SMALL, engine="numpy")
    space = ParameterSpace(sim, truth_params(sim), subhalos=True)
    data, noise = np.asarray(like_jax.data), np.asarray(like_jax.noise_map)
    mask = np.zeros(SMALL.shape_native, dtype=bool)
    mask[2:-3, 4:] = True
    like = likelihood(sim, data, noise, space, mask=mask)
    point = theta + 0.01 * (space.high - space.low)  # not the truth: residuals are not just noise
    model = np.asarray(sim.model_image(space.to_params(point)))
    r, s = ((data - model) / noise)[mask], noise[mask]
    expected = -0.5 * np.sum(r**2) - np.sum(np.log(s)) - 0.5 * mask.sum() * np.log(2 * np.pi)
    assert float(like(point)) == pytest.approx(expected, rel=1e-13), "log L is the normalised Gaussian"
    # NumPy vs JAX, unmasked: the same pipeline on both engines (float64, reordered sums only)
    full = Likelihood(sim, data, noise, space)
    assert float(full(point)) == pytest.approx(float(like_jax(point)), rel=1e-11)
    with pytest.raises(NotImplementedError, match="gradients need engine='jax'"):
        full.value_and_grad(point)
    # with_data reuses the programs with another image
    other = full.with_data(data + 0.01, noise)
    assert float(other(point)) != float(full(point)) and other.log_normalisation == full.log_normalisation


def test_likelihood_rejects_bad_noise_maps_and_shapes():
    sim = Simulator(SMALL, engine="numpy")
    space = ParameterSpace(sim, truth_params(sim))
    data, noise = np.zeros(SMALL.shape_native), np.full(SMALL.shape_native, 0.1)
    bad = noise.copy()
    bad[3, 4] = 0.0
    with pytest.raises(ParameterError, match=r"Likelihood.noise_map must be in \(0, inf\) \[e-/s\]; got 0.0"):
        Likelihood(sim, data, bad, space)
    with pytest.raises(ValueError, match=r"Likelihood.data must have shape \(24, 24\)"):
        Likelihood(sim, np.zeros((24, 25)), noise, space)
    with pytest.raises(ValueError, match=r"theta must have shape \(15,\)"):
        Likelihood(sim, data, noise, space)(np.zeros((2, 15)))


# -------------------------------------------------------------------------- JAX: gradients


@pytest.mark.jax
def test_gradients_match_finite_differences_for_every_parameter(setup):
    """d log L / d theta by reverse mode = central differences, 1e-6 relative, all 21 parameters.

    Macro lens, shear, source, and the log10 masses and positions of both subhaloes, on the
    float64 fast path. The differences are the fourth-order central stencil with steps of
    1e-4 of each prior width (truncation ~h^4, roundoff ~eps |log L| / h: both < 1e-9
    relative here), evaluated in one call of the batch program.
    """
    _, space, like, theta = setup
    point = theta + 0.013 * (space.high - space.low)  # a generic point, not the truth
    value, grad = like.value_and_grad(point)
    grad = np.asarray(grad)
    assert grad.shape == (21,) and np.all(np.isfinite(grad)) and np.all(grad != 0)
    h = 1e-4 * (space.high - space.low)
    stencil = np.array([-2.0, -1.0, 1.0, 2.0])
    points = point + (stencil[None, :, None] * np.diag(h)[:, None, :]).reshape(-1, space.size)
    points = np.concatenate([points, np.repeat(point[None], BATCH - len(points), axis=0)])
    values = np.asarray(like.batch(points))
    f = values[: 4 * space.size].reshape(space.size, 4)
    fd = (f[:, 0] - 8 * f[:, 1] + 8 * f[:, 2] - f[:, 3]) / (12 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=0, err_msg=str(space.names))
    assert float(value) == pytest.approx(values[-1], rel=1e-12), "batch and single programs agree"


@pytest.mark.jax
def test_gradient_at_round_lens_and_source_matches_finite_differences(setup):
    """At ell_comps = (0, 0) of the lens (an SIE: slope 2) and the source, the prior midpoint and
    an optimiser's natural start, d log L / d ell_comps is the derivative of the image (it was
    exactly 0 through q and phi), within 1e-6 of the fourth-order central differences."""
    _, space, like, theta = setup
    point = theta.copy()
    names = ["lens.mass.ell_comps_1", "lens.mass.ell_comps_2", "source.light.ell_comps_1", "source.light.ell_comps_2"]
    idx = [space.index(n) for n in names]
    point[idx] = 0.0
    point[space.index("lens.mass.slope")] = 2.0
    _, grad = like.value_and_grad(point)
    grad = np.asarray(grad)[idx]
    h = 1e-4 * (space.high - space.low)[idx]
    stencil = np.array([-2.0, -1.0, 1.0, 2.0])
    points = np.repeat(point[None], BATCH, axis=0)
    for k, (i, hk) in enumerate(zip(idx, h, strict=True)):
        points[4 * k: 4 * k + 4, i] += stencil * hk
    f = np.asarray(like.batch(points))[:16].reshape(4, 4)
    fd = (f[:, 0] - 8 * f[:, 1] + 8 * f[:, 2] - f[:, 3]) / (12 * h)
    assert np.all(np.abs(fd) > 1.0), fd  # real derivatives
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=0, err_msg=str(names))


@pytest.mark.jax
def test_batch_of_256_parameter_vectors_in_one_call(setup):
    _, space, like, _ = setup
    thetas = space.sample(jax.random.key(7), (BATCH,))  # prior draws, as a nested sampler makes them
    values = np.asarray(like.batch(thetas))
    assert values.shape == (BATCH,) and np.all(np.isfinite(values))
    for i in (0, 101, 255):
        assert values[i] == pytest.approx(float(like(thetas[i])), rel=1e-12), f"batch entry {i}"
    assert like.traces["batch_log_likelihood"] == 1, "one batch size, one compile"


# -------------------------------------------------------------------------- JAX: MAP, NUTS


@pytest.mark.jax
def test_map_with_optax_recovers_the_injected_macro_parameters(setup, fit):
    """The MAP lies within 5 sigma of the truth in every macro parameter, sigma from the
    curvature at the MAP (finite differences of the AD gradient), and fits the data at
    least as well as the truth does."""
    _, space, like, theta = setup
    start, best, macro = fit
    assert float(like(best)) > float(like(theta)) > float(like(start)) + 1000
    idx = np.flatnonzero(macro)
    h = 1e-4 * (space.high - space.low)
    hessian = np.array([
        (np.asarray(like.value_and_grad(best + h[j] * np.eye(space.size)[j])[1])
         - np.asarray(like.value_and_grad(best - h[j] * np.eye(space.size)[j])[1])) / (2 * h[j])
        for j in idx
    ])[:, idx]
    cov = np.linalg.inv(-0.5 * (hessian + hessian.T))
    sigma = np.sqrt(np.diag(cov))
    assert np.all(np.isfinite(sigma)), "the MAP is a maximum: the macro Hessian is negative definite"
    pull = (best[idx] - theta[idx]) / sigma
    names = np.array(space.names)[idx]
    assert np.all(np.abs(pull) < 5), dict(zip(names, np.round(pull, 2), strict=True))
    start_pull = np.abs(start[idx] - theta[idx]) / sigma
    assert np.max(start_pull) > 10, "the fit started far from the truth"


@pytest.mark.jax
def test_nuts_posterior_contains_the_truth():
    """blackjax NUTS (window adaptation, then 300 draws) on a two-parameter model."""
    blackjax = pytest.importorskip("blackjax")
    cfg = SimulatorConfig(shape_native=(20, 20), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1,
                          subhalos=None, line_of_sight=None)
    free = ["lens.mass.einstein_radius", "source.light.intensity"]
    truth_theta = np.array([1.137, 1.21])
    sim_np = Simulator(cfg, engine="numpy")
    truth = ParameterSpace(sim_np, sim_np.sample_params(1)[0], free=free).to_params(truth_theta)
    data = sim_np(truth, 2)  # NumPy: nothing compiles
    noise = np.sqrt((sim_np.model_image(truth) + cfg.background_sky_level) * cfg.exposure_time) / cfg.exposure_time
    sim = Simulator(cfg, engine="jax")
    like = likelihood(sim, data, noise, ParameterSpace(sim, truth, free=free))

    @jax.jit
    def run(key, init):
        k_warm, k_draw = jax.random.split(key)
        warmup = blackjax.window_adaptation(blackjax.nuts, like.log_posterior)
        (state, tuned), _ = warmup.run(k_warm, init, num_steps=200)
        step = blackjax.nuts(like.log_posterior, **tuned).step

        def draw(state, k):
            state, info = step(k, state)
            return state, (state.position, info.is_divergent)

        return jax.lax.scan(draw, state, jax.random.split(k_draw, 300))[1]

    with engine.float64_scope():  # as docs/inference.md (a no-op here: conftest turns float64 on)
        samples, divergent = run(jax.random.key(0), like.space.from_unit_cube(np.array([0.3, 0.7])))
    samples = np.asarray(samples)
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    assert int(np.sum(divergent)) == 0
    assert np.all(std > 0) and np.all(std < 0.1 * (like.space.high - like.space.low))
    assert np.all(np.abs(mean - truth_theta) < 4 * std), f"mean {mean}, std {std}, truth {truth_theta}"


# ---------------------------------------------------------------------- JAX: no recompiles


@pytest.mark.jax
def test_fit_evaluate_and_plot_compile_each_program_once(setup, fit):
    """After the optax fit, new parameters as Python floats, NumPy arrays (float64 and
    float32) and JAX arrays (float64 and float32) reuse the compiled likelihood; diagnostics
    for a plot reuse the simulator's one program (compiled when the data were simulated)."""
    sim, space, like, theta = setup
    _, best, _ = fit
    jnp = jax.numpy
    inputs = [
        [float(v) for v in best],
        np.asarray(best),
        np.asarray(best, dtype=np.float32),
        jnp.asarray(best),
        jnp.asarray(best, dtype=jnp.float32),
        tuple(theta.tolist()),
    ]
    values = [float(like(x)) for x in inputs]
    assert values[0] == values[1] == values[3], "float64 inputs give the same number"
    assert values[2] == pytest.approx(values[0], rel=1e-6), "float32 inputs are rounded, then cast to float64"
    for x in inputs:
        like.value_and_grad(x)
    like.diagnostics(best)
    d = sim.diagnostics(like.params(inputs[4]))
    assert d["model_image"].shape == SMALL.shape_native
    assert like.traces["value_log_likelihood"] == 1
    assert like.traces["value_and_grad_log_likelihood"] == 1
    assert like.traces["params"] == 1
    assert len(sim.traces) <= 1, f"diagnostics traced {len(sim.traces)} times"
    assert n_compiled(like._program("value")) == 1 and n_compiled(like._program("value_and_grad")) == 1
    assert n_compiled(sim._jit_cache["full"]) == 1
