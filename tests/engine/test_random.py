"""engine.random: keys on both engines."""

from __future__ import annotations

import numpy as np
import pytest

from xlens import engine


def test_numpy_keys_are_reproducible_and_split():
    ops = engine.random_ops(7)
    np.testing.assert_array_equal(ops.uniform(7, 4), engine.random_ops(7).uniform(7, 4))
    k1, k2 = engine.split_key(7, 2)
    assert not np.array_equal(ops.uniform(k1, 4), ops.uniform(k2, 4))
    assert engine.default_key("numpy", 3) == 3


def test_key_engine_names_the_engine_or_refuses():
    assert engine.key_engine(np.array([1, 2])) == "numpy"
    assert engine.key_engine(np.random.SeedSequence(1)) == "numpy"
    with pytest.raises(TypeError, match="a key must be a JAX key"):
        engine.key_engine(1.5)
    with pytest.raises(TypeError, match="must hold non-negative integers"):
        engine.numpy_generator(-1)
    jax = pytest.importorskip("jax")
    assert engine.key_engine(jax.random.key(0)) == "jax"
    assert engine.key_engine(engine.default_key("jax", 0)) == "jax"


@pytest.mark.parametrize("eng", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_index_keys_do_not_depend_on_the_batch(eng):
    if eng == "jax":
        pytest.importorskip("jax")
    both = engine.index_keys(5, [3, 4], eng)
    one = engine.index_keys(5, [4], eng)
    ops = engine.random_ops(one[0])
    np.testing.assert_array_equal(np.asarray(ops.uniform(both[1], 3)), np.asarray(ops.uniform(one[0], 3)))
    assert not np.array_equal(np.asarray(ops.uniform(both[0], 3)), np.asarray(ops.uniform(both[1], 3)))
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\*\*32\)"):
        engine.index_keys(5, [-1], eng)


def test_jax_uniform_is_float64_inside_the_scope():
    jax = pytest.importorskip("jax")
    with jax.enable_x64(False), engine.float64_scope():
        u = engine.random_ops(jax.random.key(0)).uniform(jax.random.key(0), (3,))
        assert u.dtype == np.float64
