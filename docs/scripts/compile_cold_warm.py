"""Compile time of the default model in a fresh process, with a cold and a warm persistent cache.

Run: ``python docs/scripts/compile_cold_warm.py``. Each measurement is a new Python process
(import, build the simulator, first ``sim.sample(key)`` with compilation, blocked).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

CODE = """
import time
t0 = time.perf_counter()
import jax, xlens
xlens.engine.enable_compilation_cache()  # the folder of XLENS_COMPILATION_CACHE (what the command line does)
sim = xlens.Simulator(engine="jax", dtype="float32")
t1 = time.perf_counter()
jax.block_until_ready(sim.sample(jax.random.key(0)).data)
t2 = time.perf_counter()
jax.block_until_ready(sim.sample(jax.random.key(1)).data)
t3 = time.perf_counter()
print(f"import+setup {t1 - t0:.1f} s, first image {t2 - t1:.1f} s, second image {t3 - t2:.2f} s")
"""

with tempfile.TemporaryDirectory() as cache:
    env = {**os.environ, "XLENS_COMPILATION_CACHE": cache}
    for label in ("cold cache", "warm cache"):
        out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
        print(f"{label}: {out.stdout.strip()}")
