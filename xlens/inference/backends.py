"""Posterior samplers on the likelihood: Pathfinder, NUTS, variational inference, nested sampling.

Why here: the promise of one compiled, differentiable forward model is that every
inference method runs on it unchanged. Each function below is a short recipe around a
well-kept library (blackjax, numpyro, dynesty; ``pip install "xlens[infer]"``), never a
hand-written sampler, and each takes the same two things: the log-likelihood and the
prior transform (``space.from_unit_cube``, the inverse CDFs of the priors).

* :func:`pathfinder` -- blackjax's Pathfinder (L-BFGS path, best Gaussian by ELBO).
* :func:`nuts_numpyro` -- numpyro's NUTS (window adaptation; diagonal or dense mass
  matrix, optionally started from a Laplace covariance).
* :func:`variational` -- numpyro SVI with an ``AutoMultivariateNormal`` (or
  ``AutoNormal``) guide, Adam with a decaying step.
* :func:`nested` -- dynesty's static nested sampling: samples *and* the evidence ln Z;
  optionally from a Student-t around a Laplace Gaussian (posterior repartitioning), which
  leaves both unchanged and cuts the run by the information the prior boxes add.
* :func:`gaussian_elbo` -- the ELBO of any Gaussian approximation (Laplace's,
  Pathfinder's, a variational fit): a lower bound on ln Z that ranks them by KL(q || p).

The gradient-based three work in the unconstrained coordinates ``z = logit(u)`` of the
prior's unit cube ``u`` (:func:`to_unconstrained`): the prior transform carries the
prior, so the density of ``z`` is ``log L(T(sigmoid(z))) + sum(log sigmoid'(z))`` with no
box and no prior term (the inverse CDF pushes the uniform cube onto the prior), and no
step leaves the prior's support. A posterior within a few sds of a prior edge is skewed in
``z``, though: towards the edge ``u ~ e^z`` and the density falls only like ``e^z`` (a long
flat tail), inwards the likelihood's Gaussian becomes a wall growing like ``e^(2 z)``. NUTS's
step, fitted to the bulk, can then diverge in the wall (on the default lens model, whose
``lens.mass.centre_x`` lies 1.7 sds from its edge: about one divergence per few hundred
draws; ``docs/scripts/posterior_edges.py`` shows it). Samples come back in the parameters'
own units.

A target is a :class:`~xlens.inference.Likelihood` or a :class:`Problem` (any pure JAX
log-likelihood with its prior transform), so the same functions are validated on a
linear-Gaussian problem with an analytic posterior and evidence.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg
from scipy.special import expit, ndtri, stdtrit

from .. import engine
from .likelihood import Likelihood

__all__ = [
    "NestedResult",
    "Posterior",
    "Problem",
    "gaussian_elbo",
    "nested",
    "nuts_numpyro",
    "pathfinder",
    "problem",
    "to_unconstrained",
    "variational",
]

#: Unit-cube coordinates of a starting point stay this far inside [0, 1], so that
#: ``logit(u)`` is finite (|z| <= 20.7).
_U_MARGIN = 1e-9
_INSTALL = 'pip install "xlens[infer]"'


class Problem(NamedTuple):
    """A posterior given by its log-likelihood and its prior transform (pure JAX functions).

    Attributes
    ----------
    log_likelihood : callable
        ``theta (n,) -> scalar``: log L, pure (``jit``/``grad``/``vmap``-able) JAX.
    from_unit_cube : callable
        ``u (..., n) -> theta (..., n)``: the prior's inverse CDFs (the prior transform
        of nested samplers), pure JAX; it must accept NumPy input too.
    to_unit_cube : callable
        Its inverse, ``theta -> u`` (used for starting points).
    names : tuple of str
        The names of the n parameters.
    """

    log_likelihood: Callable[[Any], Any]
    from_unit_cube: Callable[[Any], Any]
    to_unit_cube: Callable[[Any], Any]
    names: tuple[str, ...]


class Posterior(NamedTuple):
    """Samples of a posterior and their moments (NumPy arrays, units of the parameters).

    Attributes
    ----------
    samples : ndarray, shape (S, n)
        Draws (equally weighted).
    mean, std : ndarray, shape (n,)
    covariance : ndarray, shape (n, n)
    names : tuple of str
    info : dict
        Backend diagnostics (divergences, effective sample sizes, ELBO trace, ...).
    """

    samples: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    covariance: np.ndarray
    names: tuple[str, ...]
    info: dict


class NestedResult(NamedTuple):
    """What :func:`nested` returns: weighted moments, equal-weight samples and the evidence.

    Attributes
    ----------
    samples : ndarray, shape (S, n)
        Equally weighted draws (dynesty's resampling of the dead points).
    mean, std : ndarray, shape (n,)
        Weighted moments of the dead points.
    covariance : ndarray, shape (n, n)
    log_evidence : float
        ln Z = ln of the integral of L times the prior (with the likelihood's
        normalisation, an absolute evidence).
    log_evidence_error : float
        dynesty's estimate of the standard error of ln Z.
    names : tuple of str
    info : dict
        ``ncall`` (likelihood calls), ``niter``, ``information`` (H [nats], against the
        density the sampler drew from), ``information_prior`` (H against the prior),
        ``repartitioned``, ``efficiency`` (percent of proposals accepted) and ``ess`` (Kish's
        effective sample size of the weights, ``1 / sum(w^2)``).
    """

    samples: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    covariance: np.ndarray
    log_evidence: float
    log_evidence_error: float
    names: tuple[str, ...]
    info: dict


def problem(log_likelihood: Callable, from_unit_cube: Callable, to_unit_cube: Callable,
            names) -> Problem:
    """A :class:`Problem` from a pure JAX log-likelihood and its prior transform and inverse."""
    for label, fn in (("log_likelihood", log_likelihood), ("from_unit_cube", from_unit_cube),
                      ("to_unit_cube", to_unit_cube)):
        if not callable(fn):
            raise TypeError(f"problem: {label} must be callable; got {type(fn).__name__}")
    names = tuple(str(n) for n in names)
    if not names:
        raise ValueError("problem: names must name at least one parameter")
    return Problem(log_likelihood, from_unit_cube, to_unit_cube, names)


class _Target(NamedTuple):
    """A target resolved: log L with its extra arguments, the prior maps, names."""

    log_likelihood: Callable  # (theta, *args) -> scalar
    args: tuple
    from_unit_cube: Callable
    to_unit_cube: Callable
    names: tuple[str, ...]
    numpy_log_likelihood: Callable  # NumPy theta (n,) -> float (compiled)


def _resolve(target, caller: str) -> _Target:
    if isinstance(target, Likelihood):
        if target.sim.engine != "jax":
            raise NotImplementedError(f"{caller} needs JAX: build the Simulator with engine='jax'")
        fn, args = target.pure(posterior=False)
        space = target.space
        return _Target(fn, args, space.from_unit_cube, space.to_unit_cube, space.names,
                       lambda t: float(target(t)))
    if isinstance(target, Problem):
        fn = target.log_likelihood
        compiled = engine.jit(fn, "jax")
        return _Target(lambda t: fn(t), (), target.from_unit_cube, target.to_unit_cube, target.names,
                       lambda t: float(compiled(np.asarray(t, dtype=np.float64))))
    raise TypeError(f"{caller} takes a Likelihood or a Problem (xlens.inference.backends.problem); "
                    f"got {type(target).__name__}")


def _require(module: str, caller: str):
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"{caller} needs {module.split('.')[0]}: {_INSTALL}") from err


def _key(key, caller: str):
    """A JAX key from a key or an int seed."""
    import jax

    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        return jax.random.key(int(key))
    if isinstance(key, jax.Array):
        return key
    raise TypeError(f"{caller}: key must be a JAX key or an int seed; got {type(key).__name__}")


def _positive_real(caller: str, name: str, value, meaning: str = "", allow_inf: bool = False) -> float:
    """``value`` as a float > 0 (finite unless ``allow_inf``), else a ValueError naming it."""
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if not ok or np.isnan(value) or value <= 0 or (not allow_inf and not np.isfinite(value)):
        kind = "a number" if allow_inf else "a finite number"
        raise ValueError(f"{caller}: {name} must be {kind} > 0{meaning}; got {value!r}")
    return float(value)


def _positive_int(caller: str, name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{caller}: {name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def to_unconstrained(target, theta) -> np.ndarray:
    """``z = logit(u)``, ``u = to_unit_cube(theta)``: the coordinates the gradient backends move in.

    Parameters
    ----------
    target : Likelihood or Problem
    theta : array_like, shape (..., n)
        Points in the parameters' units, inside the prior's support.

    Returns
    -------
    ndarray, shape (..., n)
        Unbounded, dimensionless; ``u`` is kept within 1e-9 of (0, 1), so ``|z| <= 20.7``.
    """
    t = _resolve(target, "to_unconstrained")
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape[-1:] != (len(t.names),):
        raise ValueError(f"to_unconstrained: theta must have shape (..., {len(t.names)}); got {theta.shape}")
    with engine.float64_scope():
        u = np.clip(np.asarray(t.to_unit_cube(theta), dtype=np.float64), _U_MARGIN, 1.0 - _U_MARGIN)
    return np.log(u) - np.log1p(-u)


def _from_unconstrained(t: _Target, z):
    """theta = from_unit_cube(sigmoid(z)) (pure)."""
    xp = engine.namespace(z)
    return t.from_unit_cube(1.0 / (1.0 + xp.exp(-z)))


def _logit(u):
    xp = engine.namespace(u)
    return xp.log(u) - xp.log1p(-u)


def _log_du_dz(z):
    """``sum(log sigmoid(z) + log sigmoid(-z))``: ln |du/dz| of ``u = sigmoid(z)``, the prior's
    log density of the logits ``z`` (last axis summed; any namespace)."""
    xp = engine.namespace(z)
    return -xp.sum(xp.logaddexp(0.0, -z) + xp.logaddexp(0.0, z), axis=-1)


def _log_density_z(t: _Target) -> Callable:
    """``(z, *args) -> log L(theta(z)) + sum(log sigmoid(z) + log sigmoid(-z))`` (pure)."""

    def log_density(z, *args):
        return t.log_likelihood(_from_unconstrained(t, z), *args) + _log_du_dz(z)

    return log_density


def _whitened(t: _Target, z0: np.ndarray, chol: np.ndarray) -> tuple[Callable, float]:
    """The log density of whitened coordinates ``w``, ``z = z0 + chol w`` (pure, JAX), and
    ``ln |det chol|``: the density of ``w`` integrates to ``Z / |det chol|``, so an ELBO in
    ``w`` plus ``ln |det chol|`` bounds ``ln Z`` (as one in ``z`` does)."""
    log_density = _log_density_z(t)
    jnp = engine.get_xp("jax")

    def log_density_w(w, *args):
        return log_density(jnp.asarray(z0) + jnp.asarray(chol) @ w, *args)

    return log_density_w, float(np.sum(np.log(np.diag(chol))))


def _moments(samples: np.ndarray, names, info) -> Posterior:
    samples = np.asarray(samples, dtype=np.float64)
    cov = np.atleast_2d(np.cov(samples, rowvar=False))
    return Posterior(samples, samples.mean(axis=0), np.sqrt(np.diag(cov)), cov, tuple(names), info)


def _start(t: _Target, init, caller: str) -> np.ndarray:
    init = np.asarray(init, dtype=np.float64)
    n = len(t.names)
    if init.shape != (n,):
        raise ValueError(f"{caller}: init must have shape ({n},) (one point in the parameters' units); "
                         f"got {init.shape}")
    with engine.float64_scope():
        u = np.asarray(t.to_unit_cube(init), dtype=np.float64)
    outside = ~((u >= 0.0) & (u <= 1.0)) | ~np.isfinite(u)
    if np.any(outside):
        k = int(np.argmax(outside))
        raise ValueError(f"{caller}: init {t.names[k]} = {float(init[k])!r} lies outside its prior's support")
    u = np.clip(u, _U_MARGIN, 1.0 - _U_MARGIN)
    return np.log(u) - np.log1p(-u)


# ----------------------------------------------------------------------------- Pathfinder
def pathfinder(target: Likelihood | Problem, init, key, *, num_samples: int = 1000, maxiter: int = 200,
               maxcor: int = 10, ftol: float = 1e-12, gtol: float = 1e-10, elbo_samples: int = 100,
               covariance=None, elbo_draws: int = 0) -> Posterior:
    """Pathfinder (Zhang et al. 2022) with blackjax: a Gaussian fitted along an L-BFGS path.

    L-BFGS climbs the log density in the unconstrained coordinates (module notes) from
    ``init``; at every iterate, a Gaussian with the L-BFGS inverse-Hessian estimate is
    scored by a Monte Carlo ELBO, and the best one is sampled. One compiled program.

    **Preconditioning** (``covariance``). L-BFGS's inverse Hessian is a diagonal plus the
    ``maxcor`` most recent curvature pairs; in a direction the path has not explored, the
    width is the diagonal's guess. On an ill-conditioned posterior (the default lens
    model: condition number ~2e5 in ``z``) that guess is far off and the Gaussian comes out
    up to 100x too narrow in some directions (``docs/inference.md``, "Costs"). Given a
    covariance of theta (e.g. :func:`~xlens.inference.laplace`'s), L-BFGS runs in
    coordinates ``w`` whitened by it, ``z = z(init) + L w`` with ``L L^T = J C J^T``
    (``J = dz/dtheta`` at ``init``), as :func:`variational` does: there the posterior is
    near isotropic, the diagonal's guess of 1 is right where the path has not been, and the
    Gaussian is Pathfinder's own fit where it has. The whitening is right near the mode:
    start within a few posterior sds of it. On the default lens model (``docs/inference.md``,
    "Fourth run"), whitened from 0.1-4 sds it gave the best Pathfinder Gaussian (widths
    0.76-1.27 of NUTS's); from hundreds of sds, a worse one than without whitening.

    Parameters
    ----------
    target : Likelihood or Problem
    init : array_like, shape (n,)
        Starting point in the parameters' units, inside the prior's support; *not* the
        mode (at a zero gradient L-BFGS stops at once, with no curvature pairs).
    key : JAX key or int
    num_samples : int
        Draws from the chosen Gaussian, >= 2.
    maxiter : int
        L-BFGS iterations, >= 1.
    maxcor : int
        L-BFGS history length, >= 1.
    elbo_samples : int
        Draws of the Monte Carlo ELBO that scores each iterate's Gaussian, >= 1 (each is
        one log-density evaluation per L-BFGS iteration: the main cost).
    ftol, gtol : float
        L-BFGS stops when the relative change of the log density is below ``ftol`` or the
        gradient norm below ``gtol`` [unconstrained units], > 0. blackjax's defaults (1e-5,
        1e-8) stop too early for an image likelihood (``|log L|`` ~ 1e3-1e5, so 1e-5 is a
        change of 0.01-1): L-BFGS has then not yet seen the curvature of the weak directions
        and the Gaussian comes out too narrow there.
    covariance : array_like, shape (n, n), optional
        A covariance of theta [units of the parameters squared], positive definite, whose
        whitening preconditions the path (above). Default: none (``z`` itself).
    elbo_draws : int
        If > 0, the chosen Gaussian's ELBO is estimated again from this many of its draws
        (fresh ones, not those that chose it, which favour it): ``info["elbo_draws"]``.

    Returns
    -------
    Posterior
        ``info``: ``elbo`` (of the chosen Gaussian, from the ``elbo_samples`` that chose
        it) [nats, a lower bound on ln Z in the likelihood's normalisation], ``log_q`` of
        the draws (in ``z``), ``whitened`` and, with ``elbo_draws``, ``elbo_draws`` (the
        ELBO and its standard error from that many draws) -- comparable with
        :func:`gaussian_elbo` of another Gaussian.

    Notes
    -----
    Pathfinder is an approximation (a Gaussian in ``z``), not a sampler: its widths come
    from L-BFGS's low-rank inverse Hessian. On a near-Gaussian posterior it agrees with
    NUTS (see ``docs/inference.md`` for the measured agreement).
    """
    blackjax = _require("blackjax", "pathfinder")
    t = _resolve(target, "pathfinder")
    num_samples = _positive_int("pathfinder", "num_samples", num_samples, 2)
    maxiter = _positive_int("pathfinder", "maxiter", maxiter)
    maxcor = _positive_int("pathfinder", "maxcor", maxcor)
    elbo_samples = _positive_int("pathfinder", "elbo_samples", elbo_samples)
    elbo_draws = _positive_int("pathfinder", "elbo_draws", elbo_draws, 0)
    for name, value in (("ftol", ftol), ("gtol", gtol)):
        _positive_real("pathfinder", name, value)
    z0 = _start(t, init, "pathfinder")
    n = len(t.names)
    whitened = covariance is not None
    chol = np.linalg.cholesky(_covariance_in_z(t, z0, covariance, "pathfinder")) if whitened else np.eye(n)
    log_density_w, log_det = _whitened(t, z0, chol)
    import jax

    jnp = engine.get_xp("jax")

    def run(k, *args):
        k_fit, k_draw = jax.random.split(k)
        state, _ = blackjax.vi.pathfinder.approximate(k_fit, lambda v: log_density_w(v, *args), jnp.zeros(n),
                                                      elbo_samples, maxiter=maxiter, maxcor=maxcor, ftol=ftol,
                                                      gtol=gtol)
        draws, log_q = blackjax.vi.pathfinder.sample(k_draw, state, num_samples)
        z = jnp.asarray(z0) + draws @ jnp.asarray(chol).T
        out = (engine.vmap(lambda v: _from_unconstrained(t, v), "jax")(z), log_q - log_det, state.elbo + log_det)
        if elbo_draws:
            fresh, log_q_fresh = blackjax.vi.pathfinder.sample(jax.random.fold_in(k_draw, 1), state, elbo_draws)
            out += _elbo_of_draws(log_density_w, fresh, log_q_fresh, args, log_det)
        return out

    with engine.float64_scope():
        out = engine.jit(run, "jax")(_key(key, "pathfinder"), *t.args)
        samples = np.asarray(out[0])
    info = {"elbo": float(out[2]), "log_q": np.asarray(out[1]), "whitened": whitened}
    if elbo_draws:
        info["elbo_draws"] = (float(out[3]), float(out[4]))
    return _moments(samples, t.names, info)


# ---------------------------------------------------------------------------------- numpyro
def _numpyro_model(t: _Target, n: int):
    numpyro = _require("numpyro", "nuts_numpyro")
    import numpyro.distributions as dist

    log_density = _log_density_z(t)

    def model(*args):
        z = numpyro.sample("z", dist.ImproperUniform(dist.constraints.real_vector, (), event_shape=(n,)))
        numpyro.factor("log_density", log_density(z, *args))

    return model


def nuts_numpyro(target: Likelihood | Problem, init, key, *, num_warmup: int = 500, num_samples: int = 1000,
                 num_chains: int = 1, target_accept_prob: float = 0.8, dense_mass: bool = False,
                 covariance=None, inverse_mass_matrix=None, adapt_mass_matrix: bool = True,
                 max_tree_depth: int = 10, step_size: float | None = None) -> Posterior:
    """NUTS with numpyro on the unconstrained coordinates (module notes).

    The numpyro model is one improper flat site ``z`` and a ``factor`` holding the log
    density; the likelihood's fixed inputs (reference, data, noise) are the model's
    arguments, so they are not constants of the compiled program.

    Parameters
    ----------
    target : Likelihood or Problem
    init : array_like, shape (n,)
        Starting point in the parameters' units (every chain starts there).
    key : JAX key or int
    num_warmup, num_samples : int
        Adaptation steps (step size and mass matrix) and kept draws per chain, >= 1.
    num_chains : int
        Chains, run one after the other (``chain_method="sequential"``), >= 1.
    target_accept_prob : float
        In (0, 1).
    dense_mass : bool
        A dense mass matrix (for strongly correlated parameters: a lens's intensity and
        size, its Einstein radius and slope). On the default lens model (condition number
        of -H ~2e5) a first attempt at the costs table did not converge with the diagonal
        one; use ``dense_mass=True`` with a ``covariance`` (``docs/inference.md``, "Costs").
    covariance : array_like, shape (n, n), optional
        A covariance of theta near ``init`` [units of the parameters squared], positive
        definite -- e.g. :func:`~xlens.inference.laplace`'s -- mapped to the unconstrained
        coordinates (``J C J^T``, ``J = dz/dtheta`` at ``init``) and used as the initial
        inverse mass matrix (its diagonal unless ``dense_mass``).
    inverse_mass_matrix : array_like, shape (n,) or (n, n), optional
        The initial inverse mass matrix in the unconstrained coordinates directly
        (diagonal (n,) or dense (n, n), matching ``dense_mass``); not with ``covariance``.
    adapt_mass_matrix : bool
        Adapt the mass matrix during warm-up (default). ``False`` keeps the initial one
        (identity, or the one given) and adapts the step size only -- enough, and cheaper
        in warm-up, when a Laplace covariance is a good fit. numpyro keeps Stan's warm-up
        windows even then, and restarts the step-size adaptation at the end of its mass
        window: the step size comes from the last 50 warm-up steps alone (the last 10%
        when ``num_warmup < 150``: 8 of 80), so give ``num_warmup >= 150`` for a settled
        one (on the default lens model, 80 gave step sizes of 0.13-0.25 in runs of one
        setting).
    max_tree_depth : int
        numpyro's cap on the doubling of a trajectory (at most ``2**max_tree_depth``
        leapfrog steps, each one gradient), >= 1.
    step_size : float, optional
        A fixed leapfrog step in the unconstrained coordinates scaled by the mass matrix
        (dimensionless), > 0: no step-size adaptation (``target_accept_prob`` is then
        unused; with ``adapt_mass_matrix=False`` the warm-up is burn-in only). Dual averaging
        fits the step to the mean acceptance of the posterior's bulk and cannot see a rare
        region of higher curvature, such as the wall a prior's edge makes in the logits
        (``docs/inference.md``, "Fifth run" and "Sixth run"); a fixed shorter step can.
        Default: adapted.

    Returns
    -------
    Posterior
        ``info``: ``divergences`` (count), ``ess`` (effective sample size per parameter,
        numpyro's estimate), ``r_hat`` (split-R-hat per parameter; with one chain, the
        split-R-hat of its two halves), ``num_steps`` (leapfrog steps per kept draw,
        shape (chains * draws,)), ``diverging`` (whether each kept draw's trajectory
        diverged, the same shape: where the sampler met curvature its step is too long
        for) and ``step_size`` (the adapted one, or the one given).
    """
    _require("numpyro", "nuts_numpyro")
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
    from numpyro.infer import MCMC, NUTS, init_to_value

    t = _resolve(target, "nuts_numpyro")
    num_warmup = _positive_int("nuts_numpyro", "num_warmup", num_warmup)
    num_samples = _positive_int("nuts_numpyro", "num_samples", num_samples)
    num_chains = _positive_int("nuts_numpyro", "num_chains", num_chains)
    if not 0.0 < target_accept_prob < 1.0:
        raise ValueError(f"nuts_numpyro: target_accept_prob must be in (0, 1); got {target_accept_prob!r}")
    max_tree_depth = _positive_int("nuts_numpyro", "max_tree_depth", max_tree_depth)
    if step_size is not None:
        step_size = _positive_real("nuts_numpyro", "step_size", step_size, " (or None: adapted)")
    z0 = _start(t, init, "nuts_numpyro")
    n = len(t.names)
    if covariance is not None and inverse_mass_matrix is not None:
        raise ValueError("nuts_numpyro: give covariance (of theta) or inverse_mass_matrix (of z), not both")
    imm = None
    if covariance is not None:
        imm = _covariance_in_z(t, z0, covariance, "nuts_numpyro")
        imm = imm if dense_mass else np.diag(imm).copy()
    elif inverse_mass_matrix is not None:
        imm = np.asarray(inverse_mass_matrix, dtype=np.float64)
        shape = (n, n) if dense_mass else (n,)
        if imm.shape != shape or not np.all(np.isfinite(imm)):
            raise ValueError(f"nuts_numpyro: inverse_mass_matrix must be a finite array of shape {shape} "
                             f"(dense_mass={dense_mass}); got shape {imm.shape}")
    model = _numpyro_model(t, n)
    with engine.float64_scope():
        jnp = engine.get_xp("jax")
        start = jnp.asarray(z0)  # a JAX array: the model mixes it with the reference's
        kernel = NUTS(model, init_strategy=init_to_value(values={"z": start}),
                      target_accept_prob=target_accept_prob, dense_mass=dense_mass,
                      inverse_mass_matrix=None if imm is None else {("z",): jnp.asarray(imm)},
                      adapt_mass_matrix=bool(adapt_mass_matrix), max_tree_depth=max_tree_depth,
                      **({} if step_size is None else {"step_size": step_size, "adapt_step_size": False}))
        mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                    chain_method="sequential", progress_bar=False, jit_model_args=True)
        mcmc.run(_key(key, "nuts_numpyro"), *t.args, extra_fields=("diverging", "num_steps"))
        z = mcmc.get_samples(group_by_chain=True)["z"]  # (chains, draws, n)
        theta = np.asarray(engine.jit(engine.vmap(engine.vmap(lambda v: _from_unconstrained(t, v), "jax"), "jax"),
                                      "jax")(z))
        extra = mcmc.get_extra_fields()
        diverging = np.asarray(extra["diverging"], dtype=bool).reshape(-1)
        num_steps = np.asarray(extra["num_steps"])
        step_size = float(np.asarray(mcmc.last_state.adapt_state.step_size))
    ess = np.asarray(effective_sample_size(theta))
    if num_chains > 1:
        r_hat = np.asarray(split_gelman_rubin(theta))
    elif theta.shape[1] >= 4:
        r_hat = np.asarray(split_gelman_rubin(theta[0][None]))  # numpyro splits the chain in two halves
    else:
        r_hat = np.full(n, math.nan)
    return _moments(theta.reshape(-1, n), t.names, {"divergences": int(np.sum(diverging)), "ess": ess,
                                                    "r_hat": r_hat, "num_steps": num_steps,
                                                    "diverging": diverging, "step_size": step_size})


def _covariance_in_z(t: _Target, z0: np.ndarray, covariance, caller: str) -> np.ndarray:
    """``J C J^T``: a covariance of theta at ``theta(z0)`` in the unconstrained coordinates."""
    import jax

    n = len(t.names)
    cov = np.asarray(covariance, dtype=np.float64)
    if cov.shape != (n, n) or not np.all(np.isfinite(cov)) or np.linalg.eigvalsh(0.5 * (cov + cov.T))[0] <= 0:
        raise ValueError(f"{caller}: covariance must be a finite positive definite ({n}, {n}) matrix "
                         f"[units of the parameters squared]; got shape {cov.shape}")
    with engine.float64_scope():
        theta0 = np.asarray(_from_unconstrained(t, z0), dtype=np.float64)
        to_z = engine.jit(jax.jacfwd(lambda th: _logit(t.to_unit_cube(th))), "jax")
        jac = np.asarray(to_z(theta0), dtype=np.float64)
    out = jac @ (0.5 * (cov + cov.T)) @ jac.T
    return 0.5 * (out + out.T)


def variational(target: Likelihood | Problem, init, key, *, steps: int = 2000, learning_rate: float = 1e-2,
                final_learning_rate: float = 1e-4, num_particles: int = 8, guide: str = "multivariate",
                init_scale: float = 1.0, num_samples: int = 2000, covariance=None,
                hessian_chunk: int | None = None, estimator: str = "elbo", elbo_draws: int = 0) -> Posterior:
    """Variational inference with numpyro SVI: a Gaussian guide in the unconstrained coordinates.

    The guide lives in coordinates ``w`` whitened at ``init``: ``z = z0 + L w`` with
    ``L L^T = (-H)^-1``, H the Hessian of the log density of ``z`` at ``z0`` (the Laplace
    approximation there; the identity where ``-H`` is not positive definite), or
    ``L L^T = J C J^T`` for a given covariance ``C`` of theta (``J = dz/dtheta`` at
    ``init``; e.g. Pathfinder's or :func:`~xlens.inference.laplace`'s, which saves the
    compile of the Hessian), so every
    coordinate has an O(1) width and one learning rate suits them all -- a lens's
    parameters otherwise span orders of magnitude in width. Start at a mode
    (:func:`~xlens.inference.fit_map`). The ELBO (``Trace_ELBO``, ``num_particles`` draws
    per step) is maximised with Adam, the step decaying exponentially from
    ``learning_rate`` to ``final_learning_rate`` (the late small steps remove most of the
    stochastic-gradient jitter of the fitted mean and covariance).

    Two gradient estimators of the ELBO (``estimator``): ``"elbo"``, numpyro's
    ``Trace_ELBO`` (reparameterised draws, ``log q`` of the draws included); ``"stl"``,
    "sticking the landing" (Roeder, Wu & Duvenaud 2017): the same reparameterised draws,
    but ``log q`` is evaluated with the guide's parameters held fixed, so only the path
    derivative ``(grad log p - grad log q) dz/dparams`` remains. Its expectation is the
    same; its variance vanishes where the guide equals the posterior, so on a
    near-Gaussian posterior the late steps no longer jitter the fitted widths (numpyro has
    no such estimator, so ``"stl"`` runs the same Gaussian guides in an optax loop).

    Parameters
    ----------
    target : Likelihood or Problem
    init : array_like, shape (n,)
        The guide's initial mean in the parameters' units, best a mode.
    key : JAX key or int
    steps : int
        Optimisation steps, >= 1.
    learning_rate, final_learning_rate : float
        Adam's step at the first and last step [whitened units], > 0.
    num_particles : int
        Draws per ELBO estimate, >= 1.
    guide : {"multivariate", "normal"}
        ``AutoMultivariateNormal`` (full covariance) or ``AutoNormal`` (mean field).
    init_scale : float
        Initial standard deviation of the guide [whitened units: 1 is the Laplace width], > 0.
    num_samples : int
        Draws from the fitted guide, >= 2.
    covariance : array_like, shape (n, n), optional
        A covariance of theta near ``init`` [units of the parameters squared], positive
        definite, for the whitening (default: the Hessian at ``init``).
    hessian_chunk : int, optional
        Without ``covariance``: Hessian columns at a time (``xlens.engine.hessian``;
        ``None`` all at once, 1 for the default lens model).
    estimator : {"elbo", "stl"}
        The ELBO's gradient estimator (above).
    elbo_draws : int
        If > 0, estimate the ELBO [nats] of the fitted guide and of the starting one
        (``N(0, init_scale^2 I)`` in ``w``: the Laplace or ``covariance`` Gaussian for
        ``init_scale = 1``) from this many fresh draws each (``2 elbo_draws`` model
        evaluations, mapped as ``Likelihood.batch`` maps a batch). The ELBO is a lower
        bound on ln Z (the evidence, when the likelihood is normalised); the gain over the
        start says whether the fit moved to a better Gaussian. Default 0 (not estimated).

    Returns
    -------
    Posterior
        ``info``: ``loss`` (the negative ELBO at every step, shape (steps,)),
        ``whitened`` (whether the Laplace whitening was used) and, with ``elbo_draws``,
        ``elbo`` and ``elbo_start``: ``(estimate, standard error)`` [nats].
    """
    numpyro = _require("numpyro", "variational")
    optax = _require("optax", "variational")
    import numpyro.distributions as dist
    from numpyro.infer import SVI, Trace_ELBO, init_to_value
    from numpyro.infer.autoguide import AutoMultivariateNormal, AutoNormal
    from numpyro.optim import optax_to_numpyro

    t = _resolve(target, "variational")
    steps = _positive_int("variational", "steps", steps)
    num_particles = _positive_int("variational", "num_particles", num_particles)
    num_samples = _positive_int("variational", "num_samples", num_samples, 2)
    elbo_draws = _positive_int("variational", "elbo_draws", elbo_draws, 0)
    for name, value in (("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate),
                        ("init_scale", init_scale)):
        _positive_real("variational", name, value)
    hessian_chunk = engine.check_hessian_chunk(hessian_chunk, caller="variational", name="hessian_chunk")
    guides = {"multivariate": AutoMultivariateNormal, "normal": AutoNormal}
    if guide not in guides:
        raise ValueError(f"variational: guide must be one of {tuple(guides)}; got {guide!r}")
    estimators = ("elbo", "stl")
    if estimator not in estimators:
        raise ValueError(f"variational: estimator must be one of {estimators}; got {estimator!r}")
    z0 = _start(t, init, "variational")
    n = len(t.names)
    import jax

    if covariance is not None:
        chol = np.linalg.cholesky(_covariance_in_z(t, z0, covariance, "variational"))
        whitened = True
    else:
        with engine.float64_scope():
            log_density = _log_density_z(t)
        hess = np.asarray(engine.jit(lambda z, *a: engine.hessian(lambda v: log_density(v, *a), "jax",
                                                                      chunk=hessian_chunk)(z),
                                         "jax")(z0, *t.args), dtype=np.float64)
        precision = -0.5 * (hess + hess.T)
        whitened = bool(np.all(np.isfinite(precision)) and np.linalg.eigvalsh(precision)[0] > 0)
        chol = np.linalg.cholesky(np.linalg.inv(precision)) if whitened else np.eye(n)

    jnp = engine.get_xp("jax")
    schedule = optax.exponential_decay(learning_rate, steps, final_learning_rate / learning_rate)
    k_fit, k_draw = jax.random.split(_key(key, "variational"))
    log_density_w, log_det = _whitened(t, z0, chol)
    with engine.float64_scope():
        if estimator == "stl":
            w, losses, loc, tril = _stl_fit(log_density_w, n, t.args, k_fit, k_draw, steps=steps,
                                            optimizer=optax.adam(schedule), num_particles=num_particles,
                                            full=guide == "multivariate", init_scale=init_scale,
                                            num_samples=num_samples)
        else:
            def model(*args):
                v = numpyro.sample("w", dist.ImproperUniform(dist.constraints.real_vector, (), event_shape=(n,)))
                numpyro.factor("log_density", log_density_w(v, *args))

            auto = guides[guide](model, init_loc_fn=init_to_value(values={"w": jnp.zeros(n)}), init_scale=init_scale)
            svi = SVI(model, auto, optax_to_numpyro(optax.adam(schedule)), Trace_ELBO(num_particles=num_particles))
            result = svi.run(k_fit, steps, *t.args, progress_bar=False, stable_update=True)
            w = auto.sample_posterior(k_draw, result.params, sample_shape=(num_samples,))["w"]
            losses = result.losses
            if guide == "multivariate":
                fitted = auto.get_posterior(result.params)
                loc, tril = fitted.loc, fitted.scale_tril
            else:  # AutoNormal's parameters, constrained: the mean and the sd of each coordinate
                loc, tril = result.params["w_auto_loc"], jnp.diag(result.params["w_auto_scale"])
        theta = np.asarray(engine.jit(engine.vmap(lambda v: _from_unconstrained(t, z0 + chol @ v), "jax"),
                                      "jax")(w))  # z0 and chol: NumPy constants, float64 in this scope
        info = {"loss": np.asarray(losses), "whitened": whitened}
        if elbo_draws:
            k_elbo, k_start = jax.random.split(jax.random.fold_in(k_draw, 1))
            elbo = _elbo_estimator(log_density_w, elbo_draws, log_det)
            info["elbo"] = elbo(k_elbo, jnp.asarray(loc), jnp.asarray(tril), *t.args)
            info["elbo_start"] = elbo(k_start, jnp.zeros(n), init_scale * jnp.eye(n), *t.args)
    return _moments(theta, t.names, info)


def _gaussian_log_q(white, tril):
    """``log N(w; m, L L^T)`` from ``white = L^-1 (w - m)`` (last axis) and the triangular ``L``."""
    xp = engine.namespace(white)
    n = white.shape[-1]
    return (-0.5 * xp.sum(white * white, axis=-1) - xp.sum(xp.log(xp.abs(xp.linalg.diagonal(tril))))
            - 0.5 * n * math.log(2.0 * math.pi))


def _elbo_of_draws(log_density: Callable, w, log_q, args, offset: float):
    """``(mean of log p - log q + offset, its standard error)`` over draws ``w`` of ``q`` (JAX, traceable)."""
    xp = engine.namespace(w)
    # like.batch's map: lax.map on a CPU (one model in memory at a time), vmap on accelerators
    ratio = engine.map_batch(lambda v: log_density(v, *args), "jax")(w) - log_q
    return xp.mean(ratio) + offset, xp.std(ratio) / math.sqrt(w.shape[0])


def _elbo_estimator(log_density: Callable, draws: int, offset: float) -> Callable:
    """``(key, loc, tril, *args) -> (ELBO + offset, its standard error)`` of ``N(loc, tril tril^T)`` [nats]."""
    import jax

    def estimate(key, loc, tril, *args):
        eps = jax.random.normal(key, (draws, loc.shape[0]), dtype=loc.dtype)
        return _elbo_of_draws(log_density, loc + eps @ tril.T, _gaussian_log_q(eps, tril), args, offset)

    program = engine.jit(estimate, "jax")
    return lambda *a: tuple(float(x) for x in program(*a))


def _stl_fit(log_density: Callable, n: int, args, k_fit, k_draw, *, steps: int, optimizer, num_particles: int,
             full: bool, init_scale: float, num_samples: int):
    """A Gaussian ``w = m + L eps`` fitted by the sticking-the-landing gradient; one compiled scan.

    ``L``: lower triangular (``full``) or diagonal, its diagonal ``softplus(r)`` > 0. Returns
    ``num_samples`` draws of the fitted guide, the loss (the negative ELBO estimate) per step,
    and the fitted ``m`` and ``L``.
    """
    import jax
    import optax

    jnp = engine.get_xp("jax")
    raw0 = math.log(math.expm1(init_scale))  # softplus(raw0) = init_scale
    params = {"loc": jnp.zeros(n), "diag": jnp.full(n, raw0)}
    if full:
        params["off"] = jnp.zeros((n, n))
    lower = np.tril(np.ones((n, n)), -1)

    def scale_tril(p):
        diag = jax.nn.softplus(p["diag"])
        return jnp.diag(diag) + (p["off"] * lower if full else 0.0)

    def loss(p, key, *a):
        tril = scale_tril(p)
        eps = jax.random.normal(key, (num_particles, n))
        w = p["loc"] + eps @ tril.T
        fixed = jax.lax.stop_gradient(p)  # log q with the parameters held: the path derivative only
        tril_fixed = scale_tril(fixed)
        white = jax.scipy.linalg.solve_triangular(tril_fixed, (w - fixed["loc"]).T, lower=True).T
        log_q = _gaussian_log_q(white, tril_fixed)
        log_p = engine.vmap(lambda v: log_density(v, *a), "jax")(w)
        return -jnp.mean(log_p - log_q)

    def run(k_fit, k_draw, *a):
        def step(carry, key):
            p, state = carry
            value, grad = jax.value_and_grad(loss)(p, key, *a)
            updates, state = optimizer.update(grad, state, p)
            p = optax.apply_updates(p, updates)
            return (p, state), value

        (p, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(k_fit, steps))
        eps = jax.random.normal(k_draw, (num_samples, n))
        return p["loc"] + eps @ scale_tril(p).T, losses, p["loc"], scale_tril(p)

    return engine.jit(run, "jax")(k_fit, k_draw, *args)


# ------------------------------------------------------------------------------ dynesty
def _gaussian_of(gaussian, n: int, caller: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, covariance)`` of a Gaussian given as an object with ``.mean`` and ``.covariance``
    (:func:`~xlens.inference.laplace`'s result, a :class:`Posterior`) or as a pair."""
    if hasattr(gaussian, "mean") and hasattr(gaussian, "covariance"):
        mean, cov = gaussian.mean, gaussian.covariance
    else:
        try:
            mean, cov = gaussian
        except (TypeError, ValueError):
            raise TypeError(f"{caller}: {name} must be a Gaussian: laplace(...)'s result, a Posterior, or a "
                            f"(mean, covariance) pair; got {type(gaussian).__name__}") from None
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    if mean.shape != (n,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{caller}: the {name}'s mean must be {n} finite numbers [units of the parameters]; "
                         f"got shape {mean.shape}")
    if cov.shape != (n, n) or not np.all(np.isfinite(cov)) or np.linalg.eigvalsh(0.5 * (cov + cov.T))[0] <= 0:
        raise ValueError(f"{caller}: the {name}'s covariance must be a finite positive definite ({n}, {n}) "
                         f"matrix [units of the parameters squared]; got shape {cov.shape}")
    return mean, 0.5 * (cov + cov.T)


