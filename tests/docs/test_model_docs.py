"""The model documentation runs: docs/examples/realistic.toml (the README tour) and the Python
block of docs/model.md build valid models, and the realistic one simulates finite images."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

import xlens
from xlens.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_realistic_example_loads_and_draws_every_documented_label():
    cfg = load_config(ROOT / "docs" / "examples" / "realistic.toml")
    labels = [s.label for s in cfg.model.columns]
    readme = (ROOT / "README.md").read_text()
    for label in ("lens.multipole_4.multipole_comps_1", "lens.light.intensity", "source.clump_1.present"):
        assert label in labels and label in readme, label
    small = dataclasses.replace(cfg, shape_native=(16, 16), pixel_scale=0.3, sub_size=1, psf_shape=(3, 3),
                                subhalos=None, line_of_sight=None)
    sim = xlens.Simulator(small, engine="numpy")
    ex = sim.sample(1)
    assert np.all(np.isfinite(np.asarray(ex.data)))
    out = sim.diagnostics(ex.params)
    assert np.max(np.asarray(out["lens_light"])) > 0 and np.max(np.asarray(out["lensed_source"])) > 0
    # the multipoles follow the power law they are tied to
    assert float(ex.params.value("lens.multipole_3.slope")) == float(ex.params.value("lens.mass.slope"))


def test_the_python_block_of_the_model_page_builds_the_model_it_describes():
    text = (ROOT / "docs" / "model.md").read_text()
    block = re.search(r"```python\n(from xlens.model import Component.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(block, "docs/model.md", "exec"), scope)  # noqa: S102 - the documented example
    cfg = scope["cfg"]
    names = [s.label for s in cfg.model.columns]
    assert "lens.multipole.multipole_comps_1" in names and "lens.multipole.slope" not in names
    assert cfg.model.galaxies["lens"].components["multipole"].fields["m"] == 4
