"""The truncated-NFW deflection kernel against an earlier revision's, interleaved in one process.

Run: ``python docs/scripts/tnfw_kernel.py [--rev 943c09d] [--haloes 256] [--points 12000]``
from the repository root (git is used to read ``xlens/profiles/mass/nfw_math.py`` at ``--rev``;
the default is the parent of issue 16, whose ``tnfw_mass`` took the NFW basis).

Times ``sum over haloes of m(x) / x^2`` (the deflection's radial factor) in float32 and float64
for ``x = r / r_s`` log-uniform in [1e-3, 10^2.5] and ``tau`` log-uniform in [0.5, 100], median
and minimum of 15 interleaved calls, in ns per halo-point; then the largest relative difference of
``m`` between the two kernels (float64 reference: the earlier kernel in float64) on 60 haloes x
4,000 points, ``x`` log-uniform in [1e-6, 1e4] plus [0.5, 2.5], ``tau`` in [0.3, 100].
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # a script: float64 must exist for the comparison

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from xlens.profiles.mass import nfw_math as new  # noqa: E402


def _old_module(rev):
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:xlens/profiles/mass/nfw_math.py"],
                         capture_output=True, text=True, check=True).stdout
    src = src.replace("from ...engine import", "from xlens.engine import")
    path = Path(tempfile.mkdtemp()) / "old_nfw_math.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_nfw_math", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _mass(mod, x, tau):
    k = mod.tnfw_constants(tau, like=x, xp=jnp)
    if next(iter(inspect.signature(mod.tnfw_mass).parameters)) == "b":  # before issue 16: the NFW basis
        return mod.tnfw_mass(mod.nfw_basis(x, xp=jnp), k, xp=jnp)
    return mod.tnfw_mass(x, k, xp=jnp)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rev", default="943c09d")
    parser.add_argument("--haloes", type=int, default=256)
    parser.add_argument("--points", type=int, default=12000)
    args = parser.parse_args()
    old = _old_module(args.rev)
    mods = {f"{args.rev}": old, "this tree": new}
    rng = np.random.default_rng(0)
    h, n = args.haloes, args.points
    x64 = 10 ** rng.uniform(-3, 2.5, (h, n))
    tau64 = 10 ** rng.uniform(np.log10(0.5), 2, (h, 1))
    for dtype in ("float32", "float64"):
        x, tau = jnp.asarray(x64, dtype), jnp.asarray(tau64, dtype)
        fns = {name: jax.jit(lambda x, tau, m=m: jnp.sum(_mass(m, x, tau) / (x * x), axis=0))
               for name, m in mods.items()}
        for f in fns.values():
            f(x, tau).block_until_ready()
        times = {name: [] for name in fns}
        for _ in range(15):
            for name, f in fns.items():
                t0 = time.perf_counter()
                f(x, tau).block_until_ready()
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            print(f"{dtype} {name}: median {statistics.median(ts) / (h * n) * 1e9:.2f} "
                  f"min {min(ts) / (h * n) * 1e9:.2f} ns per halo-point")
    xs = 10 ** rng.uniform(-6, 4, (60, 4000))
    xs[:, :200] = rng.uniform(0.5, 2.5, (60, 200))
    taus = 10 ** rng.uniform(np.log10(0.3), 2, (60, 1))
    for dtype in ("float64", "float32"):
        xr, tr = (np.asarray(a, dtype).astype(np.float64) for a in (xs, taus))
        ref = np.asarray(jax.jit(lambda x, t: _mass(old, x, t))(jnp.asarray(xr), jnp.asarray(tr)))
        for name, m in mods.items():
            out = np.asarray(jax.jit(lambda x, t, m=m: _mass(m, x, t))(jnp.asarray(xr, dtype), jnp.asarray(tr, dtype)))
            print(f"{dtype} {name}: max relative difference of m from the float64 kernel of {args.rev}: "
                  f"{np.max(np.abs(out.astype(np.float64) / ref - 1)):.2e}")
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
