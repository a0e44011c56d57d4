"""The fast path's pieces: the split halo field at the pixel centres, cubic up-sampling of
pixel-centre deflections and the exact correction of the strongest haloes on a window around
their centres.

:meth:`xlens.Tracer.traced_grid_2d_list_over_sampled_from` evaluates padded halo
batches at the pixel centres only (plus a 2-pixel frame), interpolates each plane's
halo deflection to the sub-pixel rays with :func:`upsample_cubic`, and replaces the
interpolation near the ``FAST_PATH_CORRECTED`` strongest haloes of every batch by their
exact deflection (:func:`window_correction`). On the planes whose pixel-centre rays form a
near-regular grid (in front of the main lens and at it) the pixel-centre field itself is
split (:func:`split_halo_field`, ``FAST_PATH_SPLIT``): each halo's smooth far field on every
other ray, its near field on a window. The error is measured in ``docs/performance.md`` and
bounded by ``tests/tracer/test_fast_path.py``.
"""

from __future__ import annotations

import math

from ..engine import add_windows, at_set, data_fields, halo_scan, meta_fields, take_windows, top_k_indices
from ..halos.batch import concatenate_batches, group_batches
from ..profiles.base import VECTOR_FIELDS, unchecked

__all__ = [
    "FAST_PATH_COARSENED",
    "FAST_PATH_COARSENING",
    "FAST_PATH_CORRECTED",
    "FAST_PATH_LENS_WINDOW",
    "FAST_PATH_SPLIT",
    "FAST_PATH_WINDOW",
    "centre_windows",
    "default_options",
    "extend_linear",
    "smooth_step",
    "split_halo_field",
    "upsample_cubic",
    "window_correction",
    "window_corrections",
]

#: Haloes per halo batch (per plane) whose interpolated deflection is replaced
#: by the exact one on a window of sub-pixel rays around their centre. The default model's
#: batches hold ~20 subhaloes and up to ~350 line-of-sight haloes per plane; see
#: docs/performance.md for the error and cost against this number.
FAST_PATH_CORRECTED = 32

#: Halo batches are evaluated on a grid c times coarser than the pixels (the centres of
#: c x c pixel blocks) and interpolated from there. 1 (default): every pixel centre. 2 evaluates
#: about 4x fewer halo-points, with the corrections of :data:`FAST_PATH_COARSENED`
#: (docs/performance.md, "Issue 16: a coarser fast path", for its speed and error).
FAST_PATH_COARSENING = 1

#: The corrections of a coarsened fast path (coarsening > 1), where the interpolation errs
#: more: ``n_corrected`` haloes per batch on windows of ``window`` blocks, and the ``n_multi``
#: strongest per batch also around ``n_images - 1`` further images of their centre (both pooled
#: over a plane's batches of one kind). On the default model's 20 realisations of
#: ``asv_benchmarks/accuracy.py`` worst 0.0069 sigma, and 0.0091 at the dense CDM corner; since
#: every plane holds two batches the windows cost about as much as the coarsening saves on the
#: CPU (docs/performance.md, "Issue 16: compile time, round 3").
FAST_PATH_COARSENED = {"n_corrected": 128, "window": 4, "n_images": 4, "n_multi": 16}

#: Side [pixels] of the correction window. The cubic interpolation error of a
#: truncated NFW cusp falls to ~3% of its peak 3 pixels from the centre and ~1% beyond 4.
FAST_PATH_WINDOW = 5


#: The split halo field of the uncoarsened fast path, on the planes where the pixel-centre
#: rays form a near-regular grid (those in front of the main lens, and its own plane): each
#: halo's deflection is split by :func:`smooth_step` of its distance ``r`` [pixels] from the
#: centre into a near part, ``(1 - S) alpha``, zero beyond ``outer``, evaluated exactly on a
#: window of pixel-centre rays around the centre, and a far part, ``S alpha``, zero within
#: ``inner``, smooth on the pixel scale, evaluated on every other pixel-centre ray (4x fewer)
#: and interpolated (:func:`split_halo_field`). The ``n_exact`` haloes per plane with the
#: largest deflection half-way between the radii are evaluated at every pixel centre
#: instead (without them the concentrated SIDM corner broke the 0.01-sigma bound; they cost
#: ~0.5 s of compile time).
#: ``None`` evaluates every halo at every pixel centre. Read at each call. Error and speed in
#: docs/performance.md ("Issue 16: the split halo field").
FAST_PATH_SPLIT = {"inner": 2.0, "outer": 14.0, "n_exact": 8}


