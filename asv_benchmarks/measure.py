"""Print the figures quoted in docs/performance.md (medians; compile time separate).

Run: ``python asv_benchmarks/measure.py [--quick]``. Each JAX figure is the median
of steady-state calls after a warm-up call (which includes compilation and is
reported separately); every call is wrapped in ``block_until_ready``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time

import numpy as np


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def tnfw_ns_per_halo_point(quick: bool):
    from xlens import engine, mp

    rng = np.random.default_rng(1)
    n_halos = 1000
    rows = []
    for n_points in (10_000, 160_000):
        for eng, dtype in (("numpy", "float64"), ("jax", "float64"), ("jax", "float32")):
            if eng == "numpy" and n_points == 160_000 and quick:
                continue
            xp = engine.get_xp(eng)
            prof = mp.NFWTruncatedSph(
                centre=rng.uniform(-2.5, 2.5, size=(n_halos, 2)),
                kappa_s=rng.uniform(0.001, 0.02, size=n_halos),
                scale_radius=rng.uniform(0.02, 0.3, size=n_halos),
                truncation_radius=rng.uniform(1.0, 6.0, size=n_halos),
            )
            grid = xp.asarray(rng.uniform(-2.5, 2.5, size=(n_points, 2)), dtype=getattr(xp, dtype))
            fn = engine.jit(lambda p, g: p.deflections_yx_2d_from(g), eng)
            t0 = time.perf_counter()
            engine.block_until_ready(fn(prof, grid))
            first = time.perf_counter() - t0
            steady = _median_time(
                lambda fn=fn, prof=prof, grid=grid: engine.block_until_ready(fn(prof, grid)),
                1 if eng == "numpy" else 3,
            )
            rows.append((eng, dtype, n_points, steady, first - steady, 1e9 * steady / (n_points * n_halos)))
    print("\n## NFWTruncatedSph deflections, 1000 haloes")
    print("| engine | dtype | points | steady [s] | compile [s] | ns per halo-point |")
    print("|---|---|---|---|---|---|")
    for eng, dtype, n, s, c, ns in rows:
        print(f"| {eng} | {dtype} | {n:,} | {s:.3f} | {c if eng == 'jax' else 0:.2f} | {ns:.1f} |")


def default_model(quick: bool):
    import jax

    from xlens import Simulator, engine
    jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

    print("\n## Default model (100x100 px, 4x4 over-sampling, ~21 subhaloes + ~1000 LOS haloes, 8 planes)")
    print("| engine | dtype | path | first call incl. compile [s] | steady [s/image] |")
    print("|---|---|---|---|---|")
    cases = [("jax", "float32", False), ("jax", "float64", False), ("jax", "float64", True)]
    if not quick:
        cases.append(("numpy", "float64", False))
    for eng, dtype, exact in cases:
        sim = Simulator(engine=eng, dtype=dtype, exact=exact)
        key = jax.random.key(0) if eng == "jax" else 0
        t0 = time.perf_counter()
        engine.block_until_ready(sim.sample(key).data)
        first = time.perf_counter() - t0
        repeats = 1 if (exact or eng == "numpy") else 5
        keys = iter(range(1, 100))

        def call(sim=sim, eng=eng, keys=keys):
            k = jax.random.key(next(keys)) if eng == "jax" else next(keys)
            engine.block_until_ready(sim.sample(k).data)

        steady = _median_time(call, repeats)
        path = "brute force (exact=True)" if exact else "fast (default)"
        print(f"| {eng} | {dtype} | {path} | {first:.1f} | {steady:.2f} |")


def peak_memory():
    code = (
        "import numpy as np, jax, resource; from xlens import mp, engine; jax.config.update(\"jax_enable_x64\", True);"
        "rng=np.random.default_rng(0); n=1000;"
        "p=mp.NFWTruncatedSph(centre=rng.uniform(-2.5,2.5,(n,2)),kappa_s=rng.uniform(0.001,0.02,n),"
        "scale_radius=rng.uniform(0.02,0.3,n),truncation_radius=rng.uniform(1,6,n));"
        "g=jax.numpy.asarray(rng.uniform(-2.5,2.5,(160000,2)));"
        "jax.block_until_ready(jax.jit(lambda p,g: p.deflections_yx_2d_from(g))(p,g));"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    print(f"\n## Peak memory: 1000 tNFW haloes x 160,000 rays, JAX float64: {float(out.stdout):.0f} MiB (max RSS)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import jax

    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()} {platform.processor() or ''} "
          f"cores={__import__('os').cpu_count()} jax={jax.__version__} devices={jax.devices()}")
    tnfw_ns_per_halo_point(args.quick)
    peak_memory()
    default_model(args.quick)
    _ = resource


if __name__ == "__main__":
    main()
