"""engine.backend: namespaces, the mixing rule, dtypes, concreteness."""

from __future__ import annotations

import numpy as np
import pytest

from xlens import engine


def test_get_xp_rejects_unknown_engine():
    with pytest.raises(ValueError, match=r"engine must be one of \('numpy', 'jax'\); got 'torch'"):
        engine.get_xp("torch")


def test_namespace_follows_inputs(backend):
    a = backend.asarray([1.0, 2.0])
    assert engine.is_jax(engine.namespace(a)) == (backend.engine == "jax")
    assert engine.engine_of(engine.namespace(a)) == backend.engine
    # Python scalars, None and 0-d NumPy values are skipped; with no arrays at all: NumPy
    assert not engine.is_jax(engine.namespace(1.0, 2, None, np.float64(3.0), np.asarray(4.0)))
    assert engine.engine_of(engine.namespace(a, 1.0, np.float64(3.0), np.asarray(4.0))) == backend.engine


def test_namespace_refuses_numpy_and_jax_arrays_mixed():
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(TypeError, match=r"NumPy and JAX arrays are mixed \(a numpy\.ndarray of shape \(2,\)"):
        engine.namespace(jnp.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="convert the NumPy arrays with xp.asarray first"):
        engine.namespace(np.ones((2, 2)), jnp.ones(3))


def test_promoted_namespace_lets_numpy_convert_to_jax():
    """The explicit opt-in of call sites that convert every input with ``xp.asarray``."""
    jnp = pytest.importorskip("jax.numpy")
    assert engine.is_jax(engine.promoted_namespace(np.ones(2), jnp.ones(2), 1.0))
    assert not engine.is_jax(engine.promoted_namespace(np.ones(2), 1.0))
    assert not engine.is_jax(engine.promoted_namespace())


def test_is_concrete_under_every_transformation():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    assert engine.is_concrete(np.ones(2)) and engine.is_concrete(1.5) and engine.is_concrete(jnp.ones(2))
    seen = []

    def f(x):
        seen.append(engine.is_concrete(x))
        return jnp.sum(x**2)

    jax.jit(f)(jnp.ones(2))
    jax.vmap(f)(jnp.ones((3, 2)))
    jax.grad(f)(jnp.ones(2))
    engine.jit(f, "jax")(jnp.arange(3.0))  # a new shape: a new trace
    assert seen == [False, False, False, False]


def test_float_dtype_policy(xp):
    assert engine.float_dtype(xp) == xp.float64
    assert engine.float_dtype(xp, "float32") == xp.float32
    assert engine.float_dtype(xp, np.float32) == xp.float32
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'; got 'int8'"):
        engine.float_dtype(xp, "int8")


def test_dtype_name_and_asarray(backend32):
    a = engine.asarray([1.0, 2.0], xp=backend32.xp, dtype=engine.float_dtype(backend32.xp, backend32.dtype))
    assert engine.dtype_name(a) == backend32.dtype
    assert engine.dtype_name(engine.asarray(1, xp=backend32.xp)) == "float64"


def test_backend_info_names_jax_and_its_device():
    pytest.importorskip("jax")
    info = engine.backend_info()
    assert set(info) == {"jax", "jaxlib", "backend", "device_count", "device_kind"}
    assert info["device_count"] >= 1
