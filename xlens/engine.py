"""The engine layer: the only module of xlens that names an array backend.

Physics code in xlens is written once against an array namespace ``xp`` (the
Python array API standard) and receives that namespace from its inputs through
:func:`namespace`. This module supplies everything that differs between the two
engines:

* ``"numpy"`` — a debuggable float64 reference that runs eagerly on the CPU;
* ``"jax"`` — the production engine: ``jit``, ``vmap``, ``lax.scan`` and
  accelerators.

Dtype policy
------------
float64 is the reference on both engines; every reference test passes at the
float64 tolerances of ``tests/helpers.py``. JAX may also run in float32 for
speed: the profiles use forms that stay accurate in float32 (PHYSICS.md §7,
§9, §16), and the measured float32 bounds are in ``docs/profiles.md``.
Importing xlens with JAX installed turns on ``jax_enable_x64`` so that float64
is available on JAX; float32 is then requested explicitly through the dtype of
the grid (or the ``dtype`` argument of the public entry points).

The helpers here are deliberately few: namespace resolution, ``jit``/``vmap``
and ``scan`` with a plain-Python fallback, the chunked halo reduction,
functional updates, a finite-branch ``where`` and the special functions both
engines need.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Sequence
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "ENGINES",
    "ArrayLike",
    "asarray",
    "at_add",
    "at_set",
    "backend_info",
    "batch_sharding",
    "block_until_ready",
    "default_key",
    "map_batch",
    "meta_fields",
    "tree_leaves",
    "tree_map",
    "tree_signature",
    "tree_stack",
    "compilation_cache_dir",
    "dtype_name",
    "float_dtype",
    "gammaln",
    "get_xp",
    "halo_sum",
    "is_concrete",
    "is_jax",
    "jax_available",
    "jit",
    "key_engine",
    "namespace",
    "random_ops",
    "register_pytree",
    "scan",
    "split_key",
    "value_and_grad",
    "vmap",
    "where_finite",
]

ArrayLike = Any  # an array of any supported backend, or a Python scalar

ENGINES = ("numpy", "jax")

#: Largest number of (halo x point) elements that one chunk of the halo
#: reduction materialises. Temporaries of a profile are ~20 arrays of this size,
#: so 2**17 float64 elements keep a chunk near 20 MiB. Measured on the 2-core CPU
#: (default model, JAX float32, fast path, median of 5): 2**16: 0.50 s, 2**17: 0.36 s,
#: 2**18: 0.41 s, 2**19: 0.42 s, 2**20: 0.50 s per image (smaller chunks waste fewer
#: padded slots when all-padding chunks are skipped; too small ones pay per-chunk overhead).
HALO_BLOCK_ELEMENTS = 2**17


def jax_available() -> bool:
    """Return True when JAX can be imported."""
    return importlib.util.find_spec("jax") is not None


def _jax():
    """Import JAX (with float64 enabled) or raise a clear error."""
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "engine='jax' needs JAX; install it with `pip install 'xlens[jax]'`"
        ) from exc
    if not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    _enable_compilation_cache(jax)
    return jax


_CACHE_SET = False


def compilation_cache_dir() -> str | None:
    """The persistent JAX compilation cache xlens uses, or None when it is switched off.

    Default: ``$XDG_CACHE_HOME/xlens/jax`` (``~/.cache/xlens/jax``). Set the environment
    variable ``XLENS_COMPILATION_CACHE`` to another folder, or to ``0`` / ``off`` to opt
    out; a cache folder the user already configured in JAX is left alone.
    """
    import os

    value = os.environ.get("XLENS_COMPILATION_CACHE", "")
    if value.lower() in ("0", "off", "false", "no"):
        return None
    if value:
        return value
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xlens", "jax")


def _enable_compilation_cache(jax) -> None:
    """Turn on JAX's persistent compilation cache (once), so a new process does not recompile."""
    global _CACHE_SET
    if _CACHE_SET:
        return
    _CACHE_SET = True
    path = compilation_cache_dir()
    if path is None or jax.config.jax_compilation_cache_dir:
        return
    try:
        import os

        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        # cache every compiled program that took more than a tenth of a second
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    except OSError:  # pragma: no cover - read-only home: run without the cache
        pass


def _check_engine(engine: str) -> str:
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
    if _check_engine(engine) == "jax":
        return _jax().numpy
    return array_api_compat.array_namespace(np.empty(0))


