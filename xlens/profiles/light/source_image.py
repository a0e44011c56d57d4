"""A pixelised source from a catalogue of galaxy images (lenstronomy ``INTERPOL``-like; docs/profiles.md).

Why this module exists: networks trained on analytic sources fail on real galaxies, so SBI
training sets use real galaxy cut-outs as sources (e.g. COSMOS images, drawn per image).
:class:`SourceImage` holds a stack of cut-outs with their pixel scales and evaluates one of
them -- chosen by an index that may be traced, so a compiled program draws the galaxy per
image -- at any position, after a shift, a rotation and a change of size, by bicubic
convolution (Keys 1981, a = -1/2) in ``xp``. The surface brightness is normalised so that its
integral is ``flux`` whatever the size, and it is exactly zero outside the cut-out.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ...errors import check_range
from ..base import ANY_ARCSEC, LightProfile, Range, vector_from_sequence

__all__ = ["SourceImage"]

#: Zero pixels added on every side of each cut-out: the 4 x 4 bicubic stencil then falls
#: smoothly to zero at the cut-out's edge, and a position outside reads only zeros.
_PAD = 2


def _keys_weights(t, xp):
    """The four weights of Keys' cubic convolution (a = -1/2) at offsets t + 1, t, 1 - t, 2 - t."""
    t2, t3 = t * t, t * t * t
    w0 = -0.5 * t3 + t2 - 0.5 * t
    w1 = 1.5 * t3 - 2.5 * t2 + 1.0
    w2 = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    w3 = 0.5 * t3 - 0.5 * t2
    return (w0, w1, w2, w3)


