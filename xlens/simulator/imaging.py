"""PyAutoLens-style imaging of any :class:`~xlens.Tracer`: :class:`SimulatorImaging`."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from ..engine import ArrayLike, is_jax, promoted_namespace, scoped_methods, tree_leaves
from ..imaging.grid import Grid2D, bin_over_sampled
from ..imaging.noise import add_poisson_noise, check_exposure
from ..imaging.psf import Kernel2D, convolve_fft
from ..tracer import Tracer

__all__ = ["Imaging", "SimulatorImaging"]


class Imaging(NamedTuple):
    """What :meth:`SimulatorImaging.via_tracer_from` returns (PyAutoLens ``Imaging``)."""

    data: ArrayLike  # (ny, nx) [e-/s]
    noise_map: ArrayLike  # (ny, nx) [e-/s]
    psf: Kernel2D


@scoped_methods
@dataclasses.dataclass(frozen=True)
class SimulatorImaging:
    """PyAutoLens-style simulator of an imaging dataset from any :class:`Tracer`.

    Parameters
    ----------
    exposure_time : float
        [s], > 0.
    psf : Kernel2D
        Odd-sided PSF kernel.
    background_sky_level : float
        [e-/s], >= 0.
    add_poisson_noise_to_data : bool
        If False, ``data`` is the noiseless PSF-convolved image and the noise map
        is that of the expected counts.
    read_noise : float
        Read noise [e- per pixel], >= 0 (default 0), added to the counts and the noise map.
    """

    exposure_time: float
    psf: Kernel2D
    background_sky_level: float
    add_poisson_noise_to_data: bool = True
    read_noise: float = 0.0

    def __post_init__(self) -> None:
        check_exposure(self.exposure_time, self.background_sky_level, self.read_noise)

    def via_tracer_from(self, tracer: Tracer, grid: Grid2D, key=None, exact: bool = True,
                        dtype: str | None = None) -> Imaging:
        """Image a tracer on ``grid`` (with its over-sampling), blur, and add noise.

        The grid is padded by the PSF half-size before imaging and cropped after
        convolution, so flux from just outside the field is blurred in (PHYSICS.md §15).

        Parameters
        ----------
        tracer : Tracer
            The galaxies (NumPy or JAX parameters; JAX if any leaf is JAX).
        grid : Grid2D
            The image grid and its over-sampling.
        key : JAX or NumPy key, optional
            Needed when ``add_poisson_noise_to_data``.
        exact : bool
            True (default): every halo on every sub-pixel ray. False: the fast path for the
            tracer's halo batches (use ``tracer.padded()`` to gather single haloes into
            batches first).
        dtype : {"float64", "float32"}, optional
            The ray-tracing precision: the dtype of the rays, hence of every profile
            evaluation (float32 is the JAX production precision, as ``Simulator(dtype=...)``;
            halo conversions and distances stay float64). Default float64.

        Returns
        -------
        Imaging
            ``data`` and ``noise_map`` [e-/s], shape ``grid.shape_native``, in ``dtype``.
        """
        dtype = "float64" if dtype is None else dtype
        if dtype not in ("float64", "float32"):
            raise ValueError(f"SimulatorImaging.via_tracer_from: dtype must be 'float64' or 'float32'; got {dtype!r}")
        border = self.psf.border
        if border[0] != border[1]:
            raise ValueError(f"SimulatorImaging: the PSF must be square; got {self.psf.shape_native}")
        padded = grid.padded(border[0])
        xp = promoted_namespace(*tree_leaves(tracer))
        if dtype == "float32" and not is_jax(xp):
            raise ValueError("SimulatorImaging.via_tracer_from: float32 is the JAX production precision; "
                             "build the tracer from JAX arrays, or use dtype='float64' on NumPy")
        traced = tracer.traced_grid_2d_list_over_sampled_from(
            xp.asarray(padded.over_sampled, dtype=getattr(xp, dtype)), grid.over_sample_size, exact=exact
        )
        light = xp.zeros(traced[0].shape[:-1], dtype=traced[0].dtype)
        for g, i in zip(tracer.galaxies, tracer.plane_of_galaxy, strict=True):
            if g.light_profiles:
                light = light + g.image_2d_from(traced[i])
        image = bin_over_sampled(light, grid.over_sample_size)
        blurred = convolve_fft(image, xp.asarray(self.psf.values, dtype=image.dtype))
        b = border[0]
        model = blurred[b : blurred.shape[0] - b, b : blurred.shape[1] - b] if b else blurred
        if not self.add_poisson_noise_to_data:
            noise = xp.sqrt(xp.abs(model + self.background_sky_level) * self.exposure_time
                            + self.read_noise**2) / self.exposure_time
            return Imaging(model, noise, self.psf)
        if key is None:
            raise ValueError("SimulatorImaging.via_tracer_from: a key is needed to draw Poisson noise")
        noisy = add_poisson_noise(model, key, self.exposure_time, self.background_sky_level, self.read_noise)
        return Imaging(noisy.data, noisy.noise_map, self.psf)
