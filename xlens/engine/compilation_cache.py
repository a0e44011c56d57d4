"""JAX's persistent compilation cache, switched on by applications only.

Compiling the default model takes tens of seconds; JAX can keep compiled programs
on disk so that a new process does not pay again. Where they go is process-wide
JAX configuration, so the library never sets it on import: an application (the
``xlens`` command line, a user's script) calls :func:`enable_compilation_cache`
once. A cache folder the user already configured in JAX is left alone.
"""

from __future__ import annotations

import os

from .backend import import_jax, jax_available

__all__ = ["compilation_cache_dir", "enable_compilation_cache"]

#: Cache every compiled program that took longer than this to compile [s].
MIN_COMPILE_TIME_S = 0.1


def compilation_cache_dir() -> str | None:
    """The folder :func:`enable_compilation_cache` uses by default, or None when switched off.

    Default: ``$XDG_CACHE_HOME/xlens/jax`` (``~/.cache/xlens/jax``). Set the environment
    variable ``XLENS_COMPILATION_CACHE`` to another folder, or to ``0`` / ``off`` to opt
    out.
    """
    value = os.environ.get("XLENS_COMPILATION_CACHE", "")
    if value.lower() in ("0", "off", "false", "no"):
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xlens", "jax")


def enable_compilation_cache(path: str | os.PathLike | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache for this process; return the folder in use.

    This changes process-wide JAX configuration (``jax_compilation_cache_dir`` and
    ``jax_persistent_cache_min_compile_time_secs``), so it is for applications: the
    ``xlens`` command line calls it; library users call it once at the start of their
    script. Call it before the first compilation.

    Parameters
    ----------
    path : str or path-like, optional
        The cache folder (created if needed). Default: :func:`compilation_cache_dir`,
        which honours ``XLENS_COMPILATION_CACHE`` (``off`` switches the cache off).

    Returns
    -------
    str or None
        The folder JAX caches in: a folder already configured in JAX (by the user, or an
        earlier call) is left alone and returned; None without JAX, when switched off, or
        when the folder cannot be created (e.g. a read-only home).
    """
    if not jax_available():
        return None
    jax = import_jax()
    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    path = compilation_cache_dir() if path is None else os.fspath(path)
    if path is None:
        return None
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # pragma: no cover - read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path
