"""Ray-tracing benchmarks: the default model's 160,000 rays through 8 planes."""

from __future__ import annotations

from xlens import engine

from .common import EngineBenchmark


def _default_inputs(eng: str, dtype: str, exact: bool):
    from xlens import Simulator

    sim = Simulator(engine=eng, dtype=dtype, exact=exact)
    key = engine.import_jax().random.key(0) if eng == "jax" else 0
    params, _ = sim.sample_params(key)
    params = sim.to_engine(params)
    xp = engine.get_xp(eng)
    grid = xp.asarray(sim.padded_grid.over_sampled, dtype=getattr(xp, dtype))
    return sim, params, grid


class DefaultModelRayTracing(EngineBenchmark):
    """Source-plane positions of the default model (macro + ~21 subhaloes + ~1000 LOS haloes,
    8 planes, 110 x 110 pixels x 4 x 4 sub-pixels = 193,600 rays incl. the PSF border)."""

    params = (["jax", "numpy"], ["float64", "float32"], [False, True])
    param_names = ("engine", "dtype", "exact")
    timeout = 1200

    def setup(self, eng, dtype, exact):
        if eng == "numpy" and (dtype == "float32" or not exact):
            from .common import SkipNotImplemented

            raise SkipNotImplemented("NumPy runs the float64 reference")
        super().setup(eng, dtype, exact)

    def build(self, eng, dtype, exact):
        sim, params, grid = _default_inputs(eng, dtype, exact)

        def trace(params, grid):
            tracer = sim.tracer_from(params)
            return tracer.traced_grid_2d_list_over_sampled_from(grid, sim.config.sub_size, exact=exact)[-1]

        return trace, (params, grid)

    def time_steady(self, eng, dtype, exact):
        self.call()

    def time_compile(self, eng, dtype, exact):
        self.compile_once()

    def peakmem_trace(self, eng, dtype, exact):
        self.call()
