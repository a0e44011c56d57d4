"""docs/scripts/posterior_edges.py: the prior-edge diagnostic of docs/inference.md ("Fifth run").

On a two-parameter Gaussian in the unit box, one 2 sds from its lower edge and one in the
middle, the slices are checked against their closed form and show what the script is for:
lopsided near the edge (a flat tail towards it, a steep wall inwards), symmetric in the
middle. On the tiny model (20 x 20, no haloes, the default model's 15 free parameters), with
the truth as the "mode": the distances to the nearer edge against the boxes' bounds directly,
the sd of z (``sd / (width u (1 - u))`` for a box) and finite slices.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")

pytestmark = pytest.mark.jax

SCRIPTS = Path(__file__).resolve().parents[2] / "docs" / "scripts"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slices_of_a_gaussian_near_an_edge_and_in_the_middle():
    import types

    import jax.numpy as jnp

    edges = _load("posterior_edges")
    mean, s = np.array([0.02, 0.5]), 0.01
    space = types.SimpleNamespace(names=("near", "middle"), to_unit_cube=lambda t: t, from_unit_cube=lambda u: u)

    def log_l(thetas):
        return np.asarray(-0.5 * jnp.sum(((jnp.asarray(thetas) - mean) / s) ** 2, axis=-1))

    rows = edges.scan(space, log_l, mean, np.diag([s**2, s**2]))
    for r, m in zip(rows, mean, strict=True):
        assert abs(r["edge_sd"] - min(m, 1 - m) / s) < 1e-9 and abs(r["sd_z"] - s / (m * (1 - m))) < 1e-9

        def log_p(k, m=m, r=r):  # log N(u; m, s) + ln u (1 - u) at z = logit(m) + k sd_z
            u = 1 / (1 + np.exp(-(np.log(m / (1 - m)) + k * r["sd_z"])))
            return -0.5 * ((u - m) / s) ** 2 + np.log(u * (1 - u))

        expected = [log_p(k) - log_p(0.0) for k in edges.OFFSETS]
        np.testing.assert_allclose(r["slice"], expected, rtol=1e-9, atol=1e-9)
    near, middle = rows[0]["slice"], rows[1]["slice"]
    assert near[2] < 5 * near[1] and near[3] < 50 * near[0]  # the wall inwards: > 5x (50x) the tail's drop
    assert abs(middle[2] / middle[1] - 1) < 0.2 and abs(middle[3] / middle[0] - 1) < 0.2  # nearly Gaussian


def test_edge_distances_on_the_tiny_model(tmp_path):
    edges = _load("posterior_edges")
    like, theta = (lambda out: (out[2], out[3]))(_load("inference_costs").build(True, "float32"))
    lo, hi = like.space.bounds.T
    sd = 1e-3 * (hi - lo)
    mode = tmp_path / "mode.json"
    mode.write_text(json.dumps({"theta": theta.tolist(), "covariance": np.diag(sd**2).tolist()}))
    rows = edges.main(["--tiny", "--mode-file", str(mode)])
    assert [r["name"] for r in rows] == list(like.space.names)
    expected = np.minimum(theta - lo, hi - theta) / sd  # uniform boxes: u = (theta - lo) / width
    np.testing.assert_allclose([r["edge_sd"] for r in rows], expected, rtol=1e-6)
    u = (theta - lo) / (hi - lo)
    np.testing.assert_allclose([r["sd_z"] for r in rows], 1e-3 / (u * (1 - u)), rtol=1e-6)
    assert all(np.all(np.isfinite(r["slice"])) for r in rows)
