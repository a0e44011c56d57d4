"""engine.precision and engine.compilation_cache: scoped float64, an opt-in cache."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from xlens import engine


def test_float64_scope_enables_float64_for_its_block_only():
    """This test turns the flag off for its own thread (conftest turns it on for the suite)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with jax.enable_x64(False):
        with pytest.warns(UserWarning, match="float64"):  # what a user sees without x64
            assert jnp.asarray(1.0, dtype=jnp.float64).dtype == np.float32
        with engine.float64_scope():
            x = jnp.asarray(1.0, dtype=jnp.float64)
            assert x.dtype == np.float64 and (x * 2).dtype == np.float64
            assert jnp.ones(1, dtype=jnp.float32).dtype == np.float32
            with engine.float64_scope():  # nesting is harmless
                pass
            assert jax.config.read("jax_enable_x64")
        assert not jax.config.read("jax_enable_x64")
        assert x.dtype == np.float64  # arrays made inside keep their dtype
        assert jnp.ones(1).dtype == np.float32


def test_float64_scope_is_per_thread():
    jax = pytest.importorskip("jax")
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        with jax.enable_x64(False):
            inside.wait(10)
            seen["other"] = jax.config.read("jax_enable_x64")
            done.set()

    with jax.enable_x64(False):
        t = threading.Thread(target=other)
        t.start()
        with engine.float64_scope():
            inside.set()
            done.wait(10)
        t.join(10)
    assert seen == {"other": False}


def test_scoped_decorator_runs_in_the_scope():
    jax = pytest.importorskip("jax")

    @engine.scoped
    def make(n):
        """Docstring kept."""
        return jax.numpy.zeros(n, dtype=jax.numpy.float64)

    assert make.__doc__ == "Docstring kept." and make.__name__ == "make"
    with jax.enable_x64(False):
        assert make(2).dtype == np.float64
        assert not jax.config.read("jax_enable_x64")


def test_compilation_cache_location_and_opt_out(monkeypatch, tmp_path):
    monkeypatch.setenv("XLENS_COMPILATION_CACHE", "off")
    assert engine.compilation_cache_dir() is None
    monkeypatch.setenv("XLENS_COMPILATION_CACHE", str(tmp_path))
    assert engine.compilation_cache_dir() == str(tmp_path)
    monkeypatch.delenv("XLENS_COMPILATION_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine.compilation_cache_dir() == str(tmp_path / "xlens" / "jax")
