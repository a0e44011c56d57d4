"""First call and steady time of the default model's ray tracing alone (fast path).

Run: ``PYTHONPATH=<tree> python docs/scripts/tracer_first_call.py [--calls 7]``; compare two
trees alternately in fresh processes as ``first_image.py`` describes. Times
``Tracer.traced_grid_2d_list_over_sampled_from`` jitted (``xlens.engine.jit``) on the
parameters of ``sim.sample_params(0)`` (JAX float32, persistent compilation cache off):
the first call (trace, compile, run) and the median of ``--calls`` steady calls. Prints one
JSON line with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ["XLENS_COMPILATION_CACHE"] = "off"  # a script: the cache would hide compilation

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import xlens  # noqa: E402
from xlens import engine  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=7)
    args = parser.parse_args()
    sim = xlens.Simulator(engine="jax", dtype="float32")
    params, _ = sim.sample_params(0)
    grid = jnp.asarray(sim.padded_grid.over_sampled, dtype=jnp.float32)

    def trace(p):
        return sim.tracer_from(p).traced_grid_2d_list_over_sampled_from(grid, sim.config.sub_size)

    fn = engine.jit(trace, "jax")
    t0 = time.perf_counter()
    jax.block_until_ready(fn(params))
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(params))
        times.append(time.perf_counter() - t0)
    print(json.dumps({"code": os.path.dirname(xlens.__file__), "first_s": first,
                      "steady_median_s": statistics.median(times), "load": list(os.getloadavg())}))


if __name__ == "__main__":
    main()
