"""The ``xlens`` command line: simulate, config, show, bench, demo.

``xlens simulate OUT -n N`` writes a dataset (a Zarr store) that survives crashes
and resumes; ``xlens config --default`` prints the default configuration file;
``xlens show`` draws a dataset entry, a configuration or a mosaic; ``xlens bench``
times the default model; ``xlens demo`` traces a lens on both engines.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from . import engine, plotting
from .config import ConfigError, default_toml, dumps, load_config
from .dataset import Dataset, DatasetError, default_batch_size, is_store, simulate
from .halos import HaloBatch
from .model import SimulatorConfig, parameter_columns, parameter_table
from .profiles import light as lp
from .profiles import mass as mp
from .simulator import Simulator
from .tracer import Galaxy, Tracer

__all__ = ["main"]


def _demo_model(n_subhalos: int, seed: int):

    rng = np.random.default_rng(seed)
    r = 2.0 * np.sqrt(rng.uniform(size=n_subhalos))
    phi = rng.uniform(0, 2 * np.pi, size=n_subhalos)
    masses = 10 ** rng.uniform(7.0, 9.5, size=n_subhalos)
    subhalos = HaloBatch.from_arrays(
        mp.NFWTruncatedMCRLudlowSph,
        capacity=32,
        centre=np.stack([r * np.sin(phi), r * np.cos(phi)], axis=-1),
        mass_at_200=masses,
        redshift_object=np.full(n_subhalos, 0.5),
        redshift_source=np.full(n_subhalos, 1.0),
    )
    lens = Galaxy(
        0.5,
        mass=mp.PowerLaw(ell_comps=(0.05, 0.1), einstein_radius=1.2, slope=2.1),
        shear=mp.ExternalShear(gamma_1=0.03, gamma_2=-0.01),
        subhalos=subhalos,
    )
    source = Galaxy(
        1.0,
        light=lp.SersicCore(
            centre=(0.05, 0.02), ell_comps=(0.1, 0.0), intensity=1.0, effective_radius=0.3,
            sersic_index=2.0, radius_break=0.02, gamma=0.0, alpha=2.0,
        ),
    )
    return Tracer([lens, source]), subhalos


def _grid(n: int, pixel_scale: float) -> np.ndarray:
    half = (n - 1) / 2 * pixel_scale
    y, x = np.meshgrid(np.linspace(half, -half, n), np.linspace(-half, half, n), indexing="ij")
    return np.stack([y, x], axis=-1)


def demo(args: argparse.Namespace) -> int:
    """Evaluate the demo lens on both engines and print a summary."""

    tracer, subhalos = _demo_model(args.n_subhalos, args.seed)
    grid = _grid(100, 0.05)
    print(f"xlens demo: PowerLaw + ExternalShear at z=0.5, {args.n_subhalos} Ludlow-16 tNFW "
          f"subhaloes (capacity {subhalos.capacity}), SersicCore source at z=1.0, 100x100 grid")
    t0 = time.perf_counter()
    img_np = tracer.image_2d_from(grid)
    defl_np = tracer.deflections_yx_2d_from(grid)
    t_np = time.perf_counter() - t0
    print(f"  numpy : {t_np * 1e3:8.1f} ms   total flux {img_np.sum():.6g}   "
          f"|alpha| in [{np.hypot(*defl_np.reshape(-1, 2).T).min():.4f}, "
          f"{np.hypot(*defl_np.reshape(-1, 2).T).max():.4f}] arcsec")
    if not engine.jax_available():
        print("  jax   : not installed (pip install 'xlens[jax]')")
        return 0
    fn = engine.jit(lambda t, g: (t.image_2d_from(g), t.deflections_yx_2d_from(g)), "jax")
    g = engine.get_xp("jax").asarray(grid)
    t0 = time.perf_counter()
    img_jx, defl_jx = engine.block_until_ready(fn(tracer, g))
    t_compile = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        engine.block_until_ready(fn(tracer, g))
        times.append(time.perf_counter() - t0)
    err = float(np.max(np.abs(np.asarray(defl_jx) - defl_np)))
    print(f"  jax   : {np.median(times) * 1e3:8.1f} ms (median of 5, first call with compile "
          f"{t_compile:.2f} s)   total flux {float(img_jx.sum()):.6g}")
    print(f"  max |alpha_numpy - alpha_jax| = {err:.2e} arcsec")
    return 0 if np.isfinite(err) and err < 1e-9 else 1


def _load_config(path):

    return SimulatorConfig() if path is None else load_config(path)


def simulate_cmd(args: argparse.Namespace) -> int:
    """``xlens simulate``: write, resume or grow a dataset."""

    n = args.n_images
    out = Path(args.out)
    if n is None and (args.overwrite or not is_store(out)):
        n = 256  # a new store; an existing one keeps its number (simulate's n_images=None)
    client = None
    if args.dask:
        client = _dask_client(args.dask)
    try:
        path = simulate(args.out, n, _load_config(args.config), engine=args.engine, dtype=args.dtype,
                        exact=args.exact, seed=args.seed, batch_size=args.batch_size, overwrite=args.overwrite,
                        progress=not args.no_progress, client=client)
    except DatasetError as err:
        print(f"xlens simulate: {err}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            cluster = getattr(client, "_xlens_cluster", None)
            client.close()
            if cluster is not None:
                cluster.close()
    ds = Dataset(path, warn=False)
    print(f"{path}: {ds.n_written} of {len(ds)} images {tuple(ds.root['images'].shape[1:])} "
          f"({ds.spec.engine} {ds.spec.dtype}, seed {ds.spec.seed}, chunks of {ds.spec.chunk_size})")
    return 0


def _dask_client(address: str):
    from distributed import Client, LocalCluster

    if address == "local" or address.startswith("local:"):
        n = int(address.split(":", 1)[1]) if ":" in address else 2
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
        client._xlens_cluster = cluster
        return client
    return Client(address)


def config_cmd(args: argparse.Namespace) -> int:
    """``xlens config``: print the default file, or check a file and print it resolved."""

    if args.default or args.file is None:
        sys.stdout.write(default_toml())
        return 0
    sys.stdout.write(dumps(_load_config(args.file), comments=False))
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    """``xlens show``: a PNG of a dataset entry, of a configuration's draw, or a mosaic."""

    target = Path(args.target)
    out = Path(args.output)
    lines: list[str] = []  # the labels of a single image, printed after the figure is written
    if target.is_dir() and is_store(target):
        ds = Dataset(target, warn=False)  # only written images are drawn
        if args.grid:
            idx = ds.written()[: args.n]
            if idx.size == 0:
                print(f"xlens show: {target} has no image written yet", file=sys.stderr)
                return 2
            images = ds.root["images"].get_orthogonal_selection((idx,))
            labels = plotting.grid_labels(ds.root["parameters"].get_orthogonal_selection((idx,)), idx,
                                          names=ds.parameter_names)
            fig = plotting.plot_grid(images, labels=labels, pixel_scale=ds.spec.config.pixel_scale,
                                     title=f"{target.name}: {idx.size} of {len(ds)} images")
        else:
            i = ds.check_index(args.index)
            sim = ds.simulator()
            noise_key = engine.split_key(ds.key(i), 2)[1]
            fig = plotting.plot_example(sim, ds.params(i), noise_key, data=ds.root["images"][i],
                                        noise_map=ds.root["noise_maps"][i], title=f"{target.name} #{i}")
            units = ds.parameter_units
            lines = plotting.label_lines(list(units), list(units.values()), ds.root["parameters"][i])
    else:
        if target.suffix != ".toml" and not target.is_file():
            print(f"xlens show: {target} is neither a dataset (Zarr store) nor a configuration file",
                  file=sys.stderr)
            return 2

        sim = Simulator(_load_config(target), engine=args.engine, dtype=args.dtype or (
            "float32" if args.engine == "jax" else "float64"))
        keys = engine.index_keys(args.seed, np.arange(args.n if args.grid else 1), args.engine)
        if args.grid:
            ex = sim.sample_batch(keys, overflow="warn")

            table = parameter_table(engine.tree_map(np.asarray, ex.params), sim.config)
            names = [name for name, _ in parameter_columns(sim.config)]
            fig = plotting.plot_grid(np.asarray(ex.data), labels=plotting.grid_labels(table, range(args.n), names),
                                     pixel_scale=sim.config.pixel_scale, title=f"{target.name}: {args.n} draws")
        else:
            _, k_noise = engine.split_key(keys[0], 2)
            ex = sim.sample(keys[0])
            params = engine.tree_map(np.asarray, ex.params)
            fig = plotting.plot_example(sim, params, k_noise, title=f"{target.name}, seed {args.seed}")
            columns = parameter_columns(sim.config)
            lines = plotting.label_lines([n for n, _ in columns], [u for _, u in columns],
                                         parameter_table(params, sim.config))
    plotting.save(fig, out)
    w, h = (int(v) for v in fig.get_size_inches() * fig.dpi)
    print(f"wrote {out} ({w} x {h} px)")
    for line in lines:
        print(f"  {line}")
    return 0


