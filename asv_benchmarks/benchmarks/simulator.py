"""Simulator benchmarks: the default model, one image and batches."""

from __future__ import annotations

import numpy as np

from xlens import engine

from .common import SkipNotImplemented


class DefaultModel:
    """One noisy image of the default model from one key (priors, populations, image, noise)."""

    params = (["jax", "numpy"], ["float32", "float64"])
    param_names = ("engine", "dtype")
    timeout = 1800

    def setup(self, eng, dtype):
        from xlens import Simulator

        if eng == "jax" and not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        if eng == "numpy" and dtype == "float32":
            raise SkipNotImplemented("NumPy runs float64")
        self.sim = Simulator(engine=eng, dtype=dtype)
        self.key = engine.import_jax().random.key(0) if eng == "jax" else 0
        engine.block_until_ready(self.sim.sample(self.key).data)

    def time_sample(self, eng, dtype):
        engine.block_until_ready(self.sim.sample(self.key).data)

    def peakmem_sample(self, eng, dtype):
        engine.block_until_ready(self.sim.sample(self.key).data)

    def time_compile(self, eng, dtype):
        """Lowering + compiling the whole ``sample`` program (what a new process waits for
        with an empty persistent cache), JAX only."""
        if eng != "jax":
            raise SkipNotImplemented("nothing to compile on NumPy")
        from xlens import Simulator

        jax = engine.import_jax()
        sim = Simulator(engine=eng, dtype=dtype)
        jax.jit(lambda k: sim.sample_params(k)).lower(self.key).compile()
        jax.jit(lambda k: sim.forward(sim.sample_params(k)[0], k, False)["data"]).lower(self.key).compile()


class DefaultModelPaths:
    """The image of one fixed default realisation from its parameters on the JAX paths
    that ``asv_benchmarks/compare.py`` compares (fast float32, fast float64, brute force float64,
    and the fast float32 path coarsened by 2, ``compare.py --coarsening 2``)."""

    params = (["fast-float32", "fast-float64", "brute-float64", "fast2-float32"],)
    param_names = ("path",)
    timeout = 1800
    number = 1
    repeat = (1, 3, 120.0)

    def setup(self, path):
        if not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        from xlens import Simulator

        jax = engine.import_jax()
        kind, dtype = path.split("-")
        sim = Simulator(engine="jax", dtype=dtype, exact=kind == "brute")
        sim.fast_path_coarsening = 2 if kind == "fast2" else None
        self.params = sim.to_engine(jax.jit(sim.sample_params)(jax.random.key(0))[0])
        self.key = jax.random.key(1)
        self.fn = jax.jit(lambda p, k: sim.forward(p, k)["data"])
        engine.block_until_ready(self.fn(self.params, self.key))

    def time_image_from_parameters(self, path):
        engine.block_until_ready(self.fn(self.params, self.key))


class DefaultModelBatch:
    """``sample_batch`` of the default model on JAX (images per launch = batch size)."""

    params = ([1, 64, 1024], ["float32"])
    param_names = ("batch", "dtype")
    timeout = 3600

    def setup(self, batch, dtype):
        if not engine.jax_available():
            raise SkipNotImplemented("JAX is not installed")
        if batch > 64 and not any(d.platform == "gpu" for d in engine.import_jax().devices()):
            raise SkipNotImplemented("batches of 1024 are a GPU benchmark")
        from xlens import Simulator

        jax = engine.import_jax()
        self.sim = Simulator(engine="jax", dtype=dtype)
        self.keys = jax.random.split(jax.random.key(0), batch)
        engine.block_until_ready(self.sim.sample_batch(self.keys).data)

    def time_sample_batch(self, batch, dtype):
        engine.block_until_ready(self.sim.sample_batch(self.keys).data)

    def track_images_per_second(self, batch, dtype):
        import time

        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            engine.block_until_ready(self.sim.sample_batch(self.keys).data)
            times.append(time.perf_counter() - t0)
        return batch / float(np.median(times))

    track_images_per_second.unit = "images/s"
