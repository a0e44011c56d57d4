"""docs/sbi.md and docs/scripts/sbi_train.py: on-the-fly neural posterior estimation.

The script is imported from docs/scripts (it is not part of the package) and its ``--smoke``
path is run in-process: a tiny WDM model, 4 training steps of 4 simulations, 8 held-out
simulations. The calibration helpers are checked against posteriors whose coverage is known
in closed form, and the store-to-PyTorch snippet of docs/sbi.md is executed as written on a
tiny store (its PyTorch half only where ``torch`` and ``sbi`` are installed).
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "scripts" / "sbi_train.py"
PAGE = ROOT / "docs" / "sbi.md"


@pytest.fixture(scope="module")
def sbi_train():
    spec = importlib.util.spec_from_file_location("sbi_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # registered: the script's equinox modules are dataclasses, which look their module up there
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setitem(sys.modules, "sbi_train", module)
    spec.loader.exec_module(module)
    yield module
    monkeypatch.undo()


def _block(marker: str, language: str) -> str:
    """The fenced code block that follows ``<!-- marker -->`` in docs/sbi.md."""
    text = PAGE.read_text()
    match = re.search(rf"<!-- {marker} -->\s*```{language}\n(.*?)```", text, flags=re.S)
    assert match, f"docs/sbi.md has no ```{language} block after <!-- {marker} -->"
    return match.group(1)


# ----------------------------------------------------------------------------- calibration helpers


def test_expected_coverage_of_a_calibrated_and_an_overconfident_gaussian(sbi_train):
    """Truths from N(0, 1) and the posterior N(0, s^2): s = 1 is the true posterior (coverage =
    level within binomial noise); s = 0.5 is over-confident (the HPD region of level c holds
    the truth with probability chi2_2 CDF of chi2_2^-1(c) / s^2 (two dimensions))."""
    rng = np.random.default_rng(5)
    n, s_draws, dim = 4000, 400, 2
    truth = rng.normal(size=(n, dim))
    levels = np.linspace(0.0, 1.0, 11)
    coverage = {}
    for s in (1.0, 0.5):
        samples = s * rng.normal(size=(n, s_draws, dim))
        log_q = -0.5 * np.sum(samples**2, axis=-1) / s**2
        log_q_truth = -0.5 * np.sum(truth**2, axis=-1) / s**2
        cov = coverage[s] = sbi_train.expected_coverage(log_q, log_q_truth, levels)
        # chi2 with 2 dof: CDF(r2) = 1 - exp(-r2/2); the level-c region is r2 < -2 s^2 ln(1 - c)
        with np.errstate(divide="ignore"):
            r2 = -2.0 * s**2 * np.log1p(-levels)
        expect = 1.0 - np.exp(-0.5 * r2)
        # binomial sd <= 0.5/sqrt(n) = 0.008, plus the finite-sample rank (1/S) quantisation; the
        # level 1 is left out: S samples cannot tell a truth beyond all of them from one inside
        assert np.max(np.abs(cov - expect)[:-1]) < 4 * 0.5 / math.sqrt(n) + 2.0 / s_draws, (s, cov, expect)
        assert np.all(np.diff(cov) >= 0) and cov[0] == 0.0
    assert coverage[0.5][5] < 0.25  # over-confident: 1 - 2^-0.25 = 0.16 at the level 0.5


def test_marginal_coverage_of_equal_tailed_intervals(sbi_train):
    rng = np.random.default_rng(6)
    n, s_draws = 3000, 300
    truth = rng.normal(size=(n, 2))
    samples = rng.normal(size=(n, s_draws, 2)) * np.array([1.0, 0.5])  # the second is too narrow
    levels = np.array([0.0, 0.5, 0.9, 1.0])
    cov = sbi_train.marginal_coverage(samples, truth, levels)
    assert cov.shape == (4, 2)
    tol = 4 * 0.5 / math.sqrt(n) + 2.0 / s_draws
    np.testing.assert_allclose(cov[:, 0], [0.0, 0.5, 0.9, 1.0], atol=tol,
                               err_msg="calibrated marginal: coverage = level")
    # |N(0,1)| < 0.5 * 0.6745 (the half-width of the central 50% of N(0, 0.5^2)): 0.259
    assert abs(cov[1, 1] - 0.259) < tol


def test_the_standardiser_maps_the_prior_box_and_takes_log10_of_m_hm(sbi_train):
    config = sbi_train.simulator_config("small")
    std = sbi_train.standardiser(config)
    assert std.names == ("subhalos.sigma_sub", "subhalos.m_hm", "line_of_sight.delta_los")
    np.testing.assert_array_equal(std.low, [0.0, 7.0, 0.5])
    np.testing.assert_array_equal(std.high, [0.1, 10.0, 2.0])
    table = np.zeros((2, 22))
    table[:, list(std.columns)] = [[0.0, 1e7, 0.5], [0.1, 1e10, 2.0]]
    theta = std.targets(table)
    np.testing.assert_allclose(theta, [[0.0, 7.0, 0.5], [0.1, 10.0, 2.0]], rtol=1e-15, atol=0)
    z = std.forward(theta)
    np.testing.assert_allclose(z, [[-math.sqrt(3)] * 3, [math.sqrt(3)] * 3], rtol=1e-12,
                               err_msg="a uniform box has sd (hi - lo)/sqrt(12): its ends are at +-sqrt(3)")
    np.testing.assert_allclose(std.inverse(z), theta, rtol=1e-12, atol=1e-15)
    from xlens.config import config_from_dict

    with pytest.raises(ValueError, match="line_of_sight.delta_los"):
        sbi_train.standardiser(config_from_dict({"subhalos": {"dark_matter": "wdm", "m_hm": 1e8},
                                                 "priors": {"subhalos": {"sigma_sub": [0.0, 0.1],
                                                                         "m_hm": {"log_uniform": [1e7, 1e10]}}}}))


def test_the_page_shows_the_small_configuration(sbi_train):
    """The TOML of docs/sbi.md is the script's --small configuration."""
    from xlens.config import config_from_dict

    data = tomllib.loads(_block("small-config", "toml"))
    assert config_from_dict(data) == sbi_train.simulator_config("small")


