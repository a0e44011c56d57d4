"""Array helpers whose NumPy and JAX spellings differ: functional updates, safe branches, special functions.

Physics code never writes in place (JAX arrays are immutable) and never lets the
unselected branch of a ``where`` see an argument it cannot handle (its gradient
would be NaN). These helpers give one spelling for both engines, so no physics
module needs ``if is_jax(xp)``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.special

from .backend import import_jax, is_jax

__all__ = [
    "add_windows", "at_add", "at_set", "gammaln", "ndtr", "ndtri", "take_windows", "top_k_indices", "where_finite",
]


def where_finite(cond, value_fn: Callable, arg, safe, *, xp):
    """Evaluate ``value_fn`` only where ``cond`` holds, keeping gradients finite.

    ``value_fn`` is applied to ``where(cond, arg, safe)`` so that the branch
    that is not selected never sees an argument it cannot handle (the
    "double where", PHYSICS.md §16). Entries where ``cond`` is False are 0.
    """
    out = value_fn(xp.where(cond, arg, safe))
    return xp.where(cond, out, xp.zeros_like(out))


def at_set(x, index, value, *, xp):
    """Return a copy of ``x`` with ``x[index] = value`` (no in-place write)."""
    if is_jax(xp):
        return x.at[index].set(value)
    out = np.array(x, copy=True)
    out[index] = value
    return xp.asarray(out)


def at_add(x, index, values, *, xp):
    """Return a copy of ``x`` with ``values`` added at ``index`` (repeated indices accumulate)."""
    if is_jax(xp):
        return x.at[index].add(values)
    out = np.array(x, copy=True)
    np.add.at(out, index, np.asarray(values))
    return xp.asarray(out)


def take_windows(x, starts, size: tuple[int, int], *, xp):
    """The ``(k, size[0], size[1], ...)`` windows ``x[r:r + size[0], c:c + size[1]]`` of an
    array ``x`` (H, W, ...) at the integer ``starts`` (k, 2) = (r, c), which must keep each
    window inside ``x`` (JAX clamps them, as ``lax.dynamic_slice`` does). On JAX one gather of
    whole windows, several times cheaper on the CPU than indexing every element
    (docs/performance.md)."""
    h, w = int(size[0]), int(size[1])
    if is_jax(xp):
        jax = import_jax()
        rest = tuple(x.shape[2:])
        # the trailing offsets in the starts' own integer type (dynamic_slice needs one type)
        return jax.vmap(lambda st: jax.lax.dynamic_slice(
            x, (st[0], st[1], *(st[0] * 0,) * len(rest)), (h, w, *rest)))(starts)
    x = np.asarray(x)
    return xp.asarray(np.stack([x[r:r + h, c:c + w] for r, c in np.asarray(starts).reshape(-1, 2)]))


def add_windows(x, starts, windows, *, xp):
    """A copy of ``x`` (H, W, ...) with each of ``windows`` (k, h, w, ...) added at its
    ``starts`` (k, 2) = (r, c) (inside ``x``; JAX clamps); overlapping windows accumulate.
    On JAX one ``scatter_add`` of whole windows (differentiable, batchable)."""
    if is_jax(xp):
        lax = import_jax().lax
        numbers = lax.ScatterDimensionNumbers(update_window_dims=tuple(range(1, windows.ndim)),
                                              inserted_window_dims=(), scatter_dims_to_operand_dims=(0, 1))
        return lax.scatter_add(x, starts, windows, numbers, mode=lax.GatherScatterMode.CLIP)
    out = np.array(x, copy=True)
    wins = np.asarray(windows)
    h, w = wins.shape[1], wins.shape[2]
    for (r, c), win in zip(np.asarray(starts).reshape(-1, 2), wins, strict=True):
        out[r:r + h, c:c + w] += win
    return xp.asarray(out)


def top_k_indices(x, k: int, *, xp):
    """Indices of the ``k`` largest entries of the last axis of ``x``, largest first; equal
    values in index order (``argsort(-x, stable)[..., :k]``). On JAX ``lax.top_k``, which
    compiles several times faster than a sort on the CPU (docs/performance.md)."""
    if is_jax(xp):
        return import_jax().lax.top_k(x, k)[1]
    return xp.asarray(np.argsort(-np.asarray(x), axis=-1, kind="stable")[..., :k])


def gammaln(x, *, xp):
    """Natural log of the absolute value of the Gamma function, on either engine."""
    if is_jax(xp):
        return import_jax().scipy.special.gammaln(x)
    return xp.asarray(scipy.special.gammaln(x))


def ndtr(x, *, xp):
    """The standard normal CDF, Phi(x) = (1 + erf(x / sqrt(2))) / 2, on either engine.

    Accurate in relative terms in the lower tail (Phi(-30) ~ 4.9e-198); use
    ``1 - ndtr(x) = ndtr(-x)`` for the upper tail.
    """
    if is_jax(xp):
        return import_jax().scipy.special.ndtr(x)
    return xp.asarray(scipy.special.ndtr(x))


def ndtri(p, *, xp):
    """The inverse of :func:`ndtr`: the standard normal quantile of ``p`` in [0, 1], on either engine.

    ``ndtri(0) = -inf`` and ``ndtri(1) = inf``; for p close to 1 use ``-ndtri(1 - p)`` with
    ``1 - p`` computed without cancellation.
    """
    if is_jax(xp):
        return import_jax().scipy.special.ndtri(p)
    return xp.asarray(scipy.special.ndtri(p))
