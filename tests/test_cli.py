"""The ``xlens`` console script."""

from __future__ import annotations

import numpy as np
import pytest

from xlens.cli import main


def test_demo_runs_on_both_engines_and_reports_agreement(capsys):
    pytest.importorskip("jax")
    assert main(["demo", "--n-subhalos", "3"]) == 0  # non-zero if the engines disagree by > 1e-9
    out = capsys.readouterr().out
    assert "3 Ludlow-16 tNFW subhaloes (capacity 32)" in out
    assert "numpy :" in out and "jax   :" in out and "max |alpha_numpy - alpha_jax|" in out


def test_demo_rejects_too_many_subhaloes(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n-subhalos", "33"])
    assert "--n-subhalos must be in [0, 32]; got 33" in capsys.readouterr().err


# ---------------------------------------------------------------- show and bench

TINY_TOML = """shape_native = [16, 16]
pixel_scale = 0.25
sub_size = 2
psf_shape = [3, 3]
[subhalos]
sigma_sub = 0.02
[line_of_sight]
n_planes = 2
m_min = 1e9
"""


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("show")
    cfg = folder / "tiny.toml"
    cfg.write_text(TINY_TOML)
    store = folder / "tiny.zarr"
    assert main(["simulate", str(store), "-n", "6", "--config", str(cfg), "--engine", "numpy", "--batch-size", "4",
                 "--no-progress"]) == 0
    return cfg, store


def _png(path):
    from matplotlib.image import imread

    img = imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    return img


def test_show_draws_a_dataset_entry(tiny_store, tmp_path, capsys):
    _, store = tiny_store
    out = tmp_path / "entry.png"
    assert main(["show", str(store), "-i", "5", "-o", str(out)]) == 0
    assert f"wrote {out} (1350 x 840 px)" in capsys.readouterr().out
    img = _png(out)
    assert img.shape[:2] == (840, 1350)
    rgb = img[..., :3]
    assert rgb.std() > 0.1  # not blank: six panels of colour maps
    assert (np.abs(np.diff(rgb, axis=1)).sum(axis=2) > 0.2).mean() > 0.02  # many edges


def test_show_grid_and_configuration(tiny_store, tmp_path, capsys):
    cfg, store = tiny_store
    grid = tmp_path / "grid.png"
    assert main(["show", str(store), "--grid", "-n", "4", "-o", str(grid)]) == 0
    img = _png(grid)
    assert img.shape[:2] == (540, 480) and img[..., :3].std() > 0.1
    one = tmp_path / "cfg.png"
    assert main(["show", str(cfg), "--engine", "numpy", "--seed", "2", "-o", str(one)]) == 0
    assert _png(one).shape[:2] == (840, 1350)
    capsys.readouterr()


def test_show_errors_name_the_problem(tiny_store, tmp_path, capsys):
    _, store = tiny_store
    assert main(["show", str(store), "-i", "6", "-o", str(tmp_path / "x.png")]) == 2
    assert "index must be an integer in [0, 6)" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.png")]) == 2
    assert "neither a dataset" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.jax
def test_bench_prints_rate_compile_time_and_the_numpy_ratio(tiny_store, capsys):
    pytest.importorskip("jax")
    cfg, _ = tiny_store
    assert main(["bench", "--config", str(cfg), "--batch-size", "2", "--repeats", "1", "--numpy-images", "1"]) == 0
    out = capsys.readouterr().out
    for fragment in ("images/s", "compile", "NumPy float64", "ratio JAX/NumPy", "device"):
        assert fragment in out, out
