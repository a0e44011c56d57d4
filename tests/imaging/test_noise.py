"""Poisson noise (xlens/imaging/noise.py): statistics and reproducibility from keys."""

from __future__ import annotations

import numpy as np

from xlens.imaging import add_poisson_noise


def test_poisson_noise_statistics():
    """Mean and variance of many noise draws match the Poisson model.

    2e5 draws per pixel value: the sample mean has relative standard error
    sqrt(Var/N)/B ~ 1e-3 here; 5 standard errors gives a false-alarm rate ~1e-6.
    """
    image = np.array([[0.0, 0.5], [2.0, 10.0]])
    t, sky, n = 100.0, 0.3, 200_000
    rng = np.random.default_rng(7)
    draws = add_poisson_noise(np.broadcast_to(image, (n, 2, 2)), rng, t, sky)
    var = (image + sky) / t
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(draws.data.mean(0) - image) < 5 * se_mean)
    # the variance of a sample variance is ~2 var^2 / n for near-Gaussian counts
    assert np.all(np.abs(draws.data.var(0) - var) < 5 * np.sqrt(2 / n) * var)
    assert np.all(np.abs((draws.noise_map**2).mean(0) - var) < 5 * np.sqrt(2 / n) * var + 1e-12)


def test_noise_is_reproducible_from_keys(backend):
    image = backend.asarray(np.full((4, 4), 1.5))
    if backend.engine == "jax":
        import jax

        k1, k2 = jax.random.key(1), jax.random.key(2)
    else:
        k1, k2 = 1, 2
    a = add_poisson_noise(image, k1, 1000.0, 0.1).data
    b = add_poisson_noise(image, k1, 1000.0, 0.1).data
    c = add_poisson_noise(image, k2, 1000.0, 0.1).data
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