def gaussian_elbo(target: Likelihood | Problem, gaussian, key, *, draws: int = 128) -> tuple[float, float]:
    """The ELBO of a Gaussian approximation of the posterior, and its Monte Carlo error [nats].

    ``ELBO = E_q[log p(z) - log q(z)]`` over ``draws`` draws of ``q``, the Gaussian mapped to
    the unconstrained coordinates ``z`` of the backends (module notes): ``N(z(mean),
    J C J^T)``, ``J = dz/dtheta`` at ``mean`` -- the Gaussian that :func:`variational` starts
    from and :func:`nested` repartitions around. ``p`` is the likelihood times the prior
    (normalised as the likelihood is), so the ELBO is a lower bound on ln Z, and
    ``ln Z - ELBO = KL(q || posterior)``: of two Gaussians (Laplace's, Pathfinder's, a
    variational fit), the one with the larger ELBO is the closer in that divergence.

    Parameters
    ----------
    target : Likelihood or Problem
    gaussian
        :func:`~xlens.inference.laplace`'s result, a :class:`Posterior` (its mean and
        covariance), or a ``(mean, covariance)`` pair in the parameters' units (covariance
        positive definite, units of the parameters squared); the mean inside the prior's
        support.
    key : JAX key or int
    draws : int
        Draws of ``q``, >= 2 (one log-likelihood evaluation each).

    Returns
    -------
    (float, float)
        The ELBO and its standard error (the draws' standard deviation of
        ``log p - log q`` over sqrt(draws)) [nats].
    """
    t = _resolve(target, "gaussian_elbo")
    n = len(t.names)
    draws = _positive_int("gaussian_elbo", "draws", draws, 2)
    mean, cov = _gaussian_of(gaussian, n, "gaussian_elbo", "gaussian")
    z0 = _start(t, mean, "gaussian_elbo")
    chol = np.linalg.cholesky(_covariance_in_z(t, z0, cov, "gaussian_elbo"))
    jnp = engine.get_xp("jax")
    log_density = _log_density_z(t)
    with engine.float64_scope():
        estimate = _elbo_estimator(log_density, draws, 0.0)
        return estimate(_key(key, "gaussian_elbo"), jnp.asarray(z0), jnp.asarray(chol), *t.args)


