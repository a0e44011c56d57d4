"""Importing and running xlens changes no process-wide JAX configuration.

A library that turns on ``jax_enable_x64`` makes a user's float32 network silently run
in float64; one that points JAX's persistent cache somewhere writes to the user's home
unasked. The check needs a process where nobody has touched JAX's configuration (the
test suite's conftest turns float64 on), so it runs a script in a fresh Python with
``JAX_ENABLE_X64`` and ``XLENS_COMPILATION_CACHE`` removed from the environment and
HOME / XDG_CACHE_HOME pointed at an empty folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import jax
    import jax.numpy as jnp
    import numpy as np

    def state():
        return (jax.config.jax_enable_x64, jax.config.jax_compilation_cache_dir, str(jnp.ones(1).dtype))

    before = state()
    assert before == (False, None, "float32"), before

    import xlens
    from xlens import engine
    from xlens.simulator import SimulatorConfig

    assert state() == before, ("import xlens", state())

    # engine.jit: float64 inside, the global flag untouched
    out = engine.jit(lambda x: x * 2.0, "jax")(np.ones(3))
    assert out.dtype == np.float64, out.dtype
    assert state() == before, ("engine.jit", state())

    cfg = SimulatorConfig(shape_native=(12, 12), psf_shape=(3, 3), sub_size=1, subhalos=None, line_of_sight=None)
    for dtype in ("float32", "float64"):
        sim = xlens.Simulator(cfg, engine="jax", dtype=dtype)
        ex = sim.sample(jax.random.key(0))
        assert ex.data.shape == (12, 12), ex.data.shape
        assert str(ex.data.dtype) == dtype, (dtype, ex.data.dtype)
        assert np.all(np.isfinite(np.asarray(ex.data)))
        assert state() == before, ("Simulator", dtype, state())

    home = os.environ["HOME"]
    created = [os.path.join(d, f) for d, _, fs in os.walk(home) for f in fs + [""]]
    assert not any("xlens" in p for p in created), created

    # an application asks for the cache explicitly
    folder = os.path.join(home, "cache-here")
    assert engine.enable_compilation_cache(folder) == folder
    assert jax.config.jax_compilation_cache_dir == folder and os.path.isdir(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == 0.1
    # a cache already configured is left alone
    assert engine.enable_compilation_cache(os.path.join(home, "elsewhere")) == folder
    assert jax.config.jax_enable_x64 is False
    print("global state unchanged")
    """
)


@pytest.mark.slow
def test_import_and_simulate_leave_jax_configuration_alone(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "XLENS_COMPILATION_CACHE")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"), JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "global state unchanged" in out.stdout, out.stdout
