"""Uniform pixel grids with uniform over-sampling (PHYSICS.md §1, §15; PyAutoArray conventions).

Pixel ``(r, c)`` of a ``(N_y, N_x)`` grid with pixel scale ``p`` is centred at
``y = ((N_y - 1)/2 - r) p``, ``x = (c - (N_x - 1)/2) p``: row 0 is the top
(largest y). With ``over_sample_size`` s, each pixel is split into s x s
sub-pixels, row-major from the top-left, and a pixel's value is the mean of its
sub-pixel values. The over-sampled grid is stored as an ``(N_y s, N_x s, 2)``
image, so binning is a reshape and a mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import ArrayLike, namespace

__all__ = ["Grid2D", "bin_over_sampled"]


@dataclass(frozen=True)
class Grid2D:
    """A uniform (y, x) pixel grid [arcsec] with uniform over-sampling (PyAutoLens ``al.Grid2D``).

    Parameters
    ----------
    shape_native : (int, int)
        ``(N_y, N_x)`` pixels, each >= 1.
    pixel_scales : float
        Pixel size [arcsec], > 0 (square pixels).
    over_sample_size : int
        Sub-pixels per pixel side s, >= 1.
    origin : (float, float)
        ``(y, x)`` of the grid centre [arcsec].
    """

    shape_native: tuple[int, int]
    pixel_scales: float
    over_sample_size: int = 1
    origin: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in np.atleast_1d(self.shape_native))
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"Grid2D.shape_native must be two integers >= 1; got {self.shape_native!r}")
        scale = self.pixel_scales
        if isinstance(scale, tuple | list):
            if len(scale) != 2 or scale[0] != scale[1]:
                raise ValueError(f"Grid2D.pixel_scales must be one value (square pixels); got {scale!r}")
            scale = scale[0]
        scale = float(scale)
        if not (scale > 0 and math.isfinite(scale)):
            raise ValueError(f"Grid2D.pixel_scales must be in (0, inf) [arcsec]; got {self.pixel_scales!r}")
        sub = int(self.over_sample_size)
        if sub < 1 or sub != self.over_sample_size:
            raise ValueError(f"Grid2D.over_sample_size must be an integer >= 1; got {self.over_sample_size!r}")
        object.__setattr__(self, "shape_native", shape)
        object.__setattr__(self, "pixel_scales", scale)
        object.__setattr__(self, "over_sample_size", sub)
        object.__setattr__(self, "origin", (float(self.origin[0]), float(self.origin[1])))

    @classmethod
    def uniform(cls, shape_native, pixel_scales, over_sample_size: int = 1, origin=(0.0, 0.0)) -> Grid2D:
        """A uniform grid (PyAutoLens ``Grid2D.uniform``); see the class parameters."""
        return cls(tuple(shape_native), pixel_scales, over_sample_size, tuple(origin))

    @property
    def native(self) -> np.ndarray:
        """Pixel centres, shape ``(N_y, N_x, 2)`` (y, x) [arcsec], float64."""
        return _centres(self.shape_native, self.pixel_scales, 1, self.origin)

    @property
    def over_sampled(self) -> np.ndarray:
        """Sub-pixel centres, shape ``(N_y s, N_x s, 2)`` (y, x) [arcsec], float64."""
        return _centres(self.shape_native, self.pixel_scales, self.over_sample_size, self.origin)

    def padded(self, border: int) -> Grid2D:
        """The same grid with ``border`` extra pixels on every side."""
        ny, nx = self.shape_native
        return Grid2D((ny + 2 * border, nx + 2 * border), self.pixel_scales, self.over_sample_size, self.origin)

    def bin(self, values: ArrayLike) -> ArrayLike:
        """Mean over each pixel's sub-pixels: ``(N_y s, N_x s)`` -> ``(N_y, N_x)``."""
        return bin_over_sampled(values, self.over_sample_size)


def _centres(shape, scale, sub, origin) -> np.ndarray:
    ny, nx = shape
    step = scale / sub
    y = ((ny * sub - 1) / 2.0 - np.arange(ny * sub)) * step + origin[0]
    x = (np.arange(nx * sub) - (nx * sub - 1) / 2.0) * step + origin[1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    return np.stack([yy, xx], axis=-1)


def bin_over_sampled(values: ArrayLike, sub: int) -> ArrayLike:
    """Mean over s x s blocks of an ``(..., N_y s, N_x s)`` array -> ``(..., N_y, N_x)``."""
    xp = namespace(values)
    ny, nx = values.shape[-2] // sub, values.shape[-1] // sub
    lead = values.shape[:-2]
    blocks = xp.reshape(values, (*lead, ny, sub, nx, sub))
    return xp.mean(blocks, axis=(-3, -1))
