"""Engine, dtype and jit fixtures: every test that takes ``xp`` runs on every engine."""

from __future__ import annotations

import os

import hypothesis
import numpy as np
import pytest

from xlens import engine

# xlens itself never turns on float64 for the whole process (a library must not change
# global JAX state; it enables float64 only inside engine.jit and engine.float64_scope).
# The test suite is an application, and its tests build float64 JAX arrays eagerly
# (backend.asarray, reference grids, expected values), so it turns float64 on for the
# test process here. tests/engine/test_global_state.py checks, in a fresh subprocess,
# that importing and running xlens changes no JAX configuration.
if engine.jax_available():
    engine.import_jax().config.update("jax_enable_x64", True)

hypothesis.settings.register_profile(
    "xlens", derandomize=True, database=None, deadline=None, max_examples=25
)
hypothesis.settings.load_profile(os.environ.get("XLENS_HYPOTHESIS_PROFILE", "xlens"))

needs_jax = pytest.mark.skipif(not engine.jax_available(), reason="JAX is not installed")

ENGINES = [
    pytest.param(("numpy", "float64"), id="numpy"),
    # arrays built read-only: an in-place write fails on NumPy as it would on JAX
    pytest.param(("numpy-readonly", "float64"), id="numpy-ro"),
    pytest.param(("jax", "float64"), id="jax", marks=[pytest.mark.jax, needs_jax]),
]
#: float32 is the JAX production precision; NumPy is the float64 reference only.
ENGINES_AND_F32 = [
    *ENGINES,
    pytest.param(("jax", "float32"), id="jax-f32", marks=[pytest.mark.jax, needs_jax]),
]


_JIT_CACHE: dict = {}


class Backend:
    """What a test needs to know about one engine and dtype."""

    def __init__(self, name: str, dtype: str = "float64"):
        self.name = name
        self.dtype = dtype
        self.engine = "jax" if name == "jax" else "numpy"
        self.xp = engine.get_xp(self.engine)

    def asarray(self, x, dtype=None):
        arr = np.asarray(x, dtype=self.dtype if dtype is None else dtype)
        if self.name == "numpy-readonly":
            arr = arr.copy()
            arr.setflags(write=False)
            return arr
        return self.xp.asarray(arr)

    def jit(self, fn):
        """``jax.jit`` on JAX (cached per function, so module-level functions compile
        once per input structure across tests); the function itself on NumPy."""
        if self.engine != "jax":
            return fn
        if fn not in _JIT_CACHE:
            _JIT_CACHE[fn] = engine.jit(fn, "jax")
        return _JIT_CACHE[fn]

    def __repr__(self) -> str:
        return f"Backend({self.name}, {self.dtype})"


@pytest.fixture(params=ENGINES)
def backend(request) -> Backend:
    """Every engine in float64 (the reference precision)."""
    return Backend(*request.param)


@pytest.fixture(params=ENGINES_AND_F32)
def backend32(request) -> Backend:
    """Every engine in float64, plus JAX in float32 (tests with float32 tolerances)."""
    return Backend(*request.param)


@pytest.fixture
def xp(backend):
    return backend.xp
