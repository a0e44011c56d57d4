"""Dataset labels: the population parameters drawn per image are columns of ``parameters``.

A tiny NumPy model (16 x 16 pixels, few haloes on two planes) with ``sigma_sub`` and
``delta_los`` drawn per image; the whole file runs in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from xlens.cli import main
from xlens.config import config_from_dict, dumps
from xlens.dataset import open_dataset, simulate
from xlens.model import parameter_columns, parameter_table

TINY = {
    "shape_native": [16, 16],
    "pixel_scale": 0.25,
    "sub_size": 2,
    "psf_shape": [3, 3],
    "subhalos": {"sigma_sub": 0.02},
    "line_of_sight": {"n_planes": 2, "m_min": 1e9},
}
HYPER = {"subhalos": {"sigma_sub": [0.0, 0.05]}, "line_of_sight": {"delta_los": {"log_uniform": [0.5, 2.0]}}}
LABELS = ["subhalos.sigma_sub", "line_of_sight.delta_los"]


def files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def hyper_config():
    return config_from_dict({**TINY, "priors": HYPER})


@pytest.fixture(scope="module")
def hyper_store(tmp_path_factory, hyper_config):
    path = tmp_path_factory.mktemp("labels") / "hyper.zarr"
    return simulate(path, 10, hyper_config, engine="numpy", batch_size=4, seed=11, progress=False)


def test_drawn_population_parameters_are_named_columns_with_units(hyper_store, hyper_config):
    ds = open_dataset(hyper_store)
    macro = [s.label for s in hyper_config.model.columns]
    assert ds.parameter_names == macro + LABELS
    assert ds.root["parameters"].shape == (10, len(macro) + 2)
    assert ds.parameter_units["subhalos.sigma_sub"] == "kpc^-2"
    assert ds.parameter_units["line_of_sight.delta_los"] == "dimensionless"
    assert ds.parameter_units["lens.mass.einstein_radius"] == "arcsec"
    assert ds.attrs["parameters"] == ds.parameter_names
    assert [n for n, _ in parameter_columns(hyper_config)] == ds.parameter_names


def test_labels_lie_in_their_priors_and_are_the_values_the_image_used(hyper_store):
    ds = open_dataset(hyper_store)
    labels = ds.labels()
    sigma, delta = labels["subhalos.sigma_sub"], labels["line_of_sight.delta_los"]
    assert sigma.shape == delta.shape == (10,)
    assert np.all((sigma >= 0.0) & (sigma <= 0.05)) and np.all((delta >= 0.5) & (delta <= 2.0))
    assert len(np.unique(sigma)) == 10 and len(np.unique(delta)) == 10  # drawn per image
    # the column is the drawn value that the stored catalogue and its sheet were made with
    np.testing.assert_array_equal(sigma, ds.root["params/hyper/subhalos/sigma_sub"][:])
    np.testing.assert_array_equal(delta, ds.root["params/hyper/line_of_sight/delta_los"][:])
    for i in (0, 7):
        params = ds.params(i)
        assert float(params.hyper["subhalos"]["sigma_sub"]) == sigma[i]
        np.testing.assert_array_equal(parameter_table(params, ds.spec.config), ds.root["parameters"][i])


def test_labels_by_name_and_index_and_their_errors(hyper_store):
    ds = open_dataset(hyper_store)
    one = ds.labels("subhalos.sigma_sub", indices=[8, 2])
    assert list(one) == ["subhalos.sigma_sub"]
    np.testing.assert_array_equal(one["subhalos.sigma_sub"], ds.root["parameters"][[8, 2], -2])
    with pytest.raises(KeyError, match="subhalos.alpha"):
        ds.labels("subhalos.alpha")
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        ds.labels(indices=[10])


def test_a_fixed_population_value_adds_no_column(tmp_path):
    cfg = config_from_dict({**TINY, "priors": {"subhalos": {"sigma_sub": 0.03}}})
    model = [s.label for s in cfg.model.columns]
    assert [n for n, _ in parameter_columns(cfg)] == model and len(model) == 18
    ds = open_dataset(simulate(tmp_path / "fixed.zarr", 2, cfg, engine="numpy", batch_size=2, seed=1,
                               progress=False))
    assert ds.parameter_names == model


def test_a_store_with_labels_resumes_and_reshapes_byte_identically(tmp_path, hyper_store, hyper_config):
    """Other batch sizes, and a chunk whose done flag is lost, give the same bytes."""
    other = simulate(tmp_path / "b3.zarr", 10, hyper_config, engine="numpy", batch_size=3, seed=11, progress=False)
    a, b = open_dataset(hyper_store).root, open_dataset(other).root
    for name in ("images", "parameters", "params/hyper/subhalos/sigma_sub", "params/subhalos/subhalos/mask"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    import shutil

    import zarr

    again = tmp_path / "again.zarr"
    shutil.copytree(hyper_store, again)
    root = zarr.open_group(str(again), mode="r+")
    root["done"][1] = 0
    root["parameters"][4:8] = -1.0
    with pytest.warns(RuntimeWarning, match="only 6 of 10"):
        open_dataset(again)
    simulate(again, 10, hyper_config, engine="numpy", batch_size=4, seed=11, progress=False)
    assert files(again) == files(hyper_store)


def test_show_prints_the_labels_of_an_entry_and_captions_a_grid(tmp_path, hyper_store, hyper_config, capsys):
    pytest.importorskip("matplotlib")
    ds = open_dataset(hyper_store)
    assert main(["show", str(hyper_store), "-i", "3", "-o", str(tmp_path / "one.png")]) == 0
    out = capsys.readouterr().out
    sigma = ds.labels("subhalos.sigma_sub", indices=[3])["subhalos.sigma_sub"][0]
    assert re.search(rf"subhalos\.sigma_sub +=  ?{sigma:.6g} kpc\^-2", out), out
    assert re.search(r"line_of_sight\.delta_los += ", out) and "lens.mass.einstein_radius" in out
    cfg = tmp_path / "hyper.toml"
    cfg.write_text(dumps(hyper_config))
    assert main(["show", str(cfg), "--engine", "numpy", "-o", str(tmp_path / "cfg.png")]) == 0
    assert re.search(r"subhalos\.sigma_sub += ", capsys.readouterr().out)
