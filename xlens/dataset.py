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
``parameters``                (n, P) float64         macro parameters; names and units in attrs
``params/...``                (n, ...)               every leaf of :class:`~xlens.simulator.SimParams`:
                                                     the macro profiles and the padded halo
                                                     catalogues (``params/subhalos/<family>/``
                                                     ``centre``, ``mass_at_200``, ..., ``mask``;
                                                     ``params/line_of_sight/...`` per plane)
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
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import engine
from .config import config_from_dict, config_to_dict, dumps
from .simulator import _VECTOR_COMPONENTS, SimParams, Simulator, SimulatorConfig

__all__ = ["Dataset", "DatasetError", "DatasetSpec", "open_dataset", "simulate"]

#: Version of the store layout (``attrs["xlens"]["format"]``).
FORMAT = 1

#: The macro parameters of the ``parameters`` table: (name, units).
PARAMETERS: tuple[tuple[str, str], ...] = (
    ("lens.centre_y", "arcsec"),
    ("lens.centre_x", "arcsec"),
    ("lens.ell_comps_1", ""),
    ("lens.ell_comps_2", ""),
    ("lens.einstein_radius", "arcsec"),
    ("lens.slope", ""),
    ("shear.gamma_1", ""),
    ("shear.gamma_2", ""),
    ("source.centre_y", "arcsec"),
    ("source.centre_x", "arcsec"),
    ("source.ell_comps_1", ""),
    ("source.ell_comps_2", ""),
    ("source.intensity", "e-/s"),
    ("source.effective_radius", "arcsec"),
    ("source.sersic_index", ""),
    ("source.radius_break", "arcsec"),
    ("source.gamma", ""),
    ("source.alpha", ""),
)

KEY_SCHEME = {
    "jax": "image i: jax.random.fold_in(jax.random.key(seed), i), split in two: (params, noise)",
    "numpy": "image i: Philox(SeedSequence([seed, i])), spawned in two: (params, noise)",
}


class DatasetError(RuntimeError):
    """A store that cannot be written or resumed as asked (the message says why and what to do)."""


# ------------------------------------------------------------------------------ spec


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines the content of a dataset.

    Parameters
    ----------
    n_images : int
        Number of images, in [1, 2**32).
    config : SimulatorConfig
        The model.
    engine : {"jax", "numpy"}
    dtype : {"float32", "float64"}
        Ray-tracing precision (float32 on JAX only).
    exact : bool
        Brute-force halo evaluation instead of the fast path.
    seed : int
        Root of the per-image keys, in [0, 2**63).
    chunk_size : int
        Images per chunk (and per compiled batch), >= 1.
    """

    n_images: int
    config: SimulatorConfig = dataclasses.field(default_factory=SimulatorConfig)
    engine: str = "jax"
    dtype: str = "float32"
    exact: bool = False
    seed: int = 0
    chunk_size: int = 16

    def __post_init__(self) -> None:
        for name, low, high in (("n_images", 1, 2**32 - 1), ("seed", 0, 2**63 - 1), ("chunk_size", 1, 2**20)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
                raise ValueError(f"DatasetSpec.{name} must be an integer in [{low}, {high}]; got {value!r}")
        engine._check_engine(self.engine)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"DatasetSpec.dtype must be 'float32' or 'float64'; got {self.dtype!r}")
        if self.engine == "numpy" and self.dtype != "float64":
            raise ValueError("DatasetSpec: the NumPy engine runs float64 only; use dtype='float64' or engine='jax'")

    @property
    def n_chunks(self) -> int:
        """Number of chunks, ``ceil(n_images / chunk_size)``."""
        return math.ceil(self.n_images / self.chunk_size)

    def chunk_range(self, chunk: int) -> tuple[int, int]:
        """The image indices ``[start, stop)`` of a chunk."""
        start = chunk * self.chunk_size
        return start, min(start + self.chunk_size, self.n_images)

    def identity(self) -> dict[str, Any]:
        """The JSON table compared when a run resumes (the chunk size is not part of it)."""
        return {
            "format": FORMAT,
            "n_images": int(self.n_images),
            "seed": int(self.seed),
            "engine": self.engine,
            "dtype": self.dtype,
            "exact": bool(self.exact),
            "config": config_to_dict(self.config),
        }

    def to_attrs(self) -> dict[str, Any]:
        """The root attributes of the store."""
        return {
            **self.identity(),
            "chunk_size": int(self.chunk_size),
            "config_toml": dumps(self.config, comments=False),
            "key_scheme": KEY_SCHEME[self.engine],
            "versions": _versions(self.engine),
            "parameters": [name for name, _ in PARAMETERS],
        }

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> DatasetSpec:
        """The spec recorded in a store's ``attrs["xlens"]``."""
        return cls(
            n_images=int(attrs["n_images"]),
            config=config_from_dict(attrs["config"], source="the store's configuration"),
            engine=attrs["engine"],
            dtype=attrs["dtype"],
            exact=bool(attrs["exact"]),
            seed=int(attrs["seed"]),
            chunk_size=int(attrs["chunk_size"]),
        )


