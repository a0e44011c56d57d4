"""Interpolation on the uniform tables of the halo model, evaluated in ``xp`` (jittable).

Why a module of its own: the linear-theory tables (sigma(M), D(z)) and the
concentration table are built once in NumPy and read inside ``jit`` by the same
cubic Hermite interpolants; the cored-NFW quantities of the halo model and of
:mod:`xlens.profiles.mass.nfw` share one quadratic interpolation about the core
fraction f = 1, where their closed forms cancel (PHYSICS.md §10.2).
"""

from __future__ import annotations

import numpy as np

from .. import engine

__all__ = [
    "CORE_F1_HALF_WIDTH",
    "as_float64_arrays",
    "hermite_1d",
    "hermite_2d",
    "input_namespace",
    "interpolate_about_f1",
]

#: Half-width in f = r_c / r_s of the band about f = 1 where cored-NFW quantities are
#: interpolated quadratically (PHYSICS.md §10.2: the 1/(1-f)^2 forms cancel there).
CORE_F1_HALF_WIDTH = 0.01


def _cell(x, x0: float, dx: float, n: int, *, xp):
    """Cell index i (clamped to [0, n-2]) and offset t in [0, 1] of x on a uniform grid."""
    u = xp.clip((x - x0) / dx, 0.0, float(n - 1))
    i = xp.clip(xp.floor(u), 0.0, float(n - 2))
    return xp.astype(i, xp.int64), u - i


def _hermite_basis(t):
    """Cubic Hermite basis (h00, h01, h10, h11) on [0, 1]: values then slopes."""
    t2 = t * t
    return (
        (1.0 + 2.0 * t) * (1.0 - t) ** 2,
        t2 * (3.0 - 2.0 * t),
        t * (1.0 - t) ** 2,
        t2 * (t - 1.0),
    )


def _gather(table, index, *, xp):
    """table[index] for a 1D table and an index array of any shape (array-API ``take`` is 1D)."""
    return xp.reshape(xp.take(table, xp.reshape(index, (-1,)), axis=0), index.shape)


def hermite_1d(x, x0, dx, values, slopes, *, xp):
    """Cubic Hermite interpolation of knot values and slopes (a spline when slopes are)."""
    i, t = _cell(x, x0, dx, values.shape[0], xp=xp)
    h00, h01, h10, h11 = _hermite_basis(t)
    values = xp.asarray(values, dtype=xp.float64)
    slopes = xp.asarray(slopes, dtype=xp.float64)
    return (
        h00 * _gather(values, i, xp=xp)
        + h01 * _gather(values, i + 1, xp=xp)
        + dx * (h10 * _gather(slopes, i, xp=xp) + h11 * _gather(slopes, i + 1, xp=xp))
    )


def hermite_2d(x, y, x0, dx, y0, dy, f, fx, fy, fxy, *, xp):
    """Bicubic Hermite interpolation from f, df/dx, df/dy, d2f/dxdy at the knots (C1)."""
    n_x, n_y = f.shape
    i, u = _cell(x, x0, dx, n_x, xp=xp)
    j, v = _cell(y, y0, dy, n_y, xp=xp)
    hu = _hermite_basis(u)
    hv = _hermite_basis(v)
    flat = [xp.asarray(np.reshape(a, (-1,)), dtype=xp.float64) for a in (f, fx, fy, fxy)]
    out = 0.0
    for a in (0, 1):
        for b in (0, 1):
            k = (i + a) * n_y + (j + b)
            ua, ua_s = hu[a], dx * hu[2 + a]
            vb, vb_s = hv[b], dy * hv[2 + b]
            out = out + (
                ua * vb * _gather(flat[0], k, xp=xp)
                + ua_s * vb * _gather(flat[1], k, xp=xp)
                + ua * vb_s * _gather(flat[2], k, xp=xp)
                + ua_s * vb_s * _gather(flat[3], k, xp=xp)
            )
    return out


def input_namespace(*values):
    """Namespace of the inputs; Python lists and tuples count as NumPy."""
    return engine.namespace(*(np.asarray(v) if isinstance(v, list | tuple) else v for v in values))


def as_float64_arrays(*values, xp):
    """The values as float64 arrays of ``xp``, broadcast together."""
    return xp.broadcast_arrays(*(xp.asarray(v, dtype=xp.float64) for v in values))


def interpolate_about_f1(f, general, at_one, *, xp):
    """``general(f)`` away from f = 1; the quadratic through f = 1 - w, 1, 1 + w inside the band.

    Parameters
    ----------
    f : array
        Core fraction r_c / r_s [dimensionless], >= 0.
    general : callable
        ``general(f)``: the closed form, valid for f != 1 (it is called at
        ``where(band, 1 - w, f)`` and at ``1 + w`` only, so it never sees f = 1).
    at_one : array
        The f = 1 closed form, the middle node.
    xp : namespace

    Returns
    -------
    array
        For |f - 1| < w = :data:`CORE_F1_HALF_WIDTH` the Lagrange quadratic in
        e = (f - 1) / w through the three nodes, else ``general(f)`` (PHYSICS.md §10.2).
    """
    w = CORE_F1_HALF_WIDTH
    band = xp.abs(f - 1.0) < w
    f_lo = xp.where(band, 1.0 - w, f)  # also the lower interpolation node
    v_lo = general(f_lo)
    v_hi = general(xp.full_like(f, 1.0 + w))
    e = (f - 1.0) / w
    blend = 0.5 * e * (e - 1.0) * v_lo + (1.0 - e * e) * at_one + 0.5 * e * (e + 1.0) * v_hi
    return xp.where(band, blend, v_lo)
