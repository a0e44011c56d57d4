"""Training sets of simulated lenses in Zarr stores: chunked, resumable, scalable.

:func:`simulate` writes a store (:mod:`xlens.dataset.writer` documents the layout, the
determinism and the crash safety); :func:`open_dataset` reads one.
"""

from .layout import is_store
from .reader import Dataset, open_dataset
from .spec import FORMAT, KEY_SCHEME, DatasetError, DatasetSpec, default_batch_size
from .writer import compute_chunk, grow, prepare, simulate, write_chunk

__all__ = [
    "FORMAT",
    "KEY_SCHEME",
    "Dataset",
    "DatasetError",
    "DatasetSpec",
    "compute_chunk",
    "default_batch_size",
    "grow",
    "is_store",
    "open_dataset",
    "prepare",
    "simulate",
    "write_chunk",
]
