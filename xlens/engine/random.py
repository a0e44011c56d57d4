"""Random keys on both engines: one sampler, explicit keys, the same draw for the same key.

Everything in xlens that draws random numbers takes a key. On JAX a key is a
``jax.random`` key. On NumPy a key is an integer (or integer array, or
``SeedSequence``) mapped to a counter-based Philox generator, so NumPy draws are
reproducible and splittable too; a ``numpy.random.Generator`` is accepted and
consumed. :func:`random_ops` gives the few operations the samplers need for the
engine of a key.

``uniform`` draws float64 on both engines: on JAX that needs float64 enabled
(inside :func:`xlens.engine.jit` or :func:`xlens.engine.float64_scope`).
"""

from __future__ import annotations

import math

import numpy as np

from .backend import check_engine, get_xp, import_jax, jax_available

__all__ = ["default_key", "index_keys", "key_engine", "numpy_generator", "random_ops", "split_key"]


def key_engine(key) -> str:
    """The engine a key belongs to: ``"jax"`` for JAX keys (and tracers), else ``"numpy"``.

    NumPy keys are Python or NumPy integers, NumPy integer arrays, a
    ``numpy.random.SeedSequence`` or a ``numpy.random.Generator``. Integers,
    arrays and seed sequences are mapped to a counter-based Philox generator, so
    the same key gives the same draw; a ``Generator`` is consumed (each use draws anew).
    """
    numpy_keys = np.random.Generator | np.random.SeedSequence | int | np.integer | np.ndarray
    if isinstance(key, numpy_keys):
        return "numpy"
    if jax_available() and isinstance(key, import_jax().Array):
        return "jax"
    raise TypeError(
        "a key must be a JAX key (jax.random.key / PRNGKey) or a NumPy key "
        f"(int, integer array, SeedSequence or numpy.random.Generator); got {type(key).__name__}"
    )


def numpy_generator(key) -> np.random.Generator:
    """The Philox generator of a NumPy key (a ``Generator`` is returned as it is)."""
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, np.random.SeedSequence):
        return np.random.Generator(np.random.Philox(key))
    entropy = np.asarray(key)
    if not np.issubdtype(entropy.dtype, np.integer) or np.any(entropy < 0):
        raise TypeError(f"a NumPy key must hold non-negative integers; got {key!r}")
    seed = int(entropy) if entropy.ndim == 0 else [int(v) for v in entropy.ravel()]
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(seed)))


#: Poisson means above this are drawn from the normal approximation
#: ``floor(lam + sqrt(lam) z + 1/2)`` in float64: its mean and variance are exact (plus the 1/12
#: of the rounding) and its CDF differs from the Poisson one by the skewness term, at most
#: ~0.07/sqrt(lam) < 3e-4 here. ``jax.random.poisson`` loses its variance above ~1e6 (2% off at
#: 1e6, 46% at 1e8, measured over 2e5 draws), and both engines must share one algorithm.
POISSON_NORMAL_ABOVE = 1e5


def _normal_counts(lam, z, xp):
    """``max(floor(lam + sqrt(lam) z + 1/2), 0)``: the normal approximation of Poisson(lam)."""
    return xp.maximum(xp.floor(lam + xp.sqrt(xp.maximum(lam, 0.0)) * z + 0.5), 0.0)


class _NumpyRandom:
    xp = get_xp("numpy")

    @staticmethod
    def split(key, num: int) -> list:
        return list(numpy_generator(key).spawn(num))

    @staticmethod
    def uniform(key, shape):
        return numpy_generator(key).random(shape)

    @staticmethod
    def normal(key, shape, stream: int):
        """Standard normals from child ``stream`` (>= 1) of the key: a stream of its own."""
        return numpy_generator(key).spawn(stream)[stream - 1].standard_normal(shape)

    @staticmethod
    def poisson(key, lam):
        lam = np.asarray(lam)
        lam64 = lam.astype(np.float64)
        small = lam64 <= POISSON_NORMAL_ABOVE
        gen = numpy_generator(key)
        counts = gen.poisson(np.where(small, lam64, 0.0)).astype(np.float64)
        if not np.all(small):  # a stream of its own: the small means' draws are unchanged
            z = _NumpyRandom.normal(key if not isinstance(key, np.random.Generator) else gen, lam64.shape, 1)
            counts = np.where(small, counts, _normal_counts(lam64, z, np))
        return counts.astype(lam.dtype)


