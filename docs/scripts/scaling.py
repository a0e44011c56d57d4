"""How the cost of one image grows with the number of haloes and with the number of pixels.

Run: ``python docs/scripts/scaling.py [--out docs/performance_scaling.png]`` (~6 min on the
2-core CPU). Prints a markdown table and draws the figure with matplotlib.

* Haloes: the default model with the line-of-sight population's lower mass ``m_min`` set so
  that the mean number of line-of-sight haloes is ~100, ~1000 (the default, 1.5e6 M_sun) and
  ~5000 (the subhaloes stay the default ~21); 100 x 100 pixels at 0.05''.
* Pixels: the default model (~1000 + ~21 haloes) on the same 5'' field with 50^2, 100^2 and
  200^2 pixels (pixel scale 0.1'', 0.05'', 0.025''; the PSF keeps its 0.05'' sigma and its
  0.25'' half-width, so its kernel has 5^2, 11^2 and 21^2 pixels).

Each point is ``sim.forward(params, key)`` (ray tracing, source, PSF, noise) for one fixed
realisation, JAX float32: the fast path (median of 3 after a warm-up call that includes
compilation, reported separately) and the brute force (``exact=True``, float32, one call after
the warm-up). The halo count printed is the realisation's.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np

from xlens import Simulator, SimulatorConfig
from xlens.halos import LineOfSightConfig

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

DEFAULT_M_MIN = 1.5e6
#: m_min giving ~100 / ~1000 / ~5000 line-of-sight haloes (N ~ m_min^-0.9 on this mass function)
M_MIN = {100: 2.0e7, 1000: DEFAULT_M_MIN, 5000: 2.5e5}


def _time(sim, params, repeats):
    fn = jax.jit(lambda p, k: sim.forward(p, k)["data"])
    key = jax.random.key(1)
    t0 = time.perf_counter()
    jax.block_until_ready(fn(params, key))
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params, key))
        times.append(time.perf_counter() - t0)
    steady = float(np.median(times))
    return first - steady, steady


def _point(cfg):
    fast = Simulator(cfg, engine="jax", dtype="float32")
    params, info = jax.jit(fast.sample_params)(jax.random.key(0))
    n = {k: int(np.sum(np.asarray(v.n_kept))) for k, v in info.items()}
    compile_fast, t_fast = _time(fast, params, 3)
    _, t_brute = _time(Simulator(cfg, engine="jax", dtype="float32", exact=True), params, 1)
    return n, compile_fast, t_fast, t_brute


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="docs/performance_scaling.png")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d')} jax={jax.__version__} devices={jax.devices()}")
    base = SimulatorConfig()
    halo_rows, pixel_rows = [], []
    for target, m_min in M_MIN.items():
        cfg = dataclasses.replace(base, line_of_sight=LineOfSightConfig(n_planes=8, cone_radius=3.0, m_min=m_min,
                                                                         m_max=1e10))
        halo_rows.append((target, *_point(cfg)))
        print(halo_rows[-1], flush=True)
    for n_pix in (50, 100, 200):
        scale = 5.0 / n_pix
        half = round(0.25 / scale)
        cfg = dataclasses.replace(base, shape_native=(n_pix, n_pix), pixel_scale=scale,
                                  psf_shape=(2 * half + 1, 2 * half + 1))
        pixel_rows.append((n_pix, *_point(cfg)))
        print(pixel_rows[-1], flush=True)

    print("\n| line-of-sight haloes (target) | haloes drawn (LOS + sub) | fast: compile [s] | fast [s/image] "
          "| brute force [s/image] | brute / fast |")
    print("|---|---|---|---|---|---|")
    for target, n, comp, fast, brute in halo_rows:
        print(f"| ~{target} | {n['line_of_sight']} + {n['subhalos']} | {comp:.1f} | {fast:.3f} | {brute:.2f} "
              f"| {brute / fast:.0f} |")
    print("\n| pixels | pixel scale [''] | haloes drawn (LOS + sub) | fast: compile [s] | fast [s/image] "
          "| brute force [s/image] | brute / fast |")
    print("|---|---|---|---|---|---|---|")
    for n_pix, n, comp, fast, brute in pixel_rows:
        print(f"| {n_pix}^2 | {5.0 / n_pix:.3f} | {n['line_of_sight']} + {n['subhalos']} | {comp:.1f} | {fast:.3f} "
              f"| {brute:.2f} | {brute / fast:.0f} |")

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for ax, rows, label, xs in (
        (axes[0], halo_rows, "haloes (line of sight + subhaloes)",
         [r[1]["line_of_sight"] + r[1]["subhalos"] for r in halo_rows]),
        (axes[1], pixel_rows, "pixels (same 5'' field)", [r[0] ** 2 for r in pixel_rows]),
    ):
        ax.loglog(xs, [r[3] for r in rows], "o-", label="fast path (default)")
        ax.loglog(xs, [r[4] for r in rows], "s--", label="brute force (exact=True)")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:,}" for x in xs])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(label)
        ax.set_ylabel("seconds per image")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"xlens, JAX float32, 2-core x86_64 CPU, {time.strftime('%Y-%m-%d')}", fontsize=10)
    fig.savefig(args.out, dpi=110)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
