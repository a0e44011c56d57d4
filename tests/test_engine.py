"""The engine layer: namespace resolution, chunked halo sums, scan, vmap and helpers."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AGREE

from xlens import engine


def test_get_xp_rejects_unknown_engine():
    with pytest.raises(ValueError, match=r"engine must be one of \('numpy', 'jax'\); got 'torch'"):
        engine.get_xp("torch")


def test_namespace_follows_inputs(backend):
    a = backend.asarray([1.0, 2.0])
    assert engine.is_jax(engine.namespace(a)) == (backend.engine == "jax")
    # Python scalars are skipped; with no arrays at all the NumPy namespace is returned
    assert not engine.is_jax(engine.namespace(1.0, 2))


def test_namespace_prefers_jax_when_mixed():
    jnp = pytest.importorskip("jax.numpy")
    assert engine.is_jax(engine.namespace(np.ones(2), jnp.ones(2)))


def test_float_dtype_policy(xp):
    assert engine.float_dtype(xp) == xp.float64
    assert engine.float_dtype(xp, "float32") == xp.float32
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'; got 'int8'"):
        engine.float_dtype(xp, "int8")


@pytest.mark.parametrize("n_halo", [1, 7, 64])
def test_halo_sum_chunks_equal_direct_sum(backend, n_halo):
    """Chunking (and on JAX, padding the tail with weight-0 copies) changes nothing."""
    xp = backend.xp
    rng = np.random.default_rng(n_halo)
    a = backend.asarray(rng.normal(size=n_halo))
    b = backend.asarray(rng.normal(size=(n_halo, 2)))
    pts = backend.asarray(rng.normal(size=33))

    def fn(a, b):
        return a * xp.sin(pts) + b[..., 0] * pts, b[..., 1] * xp.cos(pts)

    direct = (
        np.sum(np.asarray(a)[:, None] * np.sin(np.asarray(pts)) + np.asarray(b)[:, :1] * np.asarray(pts), axis=0),
        np.sum(np.asarray(b)[:, 1:] * np.cos(np.asarray(pts)), axis=0),
    )
    for block in (33, 5 * 33, 10**6):  # one halo per chunk, 5 per chunk, everything at once
        got = backend.jit(lambda a, b, block=block: engine.halo_sum(fn, [a, b], n_halo, 33, xp=xp, block=block))(a, b)
        for g, d in zip(got, direct, strict=True):
            np.testing.assert_allclose(np.asarray(g), d, rtol=AGREE.float64, atol=1e-14, err_msg=AGREE.why)


def test_halo_sum_padding_keeps_gradients_finite():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    pts = jnp.linspace(0.1, 1.0, 10)

    def total(a):
        return jnp.sum(engine.halo_sum(lambda a: jnp.log(a) * pts, [a], 5, 10, xp=jnp, block=20))

    grad = jax.grad(total)(jnp.arange(1.0, 6.0))
    np.testing.assert_allclose(np.asarray(grad), np.sum(np.asarray(pts)) / np.arange(1.0, 6.0), rtol=1e-14)


def test_scan_same_on_both_engines(backend):
    xp = backend.xp
    xs = backend.asarray(np.arange(5.0))

    def step(c, x):
        return c * 2 + x, c

    carry, ys = engine.scan(step, backend.asarray(1.0), xs, xp=xp)
    assert float(carry) == 1 * 32 + (0 * 16 + 1 * 8 + 2 * 4 + 3 * 2 + 4)
    np.testing.assert_array_equal(np.asarray(ys), [1, 2, 5, 12, 27])


def test_vmap_numpy_loop_matches_jax():
    pytest.importorskip("jax")
    x = np.arange(12.0).reshape(4, 3)

    def f(row, scale):
        return {"s": row.sum() * scale, "v": row * scale}

    a = engine.vmap(f, "numpy", in_axes=(0, None))(x, 2.0)
    b = engine.vmap(f, "jax", in_axes=(0, None))(x, 2.0)
    np.testing.assert_array_equal(a["s"], np.asarray(b["s"]))
    np.testing.assert_array_equal(a["v"], np.asarray(b["v"]))


def test_at_set_never_writes_in_place(backend):
    x = backend.asarray([1.0, 2.0, 3.0])
    y = engine.at_set(x, 1, 5.0, xp=backend.xp)
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(y), [1.0, 5.0, 3.0])


def test_where_finite_guards_the_unused_branch():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def f(x):
        return jnp.sum(engine.where_finite(x > 0, jnp.log, x, 1.0, xp=jnp))

    g = jax.grad(f)(jnp.array([0.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(g), [0.0, 0.5])
    # the naive where gives NaN: this is what where_finite protects against
    naive = jax.grad(lambda x: jnp.sum(jnp.where(x > 0, jnp.log(x), 0.0)))(jnp.array([0.0, 2.0]))
    assert np.isnan(np.asarray(naive)[0])


def test_gammaln_both_engines(backend):
    x = backend.asarray([0.5, 3.0, 10.0])
    np.testing.assert_allclose(
        np.asarray(engine.gammaln(x, xp=backend.xp)),
        [np.log(np.sqrt(np.pi)), np.log(2.0), np.log(362880.0)],
        rtol=1e-14,
    )


def test_compilation_cache_location_and_opt_out(monkeypatch, tmp_path):
    monkeypatch.setenv("XLENS_COMPILATION_CACHE", "off")
    assert engine.compilation_cache_dir() is None
    monkeypatch.setenv("XLENS_COMPILATION_CACHE", str(tmp_path))
    assert engine.compilation_cache_dir() == str(tmp_path)
    monkeypatch.delenv("XLENS_COMPILATION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine.compilation_cache_dir() == str(tmp_path / "xlens" / "jax")


def test_halo_sum_skips_chunks_of_padding_only():
    """Chunks whose haloes are all inactive are never evaluated (NumPy counts the calls)."""
    xp = engine.get_xp("numpy")
    calls = []

    def fn(a):
        calls.append(a.shape[0])
        return a * xp.ones(4)

    a = np.arange(10.0)
    active = (np.arange(10) < 3).astype(float)
    a_masked = np.where(active > 0, a, 0.0)
    total = engine.halo_sum(fn, [a_masked], 10, 4, xp=xp, block=8, active=active)
    np.testing.assert_array_equal(total, np.full(4, 0.0 + 1.0 + 2.0))
    assert calls == [2, 2], f"evaluated chunks {calls}; only the first two hold active haloes"