class _JaxRandom:
    def __init__(self):
        self.jax = import_jax()
        self.xp = self.jax.numpy

    def split(self, key, num: int) -> list:
        keys = self.jax.random.split(key, num)
        return [keys[i] for i in range(num)]

    def uniform(self, key, shape):
        return self.jax.random.uniform(key, shape, dtype=self.xp.float64)

    def normal(self, key, shape, stream: int):
        """Standard normals (float64) from ``fold_in(key, stream)`` (>= 1): a stream of its own."""
        return self.jax.random.normal(self.jax.random.fold_in(key, stream), shape, dtype=self.xp.float64)

    def poisson(self, key, lam):
        xp = self.xp
        lam = xp.asarray(lam)
        lam64 = xp.astype(lam, xp.float64)
        small = lam64 <= POISSON_NORMAL_ABOVE
        counts, z = _poisson_one_loop(self.jax, key, xp.where(small, lam64, 0.0))
        return xp.astype(xp.where(small, counts, _normal_counts(lam64, z, xp)), lam.dtype)


#: Iterations after which :func:`_poisson_one_loop` gives up on a pixel (NaN): at an
#: acceptance of >= 0.6 per try for means >= 10, and ~mean + a few sqrt(mean) steps below 10,
#: a valid mean needs it with probability < 1e-200.
POISSON_MAX_ITERATIONS = 1000


