"""docs/scripts/inference_costs.py: the costs table's script runs on a tiny model.

The script is imported from docs/scripts (it is not part of the package) and its core is
run in-process with ``--tiny`` (a 20 x 20 model without haloes, the same 15 free macro
parameters as the default model): the forward / value-and-grad timing and dynesty capped
at a few hundred calls, the cheapest backend. What can fail: the rows and their keys, finite
costs, the compile counts (each likelihood program compiled once; the plot compiles no
model program), and the nested run stopping at its call cap (so it must say it did not
converge).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")
pytest.importorskip("dynesty")
pytest.importorskip("numpyro")  # the script's ESS helpers

pytestmark = pytest.mark.jax

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "scripts" / "inference_costs.py"


@pytest.fixture
def costs(monkeypatch):
    monkeypatch.setenv("XLENS_COMPILATION_CACHE", "off")  # the script sets it; restored after the test
    spec = importlib.util.spec_from_file_location("inference_costs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "inference_costs", module)
    spec.loader.exec_module(module)
    return module


def test_tiny_costs_and_a_capped_nested_run(costs, tmp_path):
    out = tmp_path / "costs.jsonl"
    rows = costs.main(["--tiny", "--backends", "nested", "--nlive", "32", "--maxcall", "300", "--repeat", "2",
                       "--out", str(out)])
    by = {r["backend"]: r for r in rows}
    assert list(by) == ["header", "setup", "costs", "nested", "plot"]
    assert by["setup"]["n_free"] == 15 and by["setup"]["shape"] == [20, 20]
    c = by["costs"]
    assert 0 < c["forward_s"] < 1 and 0 < c["value_and_grad_s"] < 1 and math.isfinite(c["ratio"]), c
    assert c["model_programs"] == {"jit(xlens_value_log_likelihood)": 1,
                                   "jit(xlens_value_and_grad_log_likelihood)": 1}, c
    ns = by["nested"]
    assert ns["ncall"] >= 300 and not ns["converged"], ns  # the cap stops it long before dlogz
    assert math.isfinite(ns["log_evidence"]) and ns["log_evidence_error"] > 0 and len(ns["mean"]) == 15
    plot = by["plot"]
    # the plot reuses the simulator's diagnostics program of the data; only the small params map compiles
    assert set(plot["model_programs"]) <= {"jit(xlens_params)"}, plot
    assert all(v == 1 for v in plot["traces"].values()), plot["traces"]
    written = [json.loads(line)["backend"] for line in out.read_text().splitlines()]
    assert written == ["header", "setup", "costs", "nested", "plot"]
    md = costs.table([out])  # the docs table from the same file
    assert md.splitlines()[2].startswith("| `nested` | nlive 32, maxcall 300 |") and md.endswith("| **no** |"), md


def test_repartitioned_nested_run_needs_the_mode(costs):
    """``--nested-repartition`` draws around the Laplace Gaussian, so without a mode (no map and
    laplace rows in the process, no --mode-file) the script stops and says what to run."""
    with pytest.raises(SystemExit, match="nested starts at the MAP with the Laplace covariance: run map and laplace"):
        costs.main(["--tiny", "--no-costs", "--backends", "nested", "--nested-repartition"])


def test_whitened_pathfinder_row_is_judged_by_its_elbo(costs, tmp_path):
    """``--pathfinder-whiten`` runs L-BFGS in Laplace-whitened coordinates (so it needs the mode:
    without one the script stops), and the row is judged as the VI row is: its Gaussian's ELBO
    from fresh draws against the Laplace Gaussian's. On the tiny model, the keys, the finite
    ELBOs and the table's diagnostics must be there; the converged flag must be the comparison
    of the two ELBOs (either value is possible at this budget)."""
    with pytest.raises(SystemExit, match="pathfinder starts at the MAP with the Laplace covariance"):
        costs.main(["--tiny", "--no-costs", "--backends", "pathfinder", "--pathfinder-whiten"])
    # a mode file as map + laplace write it (a point and a covariance of theta), here the truth and
    # a small diagonal covariance: the whitening needs no more, and the fit would take a minute
    import numpy as np

    theta = costs.build(True, "float32")[3]
    mode = tmp_path / "mode.json"
    mode.write_text(json.dumps({"theta": theta.tolist(), "covariance": np.diag(1e-6 * (1 + theta**2)).tolist()}))
    out = tmp_path / "costs.jsonl"
    rows = costs.main(["--tiny", "--no-costs", "--backends", "pathfinder", "--pathfinder-whiten", "--mode-file",
                       str(mode), "--pathfinder-maxiter", "30", "--pathfinder-elbo", "2", "--pathfinder-elbo-draws",
                       "16", "--draws", "64", "--out", str(out)])
    pf = {r["backend"]: r for r in rows}["pathfinder"]
    (elbo, se), (elbo0, se0) = pf["elbo_draws"], pf["elbo_laplace"]
    assert all(math.isfinite(v) for v in (elbo, se, elbo0, se0)) and se > 0 and se0 > 0, pf
    assert pf["converged"] == (elbo > elbo0 - 2.0 * math.hypot(se, se0)), pf
    assert "Laplace-whitened" in pf["budget"] and len(pf["mean"]) == 15
    line = [x for x in costs.table([out]).splitlines() if x.startswith("| `pathfinder`")][0]
    assert f"ELBO {elbo:.1f} +- {se:.1f} (Laplace's Gaussian {elbo0:.1f}" in line, line


def test_numpyro_row_says_where_it_diverged(costs, tmp_path):
    """The numpyro NUTS row (a few draws on the tiny model, from a mode file as in the test
    above, with a second seed and a fixed step): every index it lists as divergent is a kept
    draw, the per-parameter ESS and split-R-hat are there (their minimum is the row's min
    ESS), the step is the one given, and the table shows the count, the depth, the step and
    the seed."""
    import numpy as np

    theta = costs.build(True, "float32")[3]
    mode = tmp_path / "mode.json"
    mode.write_text(json.dumps({"theta": theta.tolist(), "covariance": np.diag(1e-6 * (1 + theta**2)).tolist()}))
    out = tmp_path / "costs.jsonl"
    rows = costs.main(["--tiny", "--no-costs", "--backends", "nuts_numpyro", "--mode-file", str(mode),
                       "--warmup", "10", "--samples", "8", "--max-tree-depth", "3", "--sampler-seed", "2",
                       "--step-size", "0.05", "--out", str(out)])
    row = {r["backend"]: r for r in rows}["nuts_numpyro"]
    assert all(0 <= i < 8 for i in row["divergent_draws"]), row
    assert 1 <= row["mean_leapfrog"] <= 2**3 and row["step_size"] == 0.05 and len(row["mean"]) == 15, row
    assert len(row["ess"]) == len(row["split_rhat"]) == 15 and min(row["ess"]) == row["min_ess"], row
    line = [x for x in costs.table([out]).splitlines() if x.startswith("| `nuts_numpyro`")][0]
    assert f"{row['divergences']} divergences" in line and "max depth 3, fixed step 0.05, seed 2" in line, line


def test_blackjax_target_accept_sets_the_step(costs, tmp_path):
    """``--target-accept`` reaches blackjax's window adaptation (not only numpyro's): on the tiny
    model, same seed and warm-up, a target of 0.99 must adapt a smaller step than 0.5 (in
    these runs 0.13 against 1.5, so the order cannot flip by noise), and the row's budget names
    a target other than the libraries' default 0.8. ``--step-size`` fixes it instead."""
    import numpy as np

    pytest.importorskip("blackjax")
    theta = costs.build(True, "float32")[3]
    mode = tmp_path / "mode.json"
    mode.write_text(json.dumps({"theta": theta.tolist(), "covariance": np.diag(1e-6 * (1 + theta**2)).tolist()}))
    step = {}
    for target in ("0.5", "0.99"):
        rows = costs.main(["--tiny", "--no-costs", "--backends", "nuts_blackjax", "--mode-file", str(mode),
                           "--warmup", "20", "--samples", "4", "--max-tree-depth", "4", "--target-accept", target])
        row = {r["backend"]: r for r in rows}["nuts_blackjax"]
        assert row["budget"].endswith(f"target accept {target}"), row["budget"]
        step[target] = row["step_size"]
    assert 0 < step["0.99"] < 0.5 * step["0.5"], step
    # --step-size: no adaptation (the warm-up is burn-in), so the step is the one given
    rows = costs.main(["--tiny", "--no-costs", "--backends", "nuts_blackjax", "--mode-file", str(mode),
                       "--warmup", "5", "--samples", "4", "--max-tree-depth", "4", "--step-size", "0.05"])
    row = {r["backend"]: r for r in rows}["nuts_blackjax"]
    assert row["step_size"] == 0.05 and row["budget"].endswith("Laplace-whitened z, fixed step 0.05"), row
