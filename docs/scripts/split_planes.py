"""Every halo at every pixel centre against the split halo field, plane by plane.

Run: ``python docs/scripts/split_planes.py [--key 0] [--repeat 7]`` from the repository root.

For the default model's realisation ``sample_params(jax.random.key(KEY))`` (JAX float32), each
plane's halo batches are evaluated on the framed 114 x 114 pixel-centre grid of the default
image (0.05" pixels, undeflected) two ways, each jitted on its own: every halo at every ray
(what planes behind the main lens do) and :func:`xlens.tracer.fast_path.split_halo_field` with
``FAST_PATH_SPLIT`` (what the planes in front of the lens and at it do). Prints, per plane, the
real haloes, the medians of ``--repeat`` interleaved calls in ms, and the largest difference
between the two fields relative to the largest deflection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

import xlens
from xlens import engine
from xlens.halos import HaloBatch
from xlens.halos.batch import concatenate_batches, group_batches
from xlens.tracer import fast_path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sim = xlens.Simulator(engine="jax", dtype="float32")
    params, _ = sim.sample_params(jax.random.key(args.key))
    tracer = sim.tracer_from(params)._with_lensing_batches()
    n, pixel = 114, 0.05
    g = ((np.arange(n) - (n - 1) / 2) * pixel).astype(np.float32)
    yy, xx = np.meshgrid(-g, g, indexing="ij")
    rays = jnp.asarray(np.stack([yy, xx], -1))

    def every(batches, rays):
        out = jnp.zeros_like(rays)
        for group in group_batches(batches):
            out = out + concatenate_batches(group).deflections_yx_2d_from(rays)
        return out

    def split(batches, rays):
        return fast_path.split_halo_field(batches, rays, pixel=pixel, xp=jnp, **fast_path.FAST_PATH_SPLIT)

    f_every, f_split = jax.jit(every), jax.jit(split)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} jax={jax.__version__} split={fast_path.FAST_PATH_SPLIT}")
    print("| plane z | haloes | every halo at every ray [ms] | split [ms] | max diff / max deflection |")
    print("|---|---|---|---|---|")
    totals = [0.0, 0.0]
    with engine.float64_scope():
        for galaxy in tracer.galaxies:
            batches = [p for p in galaxy.profiles.values() if isinstance(p, HaloBatch)]
            if not batches:
                continue
            batches = jax.tree_util.tree_map(
                lambda a: jnp.asarray(a, jnp.float32) if getattr(a, "dtype", None) == np.float64 else a, batches)
            a, b = (np.asarray(f(batches, rays)) for f in (f_every, f_split))
            times = [[], []]
            for _ in range(args.repeat):
                for i, f in enumerate((f_every, f_split)):
                    t0 = time.perf_counter()
                    jax.block_until_ready(f(batches, rays))
                    times[i].append(time.perf_counter() - t0)
            med = [statistics.median(t) * 1e3 for t in times]
            totals = [t + m for t, m in zip(totals, med, strict=True)]
            count = sum(int(np.sum(np.asarray(bt.mask) > 0.5)) for bt in batches)
            rel = np.abs(b - a).max() / max(np.abs(a).max(), 1e-30)
            print(f"| {float(galaxy.redshift):.3f} | {count} | {med[0]:.2f} | {med[1]:.2f} | {rel:.1e} |")
    print(f"| all | | {totals[0]:.1f} | {totals[1]:.1f} | |")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
