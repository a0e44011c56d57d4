"""Pytrees: frozen dataclasses of arrays that JAX can trace, and tree utilities without JAX.

Profiles, galaxies, halo batches and parameter sets are frozen dataclasses whose
array fields are *data* (traced by ``jit``, mapped by ``vmap``) and whose other
fields are static *meta* data (part of the compiled program's key). With JAX
installed they are registered as JAX pytrees; JAX is an optional extra, so the
tree utilities here also walk tuples, lists, dicts and xlens dataclasses without
it, with the same results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .backend import import_jax, jax_available

__all__ = [
    "data_fields",
    "pytree_dataclass",
    "register_pytree",
    "static_kind",
    "tree_leaves",
    "tree_map",
    "tree_signature",
    "tree_stack",
]


def meta_fields(obj) -> tuple[str, ...]:
    """The names of the static (meta) fields of a pytree dataclass or its class (empty for others)."""
    return tuple(getattr(obj, "_meta_fields", ()))


def static_kind(obj) -> tuple:
    """``(class, static field values)`` of a pytree dataclass: objects of one kind share a
    tree structure up to their arrays' shapes, so they can be stacked or concatenated."""
    return (type(obj), tuple(getattr(obj, n) for n in meta_fields(obj)))


def data_fields(obj) -> list:
    """The dataclass fields of a pytree dataclass that hold data (not static meta fields)."""
    meta = meta_fields(obj)
    return [f for f in dataclasses.fields(obj) if f.name not in meta]


def register_pytree(cls, data_fields: Sequence[str], meta_fields: Sequence[str] = ()):
    """Register a frozen dataclass as a JAX pytree (when JAX is installed).

    Unflattening bypasses ``__init__``, so validation in ``__post_init__`` runs
    only when a user builds the object, never on tracers or placeholders that
    JAX puts in the leaves.
    """
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)
    if not jax_available():
        return cls
    jax = import_jax()

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


def tree_leaves(tree) -> list:
    """The array leaves of a pytree (xlens dataclasses, tuples, lists, dicts)."""
    if jax_available():
        return import_jax().tree_util.tree_leaves(tree)
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
        return import_jax().tree_util.tree_map(fn, tree)
    return _tree_map_n(fn, tree)


def tree_stack(items, *, xp=None, axis=0):
    """Stack a list of pytrees of equal structure leaf by leaf (NumPy unless ``xp``)."""
    stack = (lambda *xs: np.stack([np.asarray(x) for x in xs], axis)) if xp is None else (
        lambda *xs: xp.stack([xp.asarray(x) for x in xs], axis=axis))
    if jax_available():
        return import_jax().tree_util.tree_map(stack, *items)
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
    leaves, treedef = import_jax().tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(getattr(x, "shape", ())), str(getattr(x, "dtype", type(x)))) for x in leaves)