#: Side [pixels] of the window around each centre of the main lens's own components (its
#: macro model, on the first plane with components of its own) on the fast path; own
#: components of planes behind it, where the rays fold, keep every sub-pixel ray. The main
#: lens's components are evaluated at the framed
#: pixel-centre rays only (14x fewer rays than the 4 x 4 sub-pixels) and interpolated to the
#: sub-pixel rays, except on this window, where they are evaluated exactly
#: (:func:`centre_windows`). The cubic convolution of a power-law cusp errs by ~b/(8 r^3)
#: pixels at r pixels from its centre (b its Einstein radius in pixels): for the default
#: model's b ~ 20, 1.3e-3 pixels at the edge of a 25-pixel window and 3e-4 at the Einstein
#: radius. ``None``: every sub-pixel ray. Read when a program is traced; error and speed in
#: docs/performance.md ("Issue 16, round 4").
FAST_PATH_LENS_WINDOW = 25


def default_options(coarsening: int) -> dict:
    """The fast path's corrections when the caller gives none: ``n_corrected``, ``window``,
    ``n_images``, ``n_multi`` (:data:`FAST_PATH_CORRECTED` and :data:`FAST_PATH_WINDOW`
    uncoarsened, :data:`FAST_PATH_COARSENED` coarsened) and ``split``
    (:data:`FAST_PATH_SPLIT` uncoarsened, ``None`` coarsened) and ``lens_window``
    (:data:`FAST_PATH_LENS_WINDOW` uncoarsened, ``None`` coarsened), read at each call."""
    if coarsening == 1:
        split = None if FAST_PATH_SPLIT is None else dict(FAST_PATH_SPLIT)
        return {"n_corrected": FAST_PATH_CORRECTED, "window": FAST_PATH_WINDOW, "n_images": 1, "n_multi": 0,
                "split": split, "lens_window": FAST_PATH_LENS_WINDOW}
    return dict(FAST_PATH_COARSENED, split=None, lens_window=None)


def _take(a, start, stop, axis):
    return a[(slice(None),) * axis + (slice(start, stop),)]


def extend_linear(f, k: int, axis: int, *, xp):
    """``k`` extra samples on both ends of ``axis``, extrapolated linearly (exact for a
    regular grid's coordinates)."""
    n = f.shape[axis]
    first, last = _take(f, 0, 1, axis), _take(f, n - 1, n, axis)
    d0, d1 = _take(f, 1, 2, axis) - first, last - _take(f, n - 2, n - 1, axis)
    before = [first - (k - j) * d0 for j in range(k)]
    after = [last + (j + 1) * d1 for j in range(k)]
    return xp.concatenate([*before, f, *after], axis=axis)


def _upsample_1d(padded, s: int, axis: int, *, xp):
    """Cubic-convolution (Catmull-Rom) interpolation along ``axis`` of samples at
    pixel centres to the s sub-pixel centres of each pixel. ``padded`` carries two extra
    samples at both ends, which are used as neighbours and dropped from the output."""
    n = padded.shape[axis] - 4
    shifted = {j: _take(padded, 2 + j, 2 + j + n, axis) for j in range(-2, 3)}
    subs = []
    for i in range(s):
        t = (i + 0.5) / s - 0.5  # offset in pixels along the axis (rows: downwards)
        base, frac = (0, t) if t >= 0 else (-1, 1.0 + t)
        w = (
            (-(frac**3) + 2 * frac**2 - frac) / 2,
            (3 * frac**3 - 5 * frac**2 + 2) / 2,
            (-3 * frac**3 + 4 * frac**2 + frac) / 2,
            (frac**3 - frac**2) / 2,
        )
        subs.append(sum(wk * shifted[base - 1 + k] for k, wk in enumerate(w)))
    stacked = xp.stack(subs, axis=axis + 1)
    shape = list(padded.shape)
    shape[axis] = n * s
    return xp.reshape(stacked, tuple(shape))


def upsample_cubic(field, s: int, *, xp):
    """(..., N_y + 4, N_x + 4, k) samples at pixel centres, including a 2-pixel frame, ->
    (..., N_y s, N_x s, k) at the sub-pixel centres of the inner N_y x N_x pixels."""
    rows = _upsample_1d(field, s, field.ndim - 3, xp=xp)
    return _upsample_1d(rows, s, field.ndim - 2, xp=xp)


def _per_halo(profile, method: str, points, *, xp):
    """``method`` of each halo of ``profile`` (parameters of shape (K,)) at its *own* points
    ``points`` (K, ..., 2): returns (K, ..., 2) for deflections. One elementwise evaluation,
    no sum over haloes (the profiles' maths broadcasts a (K, 1) parameter against (K, n))."""
    out_dtype = points.dtype
    dtype = xp.float64 if method in profile.float64_methods else out_dtype
    k = points.shape[0]
    pts = xp.reshape(xp.astype(points, dtype), (k, -1, 2))
    p = _halo_params(profile, dtype, xp)
    ay, ax = getattr(profile, method)(p, pts[..., 0], pts[..., 1], xp=xp)
    shape = (*points.shape[:-1], 1)
    return xp.concatenate([xp.reshape(xp.astype(a, out_dtype), shape) for a in (ay, ax)], axis=-1)


