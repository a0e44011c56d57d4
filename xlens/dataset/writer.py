"""Training sets of simulated lenses in Zarr stores: chunked, resumable, scalable.

:func:`simulate` writes ``n_images`` examples of one configuration to a Zarr (v3)
directory store. Image ``i`` is drawn from a key derived from ``(seed, i)`` alone
(:func:`xlens.engine.index_keys`), so the data do not depend on the batch size, on
interruptions or on which process computed them.

Layout of a store (``n`` images of ``ny x nx`` pixels, chunks of ``C`` images):

============================  =====================  ==========================================
array                         shape, dtype           content
============================  =====================  ==========================================
``images``                    (n, ny, nx) float32    noisy images [e-/s]
``noise_maps``                (n, ny, nx) float32    per-pixel noise sigma [e-/s]
``parameters``                (n, P) float64         the labels: macro parameters, then the
                                                     population parameters drawn per image
                                                     (``subhalos.sigma_sub`` [kpc^-2],
                                                     ``line_of_sight.delta_los``); names and
                                                     units in attrs (:meth:`Dataset.labels`)
``params/...``                (n, ...)               every leaf of :class:`~xlens.model.SimParams`:
                                                     the macro profiles and the padded halo
                                                     catalogues (``params/subhalos/<family>/``
                                                     ``centre``, ``mass_at_200``, ..., ``mask``;
                                                     ``params/line_of_sight/...`` per plane;
                                                     ``params/hyper/<population>/<name>``)
``info/...``                  (n, ...)               population draws: ``n_drawn``, ``n_kept``,
                                                     ``overflow``
``done``                      (n_chunks,) int8       1 once every array of that chunk is written
============================  =====================  ==========================================

The root attributes (``attrs["xlens"]``) hold the configuration (as a table and as
TOML), the seed, the engine, the dtype, the chunk size, the key scheme and the
xlens, JAX and NumPy versions.

Crash safety: the store is created in a temporary directory and renamed into place;
each chunk's arrays are written, then its ``done`` flag (zarr writes each chunk file
through a temporary file and a rename). A run killed at any moment (SIGKILL
included) and started again recomputes exactly the chunks without a ``done`` flag,
so the finished store is identical to an uninterrupted run; stray ``*.partial``
files of killed writes are removed on resume.

Growth: asking for more images than a store of the same run holds lengthens it
(:func:`grow`: resize, fill the old last chunk's new rows, then commit the new size in
the attributes) into the store a run of that size would have written; a smaller
number is an error, since written images are never deleted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..engine import index_keys, tree_map
from ..model import SimulatorConfig, parameter_table
from ..simulator import Simulator
from .layout import (
    create,
    differences,
    done_chunks,
    is_store,
    n_rows,
    n_written,
    read_attrs,
    remove_partials,
    resize,
    walk,
    write_attrs,
    zarr_module,
)
from .spec import DatasetError, DatasetSpec, default_batch_size, versions

__all__ = ["compute_chunk", "grow", "prepare", "simulate", "simulator_for", "write_chunk"]


def prepare(path: str | os.PathLike, spec: DatasetSpec, overwrite: bool = False, *,
            batch_size_given: bool = True, log=print) -> DatasetSpec:
    """Create the store, or check that an existing one belongs to the same run, growing it if asked.

    Parameters
    ----------
    path : path-like
        The store.
    spec : DatasetSpec
        The run asked for.
    overwrite : bool
        Replace whatever is at ``path``.
    batch_size_given : bool
        Whether the chunk size was asked for (a different stored one is then a note).
    log : callable
        Where notes go.

    Returns
    -------
    DatasetSpec
        The spec to run (an existing store's chunk size wins over the requested one,
        since the chunking is fixed at creation and does not change the data).

    Raises
    ------
    DatasetError
        If ``path`` holds something else, or a dataset of a different run, or fewer
        images are asked for than the store holds, and ``overwrite`` is False.

    Notes
    -----
    A larger ``spec.n_images`` than the store's, everything else equal, grows the store
    (:func:`grow`): its images stay as they are and the new ones are those a run of
    ``spec.n_images`` from scratch would have written.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        if not path.is_dir() or not is_store(path):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            else:
                raise DatasetError(
                    f"{path} exists and is not an xlens dataset; choose another path or pass --overwrite "
                    "(overwrite=True) to replace it"
                )
    if path.exists() and not overwrite:
        attrs = read_attrs(path)
        requested = {k: v for k, v in spec.identity().items() if k != "n_images"}
        found = differences({k: attrs.get(k, "<absent>") for k in requested}, requested)
        if found:
            raise DatasetError(
                f"{path} holds a dataset of a different run ({'; '.join(found[:5])}"
                f"{'; ...' if len(found) > 5 else ''}). Resume or grow it with the same options (only the "
                "number of images may be larger), choose another path, or pass --overwrite (overwrite=True) "
                "to replace it"
            )
        stored = int(attrs["chunk_size"])
        if batch_size_given and stored != spec.chunk_size:
            log(f"note: {path} was created with --batch-size {stored}; resuming with {stored} "
                f"(the data do not depend on it)")
        current = versions(spec.engine)
        changed = {k: (attrs["versions"].get(k), v) for k, v in current.items() if attrs["versions"].get(k) != v}
        if changed:
            warnings.warn(
                f"{path} was started with other versions ({changed}); the remaining chunks may differ "
                "from an uninterrupted run in the last bits",
                RuntimeWarning,
                stacklevel=2,
            )
        spec = dataclasses.replace(spec, chunk_size=stored)
        root = zarr_module().open_group(str(path), mode="r+")
        n_stored, n_target = int(attrs["n_images"]), n_rows(root)
        if spec.n_images < n_stored:
            raise DatasetError(
                f"{path} holds {n_stored} images; n_images={spec.n_images} is smaller, and xlens never deletes "
                f"written images. Ask for n_images >= {n_stored} (more grows the store), choose another path, or "
                "pass --overwrite (overwrite=True) to replace it"
            )
        if n_stored < n_target and spec.n_images < n_target:
            raise DatasetError(
                f"growing {path} from {n_stored} to {n_target} images was interrupted; finish it with "
                f"n_images={n_target} (`xlens simulate {path}` with -n {n_target} or without -n) or more"
            )
        removed = remove_partials(path)
        if removed:
            log(f"note: removed {removed} partial file(s) of an interrupted write")
        if spec.n_images > n_stored:
            grow(path, spec, log=log)
        return spec
    if path.exists():  # overwrite: the old store stays until the new one is in place
        trash = path.with_name(f".{path.name}.deleting-{uuid.uuid4().hex[:8]}")
        os.replace(path, trash)
        try:
            create(path, spec)
        except BaseException:
            os.replace(trash, path)
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        create(path, spec)
    return spec


