"""Poisson noise with PyAutoLens ``SimulatorImaging`` semantics (PHYSICS.md §15).

The image ``B`` is in electrons per second; with sky level ``b`` [e-/s] and
exposure time ``t`` [s]:

    counts ~ Poisson((B + b) t),  data = counts / t - b,
    noise_map = sqrt(|data + b| t) / t.

The noise is drawn from an explicit key: a ``jax.random`` key on JAX, a NumPy
key (integer, ``SeedSequence`` or ``Generator``, mapped to Philox) on NumPy.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from .. import engine
from ..engine import ArrayLike

__all__ = ["MAX_EXPECTED_COUNTS", "NoisyImage", "add_poisson_noise", "check_exposure"]

#: Largest expected count per pixel, ``(image + sky) t`` [e-], that the noise draws are exact for
#: (the normal approximation above 1e5, :data:`xlens.engine.random.POISSON_NORMAL_ABOVE`, and
#: int64 counts hold far more; float32 data keep ~1e-7 of 1e9). Beyond it the pixel's data are NaN
#: inside ``jit``, and concrete inputs raise a ValueError: a real detector saturates long before.
MAX_EXPECTED_COUNTS = 1e9


class NoisyImage(NamedTuple):
    """A noisy image and its noise map."""

    data: ArrayLike  # (..., ny, nx) [e-/s], sky subtracted
    noise_map: ArrayLike  # (..., ny, nx) [e-/s], from the noisy counts


def check_exposure(exposure_time: float, background_sky_level: float, read_noise: float = 0.0) -> None:
    """Validate the exposure time (> 0 [s]), sky level (>= 0 [e-/s]) and read noise (>= 0 [e-]) outside jit."""
    t, b, r = float(exposure_time), float(background_sky_level), float(read_noise)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"exposure_time must be in (0, inf) [s]; got {exposure_time!r}")
    if not (b >= 0 and math.isfinite(b)):
        raise ValueError(f"background_sky_level must be in [0, inf) [e-/s]; got {background_sky_level!r}")
    if not (r >= 0 and math.isfinite(r)):
        raise ValueError(f"read_noise must be in [0, inf) [e- per pixel]; got {read_noise!r}")


def poisson(key, lam: ArrayLike) -> ArrayLike:
    """Poisson counts of mean ``lam`` from ``key`` (float array of the dtype of ``lam``)."""
    ops = engine.random_ops(key)
    return ops.xp.asarray(ops.poisson(key, lam))


def add_poisson_noise(
    image: ArrayLike,
    key,
    exposure_time: float,
    background_sky_level: float,
    read_noise: float = 0.0,
) -> NoisyImage:
    """Poisson noise on an image in e-/s, with sky added and subtracted, and Gaussian read noise.

    Parameters
    ----------
    image : array, shape (..., ny, nx)
        Noiseless (PSF-convolved) image [e-/s], >= 0.
    key
        JAX key or NumPy key (see module docstring).
    exposure_time : float
        Exposure [s], > 0.
    background_sky_level : float
        Sky [e-/s], >= 0.
    read_noise : float
        Read noise [e- per pixel], >= 0 (static): ``read_noise * N(0, 1)`` electrons are added
        to the counts (from a stream of the key of its own, so 0 leaves the draws unchanged).

    Returns
    -------
    NoisyImage
        ``(data, noise_map)`` [e-/s]. ``E[data] = image``,
        ``Var[data] = ((image + sky) t + read_noise^2) / t^2``; the noise map is
        ``sqrt(|data + sky| t + read_noise^2) / t``.

    Raises
    ------
    ValueError
        For concrete inputs whose expected count exceeds :data:`MAX_EXPECTED_COUNTS` in a
        pixel (inside ``jit`` those pixels are NaN).

    Notes
    -----
    Counts up to 1e5 per pixel are exact Poisson draws (NumPy's generator; on JAX one loop of
    the product method below a mean of 10 and Hormann's transformed rejection above, in float64
    inside xlens's float64 scope);
    above, the normal approximation of :data:`xlens.engine.random.POISSON_NORMAL_ABOVE`, whose
    mean and variance are exact. The variance holds to 1e9 counts in float32 and float64
    (tested).
    """
    xp = engine.namespace(image)
    image = xp.asarray(image)
    mean_counts = xp.maximum(image + background_sky_level, 0.0) * exposure_time
    if engine.is_concrete(mean_counts):
        top = float(xp.max(mean_counts)) if mean_counts.size else 0.0
        if not top <= MAX_EXPECTED_COUNTS:
            raise ValueError(
                f"add_poisson_noise: the expected count (image + background_sky_level) * exposure_time reaches "
                f"{top:.3g} e- in a pixel; the noise is drawn for counts in [0, {MAX_EXPECTED_COUNTS:.0e}] e- per "
                "pixel (a real detector saturates long before): lower the source intensity or the exposure_time")
    counts = poisson(key, mean_counts)
    counts = xp.where(mean_counts <= MAX_EXPECTED_COUNTS, counts, xp.nan)  # inside jit: never silently wrong
    read2 = float(read_noise) ** 2
    if read2 > 0.0:
        counts = counts + float(read_noise) * xp.astype(engine.random_ops(key).normal(key, counts.shape, 2),
                                                        counts.dtype)
    data = counts / exposure_time - background_sky_level
    noise_map = xp.sqrt(xp.abs(data + background_sky_level) * exposure_time + read2) / exposure_time
    return NoisyImage(xp.astype(data, image.dtype), xp.astype(noise_map, image.dtype))