def _distance2(a, b):
    return (a[..., 0] - b[..., 0]) ** 2 + (a[..., 1] - b[..., 1]) ** 2


def _gather(profile, index, *, xp):
    """The haloes ``index`` of a profile with per-halo parameters (static fields kept)."""
    values = {f.name: xp.asarray(getattr(profile, f.name))[index] for f in data_fields(profile)}
    values.update({n: getattr(profile, n) for n in meta_fields(profile)})
    return unchecked(type(profile), values)


def window_correction(batch, fine, coarse, *, n_corrected: int, window: int, sub_size: int, pixel, xp):
    """Exact minus interpolated deflection of the strongest haloes of ``batch``, near their centres.

    ``fine`` (N_y s, N_x s, 2) are the sub-pixel rays and ``coarse`` (N_y + 4, N_x + 4, 2)
    the framed pixel-centre rays, both on this batch's plane. The haloes are ranked by
    their mean convergence within one pixel of the centre, ``|alpha(r = pixel)| / pixel``
    (for a cuspy halo the cubic interpolation errs by ~0.5-0.7 kappa_s x pixel near the
    centre, whatever its scale radius). For each of the ``n_corrected`` strongest, the
    window of ``window`` x ``window`` pixels whose centre ray lands closest to the halo
    centre is found; there the halo's deflection is evaluated exactly on the sub-pixel
    rays, and the same cubic interpolation of its pixel-centre values (which the
    interpolated field holds) is subtracted. Returns the (N_y s, N_x s, 2) sum of these
    differences: zero outside the windows, and zero for padded slots. On planes behind
    a strong lens a halo centre has several images; only the closest is corrected here
    (:func:`window_corrections` can correct more).
    """
    return window_corrections([batch], fine, coarse, n_corrected=n_corrected, window=window,
                              sub_size=sub_size, pixel=pixel, xp=xp)


