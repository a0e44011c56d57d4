"""Reading a dataset: :func:`open_dataset` and :class:`Dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..engine import index_keys
from ..model import SimParams
from ..simulator import Simulator
from .layout import done_chunks, is_store, n_written, read_attrs, rebuild, template, zarr_module
from .spec import DatasetError, DatasetSpec
from .writer import simulator_for

__all__ = ["Dataset", "open_dataset"]


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
        if not is_store(path):
            raise DatasetError(f"{path} is not a Zarr store (no zarr.json); create one with `xlens simulate {path}`")
        self.path = path
        self.attrs = read_attrs(path)
        self.spec = DatasetSpec.from_attrs(self.attrs)
        self.root = zarr_module().open_group(str(path), mode="r")
        self._template = None

    def __len__(self) -> int:
        return self.spec.n_images

    @property
    def complete(self) -> bool:
        """True once every chunk is written."""
        return bool(done_chunks(self.root).all())

    @property
    def n_written(self) -> int:
        """Number of images written so far."""
        return n_written(self.spec, done_chunks(self.root))

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
        if not done_chunks(self.root)[index // self.spec.chunk_size]:
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


def open_dataset(path: str | os.PathLike) -> Dataset:
    """Open a dataset written by :func:`simulate` (or ``xlens simulate``) for reading."""
    return Dataset(path)
