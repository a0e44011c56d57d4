"""Default-model time per image (JAX float32, fast path) for one halo block size.

Run: ``XLENS_COMPILATION_CACHE=off python docs/scripts/block_size.py 131072`` (median of 5 after warm-up).
"""

from __future__ import annotations

import sys
import time

import jax
import numpy as np

import xlens.engine.reduction as reduction
from xlens import Simulator

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

reduction.HALO_BLOCK_ELEMENTS = int(sys.argv[1])
sim = Simulator(engine="jax", dtype="float32")
jax.block_until_ready(sim.sample(jax.random.key(0)).data)
times = []
for i in range(5):
    t0 = time.perf_counter()
    jax.block_until_ready(sim.sample(jax.random.key(i + 1)).data)
    times.append(time.perf_counter() - t0)
print(sys.argv[1], np.median(times), times)
