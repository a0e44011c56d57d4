"""`xlens simulate` with issue 14's example configuration: dark-matter parameters and redshifts
drawn per image, written as labelled columns, one compile for every batch, resumable and
independent of the batch size (JAX engine, a tiny grid)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from xlens.cli import main
from xlens.dataset import open_dataset

TOML = """
shape_native = [12, 12]
pixel_scale = 0.25
sub_size = 2
psf_shape = [3, 3]

[subhalos]
dark_matter = "wdm"
m_hm = 1.0e+08
m_min = 1.0e+08

[line_of_sight]
dark_matter = "wdm"
m_hm = 1.0e+08
n_planes = 3
m_min = 1.0e+08

[priors.subhalos]
sigma_sub = [0.0, 0.1]
m_hm = { log_uniform = [1.0e+07, 1.0e+10] }

[priors.line_of_sight]
delta_los = [0.5, 2.0]
m_hm = { log_uniform = [1.0e+07, 1.0e+10] }

[priors.redshifts]
z_lens = [0.3, 0.8]
z_source = [1.0, 3.0]
"""
LABELS = {
    "subhalos.sigma_sub": ("kpc^-2", 0.0, 0.1),
    "subhalos.m_hm": ("M_sun", 1e7, 1e10),
    "line_of_sight.delta_los": ("dimensionless", 0.5, 2.0),
    "line_of_sight.m_hm": ("M_sun", 1e7, 1e10),
    "redshifts.z_lens": ("dimensionless", 0.3, 0.8),
    "redshifts.z_source": ("dimensionless", 1.0, 3.0),
}


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.mark.jax
def test_simulate_writes_the_issue_example_with_labels_one_compile_resume_and_batch_sizes(tmp_path):
    pytest.importorskip("jax")
    from xlens.dataset import writer

    cfg = tmp_path / "dm.toml"
    cfg.write_text(TOML)
    store = tmp_path / "dm.zarr"
    assert main(["simulate", str(store), "-n", "8", "--config", str(cfg), "--batch-size", "4", "--seed", "5",
                 "--no-progress"]) == 0
    ds = open_dataset(store)
    assert ds.parameter_names[-6:] == list(LABELS)
    labels = ds.labels()
    for name, (units, lo, hi) in LABELS.items():
        assert ds.parameter_units[name] == units
        assert np.all((labels[name] >= lo) & (labels[name] <= hi)), name
        assert len(np.unique(labels[name])) == 8, name  # drawn per image
    # log-uniform m_hm: the log spans decades, and every source lies behind its lens
    assert np.ptp(np.log10(labels["subhalos.m_hm"])) > 1.0
    assert np.all(labels["redshifts.z_source"] > labels["redshifts.z_lens"])
    # the haloes of each image carry its redshifts, and the stored counts are the masks
    sub_z = ds.root["params/subhalos/subhalos/redshift_object"][:]
    mask = ds.root["params/subhalos/subhalos/mask"][:] > 0
    np.testing.assert_array_equal(sub_z, np.broadcast_to(labels["redshifts.z_lens"][:, None], sub_z.shape))
    np.testing.assert_array_equal(ds.root["info/subhalos/n_kept"][:][:, 0], mask.sum(axis=1))
    # two chunks of 4, one compiled program (the writer's simulator of this model)
    sims = [s for s in writer._SIMULATORS.values() if s.config.priors.get("redshifts")]
    assert len(sims) == 1 and sims[0]._jit_cache["sample_batch"]._cache_size() == 1

    # another batch size gives the same images and labels
    other = tmp_path / "b8.zarr"
    assert main(["simulate", str(other), "-n", "8", "--config", str(cfg), "--batch-size", "8", "--seed", "5",
                 "--no-progress"]) == 0
    a, b = open_dataset(store).root, open_dataset(other).root
    for name in ("images", "noise_maps", "parameters"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)

    # a lost chunk is recomputed to the same bytes
    import zarr

    again = tmp_path / "again.zarr"
    shutil.copytree(store, again)
    root = zarr.open_group(str(again), mode="r+")
    root["done"][1] = 0
    root["images"][4:8] = math.nan
    assert main(["simulate", str(again), "-n", "8", "--config", str(cfg), "--batch-size", "4", "--seed", "5",
                 "--no-progress"]) == 0
    assert _files(again) == _files(store)
