"""Profile benchmarks: deflections of many truncated-NFW haloes on many points."""

from __future__ import annotations

import time

import numpy as np

from xlens import engine, mp

from .common import EngineBenchmark, random_grid


def _tnfw_inputs(eng: str, n_points: int, n_halos: int, dtype: str = "float64"):
    rng = np.random.default_rng(1)
    xp = engine.get_xp(eng)
    prof = mp.NFWTruncatedSph(
        centre=rng.uniform(-2.5, 2.5, size=(n_halos, 2)),
        kappa_s=rng.uniform(0.001, 0.02, size=n_halos),
        scale_radius=rng.uniform(0.02, 0.3, size=n_halos),
        truncation_radius=rng.uniform(1.0, 6.0, size=n_halos),
    )
    grid = xp.asarray(random_grid(n_points, 2.5), dtype=getattr(xp, dtype))
    if eng == "jax":
        jax = engine.import_jax()
        prof = jax.tree_util.tree_map(lambda a: xp.asarray(a, dtype=getattr(xp, dtype)), prof)
    return prof, grid


def _deflections(prof, grid):
    return prof.deflections_yx_2d_from(grid)


class NFWTruncatedDeflections(EngineBenchmark):
    """Deflections of ``n_halos`` NFWTruncatedSph haloes at ``n_points`` points (float64)."""

    params = (["numpy", "jax"], [10_000, 160_000], [1, 100, 1000])
    param_names = ("engine", "n_points", "n_halos")

    def build(self, eng, n_points, n_halos):
        return _deflections, _tnfw_inputs(eng, n_points, n_halos)

    def time_steady(self, eng, n_points, n_halos):
        self.call()

    def time_compile(self, eng, n_points, n_halos):
        self.compile_once()

    def track_ns_per_halo_point(self, eng, n_points, n_halos):
        reps = max(1, int(2e7 // (n_points * n_halos)))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                self.call()
            times.append((time.perf_counter() - t0) / reps)
        return 1e9 * float(np.median(times)) / (n_points * n_halos)

    track_ns_per_halo_point.unit = "ns"


class NFWTruncatedDeflectionsFloat32(NFWTruncatedDeflections):
    """The same on JAX in float32 (the production precision)."""

    params = (["jax"], [10_000, 160_000], [1000])

    def build(self, eng, n_points, n_halos):
        return _deflections, _tnfw_inputs(eng, n_points, n_halos, "float32")


class NFWTruncatedPeakMemory:
    """Peak memory of the chunked halo sum: 1000 haloes on 160,000 points."""

    params = (["numpy", "jax"],)
    param_names = ("engine",)
    timeout = 600

    def peakmem_deflections_1000_halos_160k_points(self, eng):
        prof, grid = _tnfw_inputs(eng, 160_000, 1000)
        engine.block_until_ready(engine.jit(_deflections, eng)(prof, grid))
