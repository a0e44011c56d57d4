"""The default model's ``sim.sample`` under variants of the fast path's module options, interleaved.

Run from the repository root, e.g.::

    python docs/scripts/options_ab.py --calls 21 --key 0 \\
        --variant 'default' \\
        --variant 'no lens window: fast_path.FAST_PATH_LENS_WINDOW=null' \\
        --variant 'outer 10: fast_path.FAST_PATH_SPLIT={"inner": 2.0, "outer": 10.0, "n_exact": 8}'

Each ``--variant`` is ``LABEL[: MODULE.NAME=JSON[; MODULE.NAME=JSON ...]]``; ``MODULE`` is
``fast_path`` (:mod:`xlens.tracer.fast_path`) or ``conversions`` (:mod:`xlens.halo_model.conversions`),
and the value is JSON (``null`` for ``None``). These options are read when a program is traced,
so each variant gets its own simulator, compiled with its options set and the defaults restored
afterwards. Their steady calls of ``sample(key)`` then alternate, which cancels most of the
drift of a shared machine's speed. Prints one JSON line per variant (first call, which includes
compilation; median and minimum of the steady calls; the median's ratio to the first variant's)
and the load average.
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
import xlens.halo_model.conversions as conversions  # noqa: E402
import xlens.tracer.fast_path as fast_path  # noqa: E402
from xlens import engine  # noqa: E402

MODULES = {"fast_path": fast_path, "conversions": conversions}


def parse_variant(text: str) -> tuple[str, dict]:
    """``LABEL[: MODULE.NAME=JSON; ...]`` -> (label, {(module, name): value})."""
    label, _, rest = text.partition(":")
    settings = {}
    for item in filter(None, (s.strip() for s in rest.split(";"))):
        target, _, value = item.partition("=")
        module, _, name = target.strip().partition(".")
        if module not in MODULES or not hasattr(MODULES[module], name):
            raise SystemExit(f"--variant {text!r}: unknown option {target.strip()!r}; "
                             f"expected one of {sorted(MODULES)} followed by .NAME of an existing constant")
        settings[(module, name)] = json.loads(value)
    return label.strip(), settings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=21)
    parser.add_argument("--key", type=int, default=0)
    parser.add_argument("--variant", action="append", required=True)
    args = parser.parse_args(argv)
    key = jax.random.key(args.key)
    sims, firsts = {}, {}
    for label, settings in map(parse_variant, args.variant):
        saved = {k: getattr(MODULES[k[0]], k[1]) for k in settings}
        try:
            for (module, name), value in settings.items():
                setattr(MODULES[module], name, value)
            sim = xlens.Simulator(engine="jax", dtype="float32")
            t0 = time.perf_counter()
            engine.block_until_ready(sim.sample(key))
            firsts[label], sims[label] = time.perf_counter() - t0, sim
        finally:
            for (module, name), value in saved.items():
                setattr(MODULES[module], name, value)
    times = {label: [] for label in sims}
    for _ in range(args.calls):
        for label, sim in sims.items():
            t0 = time.perf_counter()
            engine.block_until_ready(sim.sample(key))
            times[label].append(time.perf_counter() - t0)
    base = statistics.median(next(iter(times.values())))
    for label, ts in times.items():
        med = statistics.median(ts)
        print(json.dumps({"variant": label, "first_s": round(firsts[label], 2), "median_s": round(med, 4),
                          "min_s": round(min(ts), 4), "median_over_first_variant": round(med / base, 3)}))
    print(json.dumps({"key": args.key, "calls": args.calls, "load": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
