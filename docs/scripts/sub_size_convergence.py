"""How the default model's noiseless image converges with over-sampling (docs/simulator.md).

Run: ``python docs/scripts/sub_size_convergence.py``. Same parameters and haloes for every
sub_size; the reference is sub_size 16; differences in units of the per-pixel noise sigma.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from xlens import Simulator, SimulatorConfig

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

base = Simulator(engine="jax")
for seed in (0, 1):
    params, _ = base.sample_params(jax.random.key(seed))
    images = {}
    for s in (2, 4, 8, 16):
        sim = Simulator(dataclasses.replace(SimulatorConfig(), sub_size=s), engine="jax")
        images[s] = np.asarray(sim.model_image(params))
    ref = images[16]
    sigma = np.sqrt((ref + 0.1) / 1000.0)
    for s in (2, 4, 8):
        d = images[s] - ref
        print(f"seed {seed} sub_size {s:2d}: max |I_s - I_16| / sigma = {np.abs(d / sigma).max():.3f}, "
              f"median = {np.median(np.abs(d / sigma)):.4f}, flux difference = {d.sum() / ref.sum():+.2e}")
