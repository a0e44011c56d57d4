"""Cost of the fast path's window correction: the default model timed with several settings,
interleaved in one process so that load from other jobs hits every setting alike.

Run: ``python docs/scripts/correction_cost.py 0/5 32/5 64/5`` (``n_corrected/window`` pairs;
0 switches the correction off). JAX float32, image from parameters (``sim.forward``), three
realisations in turn, 12 rounds after a warm-up call each; prints median and minimum.
"""

from __future__ import annotations

import sys
import time

import jax
import numpy as np

import xlens.tracer.fast_path as tracer_module
from xlens import Simulator

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit


def main():
    specs = sys.argv[1:] or ["0/5", "32/5"]
    base = Simulator(engine="jax", dtype="float32")
    draw = jax.jit(base.sample_params)
    params = [base.to_engine(draw(jax.random.key(k))[0]) for k in range(3)]
    fns = {}
    for spec in specs:
        n, w = (int(v) for v in spec.split("/"))
        tracer_module.FAST_PATH_CORRECTED, tracer_module.FAST_PATH_WINDOW = n, w
        sim = Simulator(engine="jax", dtype="float32")
        fn = jax.jit(lambda p, k, sim=sim: sim.forward(p, k)["data"])
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params[0], jax.random.key(0)))
        print(f"{spec}: first call incl. compile {time.perf_counter() - t0:.1f} s", flush=True)
        fns[spec] = fn
    times = {spec: [] for spec in specs}
    for r in range(12):
        for spec, fn in fns.items():
            t0 = time.perf_counter()
            jax.block_until_ready(fn(params[r % 3], jax.random.key(r)))
            times[spec].append(time.perf_counter() - t0)
    for spec, t in times.items():
        print(f"n_corrected/window {spec}: median {np.median(t):.3f} s, min {min(t):.3f} s per image")


if __name__ == "__main__":
    main()
