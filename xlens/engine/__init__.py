"""The engine layer: the only package of xlens that names an array backend.

Physics code in xlens is written once against an array namespace ``xp`` (the
Python array API standard) and receives that namespace from its inputs through
:func:`namespace`. This package supplies everything that differs between the two
engines:

* ``"numpy"`` — a debuggable float64 reference that runs eagerly on the CPU;
* ``"jax"`` — the production engine: ``jit``, ``vmap``, ``lax.scan`` and
  accelerators.

Modules
-------
``backend``            importing JAX, ``namespace``/``get_xp``, dtypes, ``is_concrete``
``precision``          :func:`float64_scope`, :func:`scoped`, :func:`scoped_methods`: float64 on JAX, per thread
``compilation_cache``  :func:`enable_compilation_cache`, for applications
``transforms``         ``jit`` (float64-scoped), ``vmap``, ``value_and_grad``, ``hessian``, ``scan``, ``switch``,
                       ``checkpoint``
``batching``           ``map_batch`` and ``batch_sharding``: one program per batch, across devices
``reduction``          ``halo_sum``, the chunked sum over haloes (``HALO_BLOCK_ELEMENTS``), and
                       ``halo_scan``, its loop for other reductions
``pytrees``            ``pytree_dataclass`` and tree utilities that work without JAX
``random``             keys on both engines
``arrays``             ``at_set``, ``at_add``, ``where_finite``, ``gammaln``, ``ndtr``, ``ndtri``,
                       ``top_k_indices``, ``take_windows``, ``add_windows``

Every public name is importable from ``xlens.engine`` itself, which is how the rest
of xlens uses them (``from xlens import engine; engine.jit(...)``).

Dtype policy
------------
float64 is the reference on both engines; every reference test passes at the
float64 tolerances of ``tests/helpers.py``. JAX may also run in float32 for
speed: the profiles use forms that stay accurate in float32 (PHYSICS.md §7,
§9, §16), and the measured float32 bounds are in ``docs/profiles.md``. float32 is
requested explicitly through the dtype of the grid (or the ``dtype`` argument of
the public entry points).

xlens never changes process-wide JAX configuration: importing it leaves
``jax_enable_x64`` and the compilation cache as they are. float64 is enabled only
around xlens's own work, with JAX's thread-local ``jax.enable_x64`` context
(:func:`float64_scope`; :func:`jit` functions run inside it). Applications may call
:func:`enable_compilation_cache` once to keep compiled programs across processes.
"""

from __future__ import annotations

from .arrays import add_windows, at_add, at_set, gammaln, ndtr, ndtri, take_windows, top_k_indices, where_finite
from .backend import (
    ENGINES,
    ArrayLike,
    asarray,
    backend_info,
    check_engine,
    dtype_name,
    engine_of,
    float_dtype,
    get_xp,
    import_jax,
    is_concrete,
    is_jax,
    jax_available,
    namespace,
    promoted_namespace,
)
from .batching import BATCH_AXIS, batch_sharding, map_batch
from .compilation_cache import compilation_cache_dir, enable_compilation_cache
from .precision import float64_scope, scoped, scoped_methods
from .pytrees import (
    data_fields,
    meta_fields,
    pytree_dataclass,
    register_pytree,
    static_kind,
    tree_leaves,
    tree_map,
    tree_signature,
    tree_stack,
)
from .random import default_key, index_keys, key_engine, numpy_generator, random_ops, split_key
from .reduction import halo_scan, halo_sum
from .transforms import (
    block_until_ready,
    check_hessian_chunk,
    checkpoint,
    hessian,
    jit,
    scan,
    switch,
    value_and_grad,
    vmap,
)

__all__ = [
    "BATCH_AXIS",
    "ENGINES",
    "ArrayLike",
    "asarray",
    "add_windows",
    "at_add",
    "at_set",
    "backend_info",
    "batch_sharding",
    "block_until_ready",
    "check_engine",
    "compilation_cache_dir",
    "data_fields",
    "meta_fields",
    "static_kind",
    "default_key",
    "dtype_name",
    "enable_compilation_cache",
    "engine_of",
    "float64_scope",
    "float_dtype",
    "gammaln",
    "get_xp",
    "halo_scan",
    "halo_sum",
    "check_hessian_chunk",
    "checkpoint",
    "hessian",
    "import_jax",
    "index_keys",
    "is_concrete",
    "is_jax",
    "jax_available",
    "jit",
    "key_engine",
    "map_batch",
    "namespace",
    "ndtr",
    "ndtri",
    "numpy_generator",
    "promoted_namespace",
    "pytree_dataclass",
    "random_ops",
    "register_pytree",
    "scan",
    "scoped",
    "scoped_methods",
    "split_key",
    "switch",
    "take_windows",
    "top_k_indices",
    "tree_leaves",
    "tree_map",
    "tree_signature",
    "tree_stack",
    "value_and_grad",
    "vmap",
    "where_finite",
]
