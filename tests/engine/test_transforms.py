"""engine.transforms and engine.batching: jit, vmap, value_and_grad, scan, map_batch."""

from __future__ import annotations

import numpy as np
import pytest

from xlens import engine


def test_scan_same_on_both_engines(backend):
    xp = backend.xp
    xs = backend.asarray(np.arange(5.0))

    def step(c, x):
        return c * 2 + x, c

    carry, ys = engine.scan(step, backend.asarray(1.0), xs, xp=xp)
    assert float(carry) == 1 * 32 + (0 * 16 + 1 * 8 + 2 * 4 + 3 * 2 + 4)
    np.testing.assert_array_equal(np.asarray(ys), [1, 2, 5, 12, 27])


def test_switch_inside_scan_on_both_engines(backend):
    # the tracer's use: a branch chosen per scan step by an unbatched index
    xp = backend.xp
    branches = [lambda v: v * 0.0, lambda v: v + 10.0, lambda v: v * 3.0]

    def step(c, i):
        out = engine.switch(i, branches, c, xp=xp)
        return c + out, out

    carry, ys = engine.scan(step, backend.asarray(1.0), xp.asarray(np.array([0, 1, 2, 0], dtype=np.int32)), xp=xp)
    np.testing.assert_array_equal(np.asarray(ys), [0.0, 11.0, 36.0, 0.0])
    assert float(carry) == 48.0
    if not engine.is_jax(xp):
        with pytest.raises(IndexError, match=r"index must be in \[0, 3\); got 3"):
            engine.switch(3, branches, 1.0, xp=xp)


def test_vmap_numpy_loop_matches_jax():
    pytest.importorskip("jax")
    x = np.arange(12.0).reshape(4, 3)

    def f(row, scale):
        return {"s": row.sum() * scale, "v": row * scale}

    a = engine.vmap(f, "numpy", in_axes=(0, None))(x, 2.0)
    b = engine.vmap(f, "jax", in_axes=(0, None))(x, 2.0)
    np.testing.assert_array_equal(a["s"], np.asarray(b["s"]))
    np.testing.assert_array_equal(a["v"], np.asarray(b["v"]))


def test_map_batch_numpy_loop_matches_jax():
    jax = pytest.importorskip("jax")
    x = np.arange(6.0).reshape(3, 2)
    a = engine.map_batch(lambda r: r.sum() * 2.0, "numpy")(x)
    b = jax.jit(engine.map_batch(lambda r: r.sum() * 2.0, "jax"))(jax.numpy.asarray(x))
    np.testing.assert_array_equal(a, np.asarray(b))


def test_jit_is_the_function_itself_on_numpy():
    def f(x):
        return x + 1

    assert engine.jit(f, "numpy") is f


def test_jit_runs_float64_without_the_global_flag():
    """With ``jax_enable_x64`` off (this test turns it off for its own thread only), a
    float64 computation under ``engine.jit`` stays float64, float32 stays float32, and the
    flag is unchanged afterwards. tests/engine/test_global_state.py checks the same in a
    process where the flag was never turned on."""
    jax = pytest.importorskip("jax")
    with jax.enable_x64(False):
        f = engine.jit(lambda x: x * 2.0 + 1e-12, "jax")
        out = f(np.ones(3))  # NumPy float64 in: traced as float64
        assert out.dtype == np.float64
        np.testing.assert_array_equal(np.asarray(out), np.full(3, 2.0 + 1e-12))
        assert f(np.ones(3, dtype=np.float32)).dtype == np.float32
        assert not jax.config.read("jax_enable_x64")


def test_jit_forwards_the_jitted_function_attributes():
    jax = pytest.importorskip("jax")

    def double(x):
        return 2.0 * x

    f = engine.jit(double, "jax")
    assert f.__name__ == "double" and f.__wrapped__ is double
    f(np.ones(2))
    assert f._cache_size() == 1
    with jax.enable_x64(False):
        lowered = f.lower(np.ones(2))  # traced inside the float64 scope too
    assert "f64" in lowered.as_text()
    np.testing.assert_array_equal(np.asarray(lowered.compile()(np.ones(2))), [2.0, 2.0])
    with pytest.raises(AttributeError):
        f.no_such_attribute  # noqa: B018


def test_jit_passes_options_through():
    pytest.importorskip("jax")
    f = engine.jit(lambda x, n: x * n, "jax", static_argnames=("n",))
    assert float(f(np.float64(1.5), n=3)) == 4.5


def test_value_and_grad_needs_jax():
    with pytest.raises(NotImplementedError, match="gradients need engine='jax'"):
        engine.value_and_grad(lambda x: x, "numpy")
    pytest.importorskip("jax")
    value, grad = engine.value_and_grad(lambda x: x**3, "jax")(2.0)
    assert (float(value), float(grad)) == (8.0, 12.0)


def test_block_until_ready_passes_numpy_through():
    x = {"a": np.ones(2)}
    assert engine.block_until_ready(x) is x


@pytest.mark.parametrize("chunk", [None, 1, 2, 3, 7])
def test_hessian_by_columns_is_the_analytic_hessian(chunk):
    """Every chunk size (1, a divisor-free 2, n, more than n) gives the closed-form Hessian."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    a = np.array([[2.0, 0.3, -0.1], [0.3, 1.5, 0.2], [-0.1, 0.2, 0.7]])
    theta = np.array([0.4, -0.2, 1.1])

    def fn(t):  # -1/2 t A t + sum sin(t): H = -A - diag(sin t)
        return -0.5 * t @ jnp.asarray(a) @ t + jnp.sum(jnp.sin(t))

    expected = -a - np.diag(np.sin(theta))
    with engine.float64_scope():
        hess = np.asarray(engine.jit(engine.hessian(fn, "jax", chunk=chunk), "jax")(jnp.asarray(theta)))
    np.testing.assert_allclose(hess, expected, rtol=1e-13, atol=1e-15,
                               err_msg=f"chunk={chunk}: only rounding separates AD from the closed form")


def test_hessian_refuses_a_bad_chunk_and_numpy():
    pytest.importorskip("jax")
    with pytest.raises(ValueError,
                       match=r"hessian: chunk must be None or an integer >= 1; got 0 \(Hessian columns at a time\)"):
        engine.hessian(lambda t: t @ t, "jax", chunk=0)
    for bad in (2.0, True):  # an integral float or a bool is not a column count
        with pytest.raises(ValueError, match="chunk must be None or an integer >= 1"):
            engine.hessian(lambda t: t @ t, "jax", chunk=bad)
    with pytest.raises(NotImplementedError, match="engine='jax'"):
        engine.hessian(lambda t: t @ t, "numpy")


def test_checkpoint_keeps_values_and_gradients():
    """engine.checkpoint: the function itself on NumPy; on JAX the same value and gradient (it only
    changes what reverse mode stores)."""
    assert engine.checkpoint(np.sin, xp=np) is np.sin
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def g(x):
        return jnp.sum(jnp.sin(x) * jnp.exp(x))

    x = jnp.linspace(0.1, 1.0, 5)
    cg = engine.checkpoint(g, xp=jnp)
    # float32: the recomputed backward pass may round differently in the last bit
    np.testing.assert_allclose(np.asarray(cg(x)), np.asarray(g(x)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jax.grad(cg)(x)), np.asarray(jax.grad(g)(x)), rtol=1e-6)
