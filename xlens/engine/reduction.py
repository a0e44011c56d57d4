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

__all__ = ["HALO_BLOCK_ELEMENTS", "halo_scan", "halo_sum"]

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

    def add(total, ps, weight):
        out = fn(*ps)

        def weighted(o):
            return xp.sum(xp.reshape(weight, weight.shape + (1,) * (o.ndim - 1)) * o, axis=0)

        part = tuple(weighted(o) for o in out) if isinstance(out, tuple) else weighted(out)
        return part if total is None else _add(total, part)

    if is_jax(xp):
        jax = import_jax()
        # rematerialise each chunk in the backward pass instead of storing its temporaries for
        # every chunk of the scan: the value-and-gradient of the default model's likelihood
        # took 35.7 s against 0.86 s forward with stored residuals (GiB of them); with
        # checkpointing it costs 1.6-2.4x the forward (docs/inference.md). No effect without AD.
        probe = jax.eval_shape(lambda *ps: fn(*ps), *(p[:chunk] for p in expand))
        init = (tuple(xp.zeros(s.shape[1:], dtype=s.dtype) for s in probe) if isinstance(probe, tuple)
                else xp.zeros(probe.shape[1:], dtype=probe.dtype))
    else:
        init = None  # the first chunk's sum (the first chunk is never skipped on NumPy)
    return halo_scan(add, init, expand, chunk, xp=xp, active=active)


def halo_scan(fn: Callable, init, params: Sequence, chunk: int, *, xp, active=None):
    """Fold ``fn(carry, chunk_params, weight) -> carry`` over the haloes in chunks of ``chunk``.

    The loop of :func:`halo_sum`, for reductions that are not a plain sum (e.g. a scatter of
    per-halo windows, ``xlens.tracer.fast_path``). ``params`` are per-halo arrays with a
    leading axis of the haloes; ``fn`` receives each chunk's slices and ``weight`` (its
    haloes' ``active``, 1 without it, and 0 for padding), by which it must scale what a halo
    adds. A chunk whose weights are all 0 is skipped (except the first on NumPy, so that a
    carry of ``None`` gets its value). On NumPy a Python loop over slices (the last may be
    shorter); on JAX a ``lax.scan`` over chunks whose tail is padded with copies of halo 0
    (weight 0, so gradients stay finite), each chunk under ``lax.cond`` (under ``vmap`` both
    branches run) and ``jax.checkpoint`` (its temporaries are recomputed in the backward pass,
    not stored for every chunk). Never a loop over individual haloes.
    """
    n_halo = int(params[0].shape[0])
    dtype = params[0].dtype
    if not is_jax(xp):
        act = np.ones(n_halo) if active is None else np.asarray(active)
        carry = init
        for start in range(0, n_halo, chunk):
            w = xp.asarray(act[start : start + chunk], dtype=dtype)
            if start > 0 and not np.any(act[start : start + chunk]):
                continue  # only padded slots: they add exactly zero
            carry = fn(carry, tuple(p[start : start + chunk] for p in params), w)
        return carry

    jnp = xp
    jax = import_jax()
    n_chunks = -(-n_halo // chunk)
    pad = n_chunks * chunk - n_halo

    def padded(p):
        if pad:
            p = jnp.concatenate([p, jnp.broadcast_to(p[:1], (pad, *p.shape[1:]))], axis=0)
        return jnp.reshape(p, (n_chunks, chunk, *p.shape[1:]))

    act = jnp.ones(n_halo, dtype=dtype) if active is None else jnp.astype(jnp.asarray(active), dtype)
    weight = jnp.reshape(jnp.concatenate([act, jnp.zeros(pad, dtype=dtype)]), (n_chunks, chunk))
    chunks = tuple(padded(p) for p in params)
    step = jax.checkpoint(fn, prevent_cse=False)

    def body(carry, xs):
        w, ps = xs
        return jax.lax.cond(jnp.any(w > 0), lambda c: step(c, ps, w), lambda c: c, carry), None

    return jax.lax.scan(body, init, (weight, chunks))[0]


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