def nested(target: Likelihood | Problem, *, nlive: int = 500, seed: int = 0, dlogz: float = 0.01,
           sample: str = "auto", bound: str = "multi", maxcall: int | None = None, repartition=None,
           widen: float = 1.5, dof: float = 4.0) -> NestedResult:
    """Static nested sampling with dynesty: posterior samples and the evidence ln Z.

    dynesty draws live points in the unit cube, maps them with the prior transform
    (``space.from_unit_cube``) and calls the compiled log-likelihood (``like(theta)``) one
    point at a time; it stops when the remaining evidence is below ``dlogz``.

    **Repartitioned prior** (``repartition``). The run's cost grows with the information
    H = KL(posterior || prior) [nats]: about ``nlive (H + 5)`` iterations. A lens posterior
    inside wide prior boxes has H of 50-70 nats, and most of the run is spent shrinking onto
    it. Given a Gaussian approximation of the posterior, ``N(mean, C)`` (``laplace``'s
    result), the sampler instead draws from a density ``pi'`` around it and weighs each
    point by ``L' = L pi / pi'`` ("posterior repartitioning", Chen, Hobson, Das &
    Gelderblom 2019, Stat. Comput. 29, 835). As ``pi' L' = pi L`` pointwise, the evidence
    and the posterior are unchanged, exactly; only H falls, to ``KL(posterior || pi')``.

    The sampler moves in the unconstrained coordinates ``z = logit(u)`` of the prior's unit
    cube (as the gradient backends do), where the prior's density is
    ``prod sigmoid'(z_i)`` whatever the priors are and every point lies in their support.
    There ``pi'`` is a product of Student-t densities with ``dof`` degrees of freedom in
    ``w = (widen L)^-1 (z - z(mean))``, ``L L^T = J C J^T`` (``J = dz/dtheta`` at ``mean``).
    Heavy tails keep ``L'`` bounded where the posterior is wider than the Gaussian in some
    direction (with a Gaussian ``pi'`` narrower than the posterior, ``L'`` grows towards the
    prior's edge and the run ends only at ``maxcall``). Per dimension, H is 0.21 nats for
    ``widen = 1.5, dof = 4`` when the Gaussian is right and 0.03 nats when the posterior is
    twice as wide (a Gaussian ``pi'`` with ``widen = 2``: 0.32 nats, and unbounded ``L'``
    beyond). ``dof = inf`` gives the Gaussian.

    Parameters
    ----------
    target : Likelihood or Problem
    nlive : int
        Live points, >= 2 n + 2 (the error of ln Z scales as sqrt(H / nlive), H the
        information in nats).
    seed : int
        Seed of dynesty's NumPy generator.
    dlogz : float
        Stopping criterion on the remaining ln Z, > 0.
    sample : str
        dynesty's proposal: ``"auto"`` (default: uniform in the bounds below 10 dimensions,
        random walks up to 20, slices above), ``"unif"``, ``"rwalk"``, ``"slice"``, ``"rslice"``.
    bound : str
        dynesty's bounding: ``"multi"`` (default), ``"single"``, ``"none"``.
    maxcall : int, optional
        A cap on the likelihood calls.
    repartition : optional
        A Gaussian approximation of the posterior in the parameters' units: the result of
        :func:`~xlens.inference.laplace`, a :class:`Posterior`, or a ``(mean, covariance)``
        pair (covariance positive definite). Default: sample from the prior itself.
    widen : float
        With ``repartition``: the factor on its widths, > 0 (default 1.5).
    dof : float
        With ``repartition``: the Student-t's degrees of freedom, > 0 (default 4; ``inf``:
        Gaussian).

    Returns
    -------
    NestedResult
        With ``repartition``, ``info["information"]`` is dynesty's H against ``pi'`` (what
        set the cost) and ``info["information_prior"]`` H against the prior (the weighted
        mean of ``ln L`` minus ln Z); without, the two are equal. ``info["repartitioned"]``
        says which run it was. Samples and moments are in the parameters' units either way.

    Raises
    ------
    RuntimeError
        If every point drawn has zero likelihood (the evidence is 0).
    """
    dynesty = _require("dynesty", "nested")
    from dynesty import utils as dyfunc

    t = _resolve(target, "nested")
    n = len(t.names)
    nlive = _positive_int("nested", "nlive", nlive, 2 * n + 2)
    dlogz = _positive_real("nested", "dlogz", dlogz)
    widen = _positive_real("nested", "widen", widen, " (the factor on the Gaussian's widths)")
    dof = _positive_real("nested", "dof", dof, " (the Student-t's degrees of freedom; inf: Gaussian)", allow_inf=True)

    def log_likelihood_of(theta):
        value = t.numpy_log_likelihood(theta)
        return value if np.isfinite(value) else -1e300  # dynesty wants finite values

    transform = t.from_unit_cube

    def prior_of_unit(u):  # theta = from_unit_cube(u), NumPy in and out
        with engine.float64_scope():
            return np.asarray(transform(np.asarray(u, dtype=np.float64)), dtype=np.float64)

    if repartition is None:
        prior_transform, log_likelihood = prior_of_unit, log_likelihood_of
    else:
        # dynesty's coordinates are z = logit(u) (u the prior's unit cube, as for the gradient
        # backends): every z is inside the prior's support, and the prior's density of z is
        # prod sigmoid'(z_i), whatever the priors are. pi'(z) = Student-t around z(mean).
        mean, cov = _gaussian_of(repartition, n, "nested", "repartition")
        z0 = to_unconstrained(target, mean)
        chol = widen * np.linalg.cholesky(_covariance_in_z(t, z0, cov, "nested"))  # z = z0 + chol w
        gaussian = not np.isfinite(dof)
        if not gaussian:  # the normalisation of prod_i t_dof(w_i), per unit volume of z
            log_t_norm = (n * (math.lgamma(0.5 * (dof + 1.0)) - math.lgamma(0.5 * dof) - 0.5 * math.log(dof * math.pi))
                          - float(np.sum(np.log(np.diag(chol)))))

        def log_ratio(z):  # ln p(z) - ln pi'(z): the prior's density of z over the sampler's
            w = scipy.linalg.solve_triangular(chol, z - z0, lower=True)
            if gaussian:
                log_pi_prime = float(_gaussian_log_q(w, chol))
            else:
                log_pi_prime = log_t_norm - 0.5 * (dof + 1.0) * float(np.sum(np.log1p(w * w / dof)))
            return float(_log_du_dz(z)) - log_pi_prime

        def prior_transform(v):
            v = np.clip(np.asarray(v, dtype=np.float64), 1e-300, 1.0 - 1e-16)
            return z0 + chol @ (ndtri(v) if gaussian else stdtrit(dof, v))

        def log_likelihood(z):
            return log_likelihood_of(prior_of_unit(expit(z))) + log_ratio(z)

    rng = np.random.default_rng(seed)
    sampler = dynesty.NestedSampler(log_likelihood, prior_transform, n, nlive=nlive, sample=sample, bound=bound,
                                    rstate=rng)
    sampler.run_nested(dlogz=dlogz, print_progress=False, maxcall=maxcall)
    res = sampler.results
    log_z = float(res.logz[-1])
    if not np.isfinite(log_z) or log_z < -1e299:
        raise RuntimeError("nested: every point drawn has zero likelihood (log L = -inf or NaN), so the evidence "
                           "is 0; check the likelihood at prior draws" + ("" if repartition is None else
                                                                          " and the repartition's mean"))
    samples = np.asarray(res.samples, dtype=np.float64)
    weights = np.exp(np.asarray(res.logwt) - log_z)
    weights = weights / weights.sum()
    info = {"ncall": int(np.sum(res.ncall)), "niter": int(res.niter), "information": float(res.information[-1]),
            "efficiency": float(res.eff), "ess": float(1.0 / np.sum(weights**2)),
            "repartitioned": repartition is not None}
    if repartition is None:
        info["information_prior"] = info["information"]
    else:  # H against the prior: E_post[ln L] - ln Z, with ln L = ln L' - (ln p(z) - ln pi'(z))
        logl = np.asarray(res.logl, dtype=np.float64) - np.array([log_ratio(z) for z in samples])
        info["information_prior"] = float(np.sum(weights * logl) - log_z)
        samples = prior_of_unit(expit(samples))
    mean_post, cov_post = dyfunc.mean_and_cov(samples, weights)
    equal = dyfunc.resample_equal(samples, weights, rstate=rng)
    cov_post = np.atleast_2d(cov_post)
    return NestedResult(equal, np.asarray(mean_post), np.sqrt(np.diag(cov_post)), cov_post, log_z,
                        float(res.logzerr[-1]), t.names, info)