def _versions(engine_name: str) -> dict[str, str]:
    from . import __version__

    out = {"xlens": __version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    if engine_name == "jax":
        info = engine.backend_info()
        out.update({k: info[k] for k in ("jax", "jaxlib", "backend")})
    return out


def default_batch_size(engine_name: str) -> int:
    """Images per chunk when none is given: 16 on CPUs (NumPy or JAX), 512 on accelerators."""
    if engine_name == "jax" and engine.jax_available():
        return 16 if engine.backend_info()["backend"] == "cpu" else 512
    return 16


# ------------------------------------------------------------------------ pytree paths


def _walk(tree, prefix: str = ""):
    """(path, leaf) pairs of an xlens pytree; HaloBatch profiles are flattened into the batch."""
    if tree is None:
        return
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from _walk(tree[k], f"{prefix}{k}/")
    elif isinstance(tree, tuple) and hasattr(tree, "_fields"):
        for k in tree._fields:
            yield from _walk(getattr(tree, k), f"{prefix}{k}/")
    elif dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        for f in engine.data_fields(tree):
            yield from _walk(getattr(tree, f.name), prefix if f.name == "profile" else f"{prefix}{f.name}/")
    else:
        yield prefix.rstrip("/"), tree


def _rebuild(template, lookup, prefix: str = ""):
    """The template pytree with every leaf replaced by ``lookup(path)`` (no validation)."""
    if template is None:
        return None
    if isinstance(template, dict):
        return {k: _rebuild(template[k], lookup, f"{prefix}{k}/") for k in template}
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_rebuild(getattr(template, k), lookup, f"{prefix}{k}/") for k in template._fields))
    if dataclasses.is_dataclass(template) and not isinstance(template, type):
        from .profiles.base import unchecked

        values = {
            f.name: _rebuild(getattr(template, f.name), lookup, prefix if f.name == "profile" else f"{prefix}{f.name}/")
            for f in engine.data_fields(template)
        }
        values.update({n: getattr(template, n) for n in getattr(template, "_meta_fields", ())})
        return unchecked(type(template), values)
    return lookup(prefix.rstrip("/"))


def _parameter_table(params: SimParams) -> np.ndarray:
    """The ``(B, P)`` table of :data:`PARAMETERS` from a batch of params."""
    cols = []
    for name, _ in PARAMETERS:
        group, field = name.split(".")
        obj = getattr(params, group)
        base, comp = _VECTOR_COMPONENTS.get(field, (field, None))
        value = np.asarray(getattr(obj, base), dtype=np.float64)
        cols.append(value[..., comp] if comp is not None else value)
    return np.stack(cols, axis=-1)


# ----------------------------------------------------------------------------- store


def _zarr():
    import zarr

    return zarr


_DIMS = {"images": ("image", "y", "x"), "noise_maps": ("image", "y", "x"), "parameters": ("image", "parameter")}


def _template(spec: DatasetSpec):
    """Structure of one example (params and info) with NumPy leaves, from a cheap NumPy draw."""
    sim = Simulator(spec.config, engine="numpy")
    params, info = sim.sample_params(0)
    return params, info