def bench_cmd(args: argparse.Namespace) -> int:
    """``xlens bench``: images per second and compile time on this device, and the ratio to NumPy."""

    if not engine.jax_available():
        print("xlens bench: JAX is not installed (pip install 'xlens[jax]')", file=sys.stderr)
        return 2
    cfg = _load_config(args.config)
    batch = args.batch_size or default_batch_size("jax")
    sim = Simulator(cfg, engine="jax", dtype=args.dtype)
    keys = [engine.index_keys(args.seed, np.arange(r * batch, (r + 1) * batch), "jax") for r in range(args.repeats + 1)]
    t0 = time.perf_counter()
    engine.block_until_ready(sim.sample_batch(keys[0]).data)
    first = time.perf_counter() - t0
    times = []
    for k in keys[1:]:
        t0 = time.perf_counter()
        engine.block_until_ready(sim.sample_batch(k).data)
        times.append(time.perf_counter() - t0)
    steady = float(np.median(times))
    rate = batch / steady
    info = engine.backend_info()
    print(f"xlens bench: {cfg.shape_native[0]}x{cfg.shape_native[1]} pixels, sub_size {cfg.sub_size}, "
          f"{'configuration ' + str(args.config) if args.config else 'the default model'}")
    print(f"  device           : {info['backend']} ({info['device_kind']}), {info['device_count']} device(s), "
          f"JAX {info['jax']}")
    print(f"  JAX {args.dtype:8s}   : {rate:9.2f} images/s  (batch {batch}, median of {args.repeats}: "
          f"{steady:.3f} s per batch, {steady / batch * 1e3:.1f} ms per image)")
    print(f"  compile          : {max(first - steady, 0.0):9.2f} s  (first batch {first:.2f} s minus a steady batch)")
    if args.numpy:
        sim_np = Simulator(cfg, engine="numpy")
        np_times = []
        for i in range(args.numpy_images):
            t0 = time.perf_counter()
            sim_np.sample(engine.index_keys(args.seed, [i], "numpy")[0])
            np_times.append(time.perf_counter() - t0)
        np_rate = 1.0 / float(np.median(np_times))
        print(f"  NumPy float64    : {np_rate:9.2f} images/s  (median of {args.numpy_images} images)")
        print(f"  ratio JAX/NumPy  : {rate / np_rate:9.1f}x")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlens`` console script."""
    parser = argparse.ArgumentParser(prog="xlens", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write a dataset of simulated lenses to a Zarr store (resumable)",
                       description="Simulate N images of a model into a Zarr store. Run the same command again "
                       "after an interruption to resume; the result is identical to an uninterrupted run.")
    p.add_argument("out", help="the Zarr store to write (a directory), e.g. demo.zarr")
    p.add_argument("-n", "--n-images", type=int, default=None,
                   help="number of images (default: the existing store's, else 256); more than a store holds "
                   "grows it, keeping its images")
    p.add_argument("--config", metavar="FILE.toml", help="model configuration (default: the default model; "
                   "see `xlens config --default`)")
    p.add_argument("--engine", choices=("jax", "numpy"), default="jax")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="ray-tracing precision (default float32 on JAX, float64 on NumPy)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="images per compiled batch and per chunk (default 16 on CPUs, 512 on accelerators)")
    p.add_argument("--seed", type=int, default=0, help="root of the per-image keys (default 0)")
    p.add_argument("--exact", action="store_true", help="brute-force halo evaluation (the reference; slow)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing store at OUT")
    p.add_argument("--dask", metavar="ADDRESS", default=None,
                   help="run the chunks on a Dask cluster: a scheduler address (tcp://host:8786), or local[:N] "
                   "for N local worker processes; OUT must be on a filesystem the workers share")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=simulate_cmd)

    p = sub.add_parser("config", help="print the default configuration file, or check one")
    p.add_argument("file", nargs="?", help="a configuration to check and print with every default filled in")
    p.add_argument("--default", action="store_true", help="print the default file, with units and ranges")
    p.set_defaults(func=config_cmd)

    p = sub.add_parser("show", help="draw a dataset entry, a configuration or a mosaic to a PNG")
    p.add_argument("target", help="a dataset (Zarr store) or a configuration file (.toml)")
    p.add_argument("-o", "--output", default="xlens-show.png", help="the PNG to write (default xlens-show.png)")
    p.add_argument("-i", "--index", type=int, default=0, help="dataset entry to draw (default 0)")
    p.add_argument("--grid", action="store_true", help="a mosaic of the first --n examples")
    p.add_argument("-n", type=int, default=16, help="examples in the mosaic (default 16)")
    p.add_argument("--seed", type=int, default=0, help="key of the draw, for a configuration (default 0)")
    p.add_argument("--engine", choices=("jax", "numpy"), default="jax", help="for a configuration")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None, help="for a configuration")
    p.set_defaults(func=show_cmd)

    p = sub.add_parser("bench", help="images per second and compile time of the default model on this device")
    p.add_argument("--config", metavar="FILE.toml", help="model configuration (default: the default model)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--batch-size", type=int, default=None, help="default 16 on CPUs, 512 on accelerators")
    p.add_argument("--repeats", type=int, default=3, help="steady-state batches timed (median; default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-numpy", dest="numpy", action="store_false", help="skip the NumPy comparison")
    p.add_argument("--numpy-images", type=int, default=2, help="NumPy images timed (median; default 2)")
    p.set_defaults(func=bench_cmd)

    p = sub.add_parser("demo", help="trace a lens with subhaloes on both engines and print a summary")
    p.add_argument("--n-subhalos", type=int, default=20, help="number of subhaloes (<= 32)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)

    args = parser.parse_args(argv)
    if args.command == "demo" and not 0 <= args.n_subhalos <= 32:
        parser.error(f"--n-subhalos must be in [0, 32]; got {args.n_subhalos}")
    for name in ("n_images", "batch_size", "repeats", "numpy_images", "n"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1; got {value}")
    if getattr(args, "seed", 0) < 0:
        parser.error(f"--seed must be >= 0; got {args.seed}")
    if args.command != "config":
        # The command line is an application, so it may change process-wide JAX configuration
        # (the library never does): keep compiled programs across runs in JAX's persistent cache
        # (~/.cache/xlens/jax; XLENS_COMPILATION_CACHE=DIR moves it, =off switches it off).
        engine.enable_compilation_cache()

    try:
        return args.func(args)
    except ConfigError as err:
        print(f"xlens {args.command}: {err}", file=sys.stderr)
        return 2
    except (IndexError, ValueError) as err:
        print(f"xlens {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
