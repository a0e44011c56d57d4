"""Multi-device batches: ``Simulator.batch`` and ``sample_batch`` shard the batch axis.

JAX fixes the number of host devices when it starts, so the check runs in a fresh Python
process with ``XLA_FLAGS=--xla_force_host_platform_device_count=2`` (two CPU devices
standing in for two GPUs of one host). The batch of 3 is not a multiple of 2, so the
padding path runs too. The sharded results must equal the per-image results of the
same keys: the sharding changes where an image is computed, not what is computed. The
tolerance (1e-12 relative, float64) allows only for a different order of floating-point
operations between the mapped program and the single-image program.
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
    import jax
    import numpy as np

    import xlens
    from xlens.halos import SubhaloConfig
    from xlens.model import SimulatorConfig

    assert jax.local_device_count() == 2, jax.devices()
    cfg = SimulatorConfig(
        shape_native=(16, 16), psf_shape=(5, 5), line_of_sight=None,
        subhalos=SubhaloConfig(sigma_sub=0.1, m_min=1e8, m_max=1e10, radius=1.0),
    )
    sim = xlens.Simulator(cfg, engine="jax", dtype="float64")
    keys = jax.random.split(jax.random.key(0), 3)
    ex = sim.sample_batch(keys)
    assert ex.data.shape == (3, 16, 16), ex.data.shape
    assert len(ex.data.sharding.device_set) == 2, ex.data.sharding
    assert int(np.min(ex.info["subhalos"].n_kept)) > 0  # real haloes in every image
    for i in range(3):
        one = sim.sample(keys[i])
        np.testing.assert_allclose(np.asarray(ex.data[i]), np.asarray(one.data), rtol=1e-12, atol=1e-12,
                                   err_msg=f"sample_batch image {i}")
    # sim.batch with the same parameters and the noise keys sample() derives from each key
    noise_keys = jax.numpy.stack([jax.random.split(k, 2)[1] for k in keys])
    images = sim.batch(ex.params, noise_keys)
    assert len(images.sharding.device_set) == 2, images.sharding
    np.testing.assert_allclose(np.asarray(images), np.asarray(ex.data), rtol=1e-12, atol=1e-12,
                               err_msg="batch")
    print("sharded over", sorted(d.id for d in images.sharding.device_set))
    """
)


@pytest.mark.slow
def test_batch_is_sharded_over_two_devices_and_equals_the_per_image_results():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "sharded over [0, 1]" in out.stdout, out.stdout


def test_one_device_keeps_the_plain_map():
    """With one device ``map_batch`` does not shard (nothing to split): the plain
    ``lax.map``/``vmap`` of the function, whose outputs are committed to that device."""
    import jax

    from xlens import engine

    fn = engine.map_batch(lambda a: a * 2.0, "jax", devices=jax.local_devices()[:1])
    out = jax.jit(fn)(jax.numpy.arange(3.0))
    assert out.tolist() == [0.0, 2.0, 4.0]
    assert len(out.sharding.device_set) == 1
