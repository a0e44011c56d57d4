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