# ----------------------------------------------------------------------------- the training step


@pytest.mark.jax
def test_training_steps_fit_a_fixed_batch(sbi_train):
    """Adam on one fixed batch lowers -log q from its first value, and changes the weights."""
    jax = pytest.importorskip("jax")
    pytest.importorskip("equinox")
    pytest.importorskip("flowjax")
    import optax

    settings = {**sbi_train.SETTINGS["smoke"], "channels": (4,), "flow_layers": 1, "flow_width": 8}  # compiles fast
    model = sbi_train.build_model(jax.random.key(0), (12, 12), 3, settings)
    params, static = sbi_train.trainable(model)
    optimizer = optax.adam(1e-2)
    update = sbi_train.make_update(optimizer, static)
    rng = np.random.default_rng(0)
    x = jax.numpy.asarray(rng.normal(size=(8, 12, 12)), jax.numpy.float32)
    z = jax.numpy.asarray(rng.uniform(-1.7, 1.7, size=(8, 3)), jax.numpy.float32)
    state = optimizer.init(params)
    before = jax.tree_util.tree_leaves(params)
    losses = []
    for _ in range(8):
        params, state, loss = update(params, state, x, z)
        losses.append(float(loss))
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] - 0.1, losses
    after = jax.tree_util.tree_leaves(params)
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(before, after, strict=True))