def _create(path: Path, spec: DatasetSpec) -> None:
    """Write an empty store at ``path`` atomically (build beside it, then rename)."""
    zarr = _zarr()
    tmp = path.with_name(f".{path.name}.creating-{uuid.uuid4().hex[:8]}")
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        n, c = spec.n_images, spec.chunk_size
        ny, nx = spec.config.shape_native
        for name in ("images", "noise_maps"):
            root.create_array(name, shape=(n, ny, nx), chunks=(c, ny, nx), dtype="float32", fill_value=np.nan,
                              dimension_names=_DIMS[name])
        root.create_array("parameters", shape=(n, len(PARAMETERS)), chunks=(c, len(PARAMETERS)),
                          dtype="float64", fill_value=np.nan, dimension_names=_DIMS["parameters"])
        root["parameters"].attrs.update({"names": [p for p, _ in PARAMETERS], "units": [u for _, u in PARAMETERS]})
        params, info = _template(spec)
        for group, tree in (("params", params), ("info", info)):
            for leaf_path, leaf in _walk(tree):
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


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')}: store {a!r} != requested {b!r}"]


def _is_store(path: Path) -> bool:
    return (path / "zarr.json").is_file()


def _read_attrs(path: Path) -> dict[str, Any]:
    meta = json.loads((path / "zarr.json").read_text())
    attrs = meta.get("attributes", {}).get("xlens")
    if not isinstance(attrs, dict):
        raise DatasetError(
            f"{path} is a Zarr store but not an xlens dataset; choose another path or pass --overwrite "
            "(overwrite=True) to replace it"
        )
    return attrs