@pytree_dataclass
class SourceImage(LightProfile):
    """One galaxy of a catalogue of cut-outs, shifted, rotated and resized (bicubic interpolation).

    Parameters
    ----------
    images : array, shape (K, ny, nx) or (ny, nx)
        The catalogue: K cut-outs of equal shape, any surface-brightness units (only their
        shape matters: each is normalised to unit integral), finite and with a positive sum.
        Row 0 is the top of the image (larger y), as in :class:`~xlens.Grid2D`.
    pixel_scales : float or array, shape (K,)
        Pixel size of each cut-out [arcsec], > 0.
    index : int or int array, shape ()
        Which cut-out (0 <= index < K); may be traced (drawn per image inside ``jit``).
    centre : (y, x)
        Position of the cut-out's centre [arcsec].
    angle : float
        Rotation of the cut-out, counter-clockwise [degrees].
    scale : float
        Size factor, > 0 (dimensionless): 2 makes the galaxy twice as large.
    flux : float
        Integral of the surface brightness [intensity units x arcsec^2], >= 0.

    Notes
    -----
    A position p maps to the cut-out's fractional pixel coordinates by
    ``R(-angle)(p - centre) / (scale pixel_scale)`` about its central pixel, where the
    image is interpolated with Keys' cubic convolution (a = -1/2: exact for quadratics,
    interpolating, C1), from the cut-out padded by two zero pixels on every side: zero
    beyond. The value is ``flux img(u) / (sum(img) (scale pixel_scale)^2)``, so the integral
    over the plane is ``flux`` (the cubic convolution reproduces the pixel sum as the
    integral of the interpolant) and a larger ``scale`` spreads the same flux. Like every
    light profile the simulator averages it over each pixel's sub-pixels: a simulated pixel
    of area A holds ``A`` times that mean, in the units of ``flux / arcsec^2``.
    """

    #: The ranges of the drawn fields (checked by __post_init__ and by a model's prior supports).
    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "angle": Range(units="[degrees]"),
        "scale": Range(0.0, math.inf, units="(dimensionless)"),
        "flux": Range(0.0, math.inf, low_inclusive=True, units="[e-/s arcsec^2]"),
    }

    images: ArrayLike
    pixel_scales: ArrayLike = 0.05
    index: ArrayLike = 0
    centre: ArrayLike = (0.0, 0.0)
    angle: ArrayLike = 0.0
    scale: ArrayLike = 1.0
    flux: ArrayLike = 1.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        xp_images = engine.namespace(self.images)
        images = xp_images.asarray(self.images)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.shape[1] < 1 or images.shape[2] < 1:
            raise ValueError(f"{owner}.images must have shape (K, ny, nx) or (ny, nx); got {tuple(images.shape)}")
        object.__setattr__(self, "images", images)
        k = images.shape[0]
        scales = self.pixel_scales
        if engine.is_concrete(scales) and not engine.is_jax(engine.namespace(scales)):
            scales = np.broadcast_to(np.asarray(scales, dtype=np.float64), (k,)).copy()
        object.__setattr__(self, "pixel_scales", scales)
        centre = self.centre
        if isinstance(centre, tuple | list):
            centre = vector_from_sequence(owner, "centre", centre)
            object.__setattr__(self, "centre", centre)
        if engine.is_jax(engine.namespace(images)) or not engine.is_concrete(images):
            return  # traced or JAX values are not inspected (validation runs on NumPy values)
        img = np.asarray(images, dtype=np.float64)
        finite = np.isfinite(img).reshape(k, -1).all(axis=1)
        if not np.all(finite):
            raise ValueError(f"{owner}.images must be finite; cut-out {int(np.argmin(finite))} is not")
        sums = img.reshape(k, -1).sum(axis=1)
        if np.any(sums <= 0):
            raise ValueError(f"{owner}.images: every cut-out needs a positive sum; cut-out {int(np.argmax(sums <= 0))} "
                             f"sums to {float(sums[np.argmax(sums <= 0)])!r}")
        check_range(owner, "pixel_scales", np.asarray(scales), 0.0, math.inf, units="[arcsec]")
        if engine.is_concrete(self.index) and not engine.is_jax(engine.namespace(self.index)):
            i = np.asarray(self.index)
            if not np.issubdtype(i.dtype, np.integer) or i.shape != () or not 0 <= int(i) < k:
                raise ValueError(f"{owner}.index must be an integer in [0, {k - 1}] (one of the {k} cut-outs); "
                                 f"got {self.index!r}")
        for name, low, units in (("scale", 0.0, "(dimensionless)"), ("flux", None, "[flux x arcsec^2]")):
            value = getattr(self, name)
            if engine.is_concrete(value) and not engine.is_jax(engine.namespace(value)):
                if name == "flux":
                    check_range(owner, name, np.asarray(value, dtype=np.float64), 0.0, math.inf,
                                low_inclusive=True, units=units)
                else:
                    check_range(owner, name, np.asarray(value, dtype=np.float64), low, math.inf, units=units)
        angle = self.angle
        if engine.is_concrete(angle) and not engine.is_jax(engine.namespace(angle)):
            check_range(owner, "angle", np.asarray(angle, dtype=np.float64), -math.inf, math.inf, units="[degrees]")

    def image_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Surface brightness at the grid points [flux units per arcsec^2] (see the class notes).

        Parameters
        ----------
        grid : array, shape (..., 2)
            (y, x) positions [arcsec].

        Returns
        -------
        array, shape (...)
            In the dtype of the grid (the interpolation runs in it too).
        """
        xp = engine.promoted_namespace(grid, self.images, self.index, self.centre, self.angle, self.scale, self.flux)
        grid = xp.asarray(grid)
        dtype = grid.dtype if xp.isdtype(grid.dtype, "real floating") else xp.float64
        images = xp.asarray(self.images)
        k, ny, nx = images.shape
        idx = xp.asarray(self.index)
        img = xp.astype(xp.take(images, xp.reshape(idx, (1,)), axis=0)[0], dtype)
        pix = xp.astype(xp.take(xp.reshape(xp.asarray(self.pixel_scales), (-1,)), xp.reshape(idx, (1,)))[0], dtype)
        total = xp.sum(img)
        padded = xp.zeros((ny + 2 * _PAD, nx + 2 * _PAD), dtype=dtype)
        padded = engine.at_set(padded, (slice(_PAD, _PAD + ny), slice(_PAD, _PAD + nx)), img, xp=xp)
        centre = xp.astype(xp.reshape(xp.asarray(self.centre), (2,)), dtype)
        theta = xp.astype(xp.asarray(self.angle), dtype) * (math.pi / 180.0)
        size = xp.astype(xp.asarray(self.scale), dtype) * pix
        dy, dx = grid[..., 0] - centre[0], grid[..., 1] - centre[1]
        c, s = xp.cos(theta), xp.sin(theta)
        # rotate by -angle into the cut-out's frame, then to fractional pixel coordinates
        fx = (c * dx + s * dy) / size
        fy = (-s * dx + c * dy) / size
        col = fx + (nx - 1) / 2.0 + _PAD
        row = (ny - 1) / 2.0 - fy + _PAD  # row 0 at the top (larger y)
        value = self._bicubic(padded, row, col, xp)
        return xp.astype(xp.asarray(self.flux), dtype) * value / (total * size * size)

    @staticmethod
    def _bicubic(padded, row, col, xp) -> Any:
        """Keys cubic convolution of ``padded`` at fractional (row, col); 0 outside the padded image."""
        h, w = padded.shape
        inside = (row >= 1.0) & (row <= h - 2.0) & (col >= 1.0) & (col <= w - 2.0)
        r = xp.where(inside, row, 1.0)
        cc = xp.where(inside, col, 1.0)
        r0, c0 = xp.floor(r), xp.floor(cc)
        wr = _keys_weights(r - r0, xp)
        wc = _keys_weights(cc - c0, xp)
        r0i, c0i = xp.astype(r0, xp.int64), xp.astype(c0, xp.int64)
        flat = xp.reshape(padded, (-1,))
        out = xp.zeros(r.shape, dtype=padded.dtype)
        for i in range(4):
            ri = xp.clip(r0i - 1 + i, 0, h - 1)
            row_sum = xp.zeros(r.shape, dtype=padded.dtype)
            for j in range(4):
                cj = xp.clip(c0i - 1 + j, 0, w - 1)
                row_sum = row_sum + wc[j] * xp.reshape(xp.take(flat, xp.reshape(ri * w + cj, (-1,))), r.shape)
            out = out + wr[i] * row_sum
        return xp.where(inside, out, 0.0)
