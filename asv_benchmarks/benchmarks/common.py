"""Shared benchmark machinery: engine parameter, jit + warm-up, blocking calls.

A benchmark class builds its inputs in ``setup``, jits the function on JAX, runs
one warm-up call (so ``time_steady`` excludes compilation) and exposes
``self.call()``. ``time_compile`` clears JAX's caches and lowers + compiles
once, which is what a user waits for the first time.
"""

from __future__ import annotations

import numpy as np

try:
    from asv_runner.benchmarks.mark import SkipNotImplemented
except ImportError:  # pragma: no cover
    class SkipNotImplemented(Exception):  # noqa: N818
        pass

from xlens import engine


class EngineBenchmark:
    """Base class: ``build(engine, *params) -> (fn, args)`` is provided by subclasses."""

    timeout = 600

    def setup(self, eng, *params):
        if eng == "jax" and not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        self.engine = eng
        fn, args = self.build(eng, *params)
        self.fn = fn
        self.jitted = engine.jit(fn, eng)
        self.args = args
        engine.block_until_ready(self.jitted(*args))  # warm-up: compile outside the timing

    def call(self):
        return engine.block_until_ready(self.jitted(*self.args))

    def compile_once(self):
        if self.engine != "jax":
            raise SkipNotImplemented("nothing to compile on NumPy")
        jax = engine.import_jax()
        jax.clear_caches()
        jax.jit(self.fn).lower(*self.args).compile()


def random_grid(n_points: int, half_width: float, seed: int = 0) -> np.ndarray:
    """``n_points`` (y, x) positions [arcsec] in a square of the given half width."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-half_width, half_width, size=(n_points, 2))
