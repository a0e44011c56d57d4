"""Inference benchmarks: the default model's log-likelihood and its value-and-gradient."""

from __future__ import annotations

import numpy as np

from xlens import engine

from .common import SkipNotImplemented


class DefaultModelLikelihood:
    """``like(theta)`` and ``like.value_and_grad(theta)`` of the default model (JAX, fast path).

    15 free macro parameters; the ~23 subhaloes and ~1000 line-of-sight haloes of one prior
    draw are fixed. ``setup`` compiles both programs (a warm-up call each), so the
    ``time_`` methods are steady state; ``track_grad_over_forward`` is the ratio that
    ``docs/inference.md`` quotes (the issue's bound is 4).
    """

    params = (["float32", "float64"],)
    param_names = ("dtype",)
    timeout = 1800

    def setup(self, dtype):
        if not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        import xlens
        from xlens.inference import ParameterSpace

        jax = engine.import_jax()
        sim = xlens.Simulator(engine="jax", dtype=dtype)
        truth, _ = sim.sample_params(0)
        out = sim.diagnostics(truth, jax.random.key(1))
        space = ParameterSpace(sim, truth)
        self.like = xlens.likelihood(sim, out["data"], out["noise_map"], space)
        self.theta = np.asarray(space.to_vector(truth))
        engine.block_until_ready(self.like(self.theta))
        engine.block_until_ready(self.like.value_and_grad(self.theta))

    def time_log_likelihood(self, dtype):
        engine.block_until_ready(self.like(self.theta))

    def time_value_and_grad(self, dtype):
        engine.block_until_ready(self.like.value_and_grad(self.theta))

    def track_grad_over_forward(self, dtype):
        import time

        def median(fn):
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                engine.block_until_ready(fn(self.theta))
                times.append(time.perf_counter() - t0)
            return float(np.median(times))

        return median(self.like.value_and_grad) / median(self.like)

    track_grad_over_forward.unit = "ratio"


class LikelihoodBatch:
    """``like.batch`` of 256 parameter vectors (a nested or ensemble sampler's step), small model."""

    timeout = 900

    def setup(self):
        if not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        import xlens
        from xlens.halos import SubhaloConfig
        from xlens.inference import ParameterSpace

        jax = engine.import_jax()
        cfg = xlens.SimulatorConfig(shape_native=(24, 24), pixel_scale=0.2, sub_size=2, psf_shape=(5, 5),
                                    subhalos=SubhaloConfig(sigma_sub=0.05, m_min=1e9, m_max=1e10, radius=2.0),
                                    line_of_sight=None)
        sim = xlens.Simulator(cfg, engine="jax")
        truth, _ = sim.sample_params(3)
        out = sim.diagnostics(truth, jax.random.key(1))
        space = ParameterSpace(sim, truth, subhalos=True)
        self.like = xlens.likelihood(sim, out["data"], out["noise_map"], space)
        self.thetas = space.sample(jax.random.key(0), (256,))
        engine.block_until_ready(self.like.batch(self.thetas))

    def time_batch_256(self):
        engine.block_until_ready(self.like.batch(self.thetas))
