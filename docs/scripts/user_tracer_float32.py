"""A user's tracer on the fast path, float32 against float64 (issue 16, item 3).

Run: ``python docs/scripts/user_tracer_float32.py [--repeats 7]``. The default model's
realisation of key 0 is turned into a :class:`~xlens.Tracer` (``sim.tracer_from``: macro lens,
subhalo and line-of-sight halo batches, source) and imaged with
``SimulatorImaging.via_tracer_from(tracer, grid, exact=False, dtype=...)`` inside one
``xlens.engine.jit``, in float32 and float64, timed interleaved (median of ``--repeats``
calls after a warm-up, ``block_until_ready``); the error of each against the float64 brute
force is in units of the noise.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import xlens
from xlens import engine
from xlens.simulator import SimulatorImaging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    jax = engine.import_jax()
    sim = xlens.Simulator(engine="jax", dtype="float64")
    params, _ = engine.jit(sim.sample_params, "jax")(jax.random.key(0))
    tracer = sim.tracer_from(sim.to_engine(params))
    cfg = sim.config
    imaging = SimulatorImaging(cfg.exposure_time, sim.kernel, cfg.background_sky_level, add_poisson_noise_to_data=False)
    grid = sim.grid

    def image(dtype: str, exact: bool):
        return engine.jit(lambda t: imaging.via_tracer_from(t, grid, exact=exact, dtype=dtype).data, "jax")

    fns = {"float32": image("float32", False), "float64": image("float64", False)}
    brute = np.asarray(image("float64", True)(tracer), dtype=np.float64)
    sigma = np.sqrt((brute + cfg.background_sky_level) / cfg.exposure_time)
    first, times, err = {}, {k: [] for k in fns}, {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        out = engine.block_until_ready(fn(tracer))
        first[name] = time.perf_counter() - t0
        err[name] = float(np.max(np.abs(np.asarray(out, dtype=np.float64) - brute) / sigma))
    for _ in range(args.repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            engine.block_until_ready(fn(tracer))
            times[name].append(time.perf_counter() - t0)
    print(f"# {time.strftime('%Y-%m-%d')}, JAX {jax.__version__}, {jax.devices()[0].device_kind}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| via_tracer_from, fast path | first call incl. compile [s] | steady median [s] "
          "| max |d|/sigma vs brute64 |")
    print("|---|---|---|---|")
    for name in fns:
        print(f"| {name} | {first[name]:.1f} | {np.median(times[name]):.3f} | {err[name]:.1e} |")


if __name__ == "__main__":
    main()