def window_corrections(batches, fine, coarse, *, n_corrected: int, window: int, sub_size: int, pixel, xp,
                       n_images: int = 1, n_multi: int = 0, regular: bool = False):
    """:func:`window_correction` of several halo batches on one plane, summed.

    The batches of one profile class (the lens plane's subhaloes and line-of-sight haloes, or a
    line-of-sight plane's haloes and its empty subhalo-shaped padding batch) are ranked,
    searched and evaluated together, so the compiled program holds one copy of the profile's
    code per class instead of two per batch (docs/performance.md, issue 16): the strongest
    ``k`` of all their haloes are corrected, ``k`` being the sum over the batches of
    ``min(n_corrected, capacity)``, so an empty batch's share goes to the real haloes.
    With ``n_images > 1`` the strongest haloes (``n_multi`` per batch, likewise pooled) are also corrected
    around ``n_images - 1`` further images of their centre (on a plane behind a strong lens
    a centre near a caustic has up to 5 images; a coarsened fast path needs them corrected):
    the next-closest local minima of the distance from the pixel-centre rays to the centre
    (rays no farther than their 4 neighbours), other than the image found first. Where two
    windows of one halo overlap, the later one leaves the overlap out, so every sub-pixel is
    corrected once; where there is no further image, the window corrects a smooth field,
    harmlessly. With ``regular`` (the pixel-centre rays form a near-regular grid: the planes in
    front of the main lens) the closest ray is located by the affine grid through the corner
    rays (:func:`_nearest_ray`) instead of a search over every other ray, which cost ~40% of
    the corrections (docs/performance.md, "Issue 16, round 4").
    Returns the (N_y s, N_x s, 2) sum of the corrections [arcsec].
    """
    s = sub_size
    ny, nx = coarse.shape[0] - 4, coarse.shape[1] - 4
    w = min(window, ny, nx)
    dtype = fine.dtype
    diffs, starts = [], []
    for members in group_batches(batches):
        merged = concatenate_batches(members)
        prof = merged.masked_profile()
        centre = xp.astype(xp.asarray(prof.centre), dtype)  # (C, 2), the batches in turn
        # ranking: |alpha| one pixel from each centre (padded slots have zero mass: score 0)
        probe = centre + xp.reshape(xp.stack([xp.zeros((), dtype=dtype), xp.astype(pixel, dtype)]), (1, 2))
        a1 = _per_halo(prof, "_deflections", probe[:, None, :], xp=xp)[:, 0, :]
        active = xp.astype(xp.asarray(merged.mask) > 0.5, dtype)
        score = xp.sqrt(a1[:, 0] ** 2 + a1[:, 1] ** 2) * active
        # the strongest of the batches together: as many as their shares add up to, so a plane's
        # empty padding batch (uniform_planes) lends its share to the real haloes
        k = sum(min(n_corrected, b.capacity) for b in members)
        sel = list(range(sum(min(n_multi, n_corrected, b.capacity) for b in members)))  # the n_multi first
        order = top_k_indices(score, k, xp=xp)
        k = order.shape[0]
        weight = xp.astype(score[order] > 0, dtype)
        c = centre[order]  # (k, 2)
        # the pixel whose ray lands closest to each centre, then the window around it
        if regular:
            row, col = _nearest_ray(coarse, c, xp=xp)  # framed indices
        else:
            # searched on every other pixel-centre ray (4x cheaper), then among the 3 x 3 rays
            # around the one found
            sub = coarse[::2, ::2]
            flat = xp.argmin(xp.reshape(_distance2(sub[None], c[:, None, None, :]), (k, -1)), axis=1)
            row, col = 2 * (flat // sub.shape[1]), 2 * (flat % sub.shape[1])  # framed indices
            step = xp.asarray([-1, 0, 1])
            rows3 = xp.clip(row[:, None] + step, 0, ny + 3)[:, :, None]
            cols3 = xp.clip(col[:, None] + step, 0, nx + 3)[:, None, :]
            near = xp.argmin(xp.reshape(_distance2(coarse[rows3, cols3], c[:, None, None, :]), (k, 9)), axis=1)
            row = xp.reshape(rows3, (k, 3))[xp.arange(k), near // 3]
            col = xp.reshape(cols3, (k, 3))[xp.arange(k), near % 3]
        if n_images > 1 and n_multi > 0:
            # more images of the n_multi strongest of each batch (planes behind a strong lens map
            # a halo centre to up to 5 places): the local minima of the distance over all the
            # pixel-centre rays (no farther than their 4 neighbours), the closest first, other
            # than the image found above; overlapping windows are corrected once, below
            sel = xp.asarray(sel)
            hf, wf = coarse.shape[0], coarse.shape[1]
            d2 = _distance2(coarse[None], c[sel][:, None, None, :])  # (m, H, W)
            big = xp.full((d2.shape[0], hf + 2, wf + 2), xp.inf, dtype=d2.dtype)
            padded = at_set(big, (slice(None), slice(1, hf + 1), slice(1, wf + 1)), d2, xp=xp)
            candidate = (
                (d2 <= padded[:, :hf, 1 : wf + 1]) & (d2 <= padded[:, 2:, 1 : wf + 1])
                & (d2 <= padded[:, 1 : hf + 1, :wf]) & (d2 <= padded[:, 1 : hf + 1, 2:])
            )
            rr = xp.arange(hf)[None, :, None]
            cc = xp.arange(wf)[None, None, :]
            primary = (xp.abs(rr - row[sel][:, None, None]) <= 1) & (xp.abs(cc - col[sel][:, None, None]) <= 1)
            cand = xp.reshape(xp.where(candidate & ~primary, d2, xp.inf), (d2.shape[0], -1))
            found = []
            for _ in range(n_images - 1):
                found.append(xp.argmin(cand, axis=1))
                cand = at_set(cand, (xp.arange(cand.shape[0]), found[-1]), xp.inf, xp=xp)
            row = xp.concatenate([row, *[f // wf for f in found]])
            col = xp.concatenate([col, *[f % wf for f in found]])
            order = xp.concatenate([order] + [order[sel]] * (n_images - 1))
            weight = xp.concatenate([weight] + [weight[sel]] * (n_images - 1))
            c = xp.concatenate([c] + [c[sel]] * (n_images - 1))
            k = order.shape[0]
        chosen = _gather(prof, order, xp=xp)
        row, col = row - 2, col - 2  # inner-pixel indices
        r0 = xp.clip(row - (w - 1) // 2, 0, ny - w)
        c0 = xp.clip(col - (w - 1) // 2, 0, nx - w)
        # whole windows at once (a gather of blocks, not of every element)
        coarse_win = take_windows(coarse, xp.stack([r0, c0], axis=1), (w + 4, w + 4), xp=xp)  # (k, w+4, w+4, 2)
        fine_start = xp.stack([r0 * s, c0 * s], axis=1)
        fine_win = take_windows(fine, fine_start, (w * s, w * s), xp=xp)  # (k, w s, w s, 2)
        # one evaluation for both sets of rays (one copy of the profile's code in the program)
        n_fine = (w * s) ** 2
        points = xp.concatenate([xp.reshape(fine_win, (k, n_fine, 2)), xp.reshape(coarse_win, (k, -1, 2))], axis=1)
        alpha = _per_halo(chosen, "_deflections", points, xp=xp)
        exact = xp.reshape(alpha[:, :n_fine], fine_win.shape)
        interp = upsample_cubic(xp.reshape(alpha[:, n_fine:], coarse_win.shape), s, xp=xp)
        diff = (exact - interp) * weight[:, None, None, None]
        if n_images > 1 and n_multi > 0:
            # a further image's window drops the sub-pixels that an earlier window of its halo holds
            n_sel = sel.shape[0]
            first = k - n_sel * (n_images - 1)
            fspan = xp.arange(w * s)
            frows = (r0[:, None] * s + fspan)[:, :, None]
            fcols = (c0[:, None] * s + fspan)[:, None, :]
            keep = []
            for j in range(1, n_images):
                part = slice(first + (j - 1) * n_sel, first + j * n_sel)
                rows_j, cols_j = frows[part], fcols[part]
                held = xp.zeros((n_sel, w * s, w * s), dtype=bool)
                for e in range(j):
                    idx = sel if e == 0 else first + (e - 1) * n_sel + xp.arange(n_sel)
                    lo_r, lo_c = (r0[idx] * s)[:, None, None], (c0[idx] * s)[:, None, None]
                    inside_r = (rows_j >= lo_r) & (rows_j < lo_r + w * s)
                    held = held | (inside_r & (cols_j >= lo_c) & (cols_j < lo_c + w * s))
                keep.append(xp.astype(~held, dtype))
            diff = xp.concatenate([diff[:first], diff[first:] * xp.concatenate(keep)[..., None]])
        diffs.append(diff)
        starts.append(fine_start)
    diff, start = (v[0] if len(v) == 1 else xp.concatenate(v, axis=0) for v in (diffs, starts))
    return add_windows(xp.zeros_like(fine), start, diff, xp=xp)


def _grid_gradient(f, axis: int, *, xp):
    """Derivative of ``f`` along a grid axis per index step: central differences, one-sided at
    the ends."""
    n = f.shape[axis]
    inner = (_take(f, 2, n, axis) - _take(f, 0, n - 2, axis)) / 2.0
    first = _take(f, 1, 2, axis) - _take(f, 0, 1, axis)
    last = _take(f, n - 1, n, axis) - _take(f, n - 2, n - 1, axis)
    return xp.concatenate([first, inner, last], axis=axis)


def _repeat_pixels(f, s: int, *, xp):
    """(N_y + 4, N_x + 4, k) values at the framed pixel centres -> (N_y s, N_x s, k): each inner
    pixel's value at its s x s sub-pixels."""
    inner = f[2:-2, 2:-2]
    ny, nx, k = inner.shape
    out = xp.broadcast_to(inner[:, None, :, None, :], (ny, s, nx, s, k))
    return xp.reshape(out, (ny * s, nx * s, k))


def centre_windows(components, fine, coarse, *, window: int, sub_size: int, xp):
    """The deflection [arcsec] of ``components`` at the sub-pixel rays ``fine`` (N_y s, N_x s, 2)
    from their values at the framed pixel-centre rays ``coarse`` (N_y + 4, N_x + 4, 2), exact
    near their centres; and those values. Returns ``(fine field, coarse field)``.

    Away from the centres the field is smooth: its cubic interpolation (:func:`upsample_cubic`)
    from the pixel centres, plus the first-order term ``J delta`` for where the sub-pixel rays
    are not the interpolation of the pixel-centre rays (``delta = fine - upsample(coarse)``,
    nonzero near the corrected centres of haloes in front), with the Jacobian ``J`` of the
    field by finite differences on the pixel-centre grid (each pixel's at its sub-pixels). For
    each component with a centre, on the ``window`` x ``window`` pixels around the
    pixel-centre ray closest to it, the component's own deflection is evaluated exactly at the
    sub-pixel rays and its own approximation subtracted: windows of two components correct
    each its own, so they may overlap. Components without a centre (an external shear) are
    linear, and their approximation is exact up to ``delta``'s second order.
    """
    s = sub_size
    ny, nx = coarse.shape[0] - 4, coarse.shape[1] - 4
    w = min(window, ny, nx)
    # d(row, col)/d(y, x) at the pixel centres: the inverse of the rays' grid Jacobian
    dr, dc = _grid_gradient(coarse, 0, xp=xp), _grid_gradient(coarse, 1, xp=xp)
    det = dr[..., 0] * dc[..., 1] - dc[..., 0] * dr[..., 1]
    inv = xp.stack([dc[..., 1], -dc[..., 0], -dr[..., 1], dr[..., 0]], axis=-1) / det[..., None]

    def jacobian(f):
        """(H, W, 4): d alpha/dy (y and x parts), then d alpha/dx, per pixel centre."""
        fr, fc = _grid_gradient(f, 0, xp=xp), _grid_gradient(f, 1, xp=xp)
        jy = fr * inv[..., 0:1] + fc * inv[..., 2:3]
        jx = fr * inv[..., 1:2] + fc * inv[..., 3:4]
        return xp.concatenate([jy, jx], axis=-1)

    def first_order(jac, delta):
        return jac[..., 0:2] * delta[..., 0:1] + jac[..., 2:4] * delta[..., 1:2]

    delta = fine - upsample_cubic(coarse, s, xp=xp)
    n_coarse = coarse.shape[0] * coarse.shape[1]
    fields, windows = [], []
    for comp in components:
        centre = getattr(comp, "centre", None)
        if centre is None:
            fields.append(comp.deflections_yx_2d_from(coarse))
            windows.append(None)
            continue
        c = xp.astype(xp.reshape(xp.asarray(centre), (2,)), coarse.dtype)
        flat = xp.argmin(xp.reshape(_distance2(coarse, c), (-1,)))
        row, col = flat // (nx + 4) - 2, flat % (nx + 4) - 2  # inner-pixel indices
        start = xp.stack([xp.clip(row - (w - 1) // 2, 0, ny - w), xp.clip(col - (w - 1) // 2, 0, nx - w)])[None]
        fine_win = take_windows(fine, start * s, (w * s, w * s), xp=xp)[0]
        # one evaluation at the pixel-centre rays and the window's sub-pixel rays together (one
        # copy of the component's code in the program)
        both = comp.deflections_yx_2d_from(
            xp.concatenate([xp.reshape(coarse, (n_coarse, 2)), xp.reshape(fine_win, (-1, 2))], axis=0))
        fields.append(xp.reshape(both[:n_coarse], coarse.shape))
        windows.append((start, xp.reshape(both[n_coarse:], fine_win.shape)))
    field = sum(fields[1:], fields[0])
    jacs = [jacobian(f) for f in fields]
    fine_field = upsample_cubic(field, s, xp=xp) + first_order(_repeat_pixels(sum(jacs[1:], jacs[0]), s, xp=xp),
                                                               delta)
    for f, jac, win in zip(fields, jacs, windows, strict=True):
        if win is None:
            continue
        start, exact = win
        packed = take_windows(xp.concatenate([f, jac], axis=-1), start, (w + 4, w + 4), xp=xp)[0]
        approx = upsample_cubic(packed[..., :2], s, xp=xp) + first_order(
            _repeat_pixels(packed[..., 2:], s, xp=xp), take_windows(delta, start * s, (w * s, w * s), xp=xp)[0])
        fine_field = add_windows(fine_field, start * s, (exact - approx)[None], xp=xp)
    return fine_field, field


def smooth_step(r, r1: float, r2: float, *, xp):
    """0 for ``r <= r1``, 1 for ``r >= r2`` and the quintic smoothstep ``u^3 (10 - 15 u + 6 u^2)``,
    ``u = (r - r1)/(r2 - r1)``, between: twice continuously differentiable."""
    u = xp.clip((r - r1) / (r2 - r1), 0.0, 1.0)
    return u * u * u * (10.0 + u * (-15.0 + 6.0 * u))


def _coarse_rays(pixels, *, xp):
    """Every other ray of ``pixels`` (N_y, N_x, 2) along both axes, with one ray extrapolated
    linearly before and two after: (ceil(N_y/2) + 3, ceil(N_x/2) + 3, 2), the support of
    :func:`_to_pixels`."""
    c = pixels[::2, ::2]
    for axis in (0, 1):
        c = _take(extend_linear(c, 2, axis, xp=xp), 1, None, axis)
    return c


def _to_pixels(c, n: int, axis: int, *, xp):
    """Samples ``c`` at every other pixel (with the frame of :func:`_coarse_rays`) -> ``n``
    pixels along ``axis``: the samples themselves at even pixels, the 4-point cubic
    convolution midpoint ``(-c_0 + 9 c_1 + 9 c_2 - c_3)/16`` at odd ones."""
    m = -(-n // 2)
    even = _take(c, 1, 1 + m, axis)
    odd = (9.0 * (even + _take(c, 2, 2 + m, axis)) - _take(c, 0, m, axis) - _take(c, 3, 3 + m, axis)) / 16.0
    out = xp.reshape(xp.stack([even, odd], axis=axis + 1),
                     c.shape[:axis] + (2 * m,) + c.shape[axis + 1:])
    return _take(out, 0, n, axis)


def _nearest_ray(pixels, centre, *, xp):
    """Row and column of the ray of ``pixels`` (N_y, N_x, 2) closest to each ``centre`` (k, 2),
    for a near-regular grid of rays: the affine grid through its corner rays locates the
    centre, then the closest of the 5 x 5 rays around it is taken (clipped to the grid)."""
    ny, nx = pixels.shape[0], pixels.shape[1]
    o = pixels[0, 0]
    dr = (pixels[ny - 1, 0] - o) / (ny - 1)
    dc = (pixels[0, nx - 1] - o) / (nx - 1)
    d = centre - o
    det = dr[0] * dc[1] - dr[1] * dc[0]
    i = (d[:, 0] * dc[1] - d[:, 1] * dc[0]) / det
    j = (dr[0] * d[:, 1] - dr[1] * d[:, 0]) / det
    big = float(max(ny, nx) + 8)  # far-off centres: any ray at the edge will do
    i = xp.astype(xp.round(xp.clip(i, -big, big)), xp.int32)
    j = xp.astype(xp.round(xp.clip(j, -big, big)), xp.int32)
    step = xp.asarray([-2, -1, 0, 1, 2], dtype=xp.int32)
    k = centre.shape[0]
    rows = xp.clip(i[:, None] + step, 0, ny - 1)  # (k, 5)
    cols = xp.clip(j[:, None] + step, 0, nx - 1)
    near = pixels[rows[:, :, None], cols[:, None, :]]  # (k, 5, 5, 2)
    best = xp.argmin(xp.reshape(_distance2(near, centre[:, None, None, :]), (k, 25)), axis=1)
    return rows[xp.arange(k), best // 5], cols[xp.arange(k), best % 5]


def _halo_params(profile, dtype, xp) -> dict:
    """The per-halo fields of ``profile`` as the profiles' maths takes them: ``(K, 1)`` columns
    (a pair of them for a vector field such as the centre), in ``dtype``."""
    p = {}
    for f in data_fields(profile):
        v = xp.astype(xp.asarray(getattr(profile, f.name)), dtype)
        p[f.name] = (v[:, 0:1], v[:, 1:2]) if f.name in VECTOR_FIELDS else v[:, None]
    return p


def _split_parts(prof, active, pixels, coarse, *, w: int, r1, r2, xp, block: int):
    """The far parts ``S alpha`` of the haloes of ``prof`` with ``active`` > 0, summed at the rays
    ``coarse``, and their near parts ``(1 - S) alpha`` on the ``w`` x ``w`` window of ``pixels``
    around each centre, added into a field like ``pixels``: one evaluation of the profile per
    chunk of ``block`` haloes (:func:`xlens.engine.halo_scan`, which skips chunks without an
    active halo), at the coarse rays and its own window's rays together (one copy of the
    profile's code)."""
    dtype = pixels.dtype
    ny, nx = pixels.shape[0], pixels.shape[1]
    centre = xp.astype(xp.asarray(prof.centre), dtype)
    row, col = _nearest_ray(pixels, centre, xp=xp)
    starts = xp.stack([xp.clip(row - (w - 1) // 2, 0, ny - w), xp.clip(col - (w - 1) // 2, 0, nx - w)], axis=1)
    names = [f.name for f in data_fields(prof)]
    static = {name: getattr(prof, name) for name in meta_fields(prof)}
    n_far = coarse.shape[0] * coarse.shape[1]
    far_y, far_x = (xp.reshape(coarse[..., k], (1, n_far)) for k in (0, 1))

    def add(carry, chunk, weight):
        far, near = carry
        *values, st = chunk
        part = unchecked(type(prof), dict(zip(names, values, strict=True), **static))
        h = st.shape[0]
        win = xp.reshape(take_windows(pixels, st, (w, w), xp=xp), (h, w * w, 2))  # (h, w^2, 2)
        y = xp.concatenate([xp.broadcast_to(far_y, (h, n_far)), win[..., 0]], axis=1)
        x = xp.concatenate([xp.broadcast_to(far_x, (h, n_far)), win[..., 1]], axis=1)
        p = _halo_params(part, dtype, xp)
        cy, cx = p["centre"]
        step = smooth_step(xp.sqrt((y - cy) ** 2 + (x - cx) ** 2), r1, r2, xp=xp)
        wt = xp.astype(weight, dtype)[:, None]
        ay, ax = part._deflections(p, y, x, xp=xp)
        out_far, out_near = step[:, :n_far] * wt, (1.0 - step[:, n_far:]) * wt
        far = far + xp.stack([xp.sum(ay[:, :n_far] * out_far, axis=0), xp.sum(ax[:, :n_far] * out_far, axis=0)],
                             axis=-1)
        windows = xp.stack([ay[:, n_far:] * out_near, ax[:, n_far:] * out_near], axis=-1)
        return far, add_windows(near, st, xp.reshape(windows, (h, w, w, 2)), xp=xp)

    init = (xp.zeros((n_far, 2), dtype=dtype), xp.zeros_like(pixels))
    params = [xp.asarray(getattr(prof, name)) for name in names] + [starts]
    far, near = halo_scan(add, init, params, min(block, active.shape[0]), xp=xp, active=active)
    return xp.reshape(far, coarse.shape), near


def split_halo_field(batches, pixels, *, pixel, inner: float, outer: float, n_exact: int, xp,
                     block: int = 32):
    """The deflection [arcsec] of ``batches`` (one plane) at ``pixels`` (N_y, N_x, 2), split.

    For rays ``pixels`` that form a near-regular grid of spacing ``pixel`` [arcsec] (the framed
    pixel-centre rays on a plane in front of, or at, the main lens). The ``n_exact`` haloes
    of each profile class with the largest ``|alpha|`` at ``(inner + outer)/2`` pixels from
    their centre are evaluated at every ray. Every other halo's deflection is split with
    ``S = smooth_step(r, inner pixel, outer pixel)``: ``S alpha`` is evaluated on every other
    ray (:func:`_coarse_rays`) and interpolated to all (:func:`_to_pixels`), and
    ``(1 - S) alpha``, zero beyond ``outer`` pixels, exactly on the window of
    ``2 ceil(outer) + 3`` rays around the ray closest to its centre. On the default 114 x 114
    framed grid a halo is evaluated at 60^2 + 31^2 rays instead of 114^2 (2.8x fewer); the
    far part's interpolation error is measured in docs/performance.md ("Issue 16: the split
    halo field").

    Parameters
    ----------
    batches : list of HaloBatch
        The plane's halo batches.
    pixels : array, shape (N_y, N_x, 2)
        The rays (y, x) [arcsec], a near-regular grid (every axis at least 4 long).
    pixel : float or array
        The grid's spacing [arcsec].
    inner, outer : float
        The smooth step's radii [pixels], ``0 <= inner < outer``.
    n_exact : int
        Haloes per profile class evaluated at every ray, >= 0.
    xp : namespace
    block : int
        Haloes per chunk of the far and near evaluation, >= 1.

    Raises
    ------
    ValueError
        If ``inner``, ``outer``, ``n_exact`` or ``block`` is outside its range.
    """
    if not (0.0 <= inner < outer and math.isfinite(outer)):
        raise ValueError(f"split_halo_field: inner and outer must satisfy 0 <= inner < outer < inf [pixels]; "
                         f"got inner={inner!r}, outer={outer!r}")
    if isinstance(n_exact, bool) or not isinstance(n_exact, int) or n_exact < 0:
        raise ValueError(f"split_halo_field: n_exact must be an integer >= 0; got {n_exact!r}")
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"split_halo_field: block must be an integer >= 1; got {block!r}")
    dtype = pixels.dtype
    ny, nx = pixels.shape[0], pixels.shape[1]
    pixel = xp.astype(xp.asarray(pixel), dtype)
    r1, r2 = inner * pixel, outer * pixel
    w = min(2 * math.ceil(outer) + 3, ny, nx)
    coarse = _coarse_rays(pixels, xp=xp)
    far = xp.zeros(coarse.shape, dtype=dtype)
    total = xp.zeros_like(pixels)
    for members in group_batches(batches):
        merged = concatenate_batches(members)
        prof = merged.masked_profile()
        active = xp.astype(xp.asarray(merged.mask) > 0.5, dtype)
        g = min(n_exact, merged.capacity)
        if g > 0:
            centre = xp.astype(xp.asarray(prof.centre), dtype)
            probe = centre + xp.reshape(xp.stack([xp.zeros((), dtype=dtype), 0.5 * (r1 + r2)]), (1, 2))
            a = _per_halo(prof, "_deflections", probe[:, None, :], xp=xp)[:, 0, :]
            order = top_k_indices(xp.sqrt(a[:, 0] ** 2 + a[:, 1] ** 2) * active, g, xp=xp)
            total = total + _gather(prof, order, xp=xp)._evaluate("_deflections", pixels, 2, active=active[order])
            active = at_set(active, order, 0.0, xp=xp)
        part_far, part_near = _split_parts(prof, active, pixels, coarse, w=w, r1=r1, r2=r2, xp=xp, block=block)
        far, total = far + part_far, total + part_near
    return total + _to_pixels(_to_pixels(far, ny, 0, xp=xp), nx, 1, xp=xp)