def _poisson_one_loop(jax, key, lam):
    """Poisson counts of mean ``lam`` (float, 0 <= lam <= :data:`POISSON_NORMAL_ABOVE`), exactly,
    in one ``while_loop``, and standard normals of the same shape for the pixels that take the
    normal approximation. Returns ``(counts, z)`` as floats of ``lam``'s dtype (counts NaN where
    ``lam`` is NaN); z comes from the first iteration's pair of uniforms (Box-Muller), which a
    pixel of mean 0 (where the normal approximation is used, its mean is set to 0 here) uses
    for nothing else.

    Means >= 10 use Hormann's transformed rejection with squeeze, PTRS (W. Hormann 1993, "The
    transformed rejection method for generating Poisson random variables", Insurance:
    Mathematics and Economics 12, 39-45): one pair of uniforms per try, accepted with
    probability ~0.9. Smaller means count the factors of a running product of uniforms that
    stays above exp(-lam) (Knuth, TAOCP vol. 2, 3.4.1), one uniform per step. Every pixel takes
    one step of its own method per iteration, from one draw of a pair of uniforms, so the
    compiled program holds one loop and two random-bit generators (the same methods as
    ``jax.random.poisson``, which compiles a loop for each, each with three generators, and the
    normals two more; every generator is a loop of its own on the CPU: about -0.35 s of the
    default model's compile, docs/performance.md). The rejection's log-probability
    is computed in ``lam``'s dtype: float64 inside xlens's float64 scope, where the
    cancellation of its ~lam log(lam) terms costs nothing. The uniforms are float32 (24 random
    bits): the steps' random bits cost half, and the grid of 2^-24 changes the candidates'
    probabilities by ~1e-7 at most and truncates the normals at 5.8 sigma (a mass of 8e-9).
    """
    xp = jax.numpy
    dtype = lam.dtype
    small = ~(lam >= 10.0)  # NaN: the product method, which stops at once; NaN restored below
    lam_k = xp.where(small, lam, 0.0)
    lam_r = xp.where(small, 10.0, lam)  # a valid mean where unused
    log_lam = xp.log(lam_r)
    b = 0.931 + 2.53 * xp.sqrt(lam_r)
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)

    def body(carry):
        i, key, k, log_prod, done, z = carry
        key, sub = jax.random.split(key)
        # float32 uniforms (24 random bits each, half the random bits of float64 ones: -25% per
        # step, docs/performance.md "Issue 16, round 4"), then the method in lam's dtype
        uv = xp.astype(jax.random.uniform(sub, (2, *lam.shape), xp.float32), dtype)
        u, v = uv[0] - 0.5, uv[1]
        # Box-Muller on the first pair (1 - uv[0] is in (0, 1])
        z = xp.where(i == 0, xp.sqrt(-2.0 * xp.log1p(-uv[0])) * xp.cos(2.0 * math.pi * v), z)
        # product method: one more factor; the count grows while the product exceeds exp(-lam)
        log_prod = log_prod + xp.log(v)
        above = log_prod > -lam_k
        # transformed rejection: a candidate, its squeeze and its exact test
        us = 0.5 - xp.abs(u)
        cand = xp.floor((2.0 * a / us + b) * u + lam_r + 0.43)
        log_ratio = xp.log(v * inv_alpha / (a / (us * us) + b))
        log_pmf = -lam_r + cand * log_lam - jax.lax.lgamma(cand + 1.0)
        squeeze = (us >= 0.07) & (v <= v_r)
        reject = (cand < 0.0) | ((us < 0.013) & (v > us))
        accept = squeeze | (~reject & (log_ratio <= log_pmf))
        new_k = xp.where(small, xp.where(above, k + 1.0, k), xp.where(accept, cand, k))
        k = xp.where(done, k, new_k)
        done = done | xp.where(small, ~above, accept)
        return i + 1, key, k, log_prod, done, z

    def cond(carry):
        return (carry[0] < POISSON_MAX_ITERATIONS) & ~xp.all(carry[4])

    zero = xp.zeros(lam.shape, dtype)
    start = (xp.asarray(0), key, zero, zero, xp.zeros(lam.shape, bool), zero)
    _, _, k, _, done, z = jax.lax.while_loop(cond, body, start)
    return xp.where(done & ~xp.isnan(lam), k, xp.nan), z


def random_ops(key):
    """``split``, ``uniform``, ``normal`` and ``poisson`` for the engine of ``key`` (with its ``xp``)."""
    return _JaxRandom() if key_engine(key) == "jax" else _NumpyRandom()


def split_key(key, num: int) -> list:
    """Split a key into ``num`` independent keys of the same engine.

    ``jax.random.split`` for JAX keys; ``Generator.spawn`` (Philox) for NumPy keys.
    """
    return random_ops(key).split(key, int(num))


def default_key(engine: str, seed: int = 0):
    """A random key of the engine: ``jax.random.key(seed)`` or the NumPy key ``seed``."""
    if check_engine(engine) == "jax":
        return import_jax().random.key(seed)
    return seed


def index_keys(seed: int, indices, engine: str):
    """One key per dataset index, derived from ``(seed, index)`` alone.

    JAX: ``jax.random.fold_in(jax.random.key(seed), index)`` (a batch of typed keys);
    NumPy: the Philox key ``[seed, index]`` (an ``(n, 2)`` integer array, one row per key).
    Image ``i`` of a dataset therefore does not depend on the batch it was drawn in.
    """
    idx = np.asarray(indices, dtype=np.int64).reshape(-1)
    if np.any(idx < 0) or np.any(idx >= 2**32):
        raise ValueError(f"index_keys: indices must be in [0, 2**32); got {idx.min()}..{idx.max()}")
    if check_engine(engine) == "jax":
        jax = import_jax()
        base = jax.random.key(int(seed))
        return jax.vmap(lambda i: jax.random.fold_in(base, i))(jax.numpy.asarray(idx, dtype=jax.numpy.uint32))
    return np.stack([np.full(idx.shape, int(seed), dtype=np.int64), idx], axis=-1)
