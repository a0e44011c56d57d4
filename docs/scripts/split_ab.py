"""The default model's ``sim.sample`` with and without the split halo field, interleaved in one process.

Run: ``python docs/scripts/split_ab.py [--calls 21] [--key 0]`` from the repository root.

Two simulators (JAX float32) are compiled, one with ``xlens.tracer.fast_path.FAST_PATH_SPLIT = None``
(every halo at every pixel centre on every plane) and one with the default split; the module
constant is read when a program is traced, so each keeps its own. Their steady calls of
``sample(key)`` then alternate, which cancels the drift of a shared machine's speed; prints the
median and minimum of each and the ratio of the medians as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ["XLENS_COMPILATION_CACHE"] = "off"  # a script: the cache would hide compilation

import jax  # noqa: E402

import xlens  # noqa: E402
import xlens.tracer.fast_path as fast_path  # noqa: E402
from xlens import engine  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=21)
    parser.add_argument("--key", type=int, default=0)
    args = parser.parse_args()
    key = jax.random.key(args.key)
    default = fast_path.FAST_PATH_SPLIT
    sims, firsts = {}, {}
    for name, split in (("every halo at every pixel centre", None), ("split", default)):
        fast_path.FAST_PATH_SPLIT = split
        sim = xlens.Simulator(engine="jax", dtype="float32")
        t0 = time.perf_counter()
        engine.block_until_ready(sim.sample(key))
        firsts[name], sims[name] = time.perf_counter() - t0, sim
    fast_path.FAST_PATH_SPLIT = default
    times = {name: [] for name in sims}
    for _ in range(args.calls):
        for name, sim in sims.items():
            t0 = time.perf_counter()
            engine.block_until_ready(sim.sample(key))
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(json.dumps({"path": name, "first_s": round(firsts[name], 2), "median_s": round(statistics.median(ts), 4),
                          "min_s": round(min(ts), 4)}))
    every, split = (statistics.median(ts) for ts in times.values())
    print(json.dumps({"ratio_of_medians": round(every / split, 3), "split": default, "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
