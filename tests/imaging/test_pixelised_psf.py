"""Pixelised PSFs: Kernel2D.from_array, SimulatorConfig.psf / psf_file / psf_sub_size, the TOML
round trip with a file, the dataset record, and the errors (key, shape or value, rule)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from xlens.config import ConfigError, config_from_dict, config_to_dict, default_toml, dumps, load_config
from xlens.imaging import Kernel2D
from xlens.imaging.psf import binned_psf_values
from xlens.model import SimulatorConfig
from xlens.simulator import Simulator

# small and fast: one engine (NumPy), no populations
TINY = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, subhalos=None, line_of_sight=None)


def _gaussian_samples(shape, scale, sigma):
    """exp(-r^2 / 2 sigma^2) at the kernel pixel centres, not normalised (what from_gaussian normalises)."""
    return Kernel2D.from_gaussian(shape, scale, sigma, normalize=False).values


def test_pixelised_psf_equal_to_the_gaussian_gives_the_same_image_bit_for_bit():
    gauss = SimulatorConfig(**TINY, psf_shape=(5, 5), psf_sigma=0.15)
    pix = SimulatorConfig(**TINY, psf=_gaussian_samples((5, 5), 0.2, 0.15))
    assert pix.psf_sigma is None and pix.psf_shape == (5, 5)
    np.testing.assert_array_equal(pix.psf_kernel().values, gauss.psf_kernel().values)
    a, b = Simulator(gauss, engine="numpy"), Simulator(pix, engine="numpy")
    params, _ = a.sample_params(3)
    da, db = a.diagnostics(params, 5), b.diagnostics(params, 5)
    for name in ("model_image", "data", "noise_map"):
        np.testing.assert_array_equal(np.asarray(db[name]), np.asarray(da[name]), err_msg=name)


def test_pixelised_psf_is_normalised_and_kept_as_given():
    raw = np.arange(1.0, 10.0).reshape(3, 3)
    cfg = SimulatorConfig(**TINY, psf=raw)
    kernel = cfg.psf_kernel().values
    assert abs(kernel.sum() - 1.0) < 4 * np.finfo(float).eps  # one division: sum to a few ulp
    np.testing.assert_allclose(kernel, raw / raw.sum(), rtol=1e-15)
    assert cfg.psf == tuple(tuple(row) for row in raw.tolist())  # the record: the values as given
    # negative wings are allowed when the sum is positive
    wings = np.full((3, 3), -0.01)
    wings[1, 1] = 1.0
    assert SimulatorConfig(**TINY, psf=wings).psf_kernel().values[1, 1] == pytest.approx(1 / 0.92, rel=1e-15)


def test_super_sampled_psf_is_binned_by_blocks_to_the_pixel_scale():
    s = 4
    fine = np.random.default_rng(1).random((3 * s, 5 * s))
    cfg = SimulatorConfig(**TINY, psf=fine, psf_sub_size=s)
    assert cfg.psf_shape == (3, 5)
    expected = np.array([[fine[i * s:(i + 1) * s, j * s:(j + 1) * s].sum() for j in range(5)] for i in range(3)])
    np.testing.assert_allclose(cfg.psf_kernel().values, expected / expected.sum(), rtol=1e-14)
    # a Gaussian sampled at 1/s of the pixel and binned is the pixel-integrated Gaussian: wider at
    # the centre pixel's expense than the point-sampled one (sigma = 0.6 pixel), and centred
    sigma = 0.12
    r = (np.arange(5 * s) + 0.5 - 5 * s / 2) * (0.2 / s)  # sub-pixel centres [arcsec]; even count: none at 0
    fine_g = np.exp(-0.5 * (r[:, None] ** 2 + r[None, :] ** 2) / sigma**2)
    binned = SimulatorConfig(**TINY, psf=fine_g, psf_sub_size=s).psf_kernel().values
    point = Kernel2D.from_gaussian((5, 5), 0.2, sigma).values
    assert binned[2, 2] < point[2, 2]
    np.testing.assert_allclose(binned, binned[::-1, ::-1], rtol=1e-14)  # symmetric about the centre


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"psf": np.ones((4, 4))}, ["SimulatorConfig.psf", "(4, 4)", "odd"]),
        ({"psf": np.ones(5)}, ["SimulatorConfig.psf", "2D", "(5,)"]),
        ({"psf": np.array([[1.0, np.nan, 1.0]] * 3)}, ["SimulatorConfig.psf", "finite", "3 non-finite", "(3, 3)"]),
        ({"psf": -np.ones((3, 3))}, ["SimulatorConfig.psf", "sum > 0", "-9.0"]),
        ({"psf": np.ones((6, 6)), "psf_sub_size": 4}, ["(6, 6)", "odd multiples of psf_sub_size = 4"]),
        ({"psf": np.ones((8, 8)), "psf_sub_size": 4}, ["(8, 8)", "odd multiples"]),
        ({"psf": np.ones((3, 3)), "psf_sub_size": 0}, ["psf_sub_size", "[1, 100]", "0"]),
        ({"psf_sub_size": 2}, ["psf_sub_size = 2", "no", "psf"]),
        ({"psf": np.ones((3, 3)), "psf_sigma": 0.1}, ["psf_sigma = 0.1", "pixelised psf", "unset"]),
        ({"psf": np.ones((3, 3)), "psf_shape": (5, 5)}, ["psf_shape = (5, 5)", "(3, 3)"]),
        ({"psf": np.ones((13, 13))}, ["(13, 13) is larger than the image (12, 12)", "psf (binned"]),
        ({"psf": "/nonexistent/psf.npy"}, ["psf_file = '/nonexistent/psf.npy'", "cannot read"]),
        ({"psf": "a.npy", "psf_file": "b.npy"}, ["psf = 'a.npy'", "psf_file = 'b.npy'"]),
    ],
)
def test_bad_pixelised_psfs_name_the_key_the_value_and_the_rule(kwargs, fragments):
    with pytest.raises(ValueError) as info:
        SimulatorConfig(**TINY, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_binned_psf_values_and_kernel_from_array():
    fine = np.ones((9, 9))
    np.testing.assert_array_equal(binned_psf_values(fine, 3), np.full((3, 3), 9.0))
    k = Kernel2D.from_array(fine, 0.1, sub_size=3)
    np.testing.assert_allclose(k.values, np.full((3, 3), 1 / 9), rtol=1e-15)
    with pytest.raises(ValueError, match=r"Kernel2D.values has shape \(9, 9\); both sides must be odd multiples"):
        Kernel2D.from_array(fine, 0.1, sub_size=2)


def test_psf_file_is_read_recorded_and_round_trips_through_toml(tmp_path, monkeypatch):
    values = _gaussian_samples((5, 5), 0.2, 0.15)
    (tmp_path / "psfs").mkdir()
    np.save(tmp_path / "psfs" / "psf.npy", values)
    (tmp_path / "model.toml").write_text(
        'psf_file = "psfs/psf.npy"\nshape_native = [12, 12]\npixel_scale = 0.2\nsub_size = 1\n'
        "[subhalos]\nenabled = false\n[line_of_sight]\nenabled = false\n")
    monkeypatch.chdir("/")  # a relative psf_file is read from the TOML file's folder, not the working directory
    cfg = load_config(tmp_path / "model.toml")
    assert cfg.psf_file == str((tmp_path / "psfs" / "psf.npy").resolve())
    np.testing.assert_array_equal(np.array(cfg.psf), values)
    # written with its values: the file is not needed to rebuild it (a store, a Dask worker, another machine)
    text = dumps(cfg, comments=False)
    assert "psf = [[" in text and "psf_sigma" not in text
    (tmp_path / "psfs" / "psf.npy").unlink()
    (tmp_path / "back.toml").write_text(text)
    back = load_config(tmp_path / "back.toml")
    assert back == cfg and config_to_dict(back) == config_to_dict(cfg)
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg  # the store's JSON attributes
    # Python: the same with a path (relative to the working directory) or the array
    np.save(tmp_path / "psf.npy", values)
    monkeypatch.chdir(tmp_path)
    by_path = SimulatorConfig(**TINY, psf="psf.npy")
    assert by_path.psf_file == "psf.npy" and by_path.psf == cfg.psf
    assert dataclasses.replace(by_path, psf_file=None) == SimulatorConfig(**TINY, psf=values)


def test_psf_in_toml_errors_name_the_key(tmp_path):
    np.save(tmp_path / "even.npy", np.ones((4, 4)))
    for text, key, fragment in [
        ('psf_file = "even.npy"', "psf_file", "(4, 4)"),
        ('psf_file = "missing.npy"', "psf_file", "cannot read"),
        ("psf = [[1.0, 2.0], [3.0, 4.0]]", "psf", "odd"),
        ("psf_file = 3", "psf_file", "must be a string"),
        ("psf_sub_size = 2", "psf_sub_size", "no"),
    ]:
        (tmp_path / "bad.toml").write_text(text + "\n")
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path / "bad.toml")
        assert info.value.key == key, (text, info.value.key, str(info.value))
        assert fragment in str(info.value) and str(tmp_path / "bad.toml") in str(info.value)


def test_default_file_shows_the_pixelised_psf_keys_commented_and_the_default_dict_is_unchanged():
    text = default_toml()
    for line in ('# psf_file = "psf.npy"', "# psf_sub_size = 4", '# instrument = "euclid_vis"'):
        assert line in text.splitlines(), line
    # the default record has no pixelised-PSF or preset keys; since dataset format 2 the macro
    # priors live in "model" (the galaxies) and an empty "priors" (no population priors) is omitted
    assert set(config_to_dict(SimulatorConfig())) == {
        "shape_native", "pixel_scale", "sub_size", "psf_sigma", "psf_shape", "exposure_time",
        "background_sky_level", "read_noise", "z_lens", "z_source", "subhalos", "line_of_sight", "model"}
