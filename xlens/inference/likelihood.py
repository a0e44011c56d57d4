"""The Gaussian log-likelihood of an image under the simulator, compiled once (:class:`Likelihood`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import ArrayLike, default_key, jit, map_batch, namespace, scoped_methods, value_and_grad
from ..errors import check_range
from ..model import SimParams
from ..simulator import Simulator
from .space import ParameterSpace

__all__ = ["Likelihood", "likelihood"]

_LOG_2PI = math.log(2.0 * math.pi)


@scoped_methods
class Likelihood:
    """The Gaussian log-likelihood of an image under the simulator, compiled once.

    Parameters
    ----------
    sim : Simulator
        The forward model (its engine, dtype and fast/exact path are used as they are).
    data : array, shape ``sim.config.shape_native``
        The observed image [e-/s].
    noise_map : array, same shape
        Per-pixel standard deviation [e-/s], > 0 and finite.
    space : ParameterSpace, optional
        The free parameters (default ``ParameterSpace(sim)``: every macro parameter
        with a range prior, a smooth lens).
    mask : array of bool, same shape, optional
        True for the pixels that enter the likelihood (default: all).

    Notes
    -----
    ``log L = -1/2 sum_i ((d_i - m_i)/sigma_i)^2 - sum_i log sigma_i - (N/2) log 2 pi``
    over the N unmasked pixels, with ``m`` the noiseless PSF-convolved model image of
    ``space.to_params(theta)`` (``sim.model_image``). The normalisation *is* included,
    so ``log L`` is the log density of the data and nested-sampling evidences are
    absolute. The sum is taken in float64 whatever the simulator's dtype. The noise map
    is fixed (it does not follow the model's Poisson variance), as is usual in lens
    modelling.

    Pure functions of ``theta`` (use them inside your own ``jit``, ``grad``, ``vmap``,
    blackjax, numpyro): :meth:`log_likelihood`, :meth:`log_prior`, :meth:`log_posterior`.
    Compiled entry points (each compiles once per input shape; inputs of any type are
    converted to float64 arrays first): ``like(theta)``, :meth:`value_and_grad`,
    :meth:`batch`, :meth:`params`; :meth:`diagnostics` adds the simulator's own compiled
    diagnostics. :attr:`traces` counts how often each compiled program was traced.

    Examples
    --------
    >>> like = xlens.likelihood(sim, example.data, example.noise_map, space)   # doctest: +SKIP
    >>> like(space.to_vector(truth))                      # doctest: +SKIP
    >>> value, grad = like.value_and_grad(space.to_vector(truth))             # doctest: +SKIP
    >>> like.batch(space.sample(jax.random.key(0), (256,))).shape             # doctest: +SKIP
    (256,)
    """

    def __init__(
        self,
        sim: Simulator,
        data: ArrayLike,
        noise_map: ArrayLike,
        space: ParameterSpace | None = None,
        *,
        mask: ArrayLike | None = None,
    ):
        if not isinstance(sim, Simulator):
            raise TypeError(f"Likelihood takes a Simulator; got {type(sim).__name__}")
        self.sim = sim
        self.space = ParameterSpace(sim) if space is None else space
        if self.space.sim is not sim:
            raise ValueError("Likelihood: the ParameterSpace was built for another Simulator")
        shape = tuple(sim.config.shape_native)
        if mask is None:
            weights = np.ones(shape)
        else:
            mask = np.asarray(mask)
            if mask.shape != shape or mask.dtype != np.bool_:
                raise ValueError(
                    f"Likelihood.mask must be a boolean array of shape {shape}; got {mask.dtype} {mask.shape}"
                )
            if not mask.any():
                raise ValueError("Likelihood.mask selects no pixel")
            weights = mask.astype(np.float64)
        self._weights = weights
        self._jit: dict[Any, Callable] = {}
        #: Number of times each compiled program was traced (a retrace means a recompile).
        self.traces: dict[str, int] = {}
        self._set_data(data, noise_map)

    def _set_data(self, data, noise_map) -> None:
        shape = tuple(self.sim.config.shape_native)
        d = np.asarray(data, dtype=np.float64)
        s = np.asarray(noise_map, dtype=np.float64)
        for name, arr in (("data", d), ("noise_map", s)):
            if arr.shape != shape:
                raise ValueError(f"Likelihood.{name} must have shape {shape} (shape_native); got {arr.shape}")
        check_range("Likelihood", "data", d, units="[e-/s]")
        check_range("Likelihood", "noise_map", s, 0.0, units="[e-/s]",
                    hint="a zero or negative standard deviation has no likelihood")
        w = self._weights
        #: The data-independent part of log L: -sum(log sigma) - (N/2) log(2 pi) over unmasked pixels.
        self.log_normalisation = float(-np.sum(w * np.log(s)) - 0.5 * np.sum(w) * _LOG_2PI)
        xp = self.sim.xp
        self.data = xp.asarray(d)
        self.noise_map = xp.asarray(s)
        # arguments of every compiled program (never constants baked into it: see the module notes)
        self._args = (self.space.reference, self.data, xp.asarray(w / s), xp.asarray(self.log_normalisation))

    def with_data(self, data: ArrayLike, noise_map: ArrayLike) -> Likelihood:
        """A likelihood of another image of the same shape that reuses these compiled programs."""
        other = object.__new__(Likelihood)
        other.__dict__.update(self.__dict__)
        other._set_data(data, noise_map)
        return other

    # ----------------------------------------------------------- pure functions
    def _log_likelihood(self, theta, reference, data, inv_sigma, log_norm):
        params = self.space.to_params(theta, reference)
        key = default_key(self.sim.engine)  # the noise is not used: only model_image is kept
        model = self.sim.forward(params, key)["model_image"]
        xp = namespace(model, data)
        r = (data - xp.astype(model, xp.float64)) * inv_sigma
        return -0.5 * xp.sum(r * r) + log_norm

    def _log_posterior(self, theta, reference, data, inv_sigma, log_norm):
        xp = namespace(theta)
        # evaluate the model inside the box only (a double where keeps gradients finite)
        inside = self.space.contains(theta)
        safe = xp.clip(theta, xp.asarray(self.space.low), xp.asarray(self.space.high))
        value = self._log_likelihood(safe, reference, data, inv_sigma, log_norm) + self.space.log_prior(safe)
        return xp.where(inside, value, -math.inf)

    def log_likelihood(self, theta: ArrayLike) -> ArrayLike:
        """log L(theta) (pure; ``theta`` shape (n,) float64); see the class notes."""
        return self._log_likelihood(theta, *self._args)

    def log_prior(self, theta: ArrayLike) -> ArrayLike:
        """Log density of the priors (pure): :meth:`ParameterSpace.log_prior`, -inf outside the box."""
        return self.space.log_prior(theta)

    def log_posterior(self, theta: ArrayLike) -> ArrayLike:
        """log L + log prior (pure), -inf outside the prior box (where the model is not evaluated)."""
        return self._log_posterior(theta, *self._args)

    def pure(self, posterior: bool = True) -> tuple[Callable, tuple]:
        """``(fn, args)`` with ``fn(theta, *args)`` the log posterior (or log L) as a pure function.

        For a caller's own ``jit``: pass ``args`` (reference, data, inverse noise,
        normalisation) as arguments of the jitted function, so they are not constants of
        the program (XLA would fold the fixed haloes into it) and :meth:`with_data` images
        reuse the compiled program.
        """
        return (self._log_posterior if posterior else self._log_likelihood), self._args

    # --------------------------------------------------------- compiled entries
    def _theta(self, theta, ndim: int):
        """Any input -> a float64 array of the engine, shape (n,) or (B, n): one trace per shape."""
        xp = self.sim.xp
        n = self.space.size
        if isinstance(theta, list | tuple | float | int | np.ndarray | np.generic):
            theta = xp.asarray(np.asarray(theta, dtype=np.float64))
        else:
            theta = xp.asarray(theta, dtype=xp.float64)  # JAX arrays (any float dtype) and tracers
        if theta.ndim != ndim or theta.shape[-1] != n:
            want = f"({n},)" if ndim == 1 else f"(batch, {n})"
            raise ValueError(
                f"Likelihood: theta must have shape {want} for the free parameters {self.space.names[:3]}...; "
                f"got {tuple(theta.shape)}"
            )
        return theta

    def _program(self, kind: str, posterior: bool = False) -> Callable:
        key = (kind, posterior)
        if key in self._jit:
            return self._jit[key]
        target = self._log_posterior if posterior else self._log_likelihood
        label = "params" if kind == "params" else f"{kind}_{'log_posterior' if posterior else 'log_likelihood'}"
        eng = self.sim.engine

        if kind == "value":
            inner = target
        elif kind == "value_and_grad":
            inner = value_and_grad(target, eng)
        elif kind == "batch":
            def inner(thetas, *args):
                return map_batch(lambda t: target(t, *args), eng)(thetas)
        elif kind == "params":
            def inner(theta, reference, *_):
                return self.space.to_params(theta, reference)
        else:  # pragma: no cover - internal
            raise KeyError(kind)

        traces = self.traces

        def program(theta, *args):
            traces[label] = traces.get(label, 0) + 1  # runs once per trace
            return inner(theta, *args)

        program.__name__ = program.__qualname__ = f"xlens_{label}"
        self._jit[key] = jit(program, eng)
        return self._jit[key]

    def __call__(self, theta: ArrayLike, *, posterior: bool = False) -> ArrayLike:
        """log L(theta) (or the log posterior), compiled once.

        Parameters
        ----------
        theta : array_like, shape (n,)
            A list of floats, a NumPy array or a JAX array of any float dtype.
        posterior : bool
            Return :meth:`log_posterior` instead (a separate program, also compiled once).

        Returns
        -------
        array, shape ()
            float64 on the simulator's engine.
        """
        return self._program("value", posterior)(self._theta(theta, 1), *self._args)

    def value_and_grad(self, theta: ArrayLike, *, posterior: bool = False) -> tuple[ArrayLike, ArrayLike]:
        """``(log L, d log L / d theta)`` at ``theta`` (shape (n,)), compiled once (JAX only).

        The gradient has shape (n,), in the inverse units of :attr:`ParameterSpace.units`.

        Raises
        ------
        NotImplementedError
            On the NumPy engine.
        """
        return self._program("value_and_grad", posterior)(self._theta(theta, 1), *self._args)

    def batch(self, thetas: ArrayLike, *, posterior: bool = False) -> ArrayLike:
        """log L of a batch, shape (B,), for ``thetas`` of shape (B, n), in one compiled call.

        ``engine.map_batch`` inside one program (``lax.map`` on a CPU, which keeps the
        skipping of empty halo chunks; ``vmap`` on accelerators). One compile per B.
        """
        return self._program("batch", posterior)(self._theta(thetas, 2), *self._args)

    def params(self, theta: ArrayLike) -> SimParams:
        """``space.to_params(theta)`` as one compiled call (no op-by-op dispatch for a plot)."""
        return self._program("params")(self._theta(theta, 1), *self._args)

    def diagnostics(self, theta: ArrayLike, key=None) -> dict[str, ArrayLike]:
        """``sim.diagnostics`` at ``theta``: the simulator's own compiled function (no new compile)."""
        return self.sim.diagnostics(self.params(theta), key)

    def model_image(self, theta: ArrayLike) -> ArrayLike:
        """The noiseless PSF-convolved model image [e-/s] at ``theta`` (via :meth:`diagnostics`)."""
        return self.diagnostics(theta)["model_image"]

    def __repr__(self) -> str:
        return f"Likelihood({self.sim.engine}, {self.sim.dtype}, {self.space.size} free parameters)"


def likelihood(
    sim: Simulator,
    data: ArrayLike,
    noise_map: ArrayLike,
    space: ParameterSpace | None = None,
    *,
    mask: ArrayLike | None = None,
) -> Likelihood:
    """The Gaussian log-likelihood of ``data`` under ``sim``: see :class:`Likelihood`.

    Parameters
    ----------
    sim : Simulator
    data, noise_map : array, shape ``sim.config.shape_native``
        Image and per-pixel standard deviation [e-/s].
    space : ParameterSpace, optional
        Free parameters and the reference for the fixed ones.
    mask : array of bool, optional
        Pixels to use.

    Returns
    -------
    Likelihood
    """
    return Likelihood(sim, data, noise_map, space, mask=mask)