def _remove_partials(path: Path) -> int:
    n = 0
    for p in path.rglob("*.partial"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def _done_chunks(root) -> np.ndarray:
    return np.asarray(root["done"][:], dtype=bool)


def _n_written(spec: DatasetSpec, done: np.ndarray) -> int:
    """Images in the chunks flagged done."""
    return sum(stop - start for start, stop in map(spec.chunk_range, np.flatnonzero(done)))


def prepare(path: str | os.PathLike, spec: DatasetSpec, overwrite: bool = False, *,
            batch_size_given: bool = True, log=print) -> DatasetSpec:
    """Create the store, or check that an existing one belongs to the same run.

    Returns the spec to run (an existing store's chunk size wins over the requested
    one, since the chunking is fixed at creation and does not change the data).

    Raises
    ------
    DatasetError
        If ``path`` holds something else, or a dataset of a different run, and
        ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        if not path.is_dir() or not _is_store(path):
            if path.is_dir() and not any(path.iterdir()):
                path.rmdir()
            else:
                raise DatasetError(
                    f"{path} exists and is not an xlens dataset; choose another path or pass --overwrite "
                    "(overwrite=True) to replace it"
                )
    if path.exists() and not overwrite:
        attrs = _read_attrs(path)
        differences = _diff({k: attrs.get(k, "<absent>") for k in spec.identity()}, spec.identity())
        if differences:
            raise DatasetError(
                f"{path} holds a dataset of a different run ({'; '.join(differences[:5])}"
                f"{'; ...' if len(differences) > 5 else ''}). Resume it with the same options, choose "
                "another path, or pass --overwrite (overwrite=True) to replace it"
            )
        stored = int(attrs["chunk_size"])
        if batch_size_given and stored != spec.chunk_size:
            log(f"note: {path} was created with --batch-size {stored}; resuming with {stored} "
                f"(the data do not depend on it)")
        versions = _versions(spec.engine)
        changed = {k: (attrs["versions"].get(k), v) for k, v in versions.items() if attrs["versions"].get(k) != v}
        if changed:
            warnings.warn(
                f"{path} was started with other versions ({changed}); the remaining chunks may differ "
                "from an uninterrupted run in the last bits",
                RuntimeWarning,
                stacklevel=2,
            )
        removed = _remove_partials(path)
        if removed:
            log(f"note: removed {removed} partial file(s) of an interrupted write")
        return dataclasses.replace(spec, chunk_size=stored)
    if path.exists():  # overwrite: the old store stays until the new one is in place
        trash = path.with_name(f".{path.name}.deleting-{uuid.uuid4().hex[:8]}")
        os.replace(path, trash)
        try:
            _create(path, spec)
        except BaseException:
            os.replace(trash, path)
            raise
        shutil.rmtree(trash, ignore_errors=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path, spec)
    return spec


# ---------------------------------------------------------------------------- workers

_SIMULATORS: dict[str, Simulator] = {}


def _simulator(spec: DatasetSpec) -> Simulator:
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
    sim = _simulator(spec)
    start, stop = spec.chunk_range(chunk)
    keys = engine.index_keys(spec.seed, np.arange(start, start + spec.chunk_size), spec.engine)
    ex = sim.sample_batch(keys, overflow="ignore")
    m = stop - start
    out = {
        "images": np.asarray(ex.data, dtype=np.float32)[:m],
        "noise_maps": np.asarray(ex.noise_map, dtype=np.float32)[:m],
    }
    params = engine.tree_map(lambda a: np.asarray(a)[:m], ex.params)
    info = engine.tree_map(lambda a: np.asarray(a)[:m], ex.info)
    out["parameters"] = _parameter_table(params)
    for group, tree in (("params", params), ("info", info)):
        for leaf_path, leaf in _walk(tree):
            out[f"{group}/{leaf_path}"] = np.asarray(leaf)
    return out


def write_chunk(path: str | os.PathLike, spec: DatasetSpec, chunk: int) -> int:
    """Compute one chunk and write it, then its ``done`` flag; returns its number of images.

    Idempotent: writing a chunk twice gives the same bytes, so a chunk whose writer
    died is simply written again.
    """
    zarr = _zarr()
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
    n_images: int,
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
        The store (a directory). If it holds an unfinished dataset of the same run
        (same configuration, number of images, seed, engine, dtype and path), the
        missing chunks are computed; a different run is an error unless ``overwrite``.
    n_images : int
        Number of images.
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
    dtype = dtype or ("float32" if engine == "jax" else "float64")
    given = batch_size is not None
    spec = DatasetSpec(
        n_images=n_images, config=config or SimulatorConfig(), engine=engine, dtype=dtype, exact=exact,
        seed=seed, chunk_size=batch_size or min(default_batch_size(engine), max(int(n_images), 1)),
    )
    path = Path(path).absolute()
    spec = prepare(path, spec, overwrite, batch_size_given=given, log=log)
    zarr = _zarr()
    root = zarr.open_group(str(path), mode="r+")
    done = _done_chunks(root)
    todo = [c for c in range(spec.n_chunks) if not done[c]]
    n_done = _n_written(spec, done)
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

            attrs = _read_attrs(path)
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
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True,
                smoothing=0.1)


# ------------------------------------------------------------------------------ read


class Dataset:
    """A dataset store opened for reading (see :func:`open_dataset`).

    Attributes
    ----------
    root : zarr.Group
        The store; arrays as in the module docstring.
    spec : DatasetSpec
        The run that wrote it.
    """

    def __init__(self, path: str | os.PathLike):
        path = Path(path)
        if not _is_store(path):
            raise DatasetError(f"{path} is not a Zarr store (no zarr.json); create one with `xlens simulate {path}`")
        self.path = path
        self.attrs = _read_attrs(path)
        self.spec = DatasetSpec.from_attrs(self.attrs)
        self.root = _zarr().open_group(str(path), mode="r")
        self._template = None

    def __len__(self) -> int:
        return self.spec.n_images

    @property
    def complete(self) -> bool:
        """True once every chunk is written."""
        return bool(_done_chunks(self.root).all())

    @property
    def n_written(self) -> int:
        """Number of images written so far."""
        return _n_written(self.spec, _done_chunks(self.root))

    @property
    def parameter_names(self) -> list[str]:
        """Column names of ``root["parameters"]``."""
        return list(self.root["parameters"].attrs["names"])

    def check_index(self, index: int) -> int:
        """``index`` as a non-negative int, or an IndexError naming the range and whether it is written."""
        n = self.spec.n_images
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or not -n <= index < n:
            raise IndexError(f"index must be an integer in [0, {n}) for {self.path}; got {index!r}")
        index = int(index) % n
        if not _done_chunks(self.root)[index // self.spec.chunk_size]:
            raise IndexError(f"image {index} of {self.path} is not written yet; resume the run to finish it")
        return index

    def params(self, index: int) -> SimParams:
        """The :class:`SimParams` of image ``index`` (NumPy leaves), halo catalogues included."""
        index = self.check_index(index)
        if self._template is None:
            self._template = _template(self.spec)[0]
        return _rebuild(self._template, lambda p: np.asarray(self.root[f"params/{p}"][index]))

    def key(self, index: int):
        """The key of image ``index`` (as :func:`xlens.engine.index_keys`)."""
        return engine.index_keys(self.spec.seed, [index], self.spec.engine)[0]

    def simulator(self) -> Simulator:
        """A simulator of the dataset's model, engine and dtype."""
        return _simulator(self.spec)


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset written by :func:`simulate` (or ``xlens simulate``) for reading."""
    return Dataset(path)
