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

__all__ = ["at_add", "at_set", "gammaln", "ndtr", "ndtri", "where_finite"]


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
