"""The fast path (halo fields at pixel centres, interpolated to sub-pixels) against brute force.

Issue target: max over pixels of |fast - brute| / sigma <= 0.01, with sigma the
per-pixel Poisson noise of the image, and sum |fast - brute| <= 1e-3 of the total
flux. Here on a 40 x 40 cut of the default model (same pixel scale, over-sampling,
PSF, exposure, sky and halo populations; the line of sight from 1e7 M_sun) for
three realisations; the 20 realisations of the full default model are run by
``asv_benchmarks/accuracy.py`` (see docs/performance.md).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xlens.halos import LineOfSightConfig
from xlens.simulator import Simulator, SimulatorConfig
from xlens.tracer import _extend_linear, _upsample_cubic

CUT = SimulatorConfig(shape_native=(40, 40), line_of_sight=LineOfSightConfig(n_planes=8, m_min=1e7))


def test_cubic_upsampling_is_exact_for_linear_fields_and_accurate_for_smooth_ones():
    from xlens import engine
    from xlens.imaging import Grid2D

    xp = engine.get_xp("numpy")
    g = Grid2D((12, 10), 0.1, 4)
    framed = _extend_linear(_extend_linear(g.native, 2, 0, xp=xp), 2, 1, xp=xp)
    np.testing.assert_allclose(framed, g.padded(2).native, atol=1e-15)
    linear = lambda p: np.stack([2 * p[..., 0] + p[..., 1], p[..., 1] - 0.3], -1)  # noqa: E731
    np.testing.assert_allclose(_upsample_cubic(linear(framed), 4, xp=xp), linear(g.over_sampled), atol=1e-14)
    smooth = lambda p: np.sin(3 * p) * np.cos(p[..., ::-1])  # noqa: E731
    err = np.abs(_upsample_cubic(smooth(framed), 4, xp=xp) - smooth(g.over_sampled)).max()
    # cubic convolution errs by about h^3 |f'''| / 48 per axis: h = 0.1 and |f'''| <= 27 give
    # ~6e-4 at most (measured 3.7e-4); linear interpolation would err by ~h^2 |f''| / 8 ~ 1e-2
    assert err < 1e-3, err


@pytest.fixture(scope="module")
def brute():
    pytest.importorskip("jax")
    return Simulator(CUT, engine="jax", dtype="float64", exact=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_path_matches_brute_force_within_a_percent_of_sigma(dtype, brute):
    jax = pytest.importorskip("jax")
    fast = Simulator(CUT, engine="jax", dtype=dtype)
    for seed in range(3):
        params, info = fast.sample_params(jax.random.key(seed))
        assert int(np.sum(np.asarray(info["line_of_sight"].n_kept))) > 50  # real haloes are present
        a = np.asarray(fast.model_image(params), dtype=np.float64)
        b = np.asarray(brute.model_image(params))
        sigma = np.sqrt((b + CUT.background_sky_level) / CUT.exposure_time)
        ratio = np.abs(a - b) / sigma
        assert ratio.max() <= 0.01, f"seed {seed}: max |fast - brute| / sigma = {ratio.max():.3g}"
        assert np.abs(a - b).sum() <= 1e-3 * b.sum()


def test_exact_flag_is_the_brute_force_path():
    """With exact=True the over-sampled trace is the plain trace of every sub-pixel."""
    sim = Simulator(dataclasses.replace(CUT, shape_native=(12, 12), line_of_sight=None), engine="numpy",
                    exact=True)
    params, _ = sim.sample_params(1)
    tracer = sim.tracer_from(params)
    grid = sim._padded_grid.over_sampled
    a = tracer.traced_grid_2d_list_over_sampled_from(grid, 4, exact=True)
    b = tracer.traced_grid_2d_list_from(grid)
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)
