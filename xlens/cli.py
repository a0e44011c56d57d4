"""The ``xlens`` command line.

``xlens demo`` builds a lens with a padded subhalo batch, traces a 100 x 100
grid through it on the NumPy and JAX engines and prints a summary. (The
simulator issue turns the main job into ``xlens simulate``.)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

__all__ = ["main"]


def _demo_model(n_subhalos: int, seed: int):
    from . import Galaxy, Tracer, lp, mp
    from .halos import HaloBatch

    rng = np.random.default_rng(seed)
    r = 2.0 * np.sqrt(rng.uniform(size=n_subhalos))
    phi = rng.uniform(0, 2 * np.pi, size=n_subhalos)
    masses = 10 ** rng.uniform(7.0, 9.5, size=n_subhalos)
    subhalos = HaloBatch.from_arrays(
        mp.NFWTruncatedMCRLudlowSph,
        capacity=32,
        centre=np.stack([r * np.sin(phi), r * np.cos(phi)], axis=-1),
        mass_at_200=masses,
        redshift_object=np.full(n_subhalos, 0.5),
        redshift_source=np.full(n_subhalos, 1.0),
    )
    lens = Galaxy(
        0.5,
        mass=mp.PowerLaw(ell_comps=(0.05, 0.1), einstein_radius=1.2, slope=2.1),
        shear=mp.ExternalShear(gamma_1=0.03, gamma_2=-0.01),
        subhalos=subhalos,
    )
    source = Galaxy(
        1.0,
        light=lp.SersicCore(
            centre=(0.05, 0.02), ell_comps=(0.1, 0.0), intensity=1.0, effective_radius=0.3,
            sersic_index=2.0, radius_break=0.02, gamma=0.0, alpha=2.0,
        ),
    )
    return Tracer([lens, source]), subhalos


def _grid(n: int, pixel_scale: float) -> np.ndarray:
    half = (n - 1) / 2 * pixel_scale
    y, x = np.meshgrid(np.linspace(half, -half, n), np.linspace(-half, half, n), indexing="ij")
    return np.stack([y, x], axis=-1)


def demo(args: argparse.Namespace) -> int:
    """Evaluate the demo lens on both engines and print a summary."""
    from . import engine

    tracer, subhalos = _demo_model(args.n_subhalos, args.seed)
    grid = _grid(100, 0.05)
    print(f"xlens demo: PowerLaw + ExternalShear at z=0.5, {args.n_subhalos} Ludlow-16 tNFW "
          f"subhaloes (capacity {subhalos.capacity}), SersicCore source at z=1.0, 100x100 grid")
    t0 = time.perf_counter()
    img_np = tracer.image_2d_from(grid)
    defl_np = tracer.deflections_yx_2d_from(grid)
    t_np = time.perf_counter() - t0
    print(f"  numpy : {t_np * 1e3:8.1f} ms   total flux {img_np.sum():.6g}   "
          f"|alpha| in [{np.hypot(*defl_np.reshape(-1, 2).T).min():.4f}, "
          f"{np.hypot(*defl_np.reshape(-1, 2).T).max():.4f}] arcsec")
    if not engine.jax_available():
        print("  jax   : not installed (pip install 'xlens[jax]')")
        return 0
    fn = engine.jit(lambda t, g: (t.image_2d_from(g), t.deflections_yx_2d_from(g)), "jax")
    g = engine.get_xp("jax").asarray(grid)
    t0 = time.perf_counter()
    img_jx, defl_jx = engine.block_until_ready(fn(tracer, g))
    t_compile = time.perf_counter() - t0
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        engine.block_until_ready(fn(tracer, g))
        times.append(time.perf_counter() - t0)
    err = float(np.max(np.abs(np.asarray(defl_jx) - defl_np)))
    print(f"  jax   : {np.median(times) * 1e3:8.1f} ms (median of 5, first call with compile "
          f"{t_compile:.2f} s)   total flux {float(img_jx.sum()):.6g}")
    print(f"  max |alpha_numpy - alpha_jax| = {err:.2e} arcsec")
    return 0 if np.isfinite(err) and err < 1e-9 else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xlens`` console script."""
    parser = argparse.ArgumentParser(prog="xlens", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="trace a lens with subhaloes on both engines and print a summary")
    p.add_argument("--n-subhalos", type=int, default=20, help="number of subhaloes (<= 32)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    if args.command == "demo" and not 0 <= args.n_subhalos <= 32:
        parser.error(f"--n-subhalos must be in [0, 32]; got {args.n_subhalos}")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
