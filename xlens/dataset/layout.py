"""The store's layout: pytree paths of the ``params/`` and ``info/`` arrays, creating an
empty store atomically, and reading its attributes and ``done`` flags."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import data_fields, meta_fields
from ..model import parameter_columns
from ..profiles.base import unchecked
from ..simulator import Simulator
from .spec import DatasetError, DatasetSpec

__all__ = [
    "create",
    "done_chunks",
    "image_arrays",
    "is_store",
    "n_rows",
    "n_written",
    "read_attrs",
    "rebuild",
    "resize",
    "template",
    "walk",
    "write_attrs",
]


def walk(tree, prefix: str = ""):
    """(path, leaf) pairs of an xlens pytree; HaloBatch profiles are flattened into the batch."""
    if tree is None:
        return
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from walk(tree[k], f"{prefix}{k}/")
    elif isinstance(tree, tuple) and hasattr(tree, "_fields"):
        for k in tree._fields:
            yield from walk(getattr(tree, k), f"{prefix}{k}/")
    elif dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        for f in data_fields(tree):
            yield from walk(getattr(tree, f.name), prefix if f.name == "profile" else f"{prefix}{f.name}/")
    else:
        yield prefix.rstrip("/"), tree


def rebuild(template, lookup, prefix: str = ""):
    """The template pytree with every leaf replaced by ``lookup(path)`` (no validation)."""
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: rebuild(template[k], lookup, f"{prefix}{k}/") for k in template}
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(rebuild(getattr(template, k), lookup, f"{prefix}{k}/") for k in template._fields))
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        values = {
            f.name: rebuild(getattr(template, f.name), lookup, prefix if f.name == "profile" else f"{prefix}{f.name}/")
            for f in data_fields(template)
        }
        values.update({n: getattr(template, n) for n in meta_fields(template)})
        return unchecked(type(template), values)
    return lookup(prefix.rstrip("/"))


def zarr_module():
    import zarr

    return zarr


_DIMS = {"images": ("image", "y", "x"), "noise_maps": ("image", "y", "x"), "parameters": ("image", "parameter")}


def template(spec: DatasetSpec):
    """Structure of one example (params and info) with NumPy leaves, from a cheap NumPy draw."""
    sim = Simulator(spec.config, engine="numpy")
    params, info = sim.sample_params(0)
    return params, info


def create(path: Path, spec: DatasetSpec) -> None:
    """Write an empty store at ``path`` atomically (build beside it, then rename)."""
    zarr = zarr_module()
    tmp = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        n, c = spec.n_images, spec.chunk_size
        ny, nx = spec.config.shape_native
        for name in ("images", "noise_maps"):
            root.create_array(name, shape=(n, ny, nx), chunks=(c, ny, nx), dtype="float32", fill_value=np.nan,
                              dimension_names=_DIMS[name])
        columns = parameter_columns(spec.config)
        n_par = len(columns)
        root.create_array("parameters", shape=(n, n_par), chunks=(c, n_par),
                          dtype="float64", fill_value=np.nan, dimension_names=_DIMS["parameters"])
        root["parameters"].attrs.update({"names": [name for name, _ in columns],
                                         "units": [units for _, units in columns]})
        params, info = template(spec)
        for group, tree in (("params", params), ("info", info)):
            for leaf_path, leaf in walk(tree):
                leaf = np.asarray(leaf)
                dtype = leaf.dtype if leaf.dtype != np.bool_ else np.dtype("bool")
                fill = np.nan if np.issubdtype(dtype, np.floating) else 0
                root.create_array(f"{group}/{leaf_path}", shape=(n, *leaf.shape), chunks=(c, *leaf.shape),
                                  dtype=dtype, fill_value=fill)
        root.create_array("done", shape=(spec.n_chunks,), chunks=(1,), dtype="int8", fill_value=0,
                          dimension_names=("chunk",))
        root.attrs.update({"xlens": spec.to_attrs()})
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: store {a!r} != requested {b!r}"]


def is_store(path: Path) -> bool:
    """True if ``path`` is a Zarr store (it has a ``zarr.json``)."""
    return (path / "zarr.json").is_file()


def read_attrs(path: Path) -> dict[str, Any]:
    meta = json.loads((path / "zarr.json").read_text())
    attrs = meta.get("attributes", {}).get("xlens")
    if not isinstance(attrs, dict):
        raise DatasetError(
            f"{path} is a Zarr store but not an xlens dataset; choose another path or pass --overwrite "
            "(overwrite=True) to replace it"
        )
    return attrs


def remove_partials(path: Path) -> int:
    n = 0
    for p in path.rglob("*.partial"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def done_chunks(root, n_chunks: int | None = None) -> np.ndarray:
    """The ``done`` flags as booleans, the first ``n_chunks`` of them if given.

    ``done`` is longer than the recorded number of chunks only while a growth is being
    written (:func:`resize` runs before :func:`write_attrs` commits the new size).
    """
    return np.asarray(root["done"][:n_chunks], dtype=bool)


def image_arrays(root) -> list[str]:
    """Paths of every array with an image axis (all but ``done``), ``images`` first."""
    names = [name for name, member in root.members(max_depth=None)
             if hasattr(member, "shape") and name not in ("images", "done")]
    return ["images", *sorted(names)]


def n_rows(root) -> int:
    """Length of the image axis of ``images``: the recorded ``n_images``, or the target of a growth
    that was interrupted (:func:`resize` resizes ``images`` first)."""
    return int(root["images"].shape[0])


def resize(root, n_images: int, n_chunks: int) -> None:
    """Lengthen the image axis of every array to ``n_images`` and ``done`` to ``n_chunks``.

    Idempotent and never shrinking: arrays already that long are left alone, so a growth
    killed halfway is completed by running it again. ``images`` goes first, so that
    ``n_rows(root) > n_images`` recorded in the attributes marks an unfinished growth.
    New rows read as the fill value (NaN for floats, 0 otherwise) and new ``done``
    flags as 0; no chunk file is written or removed.
    """
    for name in image_arrays(root):
        array = root[name]
        if array.shape[0] < n_images:
            array.resize((n_images, *array.shape[1:]))
    if root["done"].shape[0] < n_chunks:
        root["done"].resize((n_chunks,))


def write_attrs(root, attrs: dict[str, Any]) -> None:
    """Replace the root attribute ``xlens`` (one atomic rewrite of the root ``zarr.json``)."""
    root.attrs.update({"xlens": attrs})


def n_written(spec: DatasetSpec, done: np.ndarray) -> int:
    """Images in the chunks flagged done."""
    return sum(stop - start for start, stop in map(spec.chunk_range, np.flatnonzero(done)))
