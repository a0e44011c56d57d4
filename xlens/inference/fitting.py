"""Point estimates on the likelihood: multi-start MAP with optax and the Laplace approximation.

Why here: every inference backend starts from the same two questions -- where is the
posterior's mode, and how wide is it there -- and both are a few lines on top of the
compiled, differentiable :class:`~xlens.inference.Likelihood`. :func:`fit_map` runs Adam
from many starts at once (one compiled step, ``vmap`` over the starts) in the prior's
unit cube, where every coordinate is O(1) and the box is a projection; :func:`laplace`
takes the Hessian of the log posterior at a mode (forward-over-reverse, float64) and
returns the Gaussian approximation with its condition number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .. import engine
from .likelihood import Likelihood

__all__ = ["LaplaceResult", "MapResult", "fit_map", "laplace"]

#: Unit-cube coordinates stay this far inside [0, 1]: the inverse CDFs are finite there and
#: the log posterior (``-inf`` outside the prior box) is evaluated inside.
_U_MARGIN = 1e-9


class MapResult(NamedTuple):
    """What :func:`fit_map` returns (NumPy arrays).

    Attributes
    ----------
    theta : ndarray, shape (S, n)
        The end point of each of the S starts, in the units of ``space.units``.
    log_posterior : ndarray, shape (S,)
        The log posterior at each end point.
    best : ndarray, shape (n,)
        The end point with the largest log posterior.
    trace : ndarray, shape (steps, S)
        The log posterior of every start at every step (convergence diagnostics).
    """

    theta: np.ndarray
    log_posterior: np.ndarray
    best: np.ndarray
    trace: np.ndarray


def fit_map(like: Likelihood, starts, *, steps: int = 300, learning_rate: float = 1e-2,
            final_learning_rate: float = 1e-4, newton_steps: int = 5,
            hessian_chunk: int | None = None) -> MapResult:
    """Maximum a posteriori from several starts at once, with optax's Adam.

    Each start is mapped to the prior's unit cube (``space.to_unit_cube``); Adam minimises
    ``-log posterior(space.from_unit_cube(u))`` there, with the learning rate decaying
    exponentially from ``learning_rate`` to ``final_learning_rate`` over ``steps``, and each
    step is projected back into ``[0, 1]``. All starts advance in one compiled step
    (``vmap``), traced once for all calls with the same number of starts. Adam finds the
    basin; it crawls along the narrow valleys of degenerate parameters (an intensity and a
    size), so ``newton_steps`` Newton steps ``theta += (-H)^-1 grad`` (Hessian by
    forward-over-reverse, one compiled program for all starts) then finish each start; a
    step is kept only if it stays in the prior box and raises the log posterior, and is
    halved (up to 4 times) otherwise. Where -H is not positive definite (Adam stopped on a
    ridge or near a saddle: on the default lens model, along the source's Sersic index),
    the step uses the absolute values of its eigenvalues (saddle-free Newton), which
    climbs along the directions of negative curvature instead of stopping.

    Parameters
    ----------
    like : Likelihood
        On the JAX engine (gradients).
    starts : array_like, shape (S, n)
        Starting points inside the prior box (e.g. ``like.space.sample(key, (S,))``).
    steps : int
        Adam steps, >= 1.
    newton_steps : int
        Newton steps after Adam, >= 0.
    learning_rate, final_learning_rate : float
        Step sizes in unit-cube coordinates, > 0.
    hessian_chunk : int, optional
        Columns of the Newton steps' Hessian computed at a time (``xlens.engine.hessian``):
        ``None`` all at once (fastest on small models), an integer >= 1 to bound memory and
        compile time (the default lens model: 1).

    Returns
    -------
    MapResult

    Raises
    ------
    ImportError
        Without optax (``pip install "xlens[infer]"``).
    NotImplementedError
        On the NumPy engine.
    """
    if not isinstance(like, Likelihood):
        raise TypeError(f"fit_map takes a Likelihood; got {type(like).__name__}")
    eng = like.sim.engine
    if eng != "jax":
        raise NotImplementedError("fit_map needs gradients: build the Simulator with engine='jax'")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"fit_map: steps must be a positive integer; got {steps!r}")
    if int(newton_steps) != newton_steps or newton_steps < 0:
        raise ValueError(f"fit_map: newton_steps must be an integer >= 0; got {newton_steps!r}")
    hessian_chunk = engine.check_hessian_chunk(hessian_chunk, caller="fit_map", name="hessian_chunk")
    for name, value in (("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"fit_map: {name} must be a finite number > 0; got {value!r}")
    try:
        import optax
    except ImportError as err:  # pragma: no cover - optax is in the infer extra
        raise ImportError('fit_map needs optax: pip install "xlens[infer]"') from err
    space = like.space
    starts = np.atleast_2d(np.asarray(starts, dtype=np.float64))
    if starts.ndim != 2 or starts.shape[1] != space.size:
        raise ValueError(f"fit_map: starts must have shape (S, {space.size}); got {starts.shape}")
    outside = ~np.asarray(space.contains(starts))
    if np.any(outside):
        raise ValueError(f"fit_map: start {int(np.argmax(outside))} lies outside the prior box of {space.names}")
    fn, args = like.pure(posterior=True)
    schedule = optax.exponential_decay(learning_rate, int(steps), final_learning_rate / learning_rate)
    opt = optax.adam(schedule)
    xp = like.sim.xp

    def loss(u, *a):
        return -fn(space.from_unit_cube(u), *a)

    grad_one = engine.value_and_grad(loss, eng)

    def step(u, state, *a):
        values, grads = engine.vmap(lambda v: grad_one(v, *a), eng)(u)
        updates, state = opt.update(grads, state, u)
        u = xp.clip(optax.apply_updates(u, updates), _U_MARGIN, 1.0 - _U_MARGIN)
        return u, state, -values

    compiled = engine.jit(step, eng)
    u = xp.asarray(np.clip(np.asarray(space.to_unit_cube(starts)), _U_MARGIN, 1.0 - _U_MARGIN))
    state = opt.init(u)
    trace = []
    for _ in range(int(steps)):
        u, state, values = compiled(u, state, *args)
        trace.append(values)
    theta = np.asarray(space.from_unit_cube(np.asarray(u)))
    final = np.asarray(like.batch(theta, posterior=True))
    if newton_steps:
        theta, final = _newton(like, fn, args, theta, final, int(newton_steps), hessian_chunk)
    return MapResult(theta, final, theta[int(np.argmax(final))], np.asarray(engine.block_until_ready(
        xp.stack(trace))))


def _saddle_free_step(precision: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """``V |L|^-1 V^T grad`` for ``precision = V L V^T``: the Newton step where -H is positive
    definite; where it is not (a saddle or a ridge on the way to the mode), the eigenvalues'
    absolute values turn the step uphill along the negative-curvature directions instead of
    towards the saddle (Dauphin et al. 2014). Eigenvalues below 1e-10 of the largest are
    floored there (a flat direction gets a bounded step; the line search does the rest)."""
    eig, vec = np.linalg.eigh(precision)
    scale = np.maximum(np.abs(eig), 1e-10 * np.max(np.abs(eig)))
    return vec @ ((vec.T @ grad) / scale)


def _newton(like: Likelihood, fn, args, theta: np.ndarray, value: np.ndarray, n_steps: int,
            chunk: int | None):
    """Damped Newton steps on every start (see :func:`fit_map`); NumPy in, NumPy out."""
    eng = like.sim.engine
    space = like.space

    def one(t, *a):
        def density(v):
            return fn(v, *a)

        return engine.hessian(density, eng, chunk=chunk)(t), engine.value_and_grad(density, eng)(t)[1]

    program = engine.jit(lambda ts, *a: engine.vmap(lambda t: one(t, *a), eng)(ts), eng)
    for _ in range(n_steps):
        hess, grad = (np.asarray(v, dtype=np.float64) for v in program(theta, *args))
        step = np.zeros_like(theta)
        for i in range(theta.shape[0]):
            precision = -0.5 * (hess[i] + hess[i].T)
            if np.all(np.isfinite(precision)) and np.all(np.isfinite(grad[i])):
                step[i] = _saddle_free_step(precision, grad[i])
        for _halving in range(5):
            trial = theta + step
            inside = np.asarray(space.contains(trial))
            trial_value = np.where(inside, np.asarray(like.batch(np.where(inside[:, None], trial, theta),
                                                                  posterior=True)), -np.inf)
            better = trial_value > value
            theta = np.where(better[:, None], trial, theta)
            value = np.where(better, trial_value, value)
            step = np.where(better[:, None], 0.0, 0.5 * step)
            if not np.any(step):
                break
    return theta, value


class LaplaceResult(NamedTuple):
    """What :func:`laplace` returns (NumPy arrays).

    Attributes
    ----------
    mean : ndarray, shape (n,)
        The point given (a mode).
    covariance : ndarray, shape (n, n)
        ``(-H)^-1``, H the Hessian of the log density at ``mean``.
    hessian : ndarray, shape (n, n)
    condition_number : float
        Largest over smallest eigenvalue of ``-H`` (large: some directions are barely
        constrained, or the parameters need rescaling).
    std : ndarray, shape (n,)
        ``sqrt(diag(covariance))``.
    """

    mean: np.ndarray
    covariance: np.ndarray
    hessian: np.ndarray
    condition_number: float
    std: np.ndarray


def laplace(target: Likelihood | Callable[[Any], Any], theta, *, posterior: bool = True,
            chunk: int | None = None) -> LaplaceResult:
    """The Laplace (Gaussian) approximation at a mode: covariance ``(-H)^-1`` of the log density.

    Parameters
    ----------
    target : Likelihood or callable
        A :class:`Likelihood` (its log posterior, or log L with ``posterior=False``) or a
        JAX-differentiable ``log_density(theta) -> scalar``.
    theta : array_like, shape (n,)
        The mode (e.g. ``fit_map(...).best``), in the parameters' units.
    posterior : bool
        With a Likelihood: the log posterior (default) or the log likelihood.
    chunk : int, optional
        Hessian columns per step (``xlens.engine.hessian``). ``None`` (default): all n at
        once, ``jacfwd`` of the gradient -- n tangents of the gradient program side by side,
        fine for small models. An integer ``k >= 1``: Hessian-vector products ``k`` at a
        time under ``lax.map``, with the memory and compile time of ``k`` gradients. On the
        default lens model (15 parameters, ~1000 haloes) use ``chunk=1``: all at once needs
        15 copies of the gradient's working memory.

    Returns
    -------
    LaplaceResult

    Raises
    ------
    ValueError
        If ``-H`` is not positive definite at ``theta`` (not a maximum), naming the
        smallest eigenvalue and its direction's largest parameter.
    NotImplementedError
        On the NumPy engine.
    """
    chunk = engine.check_hessian_chunk(chunk, caller="laplace")
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 1:
        raise ValueError(f"laplace: theta must have shape (n,); got {theta.shape}")
    names = None
    if isinstance(target, Likelihood):
        eng = target.sim.engine
        fn, args = target.pure(posterior=posterior)
        names = target.space.names
        if theta.shape[0] != target.space.size:
            raise ValueError(f"laplace: theta must have shape ({target.space.size},); got {theta.shape}")
    else:
        if not callable(target):
            raise TypeError(f"laplace takes a Likelihood or a callable; got {type(target).__name__}")
        eng, args = "jax", ()

        def fn(t):
            return target(t)
    program = engine.jit(lambda t, *a: engine.hessian(lambda v: fn(v, *a), eng, chunk=chunk)(t), eng)
    hess = np.asarray(program(theta, *args), dtype=np.float64)
    if not np.all(np.isfinite(hess)):
        raise ValueError("laplace: the Hessian is not finite at theta (on the prior's boundary?)")
    precision = -0.5 * (hess + hess.T)
    eig, vec = np.linalg.eigh(precision)
    if eig[0] <= 0.0:
        k = int(np.argmax(np.abs(vec[:, 0])))
        where = f" (mostly {names[k]})" if names else f" (mostly parameter {k})"
        raise ValueError(f"laplace: -H is not positive definite at theta: smallest eigenvalue {eig[0]:.3g}"
                         f"{where}; theta is not a maximum of the log density")
    cov = (vec / eig) @ vec.T
    return LaplaceResult(theta, cov, hess, float(eig[-1] / eig[0]), np.sqrt(np.diag(cov)))
