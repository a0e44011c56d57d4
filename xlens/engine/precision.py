"""Scoped float64 on JAX: the library never turns on ``jax_enable_x64`` for the process.

JAX computes in float32 unless ``jax_enable_x64`` is on. xlens needs float64 (the
reference precision on both engines), but a library that flips the global flag
silently changes every other JAX program in the process — a user's float32 network
would start running in float64. So xlens enables float64 only around its own work,
with JAX's ``jax.enable_x64(True)`` context:

* :func:`xlens.engine.jit` runs every trace and every call of the compiled
  function inside the scope (so jitted code needs nothing more);
* eager public entry points that build float64 JAX arrays outside ``jit`` are
  decorated with :func:`scoped`, or wrap their body in :func:`float64_scope`.

float32 stays float32 inside the scope: xlens picks every dtype explicitly (the
grid's dtype, or the ``dtype`` argument of the public entry points). Arrays made
inside the scope keep their float64 dtype after it; further eager JAX operations on
them outside the scope, however, compute in float32 (with a JAX warning).

The scope is JAX's own configuration context, which is thread-local: entering it
in one thread changes nothing in the others.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

from .backend import import_jax, jax_available

__all__ = ["check_not_traced", "float64_scope", "scoped", "scoped_methods"]


def float64_scope():
    """A context manager in which JAX can create and compute float64 arrays.

    ``jax.enable_x64(True)`` when JAX is installed (thread-local, restored on exit;
    the global ``jax_enable_x64`` flag is never changed); ``contextlib.nullcontext()``
    without JAX, where NumPy is float64 anyway. Nesting is harmless.

    Examples
    --------
    >>> from xlens import engine
    >>> with engine.float64_scope():                     # doctest: +SKIP
    ...     x = engine.get_xp("jax").asarray(1.0, dtype="float64")
    """
    if not jax_available():
        return contextlib.nullcontext()
    return import_jax().enable_x64(True)


def scoped(fn: Callable) -> Callable:
    """Decorator: run ``fn`` inside :func:`float64_scope` (for eager public entry points).

    JAX is imported at call time, not at decoration time, so decorating costs nothing
    on a NumPy-only install.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if jax_available() and not import_jax().config.jax_enable_x64:
            check_not_traced(fn, args, kwargs)
        with float64_scope():
            return fn(*args, **kwargs)

    return wrapper


def check_not_traced(fn: Callable, args, kwargs) -> None:
    """Refuse a call from inside a JAX transformation traced without float64.

    Switching float64 on in the middle of someone else's trace mixes float32 and float64
    constants inside JAX (its errors then name a ``reduce`` or a ``cond`` deep inside xlens),
    and leaving it off would silently compute xlens's float64 parts in float32. So the
    caller is asked, in words, to trace inside the scope.

    Raises
    ------
    RuntimeError
        If an argument of ``fn`` is a JAX tracer while ``jax_enable_x64`` is off.
    """
    jax = import_jax()
    leaves = jax.tree_util.tree_leaves((args, kwargs))
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        raise RuntimeError(
            f"{fn.__qualname__} was called inside jax.jit/grad/vmap traced without float64. xlens computes "
            "in float64 where its accuracy needs it: trace your function inside the scope "
            "(`with xlens.engine.float64_scope(): jax.jit(f)(x)`), or with `xlens.engine.jit(f, 'jax')`, "
            "or turn on jax_enable_x64 for your process"
        )


def scoped_methods(cls: type) -> type:
    """Class decorator: every public method (and ``__init__``, ``__call__``) defined in
    ``cls`` runs inside :func:`float64_scope` (the rule for xlens's entry-point classes:
    ``Simulator``, ``SimulatorImaging``, ``ParameterSpace``, ``Likelihood``, the populations).
    Properties, static and class methods are left as they are."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not isinstance(value, type) and (
                not name.startswith("_") or name in ("__init__", "__call__")):
            setattr(cls, name, scoped(value))
    return cls
