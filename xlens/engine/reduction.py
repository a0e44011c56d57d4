"""The chunked reduction over haloes: one broadcast-and-sum per chunk, never a loop per halo.

A plane's deflection is the sum of ``n_halo`` fields on ``n_points`` rays. Evaluating
all of them at once materialises ``n_halo x n_points`` temporaries per profile array;
:func:`halo_sum` bounds that by summing the halo axis in chunks (a Python loop of
slices on NumPy, a ``lax.scan`` on JAX) and skips chunks that hold only padding.

The chunk size is :data:`HALO_BLOCK_ELEMENTS`, read from this module at each call,
so a benchmark can change it for the whole process::

    import xlens.engine.reduction
    xlens.engine.reduction.HALO_BLOCK_ELEMENTS = 2**16

(the package ``xlens.engine`` does not re-export the constant, so that nobody sets a
copy that :func:`halo_sum` never reads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .backend import import_jax, is_jax

__all__ = ["HALO_BLOCK_ELEMENTS", "halo_sum"]

#: Largest number of (halo x point) elements that one chunk of the halo
#: reduction materialises. Temporaries of a profile are ~20 arrays of this size,
#: so 2**17 float64 elements keep a chunk near 20 MiB. Measured on the 2-core CPU
#: (default model, JAX float32, fast path, median of 5): 2**16: 0.50 s, 2**17: 0.36 s,
#: 2**18: 0.41 s, 2**19: 0.42 s, 2**20: 0.50 s per image (smaller chunks waste fewer
#: padded slots when all-padding chunks are skipped; too small ones pay per-chunk overhead).
HALO_BLOCK_ELEMENTS = 2**17


def halo_sum(
    fn: Callable,
    params: Sequence,
    n_halo: int,
    n_points: int,
    *,
    xp,
    block: int | None = None,
    active=None,
):
    """Sum the fields of ``n_halo`` haloes, evaluating the halo axis in chunks.

    Parameters
    ----------
    fn : callable
        ``fn(*chunk_params) -> array or tuple of arrays``, each of shape
        ``(h, n_points, ...)`` for a chunk of ``h`` haloes. Every parameter
        arrives with shape ``(h, 1)`` (or ``(h, 1, k)`` for vector parameters).
    params : sequence of arrays
        Per-halo parameters, each with leading axis ``n_halo``.
    n_halo, n_points : int
        Static sizes.
    xp : namespace
    block : int, optional
        Maximum ``h * n_points`` per chunk (default :data:`HALO_BLOCK_ELEMENTS`,
        read from this module at each call).
    active : array, shape (n_halo,), optional
        1 for haloes that contribute, 0 for padded slots (which must contribute
        exactly zero). A chunk with no active halo is skipped (``lax.cond`` on
        JAX; under ``vmap`` both branches run, which costs nothing extra).

    Returns
    -------
    array or tuple of arrays
        The sum over haloes, each of shape ``(n_points, ...)``.

    Notes
    -----
    On NumPy the chunks are a Python loop over slices; on JAX a ``lax.scan``
    over chunks whose tail is padded with copies of halo 0 weighted by 0 (so the
    padding adds exactly zero and keeps gradients finite). The reduction over
    haloes is never a loop over individual haloes.
    """
    block = HALO_BLOCK_ELEMENTS if block is None else block
    chunk = max(1, min(n_halo, block // max(n_points, 1)))
    expand = [_expand_param(p, xp) for p in params]

    def reduce(out):
        if isinstance(out, tuple):
            return tuple(xp.sum(o, axis=0) for o in out)
        return xp.sum(out, axis=0)

    if chunk >= n_halo:
        return reduce(fn(*expand))

    if not is_jax(xp):
        total = None
        for start in range(0, n_halo, chunk):
            if total is not None and active is not None and not np.any(np.asarray(active[start : start + chunk])):
                continue  # only padded slots: they add exactly zero
            part = reduce(fn(*(p[start : start + chunk] for p in expand)))
            total = part if total is None else _add(total, part)
        return total

    jnp = xp
    n_chunks = -(-n_halo // chunk)
    pad = n_chunks * chunk - n_halo
    dtype = expand[0].dtype

    def padded(p):
        if pad:
            p = jnp.concatenate([p, jnp.broadcast_to(p[:1], (pad, *p.shape[1:]))], axis=0)
        return jnp.reshape(p, (n_chunks, chunk, *p.shape[1:]))

    weight = jnp.concatenate([jnp.ones(n_halo, dtype=dtype), jnp.zeros(pad, dtype=dtype)])
    weight = jnp.reshape(weight, (n_chunks, chunk))
    chunks = tuple(padded(p) for p in expand)
    act = weight if active is None else weight * padded(jnp.astype(jnp.asarray(active), dtype))
    jax = import_jax()
    lax = jax.lax

    def weighted(w, out):
        return jnp.sum(w[(slice(None),) + (None,) * (out.ndim - 1)] * out, axis=0)

    def body(carry, xs):
        w, a, ps = xs

        def compute(carry):
            # rematerialise each chunk in the backward pass instead of storing its temporaries for
            # every chunk of the scan: the value-and-gradient of the default model's likelihood
            # took 35.7 s against 0.86 s forward with stored residuals (GiB of them); with
            # checkpointing it costs 1.6-2.4x the forward (docs/inference.md). No effect without AD.
            out = jax.checkpoint(fn, prevent_cse=False)(*ps)
            if isinstance(out, tuple):
                return tuple(c + weighted(w, o) for c, o in zip(carry, out, strict=True))
            return carry + weighted(w, out)

        return lax.cond(jnp.any(a > 0), compute, lambda c: c, carry), None

    probe = jax.eval_shape(lambda *ps: fn(*ps), *(c[0] for c in chunks))
    if isinstance(probe, tuple):
        init = tuple(jnp.zeros(s.shape[1:], dtype=s.dtype) for s in probe)
    else:
        init = jnp.zeros(probe.shape[1:], dtype=probe.dtype)
    total, _ = lax.scan(body, init, (weight, act, chunks))
    return total


def _expand_param(p, xp):
    """(H,) -> (H, 1); (H, k) -> (H, 1, k): halo axis against the point axis."""
    if p.ndim == 1:
        return p[:, None]
    return p[:, None, ...]


def _add(a, b):
    """Add two chunk sums (arrays, or tuples of arrays)."""
    if isinstance(a, tuple):
        return tuple(x + y for x, y in zip(a, b, strict=True))
    return a + b
