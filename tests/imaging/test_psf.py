"""Kernel2D and FFT convolution (xlens/imaging/psf.py) against the imaging reference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load
from scipy.signal import convolve2d

from xlens import lp
from xlens.imaging import Grid2D, Kernel2D, convolve_fft

REF = load("imaging.json")


def _source(backend):
    src = REF["source"]
    return lp.Sersic(centre=backend.asarray(src["centre"]), ell_comps=backend.asarray([0.0, 0.0]),
                     intensity=src["intensity"], effective_radius=src["effective_radius"],
                     sersic_index=src["sersic_index"])


def test_over_sampled_image_and_blur(backend):
    """Over-sampled binning and zero-padded FFT blur equal the reference direct sums (1e-13)."""
    grid = Grid2D.uniform(REF["shape_native"], REF["pixel_scale_arcsec"], REF["sub_size"])
    image = grid.bin(_source(backend).image_2d_from(backend.asarray(grid.over_sampled)))
    np.testing.assert_allclose(np.asarray(image), REF["image_oversampled"], rtol=1e-13,
                               err_msg="Sersic (CB99 b_n) binned over 4x4 sub-pixels")
    kernel = Kernel2D.from_gaussian(REF["psf"]["shape"], REF["pixel_scale_arcsec"], REF["psf"]["sigma_arcsec"])
    np.testing.assert_allclose(kernel.values, REF["psf"]["kernel"], rtol=1e-14)
    blurred = convolve_fft(image, backend.asarray(kernel.values))
    np.testing.assert_allclose(np.asarray(blurred), REF["blurred_zero_padded"], rtol=1e-12, atol=1e-15,
                               err_msg="FFT convolution vs the direct sum (zero boundary)")


def test_blurring_border_matches_reference():
    grid = Grid2D.uniform(REF["shape_native"], REF["pixel_scale_arcsec"], REF["sub_size"])
    kernel = Kernel2D.from_gaussian(REF["psf"]["shape"], REF["pixel_scale_arcsec"], REF["psf"]["sigma_arcsec"])
    big = grid.padded(kernel.border[0])
    from conftest import Backend

    image = big.bin(_source(Backend("numpy")).image_2d_from(big.over_sampled))
    b = kernel.border[0]
    blurred = convolve_fft(image, kernel.values)[b:-b, b:-b]
    np.testing.assert_allclose(blurred, REF["blurred_with_border"], rtol=1e-12)


@pytest.mark.parametrize("shape", [(3, 5), (1, 7), (9, 1)])
def test_fft_equals_direct_same_convolution_for_asymmetric_kernels(backend, shape):
    rng = np.random.default_rng(sum(shape))
    img, ker = rng.random((12, 17)), rng.random(shape)
    got = convolve_fft(backend.asarray(img), backend.asarray(ker))
    np.testing.assert_allclose(np.asarray(got), convolve2d(img, ker, mode="same"), rtol=1e-12, atol=1e-14)


def test_normalised_psf_conserves_flux_away_from_edges(backend):
    img = np.zeros((21, 21))
    img[8:13, 9:12] = np.random.default_rng(0).random((5, 3))
    k = Kernel2D.from_gaussian((7, 7), 0.05, 0.07)
    out = convolve_fft(backend.asarray(img), backend.asarray(k.values))
    assert abs(float(np.sum(np.asarray(out))) - img.sum()) < 1e-12 * img.sum()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Kernel2D.from_gaussian((4, 5), 0.05, 0.1), "odd on both sides"),
        (lambda: Kernel2D.from_gaussian((5, 5), 0.05, -0.1), r"sigma must be in \(0, inf\) \[arcsec\]; got -0.1"),
        (lambda: Kernel2D.no_mask(np.ones((4, 4)), 0.05), "odd sides"),
        (lambda: Kernel2D.no_mask(np.zeros((3, 3)), 0.05), "kernel sum must be > 0"),
    ],
)
def test_bad_psf_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_gaussian_sigma_is_validated_against_the_kernel_and_never_overflows():
    import warnings

    import pytest

    from xlens.imaging.psf import Kernel2D

    with pytest.raises(ValueError, match=r"Kernel2D.sigma must be in \(0, 100 x the kernel's extent = 55\].*1e\+300"):
        Kernel2D.from_gaussian((11, 11), 0.05, 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        tiny = Kernel2D.from_gaussian((3, 3), 0.05, 1e-300).values
    np.testing.assert_array_equal(tiny, np.array([[0, 0, 0], [0, 1.0, 0], [0, 0, 0]]))
    wide = Kernel2D.from_gaussian((3, 3), 0.05, 10.0).values  # still a valid, nearly flat kernel
    assert np.all(np.isfinite(wide)) and abs(wide.sum() - 1.0) < 1e-12
