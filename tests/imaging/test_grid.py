"""Grid2D and over-sampled binning (xlens/imaging/grid.py) against the imaging reference."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import load

from xlens.imaging import Grid2D, bin_over_sampled

REF = load("imaging.json")


def test_pixel_and_sub_pixel_layout():
    grid = Grid2D.uniform(REF["shape_native"], REF["pixel_scale_arcsec"], REF["sub_size"])
    np.testing.assert_array_equal(grid.native, np.array(REF["pixel_centres_yx"]))
    s = REF["sub_size"]
    offsets = (grid.over_sampled[:s, :s] - grid.native[0, 0]) / REF["pixel_scale_arcsec"]
    np.testing.assert_allclose(offsets.reshape(-1, 2), REF["sub_pixel_offsets_in_pixels_yx"], atol=1e-14)


def test_binning_is_a_block_mean(backend):
    v = np.arange(36.0).reshape(6, 6)
    out = np.asarray(bin_over_sampled(backend.asarray(v), 3))
    np.testing.assert_array_equal(out, [[v[:3, :3].mean(), v[:3, 3:].mean()], [v[3:, :3].mean(), v[3:, 3:].mean()]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Grid2D.uniform((0, 5), 0.05), "shape_native must be two integers >= 1"),
        (lambda: Grid2D.uniform((5, 5), -0.05), r"pixel_scales must be in \(0, inf\)"),
        (lambda: Grid2D.uniform((5, 5), 0.05, 0), "over_sample_size must be an integer >= 1"),
    ],
)
def test_bad_grid_inputs(call, message):
    with pytest.raises(ValueError, match=message):
        call()
