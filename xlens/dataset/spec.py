"""What determines a dataset's content (:class:`DatasetSpec`), its format version and key scheme."""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import numpy as np

from ..config import config_from_dict, config_to_dict, dumps
from ..engine import ENGINES, backend_info, jax_available
from ..model import SimulatorConfig, parameter_columns
from ..version import __version__

__all__ = ["FORMAT", "KEY_SCHEME", "DatasetError", "DatasetSpec", "default_batch_size", "versions"]


#: Version of the store layout (``attrs["xlens"]["format"]``).
FORMAT = 2

#: What each format changed, for the reader's message on an older store.
FORMAT_CHANGES = {
    2: ("the model became galaxies of named profiles: the labels <group>.<field> became "
        "<galaxy>.<profile>.<field> (lens.einstein_radius -> lens.mass.einstein_radius, shear.gamma_1 -> "
        "lens.shear.gamma_1, source.intensity -> source.light.intensity), params/lens, params/shear and "
        "params/source moved to params/galaxies/<galaxy>/<profile>/<field>, and the configuration's "
        "[priors.lens|shear|source] tables became [model.lens.mass], [model.lens.shear] and "
        "[model.source.light]"),
}


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
        if self.engine not in ENGINES:
            raise ValueError(f"DatasetSpec.engine must be one of {ENGINES}; got {self.engine!r}")
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
            "versions": versions(self.engine),
            "parameters": [name for name, _ in parameter_columns(self.config)],
        }

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> DatasetSpec:
        """The spec recorded in a store's ``attrs["xlens"]``.

        Raises
        ------
        DatasetError
            For a store of another format version, saying what changed since.
        """
        found = attrs.get("format")
        if found != FORMAT:
            changes = "; ".join(f"format {v}: {text}" for v, text in sorted(FORMAT_CHANGES.items())
                                if isinstance(found, int) and found < v)
            written = attrs.get("versions", {}).get("xlens", "an older xlens")
            raise DatasetError(
                f"the store has format {found!r}, this xlens reads format {FORMAT} (written by xlens {written}). "
                + (f"What changed: {changes}. " if changes else "")
                + f"Read it with the xlens that wrote it (pip install 'xlens=={written}'), or simulate it again; its "
                "images and parameter table are plain Zarr arrays (zarr.open_group(path)['images'])")
        return cls(
            n_images=int(attrs["n_images"]),
            config=config_from_dict(attrs["config"], source="the store's configuration"),
            engine=attrs["engine"],
            dtype=attrs["dtype"],
            exact=bool(attrs["exact"]),
            seed=int(attrs["seed"]),
            chunk_size=int(attrs["chunk_size"]),
        )


def versions(engine_name: str) -> dict[str, str]:
    """The versions recorded in a store: xlens, NumPy, Python, and JAX, jaxlib and the backend on JAX."""
    out = {"xlens": __version__, "numpy": np.__version__, "python": sys.version.split()[0]}
    if engine_name == "jax":
        info = backend_info()
        out.update({k: info[k] for k in ("jax", "jaxlib", "backend")})
    return out


def default_batch_size(engine_name: str) -> int:
    """Images per chunk when none is given: 16 on CPUs (NumPy or JAX), 512 on accelerators."""
    if engine_name == "jax" and jax_available():
        return 16 if backend_info()["backend"] == "cpu" else 512
    return 16
