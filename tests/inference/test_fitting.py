"""fit_map (multi-start Adam) and laplace (the Gaussian approximation at a mode).

On a linear-Gaussian toy problem the Laplace approximation *is* the posterior, so its
covariance must equal the analytic one; on a small smooth lens with known truth, the MAP of
several starts must agree and lie within 3 Laplace sigma of the truth.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlens.inference import LaplaceResult, ParameterSpace, fit_map, laplace, likelihood
from xlens.model import SimulatorConfig
from xlens.simulator import Simulator

jax = pytest.importorskip("jax")
jnp = jax.numpy

#: y = A theta + noise (sigma), prior N(0, prior_sd^2): posterior precision A^T A / sigma^2 + I / prior_sd^2
A = np.array([[1.0, 0.5, 0.0], [0.2, 2.0, -0.4], [1.5, -0.3, 0.7], [0.0, 0.4, 1.1]])
SIGMA, PRIOR_SD = 0.1, 2.0


def _toy():
    y = A @ np.array([0.3, -0.7, 0.2]) + SIGMA * np.random.default_rng(0).normal(size=A.shape[0])

    def log_density(t):
        r = (jnp.asarray(y) - jnp.asarray(A) @ t) / SIGMA
        return -0.5 * jnp.sum(r * r) - 0.5 * jnp.sum(t * t) / PRIOR_SD**2

    precision = A.T @ A / SIGMA**2 + np.eye(3) / PRIOR_SD**2
    return log_density, np.linalg.solve(precision, A.T @ y / SIGMA**2), precision


def test_laplace_is_the_analytic_posterior_of_a_linear_gaussian_model():
    log_density, mean, precision = _toy()
    res = laplace(log_density, mean)
    assert isinstance(res, LaplaceResult)
    np.testing.assert_allclose(res.hessian, -precision, rtol=1e-12, atol=0)
    np.testing.assert_allclose(res.covariance, np.linalg.inv(precision), rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(res.std, np.sqrt(np.diag(np.linalg.inv(precision))), rtol=1e-10)
    eig = np.linalg.eigvalsh(precision)
    assert res.condition_number == pytest.approx(eig[-1] / eig[0], rel=1e-10)
    np.testing.assert_array_equal(res.mean, mean)


def test_laplace_refuses_a_point_that_is_not_a_maximum():
    with pytest.raises(ValueError, match=r"not positive definite.*smallest eigenvalue -2.*parameter 1"):
        laplace(lambda t: -t[0] ** 2 + t[1] ** 2, np.zeros(2))
    with pytest.raises(ValueError, match=r"theta must have shape \(n,\)"):
        laplace(lambda t: -jnp.sum(t * t), np.zeros((2, 2)))


@pytest.fixture(scope="module")
def smooth():
    """A 20 x 20 smooth lens (no haloes), four free parameters, data from a known truth."""
    cfg = SimulatorConfig(shape_native=(20, 20), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1,
                          exposure_time=2000.0, subhalos=None, line_of_sight=None)
    free = ["lens.mass.ell_comps_1", "lens.mass.einstein_radius", "source.light.intensity",
            "source.light.effective_radius"]
    sim_np = Simulator(cfg, engine="numpy")
    reference = sim_np.sample_params(4)[0]
    truth_theta = np.array([0.061, 1.137, 1.21, 0.27])
    truth = ParameterSpace(sim_np, reference, free=free).to_params(truth_theta)
    data = sim_np(truth, 5)
    noise = np.sqrt((np.asarray(sim_np.model_image(truth)) + cfg.background_sky_level) / cfg.exposure_time)
    sim = Simulator(cfg, engine="jax")
    space = ParameterSpace(sim, reference, free=free)
    return likelihood(sim, data, noise, space), truth_theta


@pytest.mark.jax
def test_fit_map_from_several_starts_and_laplace_at_the_mode(smooth):
    like, truth = smooth
    space = like.space
    starts = space.sample(np.random.default_rng(3), (4,))
    res = fit_map(like, starts, steps=250, learning_rate=2e-2)
    assert res.theta.shape == (4, 4) and res.trace.shape == (250, 4)
    # every start improved a lot and they reach the same mode (to a small fraction of its width)
    assert np.all(res.trace[-1] > res.trace[0] + 100.0)
    lap = laplace(like, res.best)
    spread = np.max(np.abs(res.theta - res.best), axis=0) / lap.std
    assert np.all(spread < 0.1), spread
    pull = (res.best - truth) / lap.std
    assert np.all(np.abs(pull) < 3.0), dict(zip(space.names, np.round(pull, 2), strict=True))
    # the Hessian against central differences of the compiled gradient (steps 1e-5 of the width)
    h = 1e-5 * (space.high - space.low)
    eye = np.eye(space.size)
    fd = np.array([(np.asarray(like.value_and_grad(res.best + h[j] * eye[j], posterior=True)[1])
                    - np.asarray(like.value_and_grad(res.best - h[j] * eye[j], posterior=True)[1])) / (2 * h[j])
                   for j in range(space.size)])
    np.testing.assert_allclose(lap.hessian, fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(fd)))
    assert 1.0 <= lap.condition_number < 1e8


def test_laplace_by_hessian_columns_matches_all_at_once(smooth):
    """Column by column (``chunk=1``: Hessian-vector products under ``lax.map``) is the same
    Hessian as ``jacfwd`` of the gradient, to rounding (both are forward-over-reverse in
    float64, summed in a different order). Chunks that leave padding are covered in
    tests/engine/test_transforms.py; fit_map's ``hessian_chunk`` by the costs smoke test."""
    like, truth = smooth
    whole = laplace(like, truth)
    cols = laplace(like, truth, chunk=1)
    np.testing.assert_allclose(cols.hessian, whole.hessian, rtol=1e-10, atol=1e-12 * np.max(np.abs(whole.hessian)),
                               err_msg="chunk=1: only the order of float64 sums differs")
    with pytest.raises(ValueError, match=r"laplace: chunk must be None or an integer >= 1; got 0 \(Hessian columns "
                                         r"at a time\)"):
        laplace(like, truth, chunk=0)
    with pytest.raises(ValueError, match=r"fit_map: hessian_chunk must be None or an integer >= 1"):
        fit_map(like, truth[None], hessian_chunk=2.5)