@pytest.mark.jax
def test_smoke_run_trains_on_the_fly_and_reports_calibration_and_throughput(sbi_train, tmp_path):
    pytest.importorskip("jax")
    pytest.importorskip("equinox")
    pytest.importorskip("flowjax")
    pytest.importorskip("matplotlib")
    args = sbi_train.parse_args(["--smoke", "--out", str(tmp_path), "--log-every", "0"])
    results = sbi_train.run(args)
    assert results == {**json.loads((tmp_path / "results.json").read_text()), "figure": results["figure"]}
    assert results["mode"] == "smoke" and results["steps_done"] == 4 and results["simulations_seen"] == 16
    losses = np.array(results["losses"])
    assert losses.shape == (4,) and np.all(np.isfinite(losses))
    assert len(np.unique(losses)) == 4  # a fresh batch (and fresh weights) every step
    tp = results["throughput"]
    for key in ("simulations_per_s", "training_steps_per_s", "sample_batch_median_s", "update_median_s"):
        assert tp[key] > 0, key
    cal = results["calibration"]
    levels, cov = np.array(cal["levels"]), np.array(cal["hpd_coverage"])
    assert cal["n_test"] == 8 and levels.shape == cov.shape == (21,)
    assert np.all((cov >= 0) & (cov <= 1)) and np.all(np.diff(cov) >= 0) and cov[0] == 0
    assert np.all(np.isclose(cov * 8, np.round(cov * 8)))  # fractions of the 8 held-out simulations
    marginal = np.array(cal["marginal_coverage"])
    assert marginal.shape == (3, 21) and np.all((marginal >= 0) & (marginal <= 1))
    assert np.all(np.diff(marginal, axis=1) >= 0)
    assert all(v > 0 for v in cal["posterior_sd_over_prior_sd"])
    assert Path(results["figure"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- store -> PyTorch sbi


TINY_STORE_CONFIG = {
    "shape_native": [16, 16],
    "pixel_scale": 0.25,
    "sub_size": 1,
    "psf_shape": [3, 3],
    "subhalos": {"dark_matter": "wdm", "m_hm": 1.0e8, "m_min": 1.0e9, "radius": 2.0},
    "line_of_sight": {"dark_matter": "wdm", "m_hm": 1.0e8, "n_planes": 1, "m_min": 1.0e9, "cone_radius": 2.0},
}


@pytest.fixture(scope="module")
def wdm_store(tmp_path_factory, sbi_train):
    """A 40-image store of a tiny WDM model with the page's priors, written by ``xlens simulate``."""
    from xlens.cli import main
    from xlens.config import config_from_dict, dumps

    folder = tmp_path_factory.mktemp("sbi_store")
    toml = folder / "wdm.toml"
    toml.write_text(dumps(config_from_dict({**TINY_STORE_CONFIG, "priors": sbi_train.DARK_MATTER_PRIORS})))
    store = folder / "wdm.zarr"
    assert main(["simulate", str(store), "-n", "40", "--config", str(toml), "--engine", "numpy",
                 "--batch-size", "20", "--seed", "4", "--no-progress"]) == 0
    return store


def _run_snippet(block: str, store: Path, namespace: dict) -> dict:
    assert '"wdm.zarr"' in block
    exec(compile(block.replace('"wdm.zarr"', repr(str(store))), str(PAGE), "exec"), namespace)
    return namespace


def test_the_store_snippet_hands_float32_arrays_in_the_label_order(wdm_store):
    """The NumPy half of the page's snippet: theta (n, 3) float32 in the order
    (sigma_sub, log10 m_hm, delta_los), x (n, ny * nx) float32, both finite, rows aligned."""
    from xlens.dataset import open_dataset

    ns = _run_snippet(_block("store-to-numpy", "python"), wdm_store, {})
    theta, x = ns["theta"], ns["x"]
    assert theta.dtype == np.float32 and x.dtype == np.float32
    assert theta.shape == (40, 3) and x.shape == (40, 16 * 16)
    assert np.all(np.isfinite(theta)) and np.all(np.isfinite(x))
    ds = open_dataset(wdm_store)
    names = ds.parameter_names
    table = ds.root["parameters"][:]
    expect = np.stack([table[:, names.index("subhalos.sigma_sub")],
                       np.log10(table[:, names.index("subhalos.m_hm")]),
                       table[:, names.index("line_of_sight.delta_los")]], axis=1)
    np.testing.assert_allclose(theta, expect.astype(np.float32), rtol=0, atol=0)
    np.testing.assert_array_equal(x, ds.root["images"][:].reshape(40, -1))
    assert np.all((theta[:, 1] >= 7.0) & (theta[:, 1] <= 10.0))


def test_the_store_snippet_trains_the_pytorch_sbi_package(wdm_store, tmp_path, monkeypatch):
    """The whole snippet, with one epoch of training (needs ``torch`` and ``sbi``; not in CI)."""
    pytest.importorskip("torch")
    pytest.importorskip("sbi")
    monkeypatch.chdir(tmp_path)  # sbi writes its TensorBoard logs to ./sbi-logs
    ns = _run_snippet(_block("store-to-numpy", "python"), wdm_store, {})
    block = _block("numpy-to-sbi", "python")
    assert "npe.train()" in block
    block = block.replace("npe.train()", "npe.train(max_num_epochs=1, training_batch_size=8)")
    exec(compile(block, str(PAGE), "exec"), ns)
    samples = ns["samples"]
    assert tuple(samples.shape) == (100, 3)
    assert bool(ns["torch"].isfinite(samples).all())
