"""``xlens simulate``: Zarr datasets that are deterministic, resumable after SIGKILL and scalable with Dask.

The model is tiny (16 x 16 pixels, 2 x 2 over-sampling, few haloes on two planes) and
most runs use the NumPy engine, so the whole file runs in well under a minute; one
test runs the JAX engine end to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from xlens import engine
from xlens.cli import main
from xlens.config import config_from_dict, dumps
from xlens.dataset import DatasetError, DatasetSpec, open_dataset, prepare, simulate, write_chunk

TINY = {
    "shape_native": [16, 16],
    "pixel_scale": 0.25,
    "sub_size": 2,
    "psf_shape": [3, 3],
    "subhalos": {"sigma_sub": 0.02},
    "line_of_sight": {"n_planes": 2, "m_min": 1e9},
}


@pytest.fixture(scope="module")
def tiny_config():
    return config_from_dict(TINY)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory, tiny_config):
    path = tmp_path_factory.mktemp("cfg") / "tiny.toml"
    path.write_text(dumps(tiny_config))
    return path


def files(store: Path) -> dict[str, bytes]:
    """Every file of a store, by relative path: 'identical stores' means equal dicts."""
    return {str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_config):
    """An uninterrupted NumPy run: 10 images in chunks of 4 (the last chunk holds 2)."""
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    simulate(path, 10, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    return path


def test_store_layout_parameters_and_catalogues(reference, tiny_config):
    ds = open_dataset(reference)
    root = ds.root
    assert len(ds) == 10 and ds.complete and ds.n_written == 10
    assert root["images"].shape == (10, 16, 16) and root["images"].dtype == np.float32
    assert root["images"].chunks == (4, 16, 16)
    assert root["noise_maps"].shape == (10, 16, 16)
    images, noise = root["images"][:], root["noise_maps"][:]
    assert np.all(np.isfinite(images)) and np.all(noise > 0)
    # parameters: names and units, values inside the priors
    assert ds.parameter_names == [s.label for s in tiny_config.model.columns]
    assert root["parameters"].attrs["units"][ds.parameter_names.index("lens.mass.einstein_radius")] == "arcsec"
    table = root["parameters"][:]
    lo, hi = tiny_config.model.galaxies["lens"].components["mass"].fields["einstein_radius"].support
    assert np.all((lo <= table[:, 4]) & (table[:, 4] <= hi))
    assert len(np.unique(table[:, 4])) == 10
    # halo catalogues: padded arrays whose masks count the kept haloes
    mask = root["params/subhalos/subhalos/mask"][:]
    kept = root["info/subhalos/n_kept"][:, 0]
    assert mask.shape[1] >= 8 and np.array_equal(mask.sum(axis=1), kept) and kept.sum() > 0
    los = root["params/line_of_sight/mass_at_200"]
    assert los.shape[:2] == (10, 2)
    assert np.array_equal(root["params/line_of_sight/mask"][:].sum(axis=2), root["info/line_of_sight/n_kept"][:])
    # provenance
    attrs = root.attrs["xlens"]
    assert attrs["seed"] == 7 and attrs["engine"] == "numpy" and attrs["dtype"] == "float64"
    assert attrs["versions"]["xlens"] and attrs["versions"]["numpy"] == np.__version__
    assert config_from_dict(attrs["config"]) == tiny_config
    assert "shape_native = [16, 16]" in attrs["config_toml"]


def test_stored_params_reproduce_the_stored_image(reference):
    """The catalogue is complete: params(i) and the key of image i give back image i."""
    ds = open_dataset(reference)
    sim = ds.simulator()
    for i in (0, 9):
        noise_key = engine.split_key(ds.key(i), 2)[1]
        out = sim.diagnostics(ds.params(i), noise_key)
        np.testing.assert_array_equal(np.asarray(out["data"], dtype=np.float32), ds.root["images"][i])


@pytest.mark.parametrize("batch_size", [3, 10])
def test_the_data_do_not_depend_on_the_batch_size(tmp_path, reference, tiny_config, batch_size):
    path = simulate(tmp_path / "b.zarr", 10, tiny_config, engine="numpy", batch_size=batch_size, seed=7,
                    progress=False)
    a, b = open_dataset(reference).root, open_dataset(path).root
    for name in ("images", "noise_maps", "parameters", "params/line_of_sight/centre", "params/subhalos/subhalos/mask"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    other_seed = simulate(tmp_path / "s.zarr", 10, tiny_config, engine="numpy", batch_size=4, seed=8, progress=False)
    assert not np.array_equal(a["images"][:], open_dataset(other_seed).root["images"][:])


def test_a_chunk_interrupted_before_its_done_flag_is_recomputed(tmp_path, reference, tiny_config, monkeypatch):
    """Arrays written but no done flag (a crash between the two), a torn chunk file and a
    stray temporary file: the resumed store is byte-identical to the uninterrupted one."""
    import xlens.dataset.writer as dsmod

    path = tmp_path / "r.zarr"
    real = dsmod.write_chunk
    calls = []

    def crashing(p, spec, chunk):
        calls.append(chunk)
        if chunk == 1:  # write chunk 1's images, then 'die' before the rest and the done flag
            import zarr

            root = zarr.open_group(str(p), mode="r+")
            root["images"][4:8] = np.full((4, 16, 16), -1.0, dtype=np.float32)
            raise KeyboardInterrupt
        return real(p, spec, chunk)

    monkeypatch.setattr(dsmod, "write_chunk", crashing)
    with pytest.raises(KeyboardInterrupt):
        simulate(path, 10, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    monkeypatch.setattr(dsmod, "write_chunk", real)
    with pytest.warns(RuntimeWarning, match="only 4 of 10 images are written"):
        ds = open_dataset(path)
    assert not ds.complete and ds.n_written == 4
    with pytest.raises(IndexError, match="not written yet"):
        ds.params(5)
    # a torn chunk file and a leftover temporary file of a killed write
    torn = path / "noise_maps" / "c" / "2" / "0" / "0"  # chunk 2 (not done): a truncated file
    torn.parent.mkdir(parents=True, exist_ok=True)
    torn.write_bytes(b"\x28\xb5\x2f")
    (path / "images" / "c" / "2").mkdir(parents=True, exist_ok=True)
    (path / "images" / "c" / "2" / "0.abc.partial").write_bytes(b"\x00" * 7)
    simulate(path, 10, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    assert files(path) == files(reference)


def test_an_incomplete_store_warns_and_only_its_written_chunks_are_read(tmp_path, reference, tiny_config):
    """A run killed midway (chunks 0 and 2 of 3 written): opening it warns, written() lists
    exactly the done chunks' images, and chunks() yields those and no NaN row."""
    path = tmp_path / "half.zarr"
    spec = prepare(path, DatasetSpec(10, tiny_config, engine="numpy", dtype="float64", seed=7, chunk_size=4))
    for chunk in (0, 2):
        write_chunk(path, spec, chunk)
    with pytest.warns(RuntimeWarning, match=r"half.zarr is incomplete: only 6 of 10 images are written .*"
                                            r"`xlens simulate .*half.zarr` finishes the run.*ds.chunks\(\)"):
        ds = open_dataset(path)
    assert len(ds) == 10 and not ds.complete
    assert np.isnan(ds.root["images"][4:8]).all()  # what the warning is about
    idx = ds.written()
    assert idx.dtype == np.int64 and idx.tolist() == [0, 1, 2, 3, 8, 9]
    full = open_dataset(reference).root
    got = list(ds.chunks(("images", "parameters", "params/galaxies/lens/mass/einstein_radius")))
    assert [c["index"].tolist() for c in got] == [[0, 1, 2, 3], [8, 9]]
    for c in got:
        assert not np.isnan(c["images"]).any() and not np.isnan(c["parameters"]).any()
        for name in ("images", "parameters", "params/galaxies/lens/mass/einstein_radius"):
            np.testing.assert_array_equal(c[name], full[name][c["index"]], err_msg=name)
    # shuffled: the same chunks in an order fixed by the seed
    orders = [[c["index"][0] for c in ds.chunks("images", shuffle=True, seed=s)] for s in range(8)]
    assert all(sorted(o) == [0, 8] for o in orders) and len({tuple(o) for o in orders}) == 2
    assert orders == [[c["index"][0] for c in ds.chunks("images", shuffle=True, seed=s)] for s in range(8)]
    with pytest.raises(KeyError, match=r"arrays must be .*images, .*parameters.*; got \('image',\)"):
        ds.chunks(("image",))
    with pytest.raises(IndexError, match="not written yet"):
        ds.params(5)
    # no warning when asked not to, nor for a complete store
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert open_dataset(path, warn=False).n_written == 6
        ds = open_dataset(reference)
    assert ds.written().tolist() == list(range(10)) and sum(len(c["index"]) for c in ds.chunks()) == 10


