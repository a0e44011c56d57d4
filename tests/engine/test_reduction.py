"""engine.reduction: the chunked halo sum."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import AGREE

from xlens import engine
from xlens.engine import reduction


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


def _chunk_sizes(**kwargs):
    xp = engine.get_xp("numpy")
    calls = []

    def fn(a):
        calls.append(a.shape[0])
        return a * xp.ones(4)

    total = engine.halo_sum(fn, [np.arange(10.0)], 10, 4, xp=xp, **kwargs)
    return calls, total


def test_halo_sum_skips_chunks_of_padding_only():
    """Chunks whose haloes are all inactive are never evaluated (NumPy counts the calls)."""
    active = (np.arange(10) < 3).astype(float)
    calls, _ = _chunk_sizes(block=8, active=active)
    assert calls == [2, 2], f"evaluated chunks {calls}; only the first two hold active haloes"


def test_block_size_is_read_from_the_module_at_each_call(monkeypatch):
    """Benchmarks set ``xlens.engine.reduction.HALO_BLOCK_ELEMENTS`` (docs/scripts/block_size.py)."""
    calls, total = _chunk_sizes()
    assert calls == [10]
    monkeypatch.setattr(reduction, "HALO_BLOCK_ELEMENTS", 12)
    calls, chunked = _chunk_sizes()
    assert calls == [3, 3, 3, 1]
    np.testing.assert_array_equal(chunked, total)


def test_halo_scan_folds_weighted_chunks_and_skips_idle_ones(backend):
    """halo_scan (the loop of halo_sum, for reductions that are not a sum): each chunk's haloes
    come with their weights (active, 0 for padding), a chunk without an active halo is skipped
    (NumPy counts the calls), and the fold is the same on both engines: here a running maximum
    of the weighted squares, which a plain sum could not give."""
    xp = backend.xp
    values = np.arange(1.0, 11.0)
    active = np.array([1, 1, 0, 0, 0, 0, 0, 1, 0, 0], dtype=float)
    calls = []

    def fn(carry, chunk, weight):
        calls.append(int(chunk[0].shape[0]))
        return xp.maximum(carry, xp.max(weight * chunk[0] ** 2))

    got = backend.jit(lambda v, a: engine.halo_scan(fn, xp.asarray(0.0), [v], 3, xp=xp, active=a))(
        backend.asarray(values), backend.asarray(active))
    assert float(got) == 64.0  # halo 8 (value 8) is the largest active one; halo 10 is inactive
    if backend.engine == "numpy":
        assert calls == [3, 3], f"evaluated chunks {calls}; only chunks 1 and 3 hold active haloes"
