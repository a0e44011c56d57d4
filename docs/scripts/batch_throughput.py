"""Images per second of ``sim.sample_batch`` for the default model (JAX float32).

Run: ``python docs/scripts/batch_throughput.py 1 16 64``. Compile excluded (a warm-up call per
batch size), median of 3 blocked calls.
"""

from __future__ import annotations

import sys
import time

import jax
import numpy as np

from xlens import Simulator

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

sim = Simulator(engine="jax", dtype="float32")
print(f"backend {jax.default_backend()}, devices {jax.devices()}")
for batch in [int(b) for b in sys.argv[1:]] or [1, 16, 64]:
    keys = jax.random.split(jax.random.key(0), batch)
    t0 = time.perf_counter()
    jax.block_until_ready(sim.sample_batch(keys).data)
    first = time.perf_counter() - t0
    times = []
    for i in range(3):
        keys = jax.random.split(jax.random.key(i + 1), batch)
        t0 = time.perf_counter()
        jax.block_until_ready(sim.sample_batch(keys).data)
        times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    print(f"batch {batch:5d}: first call {first:.1f} s, steady {med:.2f} s = {batch / med:.2f} images/s")
