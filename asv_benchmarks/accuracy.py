"""Fast path vs float64 brute force on random realisations of the full default model.

Run: ``python asv_benchmarks/accuracy.py [--n 20] [--config FILE.toml] [--corrected N] [--window W]
[--coarsening C]``.

``--config`` measures another model (default: the default model), e.g. the corners of the
dark-matter priors in ``asv_benchmarks/corners/`` (largest ``sigma_sub`` and ``delta_los``,
smallest WDM ``m_hm``, the most concentrated SIDM), where the most or the densest haloes are
rendered.

For each realisation (parameters and haloes from ``sample_params(jax.random.key(1000 + i))``)
the noiseless model image of the fast path in float32 (production) and float64 is compared
with the JAX float64 brute force (``exact=True``: every halo on every sub-pixel ray) of the
same parameters; sigma is the per-pixel noise map the brute-force call draws with the same
noise key. Prints, per realisation and dtype, max over pixels of |fast - brute| / sigma and
sum |fast - brute| / total flux, then the medians and the worst. ``--corrected 0`` switches
off the fast path's correction near the strongest haloes (the previous fast path);
``--corrected``/``--window`` override :data:`xlens.tracer.fast_path.FAST_PATH_CORRECTED` /
:data:`xlens.tracer.fast_path.FAST_PATH_WINDOW` (``--corrected`` also overrides the simulator's own
choice, ``Simulator.fast_path_corrected``: 128 with SIDM subhaloes); ``--coarsening`` sets
``Simulator.fast_path_coarsening`` (halo batches on c x c pixel blocks); ``--split`` sets
:data:`xlens.tracer.fast_path.FAST_PATH_SPLIT` (``none``: every halo at every pixel centre) and
``--lens-window`` :data:`xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW` (``none``: the main lens at
every sub-pixel ray). The suite's
``tests/tracer/test_fast_path.py::test_fast_path_matches_float64_brute_force_on_default_realisations``
runs six of these realisations (0-4 and 8).
"""

from __future__ import annotations

import argparse
import platform
import time

import jax
import numpy as np

import xlens.tracer.fast_path
from xlens import Simulator
from xlens.config import load_config

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--corrected", type=int, default=None)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--coarsening", type=int, default=None)
    parser.add_argument("--config", default=None, help="a TOML configuration (default: the default model)")
    parser.add_argument("--split", default=None,
                        help="'none' or 'INNER,OUTER,N_EXACT': xlens.tracer.fast_path.FAST_PATH_SPLIT")
    parser.add_argument("--lens-window", default=None,
                        help="'none' or a side in pixels: xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW")
    args = parser.parse_args()
    if args.corrected is not None:
        xlens.tracer.fast_path.FAST_PATH_CORRECTED = args.corrected
    if args.window is not None:
        xlens.tracer.fast_path.FAST_PATH_WINDOW = args.window
    if args.split is not None:
        if args.split == "none":
            xlens.tracer.fast_path.FAST_PATH_SPLIT = None
        else:
            inner, outer, n_exact = args.split.split(",")
            xlens.tracer.fast_path.FAST_PATH_SPLIT = {"inner": float(inner), "outer": float(outer),
                                                      "n_exact": int(n_exact)}
    if args.lens_window is not None:
        xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW = None if args.lens_window == "none" else int(args.lens_window)
    config = None if args.config is None else load_config(args.config)
    sims = {name: Simulator(config, engine="jax", dtype=dtype, exact=exact)
            for name, dtype, exact in (("brute", "float64", True), ("float64", "float64", False),
                                       ("float32", "float32", False))}
    if args.corrected is not None:  # also over the simulator's own choice (SIDM)
        for sim in sims.values():
            sim.fast_path_corrected = args.corrected
    for sim in sims.values():
        sim.fast_path_coarsening = args.coarsening
    fp = xlens.tracer.fast_path
    coarsening = args.coarsening or fp.FAST_PATH_COARSENING
    preset = fp.default_options(coarsening)
    corrected = sims["float32"].fast_path_corrected or preset["n_corrected"]
    window = args.window or preset["window"]
    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()} jax={jax.__version__} "
          f"coarsening={coarsening} corrected={corrected} window={window} "
          f"images={preset['n_images']} (for the {preset['n_multi']} strongest)")
    print(f"# config: {args.config or 'default'}  split: {fp.FAST_PATH_SPLIT}  lens window: {fp.FAST_PATH_LENS_WINDOW}")
    noise_key = jax.random.key(7)
    model = {name: jax.jit(lambda p, sim=sim: sim.forward(p, noise_key)) for name, sim in sims.items()}
    draw = jax.jit(sims["float32"].sample_params)
    ratios = {"float32": [], "float64": []}
    fluxes = {"float32": [], "float64": []}
    for i in range(args.n):
        params, info = draw(jax.random.key(1000 + i))
        n_halos = sum(int(np.sum(np.asarray(v.n_kept))) for v in info.values())
        ref = model["brute"](params)
        b = np.asarray(ref["model_image"])
        sigma = np.asarray(ref["noise_map"])
        line = f"realisation {i:2d} ({n_halos} haloes):"
        for dtype in ratios:
            a = np.asarray(model[dtype](params)["model_image"], dtype=np.float64)
            ratios[dtype].append(float(np.max(np.abs(a - b) / sigma)))
            fluxes[dtype].append(float(np.abs(a - b).sum() / b.sum()))
            line += f"  {dtype}: max|d|/sigma = {ratios[dtype][-1]:.4f}, sum|d|/flux = {fluxes[dtype][-1]:.2e}"
        print(line, flush=True)
    for dtype in ratios:
        r, f = np.asarray(ratios[dtype]), np.asarray(fluxes[dtype])
        print(f"{dtype} fast vs float64 brute over {args.n}: max|d|/sigma median {np.median(r):.4f}, "
              f"worst {r.max():.4f} (realisation {int(r.argmax())}), {int(np.sum(r > 0.01))} above 0.01; "
              f"sum|d|/flux median {np.median(f):.2e}, worst {f.max():.2e}")


if __name__ == "__main__":
    main()
