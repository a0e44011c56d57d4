"""Poisson noise (xlens/imaging/noise.py): statistics and reproducibility from keys."""

from __future__ import annotations

import numpy as np
import pytest

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


def _draw(engine_name, image, key_seed, t, sky, read_noise=0.0, dtype="float64"):
    from xlens import engine

    if engine_name == "numpy":
        out = add_poisson_noise(image, key_seed, t, sky, read_noise)
        return np.asarray(out.data, dtype=np.float64), np.asarray(out.noise_map, dtype=np.float64)
    import jax

    with engine.float64_scope():
        fn = jax.jit(lambda img, k: add_poisson_noise(img, k, t, sky, read_noise))
        out = fn(jax.numpy.asarray(image, dtype=dtype), jax.random.key(key_seed))
        return np.asarray(out.data, dtype=np.float64), np.asarray(out.noise_map, dtype=np.float64)


@pytest.mark.parametrize(("engine_name", "dtype"), [
    ("numpy", "float64"),
    pytest.param("jax", "float64", marks=pytest.mark.jax),
    pytest.param("jax", "float32", marks=pytest.mark.jax),
])
@pytest.mark.parametrize("counts", [1e3, 1e6, 1e8, 1e9])
def test_noise_variance_holds_to_1e9_counts_per_pixel(engine_name, dtype, counts):
    """std(data) / noise map = 1 for sky-only images up to 1e9 counts (it was 1.23 at 1e8 and
    -sky everywhere at 1e23 in float32). 128 x 128 pixels: the sample std has a relative error
    of 1/sqrt(2 N) = 0.55%, so 3% is 5 of them; the mean is within 5 standard errors."""
    if engine_name == "jax":
        pytest.importorskip("jax")
    t = 10.0
    sky = counts / t
    data, noise = _draw(engine_name, np.zeros((128, 128)), 3, t, sky, dtype=dtype)
    assert abs(data.std() / noise.mean() - 1.0) < 0.03, data.std() / noise.mean()
    assert abs(data.mean()) < 5.0 * noise.mean() / 128.0


@pytest.mark.jax
def test_counts_above_the_limit_are_refused():
    import jax

    from xlens import engine
    from xlens.imaging.noise import MAX_EXPECTED_COUNTS

    with pytest.raises(ValueError, match=r"reaches 1e\+23 e- in a pixel; the noise is drawn for counts in \[0, 1e\+09\]"
                       ):
        add_poisson_noise(np.zeros((2, 2)), 0, 1.0, 1e23)
    with engine.float64_scope():
        out = jax.jit(lambda img, k: add_poisson_noise(img, k, 1.0, 1e23))(jax.numpy.zeros((2, 2)), jax.random.key(0))
    assert np.all(np.isnan(np.asarray(out.data)))  # inside jit: NaN, never a silent -sky
    assert MAX_EXPECTED_COUNTS == 1e9


@pytest.mark.parametrize("engine_name", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_read_noise_adds_its_variance_and_zero_changes_nothing(engine_name):
    """Var[data] t^2 = (image + sky) t + r^2; the noise map is sqrt(|data + sky| t + r^2)/t;
    read_noise = 0 gives the draws without it, bit for bit."""
    if engine_name == "jax":
        pytest.importorskip("jax")
    t, sky, r = 100.0, 0.5, 12.0
    image = np.full((128, 128), 2.0)
    data, noise = _draw(engine_name, image, 5, t, sky, r)
    want = np.sqrt((2.0 + sky) * t + r * r) / t
    assert abs(data.std() / want - 1.0) < 0.03
    np.testing.assert_allclose(noise, np.sqrt(np.abs(data + sky) * t + r * r) / t, rtol=1e-6)
    plain = _draw(engine_name, image, 5, t, sky)
    zero = _draw(engine_name, image, 5, t, sky, 0.0)
    np.testing.assert_array_equal(plain[0], zero[0])
    with pytest.raises(ValueError, match=r"read_noise must be in \[0, inf\) \[e- per pixel\]; got -1"):
        from xlens.model import SimulatorConfig

        SimulatorConfig(read_noise=-1.0)
