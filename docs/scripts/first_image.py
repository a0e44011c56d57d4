"""Cold compile and steady time of the default model's ``sim.sample`` in this process.

Run: ``python docs/scripts/first_image.py [--mode sample|compile] [--calls 9]``, with
``PYTHONPATH`` pointing at the tree to measure. To compare two trees on a shared machine, run
it alternately for each in fresh processes (``docs/performance.md``, "Issue 16"), e.g. with
the parent commit exported by ``git archive PARENT | tar -x -C /tmp/parent``::

    for i in 1 2; do PYTHONPATH=/tmp/parent python docs/scripts/first_image.py; \\
                     PYTHONPATH=. python docs/scripts/first_image.py; done

``--mode sample`` (default): the first call of ``Simulator(engine="jax", dtype="float32").sample``
(trace, compile and run; persistent compilation cache off) and the median and minimum of
``--calls`` steady calls, all on key 0. ``--quick-compile``: the simulator compiles with
``xlens.simulator.QUICK_COMPILE``; ``--coarsening 2``: the opt-in coarsened fast path;
``--no-split``: ``xlens.tracer.fast_path.FAST_PATH_SPLIT = None`` (every halo at every pixel centre);
``--no-lens-window``: ``xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW = None`` (the macro model at
every sub-pixel ray).
``--mode compile``: ``jax.jit(sim._draw).lower(key)``
and ``.compile()`` timed separately (inside ``xlens.engine.float64_scope()``, as the simulator
does), and the length of the StableHLO text. Prints one JSON line with the load average.
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
import xlens.tracer.fast_path  # noqa: E402
from xlens import engine  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("sample", "compile"), default="sample")
    parser.add_argument("--calls", type=int, default=9)
    parser.add_argument("--coarsening", type=int, default=None, help="Simulator.fast_path_coarsening")
    parser.add_argument("--quick-compile", action="store_true",
                        help="Simulator(compiler_options=xlens.simulator.QUICK_COMPILE) (a tree that has it)")
    parser.add_argument("--no-split", action="store_true",
                        help="xlens.tracer.fast_path.FAST_PATH_SPLIT = None (a tree that has it)")
    parser.add_argument("--no-lens-window", action="store_true",
                        help="xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW = None (a tree that has it)")
    args = parser.parse_args()
    if args.no_split:
        xlens.tracer.fast_path.FAST_PATH_SPLIT = None
    if args.no_lens_window:
        xlens.tracer.fast_path.FAST_PATH_LENS_WINDOW = None
    options = {}
    if args.quick_compile:
        from xlens.simulator import QUICK_COMPILE

        options["compiler_options"] = QUICK_COMPILE
    sim = xlens.Simulator(engine="jax", dtype="float32", **options)
    sim.fast_path_coarsening = args.coarsening
    key = jax.random.key(0)
    out = {"code": os.path.dirname(xlens.__file__), "mode": args.mode, "quick_compile": args.quick_compile,
           "no_split": args.no_split, "no_lens_window": args.no_lens_window}
    if args.mode == "sample":
        t0 = time.perf_counter()
        engine.block_until_ready(sim.sample(key))
        out["first_s"] = time.perf_counter() - t0
        times = []
        for _ in range(args.calls):
            t0 = time.perf_counter()
            engine.block_until_ready(sim.sample(key))
            times.append(time.perf_counter() - t0)
        out["steady_median_s"], out["steady_min_s"] = statistics.median(times), min(times)
    else:
        with engine.float64_scope():
            t0 = time.perf_counter()
            lowered = jax.jit(sim._draw, **options).lower(key)
            out["lower_s"] = time.perf_counter() - t0
            out["stablehlo_lines"] = lowered.as_text().count("\n")
            t0 = time.perf_counter()
            lowered.compile()
            out["compile_s"] = time.perf_counter() - t0
    out["load"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