def grow(path: str | os.PathLike, spec: DatasetSpec, *, log=print) -> None:
    """Lengthen a store to ``spec.n_images`` images, keeping every image it holds.

    :func:`prepare` calls it once it has checked that ``spec`` is the store's run with
    more images; it does not check that itself.

    Parameters
    ----------
    path : path-like
        The store.
    spec : DatasetSpec
        The store's run with more images (and the store's chunk size).
    log : callable
        Where the note goes.

    Notes
    -----
    Crash safety: the steps are ordered so that the recorded ``n_images`` changes last,
    and each step can be run again:

    1. every array is resized (``images`` first, then the others, then ``done``;
       :func:`xlens.dataset.layout.resize` skips what is already long enough);
    2. if the store's last chunk was partial and done, its new rows (images
       ``n_old`` onwards) are computed and written; its old rows are not touched
       (image ``i`` depends on ``(seed, i)`` only, so the chunk holds what a run of
       ``spec.n_images`` would have written);
    3. ``attrs["n_images"]`` is set to ``spec.n_images``: the commit.

    Killed before step 3, the store still records the old size, its old images are
    intact, and running the same command again (or ``xlens simulate PATH``, which
    takes the longer arrays as the target) repeats the steps and finishes the growth.
    The new chunks have no ``done`` flag; the caller computes them as in any resume.
    """
    attrs = read_attrs(Path(path))
    root = zarr_module().open_group(str(path), mode="r+")
    n_old, c = int(attrs["n_images"]), spec.chunk_size
    log(f"{path}: growing from {n_old} to {spec.n_images} images (the first {n_old} are kept)")
    resize(root, spec.n_images, spec.n_chunks)
    last = n_old // c
    if n_old % c and done_chunks(root)[last]:
        start, stop = spec.chunk_range(last)
        for name, values in compute_chunk(spec, last).items():
            root[name][n_old:stop] = values[n_old - start:]
    write_attrs(root, {**attrs, "n_images": int(spec.n_images)})


