"""Fast path vs brute force on random realisations of the full default model.

Run: ``python asv_benchmarks/accuracy.py [n_realisations] [dtype]`` (default 20, float32).
Prints, per realisation, max over pixels of |fast - brute| / sigma (sigma: the per-pixel
Poisson noise of the image) and sum |fast - brute| / total flux; the brute force is JAX
float64 with every halo on every sub-pixel ray (``exact=True``).
"""

from __future__ import annotations

import sys

import jax
import numpy as np

from xlens import Simulator

n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
dtype = sys.argv[2] if len(sys.argv) > 2 else "float32"
fast = Simulator(engine="jax", dtype=dtype)
brute = Simulator(engine="jax", dtype="float64", exact=True)
cfg = fast.config
worst, worst_sum = 0.0, 0.0
for i in range(n):
    params, info = fast.sample_params(jax.random.key(1000 + i))
    a = np.asarray(fast.model_image(params), dtype=np.float64)
    b = np.asarray(brute.model_image(params))
    sigma = np.sqrt((b + cfg.background_sky_level) / cfg.exposure_time)
    r = float(np.max(np.abs(a - b) / sigma))
    f = float(np.abs(a - b).sum() / b.sum())
    worst, worst_sum = max(worst, r), max(worst_sum, f)
    n_halos = int(np.sum(np.asarray(info["line_of_sight"].n_kept))) + int(np.sum(np.asarray(info["subhalos"].n_kept)))
    print(f"realisation {i:2d}: {n_halos:5d} haloes, max|d|/sigma = {r:.4f}, sum|d|/flux = {f:.2e}", flush=True)
print(f"worst over {n}: max|d|/sigma = {worst:.4f}, sum|d|/flux = {worst_sum:.2e} ({dtype} fast vs float64 brute)")