def namespace(*arrays: ArrayLike):
    """Return the array namespace of the inputs (Python scalars are skipped).

    NumPy arrays give ``array_api_compat.numpy``; JAX arrays and tracers give
    ``jax.numpy``. With no array at all,
    the NumPy namespace is returned. When JAX and NumPy arrays are mixed, the JAX
    namespace is returned, because NumPy arrays convert to JAX without a copy
    of meaning (a profile built from NumPy parameters works on a JAX grid).
    """
    arrays = tuple(a for a in arrays if a is not None and not isinstance(a, int | float | complex))
    if not arrays:
        return array_api_compat.array_namespace(np.empty(0))
    if any(array_api_compat.is_jax_array(a) for a in arrays):
        # NumPy inputs (e.g. a profile built from NumPy arrays) convert to JAX freely.
        return _jax().numpy
    return array_api_compat.array_namespace(*arrays)


def is_concrete(x) -> bool:
    """True unless ``x`` is a JAX tracer (an abstract value inside jit, vmap or grad)."""
    if not jax_available() or isinstance(x, np.ndarray | int | float | complex):
        return True
    return not isinstance(x, _jax().core.Tracer)


def is_jax(xp) -> bool:
    """Return True if ``xp`` is the JAX namespace."""
    return array_api_compat.is_jax_namespace(xp)


def engine_of(xp) -> str:
    """Return the engine name (``"numpy"`` or ``"jax"``) of a namespace."""
    return "jax" if is_jax(xp) else "numpy"


