"""The cost of drawing the redshifts per image: the default model with and without
``[priors.redshifts] z_lens = [0.3, 0.8], z_source = [1.0, 3.0]``.

Run: ``python docs/scripts/redshift_cost.py``. JAX float32, ``sample_batch`` of 8 keys: the first
call (compilation included) and the median of 4 steady calls per image, ``block_until_ready``,
the two models alternating twice; prints the capacities too.
"""

from __future__ import annotations

import time

import numpy as np

import xlens
from xlens import engine
from xlens.model import SimulatorConfig


def main() -> None:
    jax = engine.import_jax()
    cfgs = {
        "default": SimulatorConfig(),
        "redshifts drawn": SimulatorConfig(
            priors={"redshifts": {"z_lens": (0.3, 0.8), "z_source": (1.0, 3.0)}}),
    }
    for _ in range(2):
        for name, cfg in cfgs.items():
            sim = xlens.Simulator(cfg, engine="jax", dtype="float32")
            keys = jax.random.split(jax.random.key(0), 8)
            t0 = time.perf_counter()
            engine.block_until_ready(sim.sample_batch(keys).data)
            first = time.perf_counter() - t0
            steady = []
            for i in range(4):
                keys = jax.random.split(jax.random.key(i + 1), 8)
                t0 = time.perf_counter()
                engine.block_until_ready(sim.sample_batch(keys).data)
                steady.append(time.perf_counter() - t0)
            print(f"{name}: first call {first:.1f} s, {np.median(steady) / 8:.3f} s per image; capacities: "
                  f"subhaloes {sim.subhalo_population.capacities}, line of sight {sim.los_population.capacity}",
                  flush=True)


if __name__ == "__main__":
    main()