_SIMULATORS: dict[str, Simulator] = {}


def simulator_for(spec: DatasetSpec) -> Simulator:
    """One compiled simulator per process and model (Dask workers reuse it across tasks)."""
    key = json.dumps({k: v for k, v in spec.identity().items() if k not in ("n_images", "seed")}, sort_keys=True)
    if key not in _SIMULATORS:
        _SIMULATORS[key] = Simulator(spec.config, engine=spec.engine, dtype=spec.dtype, exact=spec.exact)
    return _SIMULATORS[key]


def compute_chunk(spec: DatasetSpec, chunk: int) -> dict[str, np.ndarray]:
    """The arrays of one chunk (NumPy), keyed by their path in the store.

    The batch is always ``chunk_size`` images long (the last chunk is padded with the
    following indices and cropped), so every chunk runs the same compiled program.
    """
    sim = simulator_for(spec)
    start, stop = spec.chunk_range(chunk)
    keys = index_keys(spec.seed, np.arange(start, start + spec.chunk_size), spec.engine)
    ex = sim.sample_batch(keys, overflow="ignore")
    m = stop - start
    out = {
        "images": np.asarray(ex.data, dtype=np.float32)[:m],
        "noise_maps": np.asarray(ex.noise_map, dtype=np.float32)[:m],
    }
    params = tree_map(lambda a: np.asarray(a)[:m], ex.params)
    info = tree_map(lambda a: np.asarray(a)[:m], ex.info)
    out["parameters"] = parameter_table(params, spec.config)
    for group, tree in (("params", params), ("info", info)):
        for leaf_path, leaf in walk(tree):
            out[f"{group}/{leaf_path}"] = np.asarray(leaf)
    return out


def write_chunk(path: str | os.PathLike, spec: DatasetSpec, chunk: int) -> int:
    """Compute one chunk and write it, then its ``done`` flag; returns its number of images.

    Idempotent: writing a chunk twice gives the same bytes, so a chunk whose writer
    died is simply written again.
    """
    zarr = zarr_module()
    root = zarr.open_group(str(path), mode="r+")
    arrays = compute_chunk(spec, chunk)
    start, stop = spec.chunk_range(chunk)
    for name, values in arrays.items():
        root[name][start:stop] = values
    root["done"][chunk] = 1
    return stop - start


def _dask_task(path: str, attrs: dict[str, Any], chunk: int) -> int:
    return write_chunk(path, DatasetSpec.from_attrs(attrs), chunk)


# ------------------------------------------------------------------------------ main