def test_fit_map_errors_name_the_argument(smooth):
    like, truth = smooth
    with pytest.raises(ValueError, match=r"starts must have shape \(S, 4\)"):
        fit_map(like, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"start 1 lies outside the prior box"):
        fit_map(like, np.stack([truth, truth + 100.0]))
    with pytest.raises(ValueError, match=r"steps must be a positive integer; got 0"):
        fit_map(like, truth[None], steps=0)
    with pytest.raises(ValueError, match=r"newton_steps must be an integer >= 0; got -1"):
        fit_map(like, truth[None], newton_steps=-1)
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0; got -1"):
        fit_map(like, truth[None], learning_rate=-1.0)
    sim_np = Simulator(like.sim.config, engine="numpy")
    numpy_like = likelihood(sim_np, np.asarray(like.data), np.asarray(like.noise_map),
                            ParameterSpace(sim_np, free=list(like.space.names)))
    with pytest.raises(NotImplementedError, match="engine='jax'"):
        fit_map(numpy_like, truth[None])
    with pytest.raises(NotImplementedError, match="engine='jax'"):
        laplace(numpy_like, truth)


def test_newton_step_climbs_where_the_hessian_is_not_negative_definite():
    """_saddle_free_step is the Newton step where -H is positive definite, and goes uphill
    (positive along the gradient, and along it in each eigen-direction) at a saddle, where
    the plain Newton step (-H)^-1 g would go downhill along the negative-curvature direction."""
    from xlens.inference.fitting import _saddle_free_step

    precision = np.array([[4.0, 1.0], [1.0, 3.0]])
    grad = np.array([0.5, -1.0])
    np.testing.assert_allclose(_saddle_free_step(precision, grad), np.linalg.solve(precision, grad), rtol=1e-12)
    saddle = np.array([[2.0, 0.0], [0.0, -0.5]])  # log density curves up along parameter 1
    grad = np.array([1.0, 1.0])
    step = _saddle_free_step(saddle, grad)
    np.testing.assert_allclose(step, [0.5, 2.0], rtol=1e-12)  # plain Newton: [0.5, -2.0], downhill in 1
    assert step @ grad > 0
