"""Reading a dataset: :func:`open_dataset` and :class:`Dataset`.

A store may be incomplete: a run killed midway leaves chunks without a ``done`` flag,
whose rows read as the fill value (NaN for images). Opening one warns, and
:meth:`Dataset.written` and :meth:`Dataset.chunks` give the written images only.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..engine import index_keys
from ..model import SimParams
from ..simulator import Simulator
from .layout import (
    done_chunks,
    image_arrays,
    is_store,
    n_rows,
    n_written,
    read_attrs,
    rebuild,
    template,
    zarr_module,
)
from .spec import DatasetError, DatasetSpec
from .writer import simulator_for

__all__ = ["Dataset", "open_dataset"]


class Dataset:
    """A dataset store opened for reading (see :func:`open_dataset`).

    Parameters
    ----------
    path : path-like
        The store.
    warn : bool
        Warn (:class:`RuntimeWarning`) if the store is incomplete (default True).

    Attributes
    ----------
    root : zarr.Group
        The store; arrays as in :mod:`xlens.dataset.writer`.
    spec : DatasetSpec
        The run that wrote it.

    Notes
    -----
    ``len(ds)`` is the number of images of the run, written or not. In an incomplete
    store the rows of unwritten chunks read as the fill value (NaN for ``images``,
    ``noise_maps``, ``parameters`` and the float ``params/``; 0 for the rest):
    :meth:`written` lists the written images and :meth:`chunks` reads only those.
    """

    def __init__(self, path: str | os.PathLike, *, warn: bool = True):
        path = Path(path)
        if not is_store(path):
            raise DatasetError(f"{path} is not a Zarr store (no zarr.json); create one with `xlens simulate {path}`")
        self.path = path
        self.attrs = read_attrs(path)
        self.spec = DatasetSpec.from_attrs(self.attrs)
        self.root = zarr_module().open_group(str(path), mode="r")
        self._template = None
        if warn:
            _warn_if_incomplete(self, stacklevel=2)

    def __len__(self) -> int:
        return self.spec.n_images

    def _done(self) -> np.ndarray:
        return done_chunks(self.root, self.spec.n_chunks)

    @property
    def complete(self) -> bool:
        """True once every chunk is written."""
        return bool(self._done().all())

    @property
    def n_written(self) -> int:
        """Number of images written so far."""
        return n_written(self.spec, self._done())

    @property
    def parameter_names(self) -> list[str]:
        """Column names of ``root["parameters"]``: the macro labels (``"lens.einstein_radius"``),
        then the population parameters drawn per image (``"subhalos.sigma_sub"``,
        ``"line_of_sight.delta_los"``), if the configuration draws them."""
        return list(self.root["parameters"].attrs["names"])

    @property
    def parameter_units(self) -> dict[str, str]:
        """``{column name: units}`` of ``root["parameters"]`` (e.g. ``"kpc^-2"``)."""
        return dict(zip(self.parameter_names, self.root["parameters"].attrs["units"], strict=True))

    def labels(self, names: str | Sequence[str] | None = None,
               indices: Sequence[int] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Columns of the ``parameters`` array by name, for the written images.

        Parameters
        ----------
        names : str or sequence of str, optional
            Column names (:attr:`parameter_names`), e.g. ``"subhalos.sigma_sub"``; all by default.
        indices : sequence of int, optional
            Image indices, each written; :meth:`written` by default.

        Returns
        -------
        dict of str to numpy.ndarray, shape (len(indices),), float64
            One array per name, in the units of :attr:`parameter_units`.
        """
        columns = self.parameter_names
        names = columns if names is None else [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise KeyError(f"names: {unknown} are not columns of {self.path}'s parameters; "
                           f"it has {columns}")
        idx = self.written() if indices is None else np.array(
            [self.check_index(i) for i in np.asarray(indices, dtype=np.int64).ravel().tolist()], dtype=np.int64)
        table = (self.root["parameters"].get_orthogonal_selection((idx,)) if idx.size
                 else np.zeros((0, len(columns))))
        return {n: np.asarray(table[:, columns.index(n)], dtype=np.float64) for n in names}

    def written(self) -> np.ndarray:
        """Indices of the written images.

        Returns
        -------
        numpy.ndarray, shape (n_written,), int64
            Sorted image indices of the chunks flagged done; ``arange(len(self))`` once the
            store is complete. ``root["images"].get_orthogonal_selection((idx,))`` reads them.
        """
        spans = [np.arange(*self.spec.chunk_range(c), dtype=np.int64) for c in np.flatnonzero(self._done())]
        return np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)

    def chunks(self, arrays: Sequence[str] = ("images", "parameters"), *, shuffle: bool = False,
               seed: int | None = None) -> Iterator[dict[str, np.ndarray]]:
        """Iterate over the written chunks, reading whole Zarr chunks (the fast way to read).

        Parameters
        ----------
        arrays : sequence of str, or str
            Paths of the arrays to read (one path may be given as a string), e.g. ``"images"``, ``"noise_maps"``,
            ``"parameters"``, ``"params/galaxies/lens/mass/einstein_radius"``, ``"info/subhalos/n_kept"``.
        shuffle : bool
            Visit the chunks in a random order (the images inside a chunk keep theirs;
            shuffle them yourself if the network needs it). Default: in index order.
        seed : int, optional
            Seed of the order when ``shuffle`` (``numpy.random.default_rng(seed)``; a local
            generator, no global state is touched). Use the epoch number for a new order
            per epoch.

        Yields
        ------
        dict of str to numpy.ndarray
            One entry per name of ``arrays``, shaped ``(m, ...)`` with ``m`` the chunk's
            number of images (the chunk size, less in the last chunk), in the stored
            units (images [e-/s]); plus ``"index"``, the ``m`` image indices (int64).
            Chunks without a ``done`` flag are skipped, so no unwritten (NaN) row is
            ever yielded.

        Raises
        ------
        KeyError
            If a name of ``arrays`` is not an array of the store (the message lists them);
            raised by this call, before any chunk is read.
        """
        allowed = image_arrays(self.root)
        names = [arrays] if isinstance(arrays, str) else list(arrays)
        unknown = [a for a in names if a not in allowed]
        if unknown or not names:
            raise KeyError(f"Dataset.chunks: arrays must be a non-empty sequence of array paths of {self.path} "
                           f"({', '.join(allowed)}); got {arrays!r}")
        order = np.flatnonzero(self._done())
        if shuffle:
            order = np.random.default_rng(seed).permutation(order)
        return self._chunk_iterator(names, order)

    def _chunk_iterator(self, names: list[str], order: np.ndarray) -> Iterator[dict[str, np.ndarray]]:
        for chunk in order:
            start, stop = self.spec.chunk_range(int(chunk))
            out = {name: np.asarray(self.root[name][start:stop]) for name in names}
            out["index"] = np.arange(start, stop, dtype=np.int64)
            yield out

    def check_index(self, index: int) -> int:
        """``index`` as a non-negative int, or an IndexError naming the range and whether it is written."""
        n = self.spec.n_images
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or not -n <= index < n:
            raise IndexError(f"index must be an integer in [0, {n}) for {self.path}; got {index!r}")
        index = int(index) % n
        if not self._done()[index // self.spec.chunk_size]:
            raise IndexError(f"image {index} of {self.path} is not written yet; resume the run to finish it")
        return index

    def params(self, index: int) -> SimParams:
        """The :class:`SimParams` of image ``index`` (NumPy leaves), halo catalogues included."""
        index = self.check_index(index)
        if self._template is None:
            self._template = template(self.spec)[0]
        return rebuild(self._template, lambda p: np.asarray(self.root[f"params/{p}"][index]))

    def key(self, index: int):
        """The key of image ``index`` (as :func:`xlens.engine.index_keys`)."""
        return index_keys(self.spec.seed, [index], self.spec.engine)[0]

    def simulator(self) -> Simulator:
        """A simulator of the dataset's model, engine and dtype."""
        return simulator_for(self.spec)


def _warn_if_incomplete(ds: Dataset, *, stacklevel: int) -> None:
    # stacklevel counts from the function that calls this one (1: that function, 2: its caller)
    n, rows, written = len(ds), n_rows(ds.root), ds.n_written
    problems = []
    if written < n:
        problems.append(f"only {written} of {n} images are written (the others read as NaN)")
    if rows > n:
        problems.append(f"growing it from {n} to {rows} images was interrupted (rows {n} to {rows - 1} "
                        "are not part of it yet)")
    if problems:
        warnings.warn(
            f"{ds.path} is incomplete: {'; '.join(problems)}. `xlens simulate {ds.path}` finishes the run; "
            "until then read only the written images: ds.written() lists them, ds.chunks() reads them",
            RuntimeWarning,
            stacklevel=stacklevel + 1,
        )


def open_dataset(path: str | os.PathLike, *, warn: bool = True) -> Dataset:
    """Open a dataset written by :func:`simulate` (or ``xlens simulate``) for reading.

    Parameters
    ----------
    path : path-like
        The store.
    warn : bool
        Warn (:class:`RuntimeWarning`) if the store is incomplete: a run killed midway,
        or a growth not finished. The warning names the store, how many of how many
        images are written, and how to finish it or read only the written images.

    Returns
    -------
    Dataset
        ``len()`` is the run's number of images, written or not; :meth:`Dataset.written`
        and :meth:`Dataset.chunks` give the written ones.
    """
    ds = Dataset(path, warn=False)
    if warn:
        _warn_if_incomplete(ds, stacklevel=2)
    return ds
