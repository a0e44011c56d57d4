"""Point-spread functions and FFT convolution with zero padding (PHYSICS.md §15)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import ArrayLike, namespace

__all__ = ["Kernel2D", "binned_psf_values", "convolve_fft"]


@dataclass(frozen=True, eq=False)
class Kernel2D:
    """A PSF kernel on an odd pixel grid (PyAutoLens ``al.Kernel2D``).

    Parameters
    ----------
    values : array, shape (n_y, n_x)
        Kernel values, both sides odd; normalised to sum 1 unless ``normalize=False``.
    pixel_scales : float
        Pixel size [arcsec], > 0 (the image's).
    """

    values: np.ndarray
    pixel_scales: float

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape[0] % 2 == 0 or values.shape[1] % 2 == 0:
            raise ValueError(
                f"Kernel2D.values must be a 2D array with odd sides, so that the kernel has a centre "
                f"pixel; got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise ValueError("Kernel2D.values must be finite")
        if not (float(self.pixel_scales) > 0 and math.isfinite(float(self.pixel_scales))):
            raise ValueError(f"Kernel2D.pixel_scales must be in (0, inf) [arcsec]; got {self.pixel_scales!r}")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "pixel_scales", float(self.pixel_scales))

    @classmethod
    def no_mask(cls, values, pixel_scales: float, normalize: bool = True) -> Kernel2D:
        """A kernel from user values (PyAutoLens ``Kernel2D.no_mask``).

        Parameters
        ----------
        values : array, shape (n_y, n_x)
            Odd-sided kernel.
        pixel_scales : float
            Pixel size [arcsec].
        normalize : bool
            Divide by the sum (default True); the sum must then be positive.
        """
        values = np.asarray(values, dtype=np.float64)
        if normalize:
            total = float(np.sum(values))
            if not total > 0:
                raise ValueError(f"Kernel2D.no_mask: the kernel sum must be > 0 to normalise; got {total!r}")
            values = values / total
        return cls(values, pixel_scales)

    @classmethod
    def from_array(cls, values, pixel_scales: float, sub_size: int = 1) -> Kernel2D:
        """A pixelised PSF, optionally super-sampled, binned to the pixel scale and normalised.

        Parameters
        ----------
        values : array, shape (sub_size * n_y, sub_size * n_x)
            PSF samples at ``pixel_scales / sub_size`` [arcsec], centred on the array's centre;
            finite, with a positive sum (negative values, e.g. noisy wings, are allowed).
        pixel_scales : float
            Pixel size of the image (and of the binned kernel) [arcsec], > 0.
        sub_size : int
            Samples per pixel side, >= 1 (default 1: the array is at the pixel scale, used as
            is). Each ``sub_size x sub_size`` block is summed into one pixel, so ``n_y`` and
            ``n_x`` must be odd (the kernel has a centre pixel).
        """
        return cls.no_mask(binned_psf_values(values, sub_size), pixel_scales)

    @classmethod
    def from_gaussian(cls, shape_native, pixel_scales: float, sigma: float, normalize: bool = True) -> Kernel2D:
        """A circular Gaussian ``exp(-r^2 / (2 sigma^2))`` at the kernel pixel centres.

        Parameters
        ----------
        shape_native : (int, int)
            Odd kernel shape in pixels.
        pixel_scales : float
            Pixel size [arcsec], > 0.
        sigma : float
            Gaussian standard deviation [arcsec], > 0 (FWHM = 2.3548 sigma).
        normalize : bool
            Normalise to sum 1 (default).
        """
        ny, nx = (int(n) for n in shape_native)
        if ny % 2 == 0 or nx % 2 == 0 or ny < 1 or nx < 1:
            raise ValueError(f"Kernel2D.shape_native must be odd on both sides; got {tuple(shape_native)}")
        if not (float(sigma) > 0 and math.isfinite(float(sigma))):
            raise ValueError(f"Kernel2D.sigma must be in (0, inf) [arcsec]; got {sigma!r}")
        scale = float(pixel_scales)
        extent = max(ny, nx) * scale
        if float(sigma) > _MAX_SIGMA_OVER_EXTENT * extent:
            raise ValueError(
                f"Kernel2D.sigma must be in (0, {_MAX_SIGMA_OVER_EXTENT:g} x the kernel's extent = "
                f"{_MAX_SIGMA_OVER_EXTENT * extent:g}] [arcsec] ({ny} x {nx} pixels of {scale:g}''); got {sigma!r}: "
                "a Gaussian that much wider than its kernel is flat (use a larger psf_shape or a smaller sigma)")
        # offsets in units of sigma: no overflow or 0/0 for any finite sigma > 0
        y = np.clip(((ny - 1) / 2 - np.arange(ny)) * scale / float(sigma), -1e150, 1e150)
        x = np.clip((np.arange(nx) - (nx - 1) / 2) * scale / float(sigma), -1e150, 1e150)
        values = np.exp(-0.5 * (y[:, None] ** 2 + x[None, :] ** 2))
        return cls.no_mask(values, scale, normalize=normalize)

    @property
    def shape_native(self) -> tuple[int, int]:
        """Kernel shape in pixels."""
        return tuple(self.values.shape)

    @property
    def border(self) -> tuple[int, int]:
        """Half sizes ``((n_y - 1)/2, (n_x - 1)/2)``: the pixels a convolution reaches beyond an edge."""
        return (self.values.shape[0] - 1) // 2, (self.values.shape[1] - 1) // 2


def binned_psf_values(values, sub_size: int = 1, *, name: str = "Kernel2D.values") -> np.ndarray:
    """A PSF array validated and summed over ``sub_size x sub_size`` blocks (not normalised).

    Parameters
    ----------
    values : array_like, shape (sub_size * n_y, sub_size * n_x)
        PSF samples; 2D, finite, with a sum > 0.
    sub_size : int
        Samples per pixel side, >= 1; ``n_y`` and ``n_x`` must be odd.
    name : str
        What the errors call the array (e.g. ``"SimulatorConfig.psf"``).

    Returns
    -------
    numpy.ndarray, shape (n_y, n_x), float64
        The block sums (``values`` itself, as float64, for ``sub_size = 1``).

    Raises
    ------
    ValueError
        Naming ``name``, the offending shape or value and the rule.
    """
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 2D array of numbers; got {_short(values)}") from None
    if isinstance(sub_size, bool) or not isinstance(sub_size, int | np.integer) or not 1 <= sub_size <= 100:
        raise ValueError(f"{name}: the samples per pixel side (psf_sub_size) must be an integer in [1, 100]; "
                         f"got {sub_size!r}")
    s = int(sub_size)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name} must be a 2D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} must be finite; got {bad} non-finite value(s) in shape {arr.shape}")
    ny, nx = arr.shape
    if ny % s or nx % s or (ny // s) % 2 == 0 or (nx // s) % 2 == 0:
        rule = ("both sides must be odd, so that the kernel has a centre pixel" if s == 1 else
                f"both sides must be odd multiples of psf_sub_size = {s} (each {s} x {s} block is one pixel "
                "and the binned kernel needs a centre pixel)")
        raise ValueError(f"{name} has shape {arr.shape}; {rule}")
    total = float(np.sum(arr))
    if not total > 0:
        raise ValueError(f"{name} must have a sum > 0 to be normalised to 1; got sum {total!r}")
    if s > 1:
        arr = arr.reshape(ny // s, s, nx // s, s).sum(axis=(1, 3))
    return arr


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


#: Largest Gaussian sigma accepted, in units of the kernel's extent (pixels x pixel scale).
_MAX_SIGMA_OVER_EXTENT = 100.0


def convolve_fft(image: ArrayLike, kernel: ArrayLike) -> ArrayLike:
    """True 2D convolution of ``image`` with ``kernel``, zero boundary, 'same' output.

    Parameters
    ----------
    image : array, shape (..., H, W)
        Images (any leading batch axes).
    kernel : array, shape (k_y, k_x)
        Odd-sided kernel.

    Returns
    -------
    array, shape (..., H, W)
        ``B[r, c] = sum_ab K[a, b] I[r - a + (k_y-1)/2, c - b + (k_x-1)/2]``, computed with
        real FFTs on arrays zero-padded to at least ``(H + k_y - 1, W + k_x - 1)`` so
        nothing wraps around (PHYSICS.md §15).
    """
    xp = namespace(image, kernel)
    image = xp.asarray(image)
    kernel = xp.astype(xp.asarray(kernel), image.dtype)
    h, w = image.shape[-2:]
    ky, kx = kernel.shape
    fy, fx = _fast_size(h + ky - 1), _fast_size(w + kx - 1)
    spec = xp.fft.rfft2(image, s=(fy, fx)) * xp.fft.rfft2(kernel, s=(fy, fx))
    full = xp.fft.irfft2(spec, s=(fy, fx))
    oy, ox = (ky - 1) // 2, (kx - 1) // 2
    return xp.astype(full[..., oy : oy + h, ox : ox + w], image.dtype)


def _fast_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (sizes the FFT handles fastest)."""
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best
