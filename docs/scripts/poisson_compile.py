"""Compile time of xlens's JAX Poisson sampler against ``jax.random.poisson`` plus a normal draw.

Run: ``python docs/scripts/poisson_compile.py [--rounds 3]``. Each round lowers and compiles,
alternately, ``xlens.imaging.noise.poisson`` (one loop: ``xlens.engine.random``) and what it
replaced (``jax.random.poisson`` and a separate ``jax.random.normal`` for the normal
approximation), on 100 x 100 means of 300 counts, inside ``xlens.engine.float64_scope()``, and
prints the XLA compile seconds of each.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["XLENS_COMPILATION_CACHE"] = "off"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from xlens import engine  # noqa: E402
from xlens.imaging.noise import poisson  # noqa: E402


def replaced(key, lam):
    return jax.random.poisson(key, lam).astype(lam.dtype) + jax.random.normal(jax.random.fold_in(key, 1), lam.shape)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    key, lam = jax.random.key(0), jnp.full((100, 100), 300.0, jnp.float32)
    with engine.float64_scope():
        for _ in range(args.rounds):
            for name, fn in (("xlens one-loop sampler", poisson), ("jax.random.poisson + normal", replaced)):
                lowered = jax.jit(lambda k, m, fn=fn: fn(k, m)).lower(key, lam)  # a new function: no cache hit
                t0 = time.perf_counter()
                lowered.compile()
                print(f"{name}: compile {time.perf_counter() - t0:.2f} s", flush=True)


if __name__ == "__main__":
    main()