def test_sigkill_mid_run_then_the_same_command_gives_an_identical_store(tmp_path, config_file, tiny_config):
    out = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-m", "xlens.cli", "simulate", str(out), "-n", "30", "--config", str(config_file),
           "--engine", "numpy", "--batch-size", "2", "--seed", "3", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done_dir = out / "done" / "c"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not done_dir.is_dir() or len(list(done_dir.iterdir())) < 3):
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = open_dataset(out, warn=False).n_written
    assert 0 < n_before < 30
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming, {n_before} of 30 images already written" in resumed.stderr
    ref = simulate(tmp_path / "straight.zarr", 30, tiny_config, engine="numpy", batch_size=2, seed=3, progress=False)
    assert files(out) == files(ref)


def test_a_different_run_over_an_existing_store_is_an_error_unless_overwrite(tmp_path, reference, tiny_config,
                                                                           capsys):
    before = files(reference)
    with pytest.raises(DatasetError, match=r"seed: store 7 != requested 8.*--overwrite"):
        simulate(reference, 10, tiny_config, engine="numpy", batch_size=4, seed=8, progress=False)
    other = config_from_dict({**TINY, "pixel_scale": 0.2})
    with pytest.raises(DatasetError, match=r"config.pixel_scale: store 0.25 != requested 0.2"):
        simulate(reference, 10, other, engine="numpy", batch_size=4, seed=7, progress=False)
    assert files(reference) == before  # nothing touched
    # a complete store with the same options: nothing to do; another batch size is a note
    notes = []
    simulate(reference, 10, tiny_config, engine="numpy", batch_size=5, seed=7, progress=False, log=notes.append)
    assert files(reference) == before and any("complete" in n for n in notes)
    # not a store
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "precious.txt").write_text("keep me")
    with pytest.raises(DatasetError, match="not an xlens dataset"):
        simulate(junk, 2, tiny_config, engine="numpy", progress=False)
    assert (junk / "precious.txt").read_text() == "keep me"
    # overwrite replaces it
    copy = tmp_path / "copy.zarr"
    simulate(copy, 4, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    simulate(copy, 6, tiny_config, engine="numpy", batch_size=2, seed=1, progress=False, overwrite=True)
    assert len(open_dataset(copy)) == 6
    # the CLI reports the error and exits 2
    assert main(["simulate", str(reference), "-n", "10", "--engine", "numpy", "--seed", "9", "--no-progress"]) == 2
    assert "different run" in capsys.readouterr().err


# ---------------------------------------------------------------- growing a finished store


@pytest.fixture(scope="module")
def from_scratch(tmp_path_factory, tiny_config):
    """Uninterrupted runs of 12 and 15 images (chunks of 4, seed 7): what a grown store must equal."""
    folder = tmp_path_factory.mktemp("scratch")
    return {n: simulate(folder / f"s{n}.zarr", n, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
            for n in (12, 15)}


def _store_of(n, tmp_path, reference, tiny_config):
    """A finished store of n images (chunks of 4, seed 7) to grow: a copy of the reference for 10."""
    import shutil

    path = tmp_path / "grow.zarr"
    if n == 10:
        shutil.copytree(reference, path)
    else:
        simulate(path, n, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    return path


@pytest.mark.parametrize(("n1", "n2"), [(10, 15), (8, 12)], ids=["partial-last-chunk", "whole-chunks"])
def test_a_larger_n_grows_a_finished_store_into_the_from_scratch_store(tmp_path, reference, tiny_config,
                                                                       from_scratch, n1, n2):
    path = _store_of(n1, tmp_path, reference, tiny_config)
    before = open_dataset(path).root
    kept = {name: before[name][:] for name in ("images", "noise_maps", "parameters", "params/subhalos/subhalos/mask")}
    notes = []
    simulate(path, n2, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False, log=notes.append)
    assert any(f"growing from {n1} to {n2} images" in n for n in notes), notes
    ds = open_dataset(path)
    assert len(ds) == n2 and ds.complete and ds.spec.n_images == n2
    for name, old in kept.items():  # the first n1 images are untouched
        np.testing.assert_array_equal(ds.root[name][:n1], old, err_msg=name)
    assert files(path) == files(from_scratch[n2])  # every array, attribute and flag, byte for byte


def test_growing_needs_the_same_run_and_never_shrinks(tmp_path, reference, tiny_config):
    path = _store_of(10, tmp_path, reference, tiny_config)
    before = files(path)
    with pytest.raises(DatasetError, match=r"holds 10 images; n_images=8 is smaller, and xlens never deletes "
                                           r"written images. Ask for n_images >= 10"):
        simulate(path, 8, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    with pytest.raises(DatasetError, match=r"different run \(seed: store 7 != requested 8\)"):
        simulate(path, 12, tiny_config, engine="numpy", batch_size=4, seed=8, progress=False)
    other = config_from_dict({**TINY, "pixel_scale": 0.2})
    with pytest.raises(DatasetError, match=r"config.pixel_scale: store 0.25 != requested 0.2"):
        simulate(path, 12, other, engine="numpy", batch_size=4, seed=7, progress=False)
    with pytest.raises(DatasetError, match="exact: store False != requested True"):
        simulate(path, 12, tiny_config, engine="numpy", batch_size=4, seed=7, exact=True, progress=False)
    assert files(path) == before  # nothing touched


@pytest.mark.parametrize("crash_in", ["second-resize", "compute_chunk", "write_attrs"])
def test_a_growth_killed_midway_is_finished_by_running_again(tmp_path, reference, tiny_config, from_scratch,
                                                            monkeypatch, crash_in):
    """Killed while the arrays are resized (after ``images``, the first), or after, before
    (compute_chunk) or after (write_attrs) the old last chunk's new rows are written: the
    store still records 10 images, warns, refuses a size below the growth's target, and the
    rerun gives the from-scratch store."""
    import zarr

    import xlens.dataset.writer as dsmod

    path = _store_of(10, tmp_path, reference, tiny_config)
    kept = open_dataset(path).root["images"][:]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    if crash_in == "second-resize":
        real, calls = zarr.Array.resize, []

        def resize_once(self, *args, **kwargs):
            calls.append(self.path)
            if len(calls) > 1:
                raise KeyboardInterrupt
            return real(self, *args, **kwargs)

        monkeypatch.setattr(zarr.Array, "resize", resize_once)
    else:
        monkeypatch.setattr(dsmod, crash_in, killed)
    with pytest.raises(KeyboardInterrupt):
        simulate(path, 15, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    monkeypatch.undo()
    with pytest.warns(RuntimeWarning, match=r"growing it from 10 to 15 images was interrupted"):
        ds = open_dataset(path)
    assert len(ds) == 10 and ds.complete and ds.root["images"].shape[0] == 15
    np.testing.assert_array_equal(ds.root["images"][:10], kept)
    assert ds.written().tolist() == list(range(10))
    for n in (10, 12):
        with pytest.raises(DatasetError, match=r"growing .* from 10 to 15 images was interrupted; finish it with "
                                               r"n_images=15"):
            simulate(path, n, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)
    simulate(path, None, tiny_config, engine="numpy", batch_size=4, seed=7, progress=False)  # `xlens simulate PATH`
    assert files(path) == files(from_scratch[15])


def test_cli_grows_a_finished_store(tmp_path, reference, config_file, from_scratch, capsys):
    path = _store_of(10, tmp_path, reference, None)
    common = ["--config", str(config_file), "--engine", "numpy", "--seed", "7", "--no-progress"]
    assert main(["simulate", str(path), "-n", "8", *common]) == 2
    assert "never deletes written images" in capsys.readouterr().err
    assert main(["simulate", str(path), "-n", "15", *common]) == 0
    captured = capsys.readouterr()
    assert "growing from 10 to 15 images" in captured.err and ": 15 of 15 images (16, 16)" in captured.out
    assert files(path) == files(from_scratch[15])
    assert main(["simulate", str(path), *common]) == 0  # without -n: the store's 15, complete
    assert "complete (15 images)" in capsys.readouterr().err
    with pytest.raises(ValueError, match="n_images is required to create"):
        simulate(tmp_path / "new.zarr", None, engine="numpy", progress=False)


def test_bad_spec_values_are_errors():
    with pytest.raises(ValueError, match=r"n_images must be an integer in \[1, "):
        DatasetSpec(n_images=0)
    with pytest.raises(ValueError, match="seed"):
        DatasetSpec(n_images=1, seed=-1)
    with pytest.raises(ValueError, match="float64 only"):
        DatasetSpec(n_images=1, engine="numpy", dtype="float32")


def test_cli_simulate_shows_progress_and_writes_the_store(tmp_path, config_file, capsys):
    out = tmp_path / "cli.zarr"
    argv = ["simulate", str(out), "-n", "5", "--config", str(config_file), "--engine", "numpy", "--batch-size", "2"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "5/5" in captured.err and "img/s" in captured.err  # the tqdm bar: count, rate
    assert f"{out.absolute()}: 5 of 5 images (16, 16)" in captured.out
    assert main(argv) == 0  # again: complete, nothing to do
    assert "complete (5 images)" in capsys.readouterr().err


def test_dask_cluster_of_two_processes_writes_the_same_store(tmp_path, reference, tiny_config):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        path = simulate(tmp_path / "dask.zarr", 10, tiny_config, engine="numpy", batch_size=4, seed=7,
                        progress=False, client=client)
        workers = client.run(lambda: os.getpid())
    assert len(set(workers.values())) == 2
    assert files(path) == files(reference)


def test_write_chunk_is_idempotent(tmp_path, reference, tiny_config):
    import shutil

    path = tmp_path / "again.zarr"
    shutil.copytree(reference, path)
    spec = open_dataset(path).spec
    write_chunk(path, spec, 1)
    assert files(path) == files(reference)


@pytest.mark.jax
def test_jax_engine_end_to_end_and_an_image_does_not_depend_on_its_batch(tmp_path, config_file):
    pytest.importorskip("jax")
    out = tmp_path / "jax.zarr"
    assert main(["simulate", str(out), "-n", "3", "--config", str(config_file), "--batch-size", "2",
                 "--no-progress"]) == 0
    ds = open_dataset(out)
    assert ds.complete and ds.spec.engine == "jax" and ds.spec.dtype == "float32"
    assert ds.root.attrs["xlens"]["versions"]["jax"]
    images = ds.root["images"][:]
    assert np.all(np.isfinite(images)) and images.std() > 0
    # images 1 and 2 were drawn in different batches (chunks [0, 1] and [2, 3]); drawn together
    # in one batch of the same size they are the same
    sim = ds.simulator()
    ex = sim.sample_batch(engine.index_keys(ds.spec.seed, [2, 1], "jax"))
    np.testing.assert_array_equal(np.asarray(ex.data, dtype=np.float32), images[[2, 1]])


def test_xarray_opens_the_store_with_named_dimensions(reference):
    xr = pytest.importorskip("xarray")
    xds = xr.open_zarr(reference, consolidated=False)
    assert xds["images"].dims == ("image", "y", "x")
    assert xds["parameters"].dims == ("image", "parameter")
    np.testing.assert_array_equal(xds["images"].values, open_dataset(reference).root["images"][:])