def float_dtype(xp, dtype: Any = None):
    """Return the floating dtype to compute in.

    Parameters
    ----------
    xp : namespace
        The array namespace.
    dtype : str or dtype, optional
        ``"float64"`` (default) or ``"float32"``.
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
    """Convert ``x`` to an array of namespace ``xp`` (float64 unless ``dtype``)."""
    return xp.asarray(x, dtype=float_dtype(xp) if dtype is None else dtype)


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
        return _jax().scipy.special.gammaln(x)
    import scipy.special

    return xp.asarray(scipy.special.gammaln(x))


def jit(fn: Callable, engine: str, **kwargs) -> Callable:
    """``jax.jit`` on the JAX engine, the function itself on NumPy."""
    if _check_engine(engine) == "jax":
        return _jax().jit(fn, **kwargs)
    return fn


def vmap(fn: Callable, engine: str, in_axes=0, out_axes=0) -> Callable:
    """``jax.vmap`` on the JAX engine; a Python loop that stacks results on NumPy."""
    if _check_engine(engine) == "jax":
        return _jax().vmap(fn, in_axes=in_axes, out_axes=out_axes)

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
    if _check_engine(engine) == "jax":
        return _jax().value_and_grad(fn, argnums=argnums)
    raise NotImplementedError(
        "gradients need engine='jax' (NumPy has no automatic differentiation); "
        "build the Simulator with engine='jax'"
    )


def scan(f: Callable, init, xs, *, xp, length: int | None = None):
    """``lax.scan`` on JAX; the same loop in Python on NumPy.

    ``f(carry, x) -> (carry, y)``; returns ``(carry, stacked ys)``. ``xs`` is a
    pytree whose leaves share a leading axis (or ``None`` with ``length``).
    """
    if is_jax(xp):
        return _jax().lax.scan(f, init, xs, length=length)
    n = length if xs is None else int(np.shape(tree_leaves(xs)[0])[0])
    carry, ys = init, []
    for i in range(n):
        x = None if xs is None else tree_map(lambda a, i=i: a[i], xs)
        carry, y = f(carry, x)
        ys.append(y)
    if not ys or ys[0] is None:
        return carry, None
    return carry, tree_stack(ys, axis=0)


def block_until_ready(x):
    """Wait for asynchronous JAX results; a no-op for NumPy values."""
    if any(type(leaf).__module__.startswith("jax") for leaf in tree_leaves(x)):
        return _jax().block_until_ready(x)
    return x


def halo_sum(
    fn: Callable,
    params: Sequence,
    n_halo: int,
    n_points: int,
    *,
    xp,
    block: int | None = None,
    active=None,
):
    """Sum the fields of ``n_halo`` haloes, evaluating the halo axis in chunks.

    Parameters
    ----------
    fn : callable
        ``fn(*chunk_params) -> array or tuple of arrays``, each of shape
        ``(h, n_points, ...)`` for a chunk of ``h`` haloes. Every parameter
        arrives with shape ``(h, 1)`` (or ``(h, 1, k)`` for vector parameters).
    params : sequence of arrays
        Per-halo parameters, each with leading axis ``n_halo``.
    n_halo, n_points : int
        Static sizes.
    xp : namespace
    block : int, optional
        Maximum ``h * n_points`` per chunk (default :data:`HALO_BLOCK_ELEMENTS`).
    active : array, shape (n_halo,), optional
        1 for haloes that contribute, 0 for padded slots (which must contribute
        exactly zero). A chunk with no active halo is skipped (``lax.cond`` on
        JAX; under ``vmap`` both branches run, which costs nothing extra).

    Returns
    -------
    array or tuple of arrays
        The sum over haloes, each of shape ``(n_points, ...)``.

    Notes
    -----
    On NumPy the chunks are a Python loop over slices; on JAX a ``lax.scan``
    over chunks whose tail is padded with copies of halo 0 weighted by 0 (so the
    padding adds exactly zero and keeps gradients finite). The reduction over
    haloes is never a loop over individual haloes.
    """
    block = HALO_BLOCK_ELEMENTS if block is None else block
    chunk = max(1, min(n_halo, block // max(n_points, 1)))
    expand = [_expand_param(p, xp) for p in params]

    def reduce(out):
        if isinstance(out, tuple):
            return tuple(xp.sum(o, axis=0) for o in out)
        return xp.sum(out, axis=0)

    if chunk >= n_halo:
        return reduce(fn(*expand))

    if not is_jax(xp):
        total = None
        for start in range(0, n_halo, chunk):
            if total is not None and active is not None and not np.any(np.asarray(active[start : start + chunk])):
                continue  # only padded slots: they add exactly zero
            part = reduce(fn(*(p[start : start + chunk] for p in expand)))
            total = part if total is None else _tree_map2(lambda a, b: a + b, total, part)
        return total

    jnp = xp
    n_chunks = -(-n_halo // chunk)
    pad = n_chunks * chunk - n_halo
    dtype = expand[0].dtype

    def padded(p):
        if pad:
            p = jnp.concatenate([p, jnp.broadcast_to(p[:1], (pad, *p.shape[1:]))], axis=0)
        return jnp.reshape(p, (n_chunks, chunk, *p.shape[1:]))

    weight = jnp.concatenate([jnp.ones(n_halo, dtype=dtype), jnp.zeros(pad, dtype=dtype)])
    weight = jnp.reshape(weight, (n_chunks, chunk))
    chunks = tuple(padded(p) for p in expand)
    act = weight if active is None else weight * padded(jnp.astype(jnp.asarray(active), dtype))
    lax = _jax().lax

    def weighted(w, out):
        return jnp.sum(w[(slice(None),) + (None,) * (out.ndim - 1)] * out, axis=0)

    def body(carry, xs):
        w, a, ps = xs

        def compute(carry):
            # rematerialise each chunk in the backward pass instead of storing its temporaries for
            # every chunk of the scan: the value-and-gradient of the default model's likelihood
            # took 35.7 s against 0.86 s forward with stored residuals (GiB of them); with
            # checkpointing it costs 1.6-2.4x the forward (docs/inference.md). No effect without AD.
            out = _jax().checkpoint(fn, prevent_cse=False)(*ps)
            if isinstance(out, tuple):
                return tuple(c + weighted(w, o) for c, o in zip(carry, out, strict=True))
            return carry + weighted(w, out)

        return lax.cond(jnp.any(a > 0), compute, lambda c: c, carry), None

    probe = _jax().eval_shape(lambda *ps: fn(*ps), *(c[0] for c in chunks))
    if isinstance(probe, tuple):
        init = tuple(jnp.zeros(s.shape[1:], dtype=s.dtype) for s in probe)
    else:
        init = jnp.zeros(probe.shape[1:], dtype=probe.dtype)
    total, _ = lax.scan(body, init, (weight, act, chunks))
    return total


def _expand_param(p, xp):
    """(H,) -> (H, 1); (H, k) -> (H, 1, k): halo axis against the point axis."""
    if p.ndim == 1:
        return p[:, None]
    return p[:, None, ...]


def data_fields(obj) -> list:
    """The dataclass fields of a pytree dataclass that hold data (not static meta fields)."""
    meta = getattr(obj, "_meta_fields", ())
    return [f for f in dataclasses.fields(obj) if f.name not in meta]


def meta_fields(obj) -> tuple[str, ...]:
    """The names of the static (meta) fields of a pytree dataclass or its class (empty for others)."""
    return tuple(getattr(obj, "_meta_fields", ()))


def register_pytree(cls, data_fields: Sequence[str], meta_fields: Sequence[str] = ()):
    """Register a frozen dataclass as a JAX pytree (when JAX is installed).

    Unflattening bypasses ``__init__``, so validation in ``__post_init__`` runs
    only when a user builds the object, never on tracers or placeholders that
    JAX puts in the leaves.
    """
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if not jax_available():
        return cls
    jax = _jax()

    def flatten_with_keys(obj):
        children = [(jax.tree_util.GetAttrKey(k), getattr(obj, k)) for k in data_fields]
        return children, tuple(getattr(obj, k) for k in meta_fields)

    def flatten(obj):
        return [getattr(obj, k) for k in data_fields], tuple(getattr(obj, k) for k in meta_fields)

    def unflatten(meta, children):
        obj = object.__new__(cls)
        for k, v in zip(data_fields, children, strict=True):
            object.__setattr__(obj, k, v)
        for k, v in zip(meta_fields, meta, strict=True):
            object.__setattr__(obj, k, v)
        return obj

    jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def pytree_dataclass(cls=None, *, meta: Sequence[str] = ()):
    """Class decorator: frozen dataclass registered as a pytree.

    Fields listed in ``meta`` are static (hashable, never arrays); every other
    field is data.
    """

    def wrap(klass):
        klass = dataclasses.dataclass(frozen=True, eq=False)(klass)
        names = [f.name for f in dataclasses.fields(klass)]
        klass._meta_fields = tuple(meta)
        return register_pytree(klass, [n for n in names if n not in meta], meta)

    return wrap if cls is None else wrap(cls)


# --- random keys: one sampler, two engines --------------------------------------


def key_engine(key) -> str:
    """The engine a key belongs to: ``"jax"`` for JAX keys (and tracers), else ``"numpy"``.

    NumPy keys are Python or NumPy integers, NumPy integer arrays, a
    ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``. Integers,
    arrays and seed sequences are mapped to a counter-based Philox generator, so
    the same key gives the same draw; a ``Generator`` is consumed (each use draws anew).
    """
    numpy_keys = np.random.Generator | np.random.SeedSequence | int | np.integer | np.ndarray
    if isinstance(key, numpy_keys):
        return "numpy"
    if jax_available() and isinstance(key, _jax().Array):
        return "jax"
    raise TypeError(
        "a key must be a JAX key (jax.random.key / PRNGKey) or a NumPy key "
        f"(int, integer array, SeedSequence or numpy.random.Generator); got {type(key).__name__}"
    )


def numpy_generator(key) -> np.random.Generator:
    """The Philox generator of a NumPy key (a ``Generator`` is returned as it is)."""
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, np.random.SeedSequence):
        return np.random.Generator(np.random.Philox(key))
    entropy = np.asarray(key)
    if not np.issubdtype(entropy.dtype, np.integer) or np.any(entropy < 0):
        raise TypeError(f"a NumPy key must hold non-negative integers; got {key!r}")
    seed = int(entropy) if entropy.ndim == 0 else [int(v) for v in entropy.ravel()]
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(seed)))


class _NumpyRandom:
    xp = array_api_compat.array_namespace(np.empty(0))

    @staticmethod
    def split(key, num: int) -> list:
        return list(numpy_generator(key).spawn(num))

    @staticmethod
    def uniform(key, shape):
        return numpy_generator(key).random(shape)

    @staticmethod
    def poisson(key, lam):
        lam = np.asarray(lam)
        return numpy_generator(key).poisson(lam).astype(lam.dtype)


class _JaxRandom:
    def __init__(self):
        self.jax = _jax()
        self.xp = self.jax.numpy

    def split(self, key, num: int) -> list:
        keys = self.jax.random.split(key, num)
        return [keys[i] for i in range(num)]

    def uniform(self, key, shape):
        return self.jax.random.uniform(key, shape, dtype=self.xp.float64)

    def poisson(self, key, lam):
        lam = self.xp.asarray(lam)
        return self.jax.random.poisson(key, lam, dtype=self.xp.int64).astype(lam.dtype)


def random_ops(key):
    """``split``, ``uniform`` and ``poisson`` for the engine of ``key`` (with its ``xp``)."""
    return _JaxRandom() if key_engine(key) == "jax" else _NumpyRandom()


def split_key(key, num: int) -> list:
    """Split a key into ``num`` independent keys of the same engine.

    ``jax.random.split`` for JAX keys; ``Generator.spawn`` (Philox) for NumPy keys.
    """
    return random_ops(key).split(key, int(num))


# --- minimal tree utilities for the NumPy fallbacks --------------------------


def tree_leaves(tree) -> list:
    """The array leaves of a pytree (xlens dataclasses, tuples, lists, dicts)."""
    if jax_available():
        return _jax().tree_util.tree_leaves(tree)
    if isinstance(tree, tuple | list):
        return [leaf for t in tree for leaf in tree_leaves(t)]
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in tree_leaves(tree[k])]
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return [leaf for f in data_fields(tree) for leaf in tree_leaves(getattr(tree, f.name))]
    return [] if tree is None else [tree]


def _tree_map_n(fn, tree, *rest):
    """``jax.tree_util.tree_map`` without JAX: the same containers, meta fields kept."""
    if tree is None:
        return None
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # NamedTuple
        return type(tree)(*(_tree_map_n(fn, *xs) for xs in zip(tree, *rest, strict=True)))
    if isinstance(tree, tuple | list):
        return type(tree)(_tree_map_n(fn, *xs) for xs in zip(tree, *rest, strict=True))
    if isinstance(tree, dict):
        return {k: _tree_map_n(fn, tree[k], *(r[k] for r in rest)) for k in tree}
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        out = object.__new__(type(tree))  # no validation: the leaves may be of any shape
        for f in dataclasses.fields(tree):
            value = getattr(tree, f.name)
            if f.name not in getattr(tree, "_meta_fields", ()):
                value = _tree_map_n(fn, value, *(getattr(r, f.name) for r in rest))
            object.__setattr__(out, f.name, value)
        return out
    return fn(tree, *rest)


def tree_map(fn, tree):
    """Apply ``fn`` to every leaf of a pytree."""
    if jax_available():
        return _jax().tree_util.tree_map(fn, tree)
    return _tree_map_n(fn, tree)


def _tree_map2(fn, a, b):
    if isinstance(a, tuple):
        return tuple(fn(x, y) for x, y in zip(a, b, strict=True))
    return fn(a, b)


def tree_stack(items, *, xp=None, axis=0):
    """Stack a list of pytrees of equal structure leaf by leaf (NumPy unless ``xp``)."""
    stack = (lambda *xs: np.stack([np.asarray(x) for x in xs], axis)) if xp is None else (
        lambda *xs: xp.stack([xp.asarray(x) for x in xs], axis=axis))
    if jax_available():
        return _jax().tree_util.tree_map(stack, *items)
    return _tree_map_n(stack, *items)


def _structure(tree):
    """A hashable description of a pytree's containers and meta fields (JAX's treedef, without JAX)."""
    if tree is None:
        return None
    if isinstance(tree, tuple | list):
        return type(tree), tuple(_structure(t) for t in tree)
    if isinstance(tree, dict):
        return dict, tuple((k, _structure(tree[k])) for k in sorted(tree))
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        meta = tuple((n, getattr(tree, n)) for n in getattr(tree, "_meta_fields", ()))
        return type(tree), tuple((f.name, _structure(getattr(tree, f.name))) for f in data_fields(tree)), meta
    return "*"


def tree_signature(tree):
    """Structure plus leaf shapes and dtypes: two pytrees with equal signatures can be
    stacked and scanned by one compiled body (the same rule with or without JAX)."""
    if not jax_available():
        return _structure(tree), tuple(
            (tuple(np.shape(x)), str(getattr(x, "dtype", type(x)))) for x in tree_leaves(tree))
    leaves, treedef = _jax().tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x)))) for x in leaves)


def map_batch(fn: Callable, engine: str, devices: Sequence | None = None) -> Callable:
    """Map ``fn`` over the leading axis of its arguments inside one program.

    On JAX with a CPU backend this is ``lax.map`` (a loop in the compiled program, which
    keeps ``lax.cond`` skips such as all-padding halo chunks: under ``vmap`` a ``cond``
    evaluates both branches); on accelerators ``vmap``; on NumPy a Python loop.

    With more than one JAX device (``devices``, default every local device of the default
    backend) the batch axis is sharded across them: the returned function pads the batch
    to a multiple of the device count (with copies of its last element, dropped from the
    result), splits it over a one-axis :class:`jax.sharding.Mesh` with ``jax.shard_map``,
    and maps ``fn`` over each device's slice as above. Every output leaf comes back with
    a leading batch axis, sharded over the same devices (a ``NamedSharding``). With one
    device the function is the plain map. Results do not depend on the number of devices.
    Call the returned function under ``jax.jit``.
    """
    if _check_engine(engine) != "jax":
        return vmap(fn, engine)
    jax = _jax()
    devices = list(jax.local_devices() if devices is None else devices)
    local = _local_map(fn, jax, devices[0].platform if devices else jax.default_backend())
    if len(devices) <= 1:
        return local
    return _sharded_map(local, jax, devices)


def _local_map(fn: Callable, jax, platform: str) -> Callable:
    if platform == "cpu":
        return lambda *args: jax.lax.map(lambda a: fn(*a), args)
    return jax.vmap(fn)


#: Name of the mesh axis the batch is sharded over (:func:`map_batch`).
BATCH_AXIS = "batch"


def batch_sharding(devices: Sequence | None = None):
    """The ``NamedSharding`` that splits a leading batch axis over ``devices`` (default: all local).

    ``jax.device_put(x, batch_sharding())`` places a batch the way :func:`map_batch` computes
    it, so no data moves between devices when the jitted batch function starts.
    """
    jax = _jax()
    devices = list(jax.local_devices() if devices is None else devices)
    mesh = jax.sharding.Mesh(np.asarray(devices), (BATCH_AXIS,))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(BATCH_AXIS))


def _sharded_map(local: Callable, jax, devices: list) -> Callable:
    n_dev = len(devices)
    sharding = batch_sharding(devices)
    spec = sharding.spec

    def mapped(*args):
        leaves = tree_leaves(args)
        sizes = {int(np.shape(leaf)[0]) for leaf in leaves}
        if len(sizes) != 1:
            raise ValueError(f"map_batch: the arguments have different batch sizes {sorted(sizes)}")
        (n,) = sizes
        pad = -n % n_dev
        if pad:  # copies of the last element, computed and dropped
            args = jax.tree_util.tree_map(
                lambda a: jax.numpy.concatenate([a, jax.numpy.repeat(a[-1:], pad, axis=0)], axis=0), args)
        out = jax.shard_map(lambda *a: local(*a), mesh=sharding.mesh, in_specs=spec, out_specs=spec,
                            check_vma=False)(*args)
        out = jax.tree_util.tree_map(lambda o: jax.lax.with_sharding_constraint(o, sharding), out)
        if pad:
            out = jax.tree_util.tree_map(lambda o: o[:n], out)
        return out

    return mapped


def default_key(engine: str, seed: int = 0):
    """A random key of the engine: ``jax.random.key(seed)`` or the NumPy key ``seed``."""
    if _check_engine(engine) == "jax":
        return _jax().random.key(seed)
    return seed



def index_keys(seed: int, indices, engine: str):
    """One key per dataset index, derived from ``(seed, index)`` alone.

    JAX: ``jax.random.fold_in(jax.random.key(seed), index)`` (a batch of typed keys);
    NumPy: the Philox key ``[seed, index]`` (an ``(n, 2)`` integer array, one row per key).
    Image ``i`` of a dataset therefore does not depend on the batch it was drawn in.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if np.any(idx < 0) or np.any(idx >= 2**32):
        raise ValueError(f"index_keys: indices must be in [0, 2**32); got {idx.min()}..{idx.max()}")
    if _check_engine(engine) == "jax":
        jax = _jax()
        base = jax.random.key(int(seed))
        return jax.vmap(lambda i: jax.random.fold_in(base, i))(jax.numpy.asarray(idx, dtype=jax.numpy.uint32))
    return np.stack([np.full(idx.shape, int(seed), dtype=np.int64), idx], axis=-1)


def backend_info() -> dict[str, Any]:
    """What JAX runs on, for provenance and reports (empty without JAX).

    Keys: ``jax`` and ``jaxlib`` (versions), ``backend`` (``"cpu"``, ``"gpu"``, ...),
    ``device_count`` and ``device_kind`` (of the first device).
    """
    if not jax_available():
        return {}
    jax = _jax()
    import jaxlib

    device = jax.devices()[0]
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "backend": jax.default_backend(),
            "device_count": jax.device_count(), "device_kind": device.device_kind}
