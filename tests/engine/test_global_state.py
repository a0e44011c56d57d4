"""Importing and running xlens changes no process-wide JAX configuration.

A library that turns on ``jax_enable_x64`` makes a user's float32 network silently run
in float64; one that points JAX's persistent cache somewhere writes to the user's home
unasked. The check needs a process where nobody has touched JAX's configuration (the
test suite's conftest turns float64 on), so it runs a script in a fresh Python with
``JAX_ENABLE_X64`` and ``XLENS_COMPILATION_CACHE`` removed from the environment and
HOME / XDG_CACHE_HOME pointed at an empty folder.
"""

from __future__ import annotations

import json
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

    x64 = os.environ.get("JAX_ENABLE_X64") == "1"
    before = state()
    assert before == (x64, None, "float64" if x64 else "float32"), before

    import xlens
    from xlens import engine
    from xlens.model import SimulatorConfig
    from xlens.halos import LineOfSightConfig, SubhaloConfig

    assert state() == before, ("import xlens", state())

    # engine.jit: float64 inside, the global flag untouched
    out = engine.jit(lambda x: x * 2.0, "jax")(np.ones(3))
    assert out.dtype == np.float64, out.dtype
    assert state() == before, ("engine.jit", state())

    # a small model with both populations (haloes, halo conversions, several planes)
    cfg = SimulatorConfig(shape_native=(12, 12), psf_shape=(3, 3), sub_size=2,
                          subhalos=SubhaloConfig(sigma_sub=0.05, m_min=1e8, m_max=1e10, radius=0.6),
                          line_of_sight=LineOfSightConfig(n_planes=2, cone_radius=0.6, m_min=1e8, m_max=1e10))
    digests = {}
    for dtype in ("float32", "float64"):
        sim = xlens.Simulator(cfg, engine="jax", dtype=dtype)
        ex = sim.sample(jax.random.key(0))
        assert ex.data.shape == (12, 12), ex.data.shape
        assert str(ex.data.dtype) == dtype, (dtype, ex.data.dtype)
        assert np.all(np.isfinite(np.asarray(ex.data)))
        digests[dtype] = np.asarray(ex.data).tobytes().hex()
        assert state() == before, ("Simulator", dtype, state())

    # the likelihood: compiled entry points and the pure function inside the user's own jit
    sim = xlens.Simulator(cfg, engine="jax", dtype="float64")
    truth, _ = sim.sample_params(1)
    obs = sim.diagnostics(truth, jax.random.key(2))
    space = xlens.ParameterSpace(sim, truth)
    like = xlens.likelihood(sim, obs["data"], obs["noise_map"], space)
    theta = space.to_vector(truth)
    value, grad = like.value_and_grad(theta)
    assert value.dtype == np.float64 and grad.dtype == np.float64, (value.dtype, grad.dtype)
    # the pure function inside the user's own jit: traced without float64 it is refused in words ...
    if not x64:
        try:
            jax.jit(like.log_likelihood)(theta)
            raise AssertionError("a trace without float64 was not refused")
        except RuntimeError as err:
            assert "float64_scope" in str(err), err
    # ... and traced inside the scope it is the compiled likelihood, bit for bit
    with engine.float64_scope():
        own = jax.jit(like.log_likelihood)(theta)
    assert own.dtype == np.float64, own.dtype
    assert float(own) == float(like(theta)), (float(own), float(like(theta)))
    digests["likelihood"] = [float(value), np.asarray(grad).tobytes().hex()]
    assert state() == before, ("likelihood", state())

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
    assert jax.config.jax_enable_x64 is x64
    import json
    print("RESULTS " + json.dumps(digests))
    print("global state unchanged")
    """
)


def _run(tmp_path, x64: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "XLENS_COMPILATION_CACHE")}
    home = tmp_path / ("x64" if x64 else "default")
    home.mkdir()
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), JAX_PLATFORMS="cpu")
    if x64:
        env["JAX_ENABLE_X64"] = "1"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600,
                         cwd=home)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "global state unchanged" in out.stdout, out.stdout
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])


@pytest.mark.slow
def test_import_and_simulate_leave_jax_configuration_alone(tmp_path):
    """In a process without x64, xlens leaves JAX's configuration alone, and its float32 and
    float64 images and its likelihood and gradient are bit for bit those of a process that
    turned x64 on globally (the scope gives xlens exactly the precision it had before)."""
    scoped = _run(tmp_path, x64=False)
    global_x64 = _run(tmp_path, x64=True)
    assert scoped == global_x64