def simulate(
    path: str | os.PathLike,
    n_images: int | None,
    config: SimulatorConfig | None = None,
    *,
    engine: str = "jax",
    dtype: str | None = None,
    exact: bool = False,
    seed: int = 0,
    batch_size: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    client=None,
    log=None,
) -> Path:
    """Simulate a dataset into a Zarr store, resuming it if it is incomplete.

    Parameters
    ----------
    path : path-like
        The store (a directory). If it holds a dataset of the same run (same
        configuration, seed, engine, dtype and ``exact``), the missing chunks are
        computed (after growing it, if ``n_images`` is larger); a different run is an
        error unless ``overwrite``.
    n_images : int or None
        Number of images. More than an existing store of the same run holds grows it:
        its images stay as they are and the new ones are those a run of ``n_images``
        from scratch would have written. Fewer is an error (written images are never
        deleted). None: the existing store's number (the target of an interrupted
        growth included); a new store needs a number.
    config : SimulatorConfig, optional
        The model (default: the default model).
    engine : {"jax", "numpy"}
    dtype : {"float32", "float64"}, optional
        Default float32 on JAX (the production precision), float64 on NumPy.
    exact : bool
        Brute-force halo evaluation (the reference) instead of the fast path.
    seed : int
        Root of the per-image keys.
    batch_size : int, optional
        Images per compiled batch and per chunk (default :func:`default_batch_size`).
    overwrite : bool
        Replace whatever is at ``path`` (the old store is removed only once the new,
        empty one is in place).
    progress : bool
        Show a progress bar (tqdm, on stderr) with images per second and time left.
    client : dask.distributed.Client, optional
        Compute the chunks as Dask tasks on the client's workers, which must see
        ``path`` (a shared filesystem). Each task writes its own chunks.
    log : callable, optional
        Where notes go (default: print to stderr).

    Returns
    -------
    Path
        The store.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    path = Path(path).absolute()
    if n_images is None:
        if overwrite or not is_store(path):
            raise ValueError(f"simulate: n_images is required to create {path} (there is no store to resume); got None")
        n_images = max(int(read_attrs(path)["n_images"]), n_rows(zarr_module().open_group(str(path), mode="r")))
    dtype = dtype or ("float32" if engine == "jax" else "float64")
    given = batch_size is not None
    spec = DatasetSpec(
        n_images=n_images, config=config or SimulatorConfig(), engine=engine, dtype=dtype, exact=exact,
        seed=seed, chunk_size=batch_size or min(default_batch_size(engine), max(int(n_images), 1)),
    )
    spec = prepare(path, spec, overwrite, batch_size_given=given, log=log)
    zarr = zarr_module()
    root = zarr.open_group(str(path), mode="r+")
    done = done_chunks(root)
    todo = [c for c in range(spec.n_chunks) if not done[c]]
    n_done = n_written(spec, done)
    if not todo:
        log(f"{path}: complete ({spec.n_images} images)")
        return path
    if n_done:
        log(f"{path}: resuming, {n_done} of {spec.n_images} images already written")
    bar = _progress(spec.n_images, n_done, path.name, progress)
    t0 = time.perf_counter()
    try:
        if client is None:
            for i, chunk in enumerate(todo):
                bar.update(write_chunk(path, spec, chunk))
                if i == 0:
                    what = "first batch incl. compile" if spec.engine == "jax" else "first batch"
                    bar.set_postfix_str(f"{what} {time.perf_counter() - t0:.1f} s", refresh=True)
        else:
            from dask.distributed import as_completed

            attrs = read_attrs(path)
            futures = client.map(_dask_task, [str(path)] * len(todo), [attrs] * len(todo), todo, pure=False)
            try:
                for future in as_completed(futures):
                    bar.update(future.result())
            except BaseException:
                client.cancel(futures)  # the done flags keep what finished; rerun to resume
                raise
    finally:
        bar.close()
    overflow = np.asarray(root["info/subhalos/overflow"][:] if "info/subhalos" in root else [], dtype=bool)
    if "info/line_of_sight" in root:
        los = np.asarray(root["info/line_of_sight/overflow"][:], dtype=bool)
        overflow = los if overflow.size == 0 else overflow | los
    if overflow.any():
        warnings.warn(
            f"{int(overflow.sum())} of {spec.n_images} images in {path} overflowed a halo capacity (extra haloes "
            "dropped); they are flagged in info/*/overflow",
            RuntimeWarning,
            stacklevel=2,
        )
    return path


def _progress(total: int, initial: int, desc: str, enabled: bool):
    return tqdm(total=total, initial=initial, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True,
                smoothing=0.1)
