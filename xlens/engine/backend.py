"""Which array library runs: importing JAX, namespaces, dtypes and concreteness.

This module is the root of the engine package: every other engine module imports
from it, and it imports nothing from xlens. It answers the questions physics code
asks about its inputs — which namespace ``xp`` they belong to, which float dtype
to compute in, whether a value is concrete or a JAX tracer — without physics code
ever naming NumPy or JAX.

Importing JAX here changes no JAX configuration: float64 is made available where
xlens needs it by :func:`xlens.engine.float64_scope` (a thread-local JAX context),
and the persistent compilation cache is turned on only by an application calling
:func:`xlens.engine.enable_compilation_cache`.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "ENGINES",
    "ArrayLike",
    "asarray",
    "backend_info",
    "check_engine",
    "dtype_name",
    "engine_of",
    "float_dtype",
    "get_xp",
    "import_jax",
    "is_concrete",
    "is_jax",
    "jax_available",
    "namespace",
    "promoted_namespace",
]

ArrayLike = Any  # an array of any supported backend, or a Python scalar

ENGINES = ("numpy", "jax")

_NUMPY_XP = array_api_compat.array_namespace(np.empty(0))


def jax_available() -> bool:
    """Return True when JAX can be imported."""
    return "jax" in sys.modules or importlib.util.find_spec("jax") is not None


def import_jax():
    """Import and return the ``jax`` module, or raise an ImportError that says how to install it.

    Only imports: no ``jax.config.update`` here or anywhere in the library.
    """
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "engine='jax' needs JAX; install it with `pip install 'xlens[jax]'`"
        ) from exc
    return jax


def check_engine(engine: str) -> str:
    """Return ``engine`` if it is one of :data:`ENGINES`, else raise a ValueError naming them."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}; got {engine!r}")
    return engine


def get_xp(engine: str):
    """Return the array namespace of an engine.

    Parameters
    ----------
    engine : {"numpy", "jax"}
        The engine name.

    Returns
    -------
    module
        ``array_api_compat.numpy`` for ``"numpy"``, ``jax.numpy`` for ``"jax"``.
    """
    if check_engine(engine) == "jax":
        return import_jax().numpy
    return _NUMPY_XP


def _is_scalar(a) -> bool:
    """Values that carry no engine: None, Python numbers and 0-d NumPy values."""
    if a is None or isinstance(a, int | float | complex | np.generic):
        return True
    return isinstance(a, np.ndarray) and a.ndim == 0


def namespace(*arrays: ArrayLike):
    """Return the array namespace of the inputs.

    NumPy arrays give ``array_api_compat.numpy``; JAX arrays and tracers give
    ``jax.numpy``; with no array at all the NumPy namespace is returned.

    Scalars carry no engine and are skipped: ``None``, Python numbers and 0-d NumPy
    values (``np.float64(2.0)``, ``np.asarray(2.0)``), which convert to any namespace
    without ambiguity — a profile built from Python or NumPy scalars works on a JAX grid.

    Raises
    ------
    TypeError
        When NumPy arrays (of one or more dimensions) and JAX arrays are mixed. The
        usual cause is a profile or batch with NumPy leaves closed over by a jitted
        function: pass it as an argument instead, or convert with ``xp.asarray`` first.
    A function that converts every input itself may use :func:`promoted_namespace`.
    """
    arrays = tuple(a for a in arrays if not _is_scalar(a))
    if not arrays:
        return _NUMPY_XP
    jax_arrays = [a for a in arrays if array_api_compat.is_jax_array(a)]
    if jax_arrays and len(jax_arrays) < len(arrays):
        other = next(a for a in arrays if not array_api_compat.is_jax_array(a))
        raise TypeError(
            "engine.namespace: NumPy and JAX arrays are mixed "
            f"(a {type(other).__module__}.{type(other).__name__} of shape {np.shape(other)} "
            f"with a JAX {type(jax_arrays[0]).__name__}); convert the NumPy arrays with "
            "xp.asarray first, or pass the object holding them as an argument of the jitted "
            "function instead of closing over it"
        )
    if jax_arrays:
        return import_jax().numpy
    return array_api_compat.array_namespace(*arrays)


def promoted_namespace(*arrays: ArrayLike):
    """The namespace that mixed inputs convert to: JAX if any input is a JAX array, else NumPy.

    The explicit opt-in for functions that evaluate an object's parameters on a grid and
    convert every parameter with ``xp.asarray`` before use (``Profile._evaluate``, the
    tracer): NumPy parameters — a profile built from Python or NumPy values, or a constant
    built inside a traced function — then follow a JAX grid, and a NumPy grid closed over
    by a jitted function follows traced parameters. Everywhere else use :func:`namespace`,
    which refuses the mix.
    """
    arrays = tuple(a for a in arrays if not _is_scalar(a))
    if any(array_api_compat.is_jax_array(a) for a in arrays):
        return import_jax().numpy
    return namespace(*arrays)


def is_jax(xp) -> bool:
    """Return True if ``xp`` is the JAX namespace."""
    return array_api_compat.is_jax_namespace(xp)


def engine_of(xp) -> str:
    """Return the engine name (``"numpy"`` or ``"jax"``) of a namespace."""
    return "jax" if is_jax(xp) else "numpy"


def is_concrete(x) -> bool:
    """True when ``x`` has a value now: NumPy arrays, Python scalars, concrete JAX arrays.

    False for JAX tracers (inside ``jit``, ``vmap``, ``grad``, ``scan``...), whose values
    are unknown at trace time, so validation that reads values must be skipped for them.
    Uses the public ``jax.core.Tracer`` class, and does not import JAX: without JAX
    imported no tracer can exist.
    """
    jax = sys.modules.get("jax")
    return jax is None or not isinstance(x, jax.core.Tracer)


def float_dtype(xp, dtype: Any = None):
    """Return the floating dtype to compute in.

    Parameters
    ----------
    xp : namespace
        The array namespace.
    dtype : str or dtype, optional
        ``"float64"`` (default) or ``"float32"``.

    Notes
    -----
    On JAX, ``float64`` arrays exist only where float64 is enabled: inside an
    :func:`xlens.engine.jit` function or an :func:`xlens.engine.float64_scope`.
    """
    if dtype is None:
        return xp.float64
    name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return getattr(xp, name)


def dtype_name(a) -> str:
    """``"float32"`` for float32 arrays, else ``"float64"``: the static key of every
    precision-dependent constant (series lengths, switch points, clamps)."""
    return "float32" if str(a.dtype) == "float32" else "float64"


def asarray(x: ArrayLike, *, xp, dtype=None):
    """Convert ``x`` to an array of namespace ``xp`` (float64 unless ``dtype``).

    A float64 JAX array needs float64 enabled (see :func:`float_dtype`).
    """
    return xp.asarray(x, dtype=float_dtype(xp) if dtype is None else dtype)


def backend_info() -> dict[str, Any]:
    """What JAX runs on, for provenance and reports (empty without JAX).

    Keys: ``jax`` and ``jaxlib`` (versions), ``backend`` (``"cpu"``, ``"gpu"``, ...),
    ``device_count`` and ``device_kind`` (of the first device).
    """
    if not jax_available():
        return {}
    jax = import_jax()
    import jaxlib

    device = jax.devices()[0]
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "backend": jax.default_backend(),
            "device_count": jax.device_count(), "device_kind": device.device_kind}
