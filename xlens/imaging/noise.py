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

__all__ = ["NoisyImage", "add_poisson_noise", "check_exposure"]


class NoisyImage(NamedTuple):
    """A noisy image and its noise map."""

    data: ArrayLike  # (..., ny, nx) [e-/s], sky subtracted
    noise_map: ArrayLike  # (..., ny, nx) [e-/s], from the noisy counts


def check_exposure(exposure_time: float, background_sky_level: float) -> None:
    """Validate the exposure time (> 0 [s]) and sky level (>= 0 [e-/s]) outside jit."""
    t, b = float(exposure_time), float(background_sky_level)
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"exposure_time must be in (0, inf) [s]; got {exposure_time!r}")
    if not (b >= 0 and math.isfinite(b)):
        raise ValueError(f"background_sky_level must be in [0, inf) [e-/s]; got {background_sky_level!r}")


def poisson(key, lam: ArrayLike) -> ArrayLike:
    """Poisson counts of mean ``lam`` from ``key`` (float array of the dtype of ``lam``)."""
    ops = engine.random_ops(key)
    return ops.xp.asarray(ops.poisson(key, lam))


def add_poisson_noise(
    image: ArrayLike,
    key,
    exposure_time: float,
    background_sky_level: float,
) -> NoisyImage:
    """Poisson noise on an image in e-/s, with sky added and subtracted.

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

    Returns
    -------
    NoisyImage
        ``(data, noise_map)`` [e-/s]. ``E[data] = image``, ``Var[data] = (image + sky)/t``.
    """
    xp = engine.namespace(image)
    image = xp.asarray(image)
    mean_counts = xp.maximum(image + background_sky_level, 0.0) * exposure_time
    counts = poisson(key, mean_counts)
    data = counts / exposure_time - background_sky_level
    noise_map = xp.sqrt(xp.abs(data + background_sky_level) * exposure_time) / exposure_time
    return NoisyImage(xp.astype(data, image.dtype), xp.astype(noise_map, image.dtype))
