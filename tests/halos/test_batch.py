"""Padded halo batches: buckets, padding that adds exactly zero, adapters and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_tnfw_batch

from xlens import mp
from xlens.halos import CAPACITY_BUCKETS, HaloBatch, bucket_capacity
from xlens.halos.batch import concatenate_batches


def _arrays(n, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "centre": rng.uniform(-1, 1, size=(n, 2)),
        "kappa_s": rng.uniform(0.01, 0.1, size=n),
        "scale_radius": rng.uniform(0.05, 0.3, size=n),
        "truncation_radius": rng.uniform(0.5, 3.0, size=n),
    }


@pytest.mark.parametrize(("n", "cap"), [(0, 8), (1, 8), (8, 8), (9, 16), (50, 64), (1000, 1024), (1025, 2048)])
def test_bucket_rule(n, cap):
    assert bucket_capacity(n) == cap
    assert cap in CAPACITY_BUCKETS


def test_bucket_overflow_is_an_error():
    with pytest.raises(ValueError, match=f"exceed the largest capacity bucket {CAPACITY_BUCKETS[-1]}"):
        bucket_capacity(CAPACITY_BUCKETS[-1] + 1)


def test_padding_adds_exactly_zero(backend):
    arr = _arrays(5)
    batch = HaloBatch.from_arrays(mp.NFWTruncatedSph, capacity=16, **arr)
    assert batch.capacity == 16 and int(batch.count()) == 5
    plain = mp.NFWTruncatedSph(**arr)
    grid = backend.asarray(np.random.default_rng(1).uniform(-2, 2, size=(40, 2)))
    for method in ("deflections_yx_2d_from", "convergence_2d_from"):
        got = backend.jit(lambda b, g, m=method: getattr(b, m)(g))(batch, grid)
        want = getattr(plain, method)(grid)
        # the padded slots add exactly 0.0; only the summation order can differ
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-14, atol=1e-16)


def test_masked_slots_contribute_zero_whatever_they_hold():
    """A slot switched off by the mask is replaced by safe values, even if it holds garbage."""
    arr = _arrays(3)
    batch = HaloBatch.from_arrays(mp.NFWTruncatedSph, capacity=8, **arr)
    prof = batch.profile
    garbage = mp.NFWTruncatedSph.__new__(mp.NFWTruncatedSph)
    for name in ("centre", "kappa_s", "scale_radius", "truncation_radius"):
        v = np.array(getattr(prof, name))
        v[5] = np.nan if name != "centre" else [np.nan, np.inf]
        object.__setattr__(garbage, name, v)
    dirty = HaloBatch(profile=garbage, mask=batch.mask)
    grid = np.random.default_rng(2).uniform(-2, 2, size=(10, 2))
    np.testing.assert_array_equal(dirty.deflections_yx_2d_from(grid), batch.deflections_yx_2d_from(grid))


def test_padding_keeps_gradients_finite_and_zero():
    jax = pytest.importorskip("jax")
    batch = HaloBatch.from_arrays(mp.NFWTruncatedSph, capacity=8, **_arrays(3))
    grid = jax.numpy.asarray(np.random.default_rng(3).uniform(-2, 2, size=(25, 2)))
    grads = jax.grad(lambda b: jax.numpy.sum(b.deflections_yx_2d_from(grid) ** 2))(batch)
    for name in ("kappa_s", "scale_radius", "truncation_radius", "centre"):
        g = np.asarray(getattr(grads.profile, name))
        assert np.all(np.isfinite(g)), name
        assert np.all(g[3:] == 0.0), f"padded slots of {name} have a gradient"
        assert np.any(g[:3] != 0.0), f"real haloes of {name} have no gradient"


def test_from_profiles_equals_from_arrays():
    arr = _arrays(4)
    profs = [mp.NFWTruncatedSph(**{k: v[i] for k, v in arr.items()}) for i in range(4)]
    a = HaloBatch.from_profiles(profs)
    b = HaloBatch.from_arrays(mp.NFWTruncatedSph, **arr)
    for name in arr:
        np.testing.assert_array_equal(getattr(a.profile, name), getattr(b.profile, name))
    np.testing.assert_array_equal(a.mask, b.mask)


def test_from_profiles_rejects_mixed_kinds_and_empty():
    with pytest.raises(ValueError, match="one profile kind"):
        HaloBatch.from_profiles([mp.NFWSph(kappa_s=0.1, scale_radius=1.0), mp.PointMass(einstein_radius=0.1)])
    with pytest.raises(ValueError, match="at least one profile"):
        HaloBatch.from_profiles([])


def test_from_arrays_validates_values():
    arr = _arrays(3)
    arr["scale_radius"][1] = -0.2
    message = r"NFWTruncatedSph.scale_radius must be in \(0, inf\).*got -0.2 \(halo 1 of 3\)"
    with pytest.raises(ValueError, match=message):
        HaloBatch.from_arrays(mp.NFWTruncatedSph, **arr)


def test_mask_shape_must_match():
    arr = _arrays(3)
    with pytest.raises(ValueError, match="mask has shape"):
        HaloBatch(profile=mp.NFWTruncatedSph(**arr), mask=np.ones(4))


def test_concatenated_batches_give_the_sum_of_their_fields():
    """A plane's batches evaluated as one (the tracer's one copy of the profile code) give the
    sum of the batches' fields, padded slots in the middle included (float64 rounding)."""
    rng = np.random.default_rng(5)

    def batch(n, cap):
        return random_tnfw_batch(rng, n, cap, spread=1.0, kappa_s=(0.01, 0.1), scale_radius=(0.05, 0.5),
                                 truncation_radius=(0.5, 3.0))

    a, b = batch(3, 8), batch(5, 16)
    both = concatenate_batches([a, b])
    assert both.capacity == 24
    grid = rng.uniform(-1.5, 1.5, size=(50, 2))
    np.testing.assert_allclose(both.deflections_yx_2d_from(grid),
                               a.deflections_yx_2d_from(grid) + b.deflections_yx_2d_from(grid),
                               rtol=1e-13, atol=1e-15, err_msg="a sum over haloes in another order")
    with pytest.raises(ValueError, match="differs"):
        concatenate_batches([a, HaloBatch.from_arrays(mp.NFWSph, capacity=8, centre=np.zeros((1, 2)),
                                                      kappa_s=[0.1], scale_radius=[0.2])])
