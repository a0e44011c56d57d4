"""Imaging: pixel grids with over-sampling, PSF convolution and Poisson noise."""

from .grid import Grid2D, bin_over_sampled
from .noise import NoisyImage, add_poisson_noise
from .psf import Kernel2D, convolve_fft

__all__ = ["Grid2D", "Kernel2D", "NoisyImage", "add_poisson_noise", "bin_over_sampled", "convolve_fft"]
