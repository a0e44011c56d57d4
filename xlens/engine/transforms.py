"""Function transformations: ``jit``, ``vmap``, ``value_and_grad``, ``scan``, ``switch`` on both engines.

On JAX these are JAX's transformations; on NumPy they degrade to what the
transformation means without a compiler — ``jit`` is the identity, ``vmap`` and
``scan`` are Python loops that stack their results, ``switch`` calls one branch — so the same physics code runs
eagerly as a debuggable reference.

:func:`jit` is also where xlens gets float64 on JAX without changing the process's
JAX configuration: the returned callable traces and runs the compiled function
inside :func:`xlens.engine.float64_scope` (see :mod:`xlens.engine.precision`).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from .backend import check_engine, import_jax, is_jax
from .pytrees import tree_leaves, tree_map, tree_stack

__all__ = [
    "block_until_ready", "check_hessian_chunk", "checkpoint", "hessian", "jit", "scan", "switch", "value_and_grad",
    "vmap",
]


class _Float64Jitted:
    """A ``jax.jit`` function that traces and runs with float64 enabled.

    Calls, and calls of the jitted function's methods (``lower``, ``trace``,
    ``eval_shape``, ...), run inside ``jax.enable_x64(True)``; every other attribute
    (``_cache_size``, ``__wrapped__``, ...) is the jitted function's own.
    """

    def __init__(self, fn: Callable, jitted, enable_x64):
        functools.update_wrapper(self, fn)
        self._jitted = jitted
        self._enable_x64 = enable_x64

    def __call__(self, *args, **kwargs):
        with self._enable_x64(True):
            return self._jitted(*args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_jitted", "_enable_x64"):
            raise AttributeError(name)
        attr = getattr(self._jitted, name)
        if not callable(attr):
            return attr

        def in_scope(*args, **kwargs):
            with self._enable_x64(True):
                return attr(*args, **kwargs)

        in_scope.__name__ = name
        in_scope.__doc__ = getattr(attr, "__doc__", None)
        return in_scope

    def __get__(self, obj, objtype=None):  # a method, as jax.jit functions are
        return self if obj is None else functools.partial(self, obj)

    def __repr__(self) -> str:
        return f"<xlens.engine.jit of {self._jitted!r}>"


def jit(fn: Callable, engine: str, **kwargs) -> Callable:
    """``jax.jit`` on the JAX engine (traced and run with float64 enabled); ``fn`` on NumPy.

    On JAX the result calls ``jax.jit(fn, **kwargs)`` inside
    :func:`xlens.engine.float64_scope`, so float64 inputs and constants stay float64
    while the process's ``jax_enable_x64`` flag is left as it is (float32 inputs
    stay float32: xlens picks dtypes explicitly). Attributes of the jitted function
    (``lower``, ``trace``, ``_cache_size``, ...) are forwarded. Call it from eager
    code or another xlens ``jit`` function: inside a user's own ``jax.jit`` traced
    without float64, the enclosing trace decides the precision.
    """
    if check_engine(engine) == "jax":
        jax = import_jax()
        return _Float64Jitted(fn, jax.jit(fn, **kwargs), jax.enable_x64)
    return fn


def vmap(fn: Callable, engine: str, in_axes=0, out_axes=0) -> Callable:
    """``jax.vmap`` on the JAX engine; a Python loop that stacks results on NumPy."""
    if check_engine(engine) == "jax":
        return import_jax().vmap(fn, in_axes=in_axes, out_axes=out_axes)

    def looped(*args):
        axes = in_axes if isinstance(in_axes, tuple | list) else (in_axes,) * len(args)
        sizes = {
            np.shape(leaf)[ax]
            for arg, ax in zip(args, axes, strict=True)
            if ax is not None
            for leaf in tree_leaves(arg)
        }
        if len(sizes) != 1:
            raise ValueError(f"vmap: inconsistent batch sizes {sorted(sizes)}")
        (n,) = sizes
        outs = [
            fn(
                *(
                    tree_map(lambda a, i=i, ax=ax: np.take(a, i, axis=ax), arg)
                    if ax is not None
                    else arg
                    for arg, ax in zip(args, axes, strict=True)
                )
            )
            for i in range(n)
        ]
        return tree_stack(outs, axis=out_axes)

    return looped


def value_and_grad(fn: Callable, engine: str, argnums: int | Sequence[int] = 0) -> Callable:
    """``jax.value_and_grad`` on the JAX engine; NumPy has no automatic differentiation.

    Raises
    ------
    NotImplementedError
        For ``engine="numpy"``: gradients need ``engine="jax"``.
    """
    if check_engine(engine) == "jax":
        return import_jax().value_and_grad(fn, argnums=argnums)
    raise NotImplementedError(
        "gradients need engine='jax' (NumPy has no automatic differentiation); "
        "build the Simulator with engine='jax'"
    )


def check_hessian_chunk(chunk, *, caller: str = "hessian", name: str = "chunk") -> int | None:
    """``chunk`` of :func:`hessian` (Hessian columns at a time), validated: ``None`` or an int >= 1.

    ``caller`` and ``name`` are the public function and argument the value came through,
    so that a caller validating before its own work reports its own names.

    Raises
    ------
    ValueError
        If ``chunk`` is not ``None`` or an integer (not a bool) >= 1.
    """
    if chunk is None:
        return None
    if isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral) or chunk < 1:
        raise ValueError(f"{caller}: {name} must be None or an integer >= 1; got {chunk!r} "
                         "(Hessian columns at a time)")
    return int(chunk)


def hessian(fn: Callable, engine: str, *, chunk: int | None = None) -> Callable:
    """The Hessian of a scalar ``fn(theta)`` (``theta`` shape (n,)) by forward-over-reverse on JAX.

    Parameters
    ----------
    fn : callable
        ``theta (n,) -> scalar``, JAX-differentiable.
    engine : {"jax"}
    chunk : int, optional
        ``None`` (default): all n columns at once, ``jax.jacfwd(jax.grad(fn))`` (n tangents
        of the gradient's program side by side: n times its memory). An integer ``k >= 1``:
        the columns ``H e_i`` as Hessian-vector products (``jvp`` of ``grad``), ``k`` at a
        time under ``lax.map`` -- memory and compile time of ``k`` gradients, whatever n
        (the default lens model needs ``chunk=1``..``4``; see ``docs/inference.md``).

    Returns
    -------
    callable
        ``theta (n,) -> H (n, n)``; pure (``jit``/``vmap``-able).

    Raises
    ------
    NotImplementedError
        For ``engine="numpy"``: second derivatives need ``engine="jax"``.
    ValueError
        If ``chunk`` is not ``None`` or an integer >= 1.
    """
    chunk = check_hessian_chunk(chunk)
    if check_engine(engine) != "jax":
        raise NotImplementedError(
            "second derivatives need engine='jax' (NumPy has no automatic differentiation); "
            "build the Simulator with engine='jax'"
        )
    jax = import_jax()
    if chunk is None:
        return jax.jacfwd(jax.grad(fn))
    k = chunk

    def by_columns(theta):
        jnp = jax.numpy
        n = theta.shape[0]
        n_chunks = -(-n // k)
        # unit vectors e_0 .. e_{n-1}, padded with zero vectors to n_chunks * k (their products are 0)
        basis = jnp.eye(n_chunks * k, n, dtype=theta.dtype).reshape(n_chunks, k, n)
        grad = jax.grad(fn)

        def columns(vs):  # (k, n) -> (k, n): H v for each v, forward-over-reverse
            return jax.vmap(lambda v: jax.jvp(grad, (theta,), (v,))[1])(vs)

        cols = jax.lax.map(columns, basis).reshape(n_chunks * k, n)[:n]
        return cols.T  # row i of cols is H e_i = column i of H (H is symmetric up to rounding)

    return by_columns


def scan(f: Callable, init, xs, *, xp, length: int | None = None):
    """``lax.scan`` on JAX; the same loop in Python on NumPy.

    ``f(carry, x) -> (carry, y)``; returns ``(carry, stacked ys)``. ``xs`` is a
    pytree whose leaves share a leading axis (or ``None`` with ``length``).
    """
    if is_jax(xp):
        return import_jax().lax.scan(f, init, xs, length=length)
    n = length if xs is None else int(np.shape(tree_leaves(xs)[0])[0])
    carry, ys = init, []
    for i in range(n):
        x = None if xs is None else tree_map(lambda a, i=i: a[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if not ys or ys[0] is None:
        return carry, None
    return carry, tree_stack(ys, axis=0)


def switch(index, branches: Sequence[Callable], *operands, xp):
    """``lax.switch`` on JAX; ``branches[index](*operands)`` on NumPy.

    ``index`` is an integer scalar in ``[0, len(branches))`` (on JAX it may be traced,
    e.g. a ``scan`` counter: only the chosen branch runs, unless ``vmap`` batches the
    index itself). Every branch must return the same structure, shapes and dtypes.
    """
    if is_jax(xp):
        return import_jax().lax.switch(index, list(branches), *operands)
    i = int(index)
    if not 0 <= i < len(branches):
        raise IndexError(f"switch: index must be in [0, {len(branches)}); got {i}")
    return branches[i](*operands)


def checkpoint(fn: Callable, *, xp) -> Callable:
    """``jax.checkpoint(fn)`` on JAX (reverse-mode differentiation stores ``fn``'s inputs and
    recomputes the rest in the backward pass instead of storing its temporaries); ``fn`` on
    NumPy. No effect on a program that is not differentiated."""
    if is_jax(xp):
        return import_jax().checkpoint(fn)
    return fn


def block_until_ready(x):
    """Wait for asynchronous JAX results; a no-op for NumPy values."""
    if any(type(leaf).__module__.startswith("jax") for leaf in tree_leaves(x)):
        return import_jax().block_until_ready(x)
    return x
