"""asv benchmarks of xlens (see asv_benchmarks/asv.conf.json).

The benchmarks are an application: they jit xlens's pure functions with ``jax.jit``
directly, so they turn on JAX's float64 for their process (xlens itself never does).
"""

from xlens import engine

if engine.jax_available():
    engine.import_jax().config.update("jax_enable_x64", True)
