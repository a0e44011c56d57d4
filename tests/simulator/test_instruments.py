"""Instrument presets: each builds a valid simulator with the documented numbers; given keys win."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from xlens.config import ConfigError, config_from_dict, config_to_dict
from xlens.model import INSTRUMENTS, SimulatorConfig
from xlens.model.instruments import sigma_from_fwhm, sky_per_pixel
from xlens.simulator import Simulator

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"

# The numbers of docs/model.md, "Instrument presets", written out independently of the module:
# (pixel scale ["], FWHM ["], exposure [s], sky [e-/s/pixel], read noise [e-]).
DOCUMENTED = {
    "hst_wfc3_f160w": (0.13, 0.151, 2700.0, 0.5, 20.2),
    "jwst_nircam_f150w": (0.031, 0.050, 10000.0, 0.15, 15.77),
    "euclid_vis": (0.1, 0.16, 565.0, 10 ** (-0.4 * (22.35 - 24.0)) * 0.1**2, 4.4),
    "roman_f106": (0.11, 0.087, 146.0, 10 ** (-0.4 * (22.99 - 26.44)) * 0.11**2, 15.5),
    "lsst_i": (0.2, 0.822 * 0.80 + 0.052, 30.0, 10 ** (-0.4 * (20.46 - 28.17)) * 0.2**2, 12.7),
}
SMALL = dict(shape_native=(20, 20), sub_size=1, subhalos=None, line_of_sight=None)


def test_the_presets_are_the_documented_ones():
    assert tuple(INSTRUMENTS) == tuple(DOCUMENTED)


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_each_preset_sets_the_documented_values_and_builds_a_simulator(name):
    scale, fwhm, t, sky, read = DOCUMENTED[name]
    cfg = SimulatorConfig(instrument=name, **SMALL)
    assert cfg.pixel_scale == scale and cfg.exposure_time == t and cfg.read_noise == read
    assert cfg.background_sky_level == pytest.approx(sky, rel=1e-12)
    # FWHM = 2 sqrt(2 ln 2) sigma
    assert cfg.psf_sigma * 2 * math.sqrt(2 * math.log(2)) == pytest.approx(fwhm, rel=1e-12)
    # the kernel spans +-5 sigma (at least the default 11 x 11)
    half = (cfg.psf_shape[0] - 1) // 2
    assert cfg.psf_shape[0] == cfg.psf_shape[1] and half >= 5 and half * scale >= 5 * cfg.psf_sigma
    sim = Simulator(cfg, engine="numpy")
    ex = sim.sample(0)
    assert ex.data.shape == (20, 20) and np.all(np.isfinite(ex.data))
    # the noise map holds the preset's sky and read noise: (sky t + r^2) / t^2 where the model is ~0
    floor = math.sqrt(sky * t + read**2) / t
    assert float(np.min(ex.noise_map)) > 0.5 * floor
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_documented_table_matches_the_presets():
    """docs/model.md lists every preset with the numbers the code uses (to the printed digits)."""
    text = DOCS.read_text()
    for name, (scale, fwhm, t, sky, read) in DOCUMENTED.items():
        row = next((ln for ln in text.splitlines() if ln.startswith(f"| `{name}`")), None)
        assert row is not None, f"docs/model.md has no row for {name}"
        numbers = [float(x) for x in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e[-+]?\d+)?", row.split("|", 2)[2])]
        for value in (scale, fwhm, t, read):
            assert any(math.isclose(value, x, rel_tol=1e-3) for x in numbers), (name, value, row)
        assert any(math.isclose(sky, x, rel_tol=5e-3) for x in numbers), (name, sky, row)


def test_explicit_keys_override_the_preset_in_python_and_toml():
    cfg = SimulatorConfig(instrument="euclid_vis", exposure_time=2260.0, read_noise=8.8, **SMALL)
    assert (cfg.exposure_time, cfg.read_noise) == (2260.0, 8.8)
    assert cfg.pixel_scale == 0.1 and cfg.psf_sigma == pytest.approx(sigma_from_fwhm(0.16))
    toml = config_from_dict({"instrument": "euclid_vis", "exposure_time": 2260.0, "read_noise": 8.8,
                             "shape_native": [20, 20], "sub_size": 1, "subhalos": {"enabled": False},
                             "line_of_sight": {"enabled": False}})
    assert toml == cfg
    # a pixelised PSF overrides the preset's Gaussian (psf_sigma unset, psf_shape from the array)
    psf = SimulatorConfig(instrument="lsst_i", psf=np.ones((3, 3)), **SMALL)
    assert psf.psf_sigma is None and psf.psf_shape == (3, 3) and psf.pixel_scale == 0.2
    # the default model is untouched: no instrument, the old values
    assert SimulatorConfig().pixel_scale == 0.05 and SimulatorConfig().instrument is None


def test_unknown_instrument_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        SimulatorConfig(instrument="hubble")
    for name in DOCUMENTED:
        assert repr(name) in str(info.value)
    assert "'hubble'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        config_from_dict({"instrument": "hubble"}, source="model.toml")
    assert info.value.key == "instrument" and "euclid_vis" in str(info.value)


def test_conversions():
    assert sigma_from_fwhm(2 * math.sqrt(2 * math.log(2))) == pytest.approx(1.0, rel=1e-15)
    # a sky as bright as the zero point gives 1 e-/s per arcsec^2
    assert sky_per_pixel(25.0, 25.0, 0.5) == pytest.approx(0.25, rel=1e-15)
    assert sky_per_pixel(20.0, 25.0, 1.0) == pytest.approx(100.0, rel=1e-12)
