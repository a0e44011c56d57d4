"""Galaxies, planes and multi-plane ray tracing (PHYSICS.md §13).

:class:`Galaxy` groups profiles at one redshift; :class:`Tracer` sorts galaxies
into planes and shoots rays from the image plane to the last plane with the
O(planes) recursion of McCully et al. (2014) (PHYSICS.md §13.1): with
``ahat_i = alpha_i chi_s / (chi_s - chi_i)`` and the running sums
``S_a = sum ahat_i``, ``S_b = sum chi_i ahat_i`` over the planes in front,
the position on plane j is ``theta_j = theta - S_a + S_b / chi_j``.

Every plane's deflection is the *reduced* deflection normalised to the last
plane: profiles on plane i must use ``Sigma_cr(z_i, z_source)`` (the
mass-concentration profiles do this from their ``redshift_source``).

Consecutive planes whose contents have the same structure (the line-of-sight
planes, each holding one padded :class:`~xlens.halos.HaloBatch` of the same
capacity) are stacked and iterated with :func:`xlens.engine.scan` — ``lax.scan``
on JAX, a Python loop on NumPy — so the compiled program holds one copy of
their deflection code whatever the number of planes. Other planes (the main
lens with its macro model and subhaloes) are single steps between the scans.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from . import engine
from .engine import ArrayLike, pytree_dataclass
from .profiles.base import LightProfile, MassProfile

__all__ = ["FAST_PATH_CORRECTED", "FAST_PATH_WINDOW", "Galaxy", "Tracer"]

#: Redshifts closer than this are the same plane.
_PLANE_REDSHIFT_TOLERANCE = 1e-8

#: Fast path: haloes per halo batch (per plane) whose interpolated deflection is replaced
#: by the exact one on a window of sub-pixel rays around their centre. The default model's
#: batches hold ~20 subhaloes and up to ~350 line-of-sight haloes per plane; see
#: docs/performance.md for the error and cost against this number.
FAST_PATH_CORRECTED = 32

#: Fast path: side [pixels] of the correction window. The cubic interpolation error of a
#: truncated NFW cusp falls to ~3% of its peak 3 pixels from the centre and ~1% beyond 4.
FAST_PATH_WINDOW = 5


@pytree_dataclass(meta=("redshift",))
class Galaxy:
    """Profiles at one redshift (PyAutoLens ``ag.Galaxy``).

    Parameters
    ----------
    redshift : float
        Redshift of the galaxy (>= 0; a static value: changing it recompiles).
    **profiles : MassProfile or LightProfile
        Named profiles, e.g. ``mass=mp.PowerLaw(...)``, ``shear=mp.ExternalShear(...)``,
        ``light=lp.SersicCore(...)``, ``subhalos=HaloBatch(...)``.

    Examples
    --------
    >>> import xlens
    >>> g = xlens.Galaxy(0.5, mass=xlens.mp.IsothermalSph(einstein_radius=1.0))
    >>> sorted(g.profiles)
    ['mass']
    """

    redshift: float
    profiles: dict[str, Any]

    def __init__(self, redshift: float, **profiles: Any):
        z = float(redshift)
        if not z >= 0 or z != z or z == float("inf"):
            raise ValueError(f"Galaxy.redshift must be in [0, inf); got {redshift!r}")
        for name, prof in profiles.items():
            if not isinstance(prof, MassProfile | LightProfile):
                raise TypeError(
                    f"Galaxy profile {name!r} must be a mass or light profile; got {type(prof).__name__}"
                )
        object.__setattr__(self, "redshift", z)
        object.__setattr__(self, "profiles", dict(profiles))

    @property
    def mass_profiles(self) -> list[MassProfile]:
        """The mass profiles, in the order given."""
        return [p for p in self.profiles.values() if isinstance(p, MassProfile)]

    @property
    def light_profiles(self) -> list[LightProfile]:
        """The light profiles, in the order given."""
        return [p for p in self.profiles.values() if isinstance(p, LightProfile)]

    def deflections_yx_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the deflections ``(alpha_y, alpha_x)`` [arcsec] of the mass profiles."""
        return _sum_fields([p.deflections_yx_2d_from for p in self.mass_profiles], grid, vector=True)

    def convergence_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the convergences (dimensionless) of the mass profiles."""
        return _sum_fields([p.convergence_2d_from for p in self.mass_profiles], grid)

    def image_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the surface brightnesses of the light profiles."""
        return _sum_fields([p.image_2d_from for p in self.light_profiles], grid)


def _sum_fields(fns, grid, vector=False):
    xp = engine.namespace(grid)
    grid = xp.asarray(grid)
    shape = grid.shape if vector else grid.shape[:-1]
    dtype = grid.dtype if xp.isdtype(grid.dtype, "real floating") else xp.float64
    total = xp.zeros(shape, dtype=dtype)
    for fn in fns:
        total = total + fn(grid)
    return total


@pytree_dataclass(meta=("redshifts", "plane_of_galaxy", "chi", "cosmology"))
class Tracer:
    """Galaxies grouped into planes; multi-plane ray tracing (PyAutoLens ``al.Tracer``).

    Parameters
    ----------
    galaxies : sequence of Galaxy
        The galaxies; the one(s) at the highest redshift form the source plane.
    cosmology : FlatLambdaCDM, optional
        Default :data:`xlens.cosmology.Planck15`.

    Notes
    -----
    The plane redshifts and the distances (float64, computed once here) are
    static: a jitted function of a tracer recompiles only when they, the
    profile kinds or the array shapes change, never when parameter values or
    the number of real haloes in a padded batch change.
    """

    galaxies: tuple[Galaxy, ...]
    redshifts: tuple[float, ...]
    plane_of_galaxy: tuple[int, ...]
    chi: tuple[float, ...]
    cosmology: Any

    def __init__(self, galaxies: Sequence[Galaxy], cosmology: Any = None):
        from .cosmology import Planck15

        galaxies = tuple(galaxies)
        if not galaxies:
            raise ValueError("Tracer needs at least one galaxy")
        for g in galaxies:
            if not isinstance(g, Galaxy):
                raise TypeError(f"Tracer takes Galaxy objects; got {type(g).__name__}")
        cosmology = Planck15 if cosmology is None else cosmology
        redshifts: list[float] = []
        for z in sorted(g.redshift for g in galaxies):
            if not redshifts or z - redshifts[-1] > _PLANE_REDSHIFT_TOLERANCE:
                redshifts.append(z)
        plane_of_galaxy = tuple(
            min(range(len(redshifts)), key=lambda i, z=g.redshift: abs(redshifts[i] - z))
            for g in galaxies
        )
        if len(redshifts) > 1 and redshifts[0] <= 0.0:
            raise ValueError(
                f"Tracer: a deflecting plane must have redshift > 0; got {redshifts[0]!r}"
            )
        if len(redshifts) > 1:
            for g, i in zip(galaxies, plane_of_galaxy, strict=True):
                if i == len(redshifts) - 1 and g.mass_profiles:
                    raise ValueError(
                        f"Tracer: a galaxy at z = {g.redshift} has mass profiles but lies on the last "
                        f"plane (the source plane, z = {redshifts[-1]}), where mass deflects nothing; "
                        "put the source galaxy behind every deflecting galaxy"
                    )
        chi = tuple(float(cosmology.comoving_distance_mpc(z)) for z in redshifts)
        object.__setattr__(self, "galaxies", galaxies)
        object.__setattr__(self, "redshifts", tuple(redshifts))
        object.__setattr__(self, "plane_of_galaxy", plane_of_galaxy)
        object.__setattr__(self, "chi", chi)
        object.__setattr__(self, "cosmology", cosmology)

    # ----------------------------------------------------------------- planes
    @property
    def n_planes(self) -> int:
        """Number of planes (the last is the source plane)."""
        return len(self.redshifts)

    def planes(self) -> list[tuple[Galaxy, ...]]:
        """The galaxies of each plane, in increasing redshift."""
        out: list[list[Galaxy]] = [[] for _ in self.redshifts]
        for g, i in zip(self.galaxies, self.plane_of_galaxy, strict=True):
            out[i].append(g)
        return [tuple(p) for p in out]

    def _plane_masses(self) -> list[tuple[MassProfile, ...]]:
        return [tuple(m for g in plane for m in g.mass_profiles) for plane in self.planes()]

    def padded(self, min_haloes: int = 2) -> Tracer:
        """The same tracer with each galaxy's single-halo profiles gathered into padded batches.

        Within every galaxy, mass profiles of one class with scalar parameters (and the
        same static fields) are stacked into a :class:`~xlens.halos.HaloBatch` whose
        capacity is the bucket of their number, when there are at least ``min_haloes``
        of them. Fields are unchanged (padding adds exactly zero), and the halo batches
        take the fast path of :meth:`traced_grid_2d_list_over_sampled_from`. This is how
        a realisation built profile by profile (e.g. ported from PyAutoLens) runs on the
        padded, compile-once path.
        """
        from .halos.batch import HaloBatch

        galaxies = []
        for g in self.galaxies:
            groups: dict[Any, list[str]] = {}
            for name, prof in g.profiles.items():
                if isinstance(prof, MassProfile) and not isinstance(prof, HaloBatch) and prof.n_halos is None:
                    key = (type(prof), tuple(getattr(prof, m) for m in getattr(prof, "_meta_fields", ())))
                    groups.setdefault(key, []).append(name)
            profiles = dict(g.profiles)
            for (cls, _), names in groups.items():
                if len(names) < min_haloes:
                    continue
                batch = HaloBatch.from_profiles([profiles.pop(n) for n in names])
                profiles[f"{cls.__name__}_batch"] = batch
            galaxies.append(Galaxy(g.redshift, **profiles))
        return Tracer(galaxies, cosmology=self.cosmology)

    # ------------------------------------------------------------ ray tracing
    def traced_grid_2d_list_from(self, grid: ArrayLike) -> list:
        """Positions of the rays on every plane, from the image plane to the last.

        Parameters
        ----------
        grid : array, shape (..., 2)
            Image-plane (y, x) positions [arcsec].

        Returns
        -------
        list of arrays, shape (..., 2)
            One (y, x) array [arcsec] per plane; the first is ``grid``.
        """
        positions, _ = self._shoot(grid, "all")
        return positions

    def _shoot(self, grid: ArrayLike, mode: str, halo_alphas=None, fine_options=None):
        """The multi-plane recursion (PHYSICS.md §13.1) in one of three modes.

        ``"all"``: every component is evaluated at the rays. ``"coarse"``: the same,
        and each plane's deflection from its padded halo batches is returned too.
        ``"fine"``: halo batches are *not* evaluated; ``halo_alphas[i] = (field, coarse)``
        (one pair per deflecting plane: the interpolated halo deflections, shaped like
        ``grid``, and the plane's positions of the coarse rays) stands in for them, plus
        the local corrections of :func:`_window_correction` (``fine_options``).
        Returns ``(positions per plane, halo deflections per plane or None)``.
        """
        from .halos.batch import HaloBatch

        xp = engine.namespace(grid, *engine.tree_leaves(self.galaxies))
        grid = xp.asarray(grid)
        if grid.ndim == 0 or grid.shape[-1] != 2:
            raise ValueError(f"grid must have shape (..., 2) holding (y, x) [arcsec]; got {grid.shape}")
        masses = self._plane_masses()
        if self.n_planes == 1:
            return [grid], []
        chi = self.chi
        chi_s = chi[-1]
        factor = [chi_s / (chi_s - c) for c in chi[:-1]]
        n_defl = self.n_planes - 1

        def step(carry, plane):
            s_a, s_b, theta = carry
            comps, chi_i, fac_i, inv_chi_next, extra = plane
            alpha = xp.zeros_like(theta)
            alpha_halo = xp.zeros_like(theta)
            for comp in comps:
                is_halo = isinstance(comp, HaloBatch)
                if mode == "fine" and is_halo:
                    if fine_options["n_corrected"] > 0:
                        alpha = alpha + _window_correction(comp, theta, extra[1], xp=xp, **fine_options)
                    continue
                a = comp.deflections_yx_2d_from(theta)
                alpha = alpha + a
                if is_halo:
                    alpha_halo = alpha_halo + a
            if mode == "fine":
                alpha = alpha + extra[0]
            ahat = xp.astype(fac_i, theta.dtype) * alpha
            s_a = s_a + ahat
            s_b = s_b + xp.astype(chi_i, theta.dtype) * ahat
            theta_next = grid - s_a + s_b * xp.astype(inv_chi_next, theta.dtype)
            out = (theta_next, alpha_halo) if mode == "coarse" else theta_next
            return (s_a, s_b, theta_next), out

        positions, halo = [grid], []
        zero = xp.zeros_like(grid)
        carry = (zero, zero, grid)  # S_a, S_b, theta on the current plane
        for start, stop in _segments(masses[:-1]):
            extras = None if mode != "fine" else halo_alphas[start:stop]
            if stop - start == 1:
                plane = (masses[start], xp.asarray(chi[start], dtype=xp.float64),
                         xp.asarray(factor[start], dtype=xp.float64),
                         xp.asarray(1.0 / chi[start + 1], dtype=xp.float64),
                         None if extras is None else extras[0])
                carry, out = step(carry, plane)
                outs = [out]
            else:
                xs = (
                    engine.tree_stack([masses[i] for i in range(start, stop)], xp=xp),
                    xp.asarray(chi[start:stop], dtype=xp.float64),
                    xp.asarray(factor[start:stop], dtype=xp.float64),
                    1.0 / xp.asarray(chi[start + 1 : stop + 1], dtype=xp.float64),
                    None if extras is None else tuple(xp.stack([e[k] for e in extras]) for k in range(2)),
                )
                carry, ys = engine.scan(step, carry, xs, xp=xp)
                outs = [_tree_index(ys, k) for k in range(stop - start)]
            for out in outs:
                if mode == "coarse":
                    positions.append(out[0])
                    halo.append(out[1])
                else:
                    positions.append(out)
        assert len(positions) == n_defl + 1
        return positions, (halo if mode == "coarse" else None)

    def traced_grid_2d_list_over_sampled_from(
        self,
        grid: ArrayLike,
        sub_size: int,
        exact: bool = False,
        n_corrected: int | None = None,
        window: int | None = None,
    ):
        """Positions on every plane of an over-sampled image grid, fast by default.

        Parameters
        ----------
        grid : array, shape (N_y s, N_x s, 2)
            Sub-pixel (y, x) positions [arcsec] in image layout (``Grid2D.over_sampled``).
        sub_size : int
            The over-sampling s.
        exact : bool
            If True, every component is evaluated at every sub-pixel ray (the
            brute-force reference). If False (default), padded halo batches are
            evaluated only at the pixel centres, traced exactly through all planes,
            and each plane's halo deflection field is interpolated to the sub-pixel
            rays (separable cubic convolution in image-plane coordinates); every
            other component (macro lens, shear, sheets) is evaluated exactly at every
            sub-pixel ray. Then, in every halo batch, the ``n_corrected`` haloes with
            the largest mean convergence within one pixel of their centre are
            evaluated exactly on the sub-pixel rays of a ``window`` x ``window`` pixel
            patch around the image of their centre, replacing the interpolation there
            (the interpolation error of a cuspy halo is concentrated within a few
            pixels of its centre and grows with its central density). The halo work
            drops by about s^2 (16 for s = 4); the error is measured in
            ``docs/performance.md`` and bounded by a test.
        n_corrected : int, optional
            Haloes per batch corrected on their window (default
            :data:`FAST_PATH_CORRECTED`; 0 switches the correction off).
        window : int, optional
            Side of the correction window in pixels (default :data:`FAST_PATH_WINDOW`).

        Returns
        -------
        list of arrays, shape (N_y s, N_x s, 2)
            (y, x) [arcsec] on each plane, the first being ``grid``.
        """
        if exact or sub_size == 1 or not any(
            type(p).__name__ == "HaloBatch" for g in self.galaxies for p in g.profiles.values()
        ):
            return self.traced_grid_2d_list_from(grid)
        from .imaging.grid import bin_over_sampled

        xp = engine.namespace(grid, *engine.tree_leaves(self.galaxies))
        grid = xp.asarray(grid)
        pixels = xp.stack([bin_over_sampled(grid[..., k], sub_size) for k in range(2)], axis=-1)
        # two extra pixels on every side: the cubic interpolation's neighbours are real rays
        pixels = _extend_linear(_extend_linear(pixels, 2, 0, xp=xp), 2, 1, xp=xp)
        # both passes read the haloes' lensing parameters: convert masses to them once
        tracer = self._with_lensing_batches()
        coarse, halo = tracer._shoot(pixels, "coarse")
        fine = [(_upsample_cubic(a, sub_size, xp=xp), p) for a, p in zip(halo, coarse[:-1], strict=True)]
        options = {
            "n_corrected": FAST_PATH_CORRECTED if n_corrected is None else int(n_corrected),
            "window": FAST_PATH_WINDOW if window is None else int(window),
            "sub_size": sub_size,
            # the pixel size [arcsec]: the radius of the mean convergence that ranks the haloes
            "pixel": xp.abs(pixels[0, 1, 1] - pixels[0, 0, 1]),
        }
        positions, _ = tracer._shoot(grid, "fine", fine, options)
        return positions

    def _with_lensing_batches(self) -> Tracer:
        """The same tracer with every halo batch of mass-parameterised haloes (e.g.
        ``NFWTruncatedMCRLudlowSph``) replaced by the batch of its lensing profile
        (``NFWTruncatedSph``), padded slots set to their safe values: the fields are
        the same, and the conversion (concentration, distances) runs once. Batches of one
        kind and shape (the line-of-sight planes) are converted together in one call."""
        from .halos.batch import HaloBatch

        found = [(i, name, p) for i, g in enumerate(self.galaxies) for name, p in g.profiles.items()
                 if isinstance(p, HaloBatch) and hasattr(p.profile, "lensing_profile")]
        groups: dict[Any, list] = {}
        for item in found:
            groups.setdefault(engine.tree_signature(item[2]), []).append(item)
        converted: dict[tuple[int, str], HaloBatch] = {}
        for items in groups.values():
            if len(items) == 1:
                (i, name, p), = items
                converted[i, name] = HaloBatch(profile=p.masked_profile(), mask=p.mask)
                continue
            xp = engine.namespace(*engine.tree_leaves([p for _, _, p in items]))
            stacked = engine.tree_stack([p for _, _, p in items], xp=xp)
            lensing = HaloBatch(profile=stacked.masked_profile(), mask=stacked.mask)
            for k, (i, name, _) in enumerate(items):
                converted[i, name] = lensing.plane(k)
        galaxies = []
        for i, g in enumerate(self.galaxies):
            profiles = {name: converted.get((i, name), p) for name, p in g.profiles.items()}
            galaxies.append(Galaxy(g.redshift, **profiles))
        out = object.__new__(Tracer)
        for f in dataclasses.fields(self):
            object.__setattr__(out, f.name, getattr(self, f.name))
        object.__setattr__(out, "galaxies", tuple(galaxies))
        return out

    def deflections_yx_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Total deflection ``grid - theta_source`` ``(alpha_y, alpha_x)`` [arcsec]."""
        traced = self.traced_grid_2d_list_from(grid)
        return traced[0] - traced[-1]

    def convergence_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the convergences of all galaxies at the (unlensed) grid, as PyAutoLens does."""
        return _sum_fields([g.convergence_2d_from for g in self.galaxies], grid)

    def image_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Lensed image: each galaxy's light at its plane's traced positions.

        Parameters
        ----------
        grid : array, shape (..., 2)
            Image-plane (y, x) positions [arcsec].

        Returns
        -------
        array, shape (...)
            Surface brightness (units of the light profiles' ``intensity``).
        """
        traced = self.traced_grid_2d_list_from(grid)
        xp = engine.namespace(traced[0])
        image = xp.zeros(traced[0].shape[:-1], dtype=traced[0].dtype)
        for g, i in zip(self.galaxies, self.plane_of_galaxy, strict=True):
            if g.light_profiles:
                image = image + g.image_2d_from(traced[i])
        return image




def _segments(planes: list) -> list[tuple[int, int]]:
    """Runs ``[start, stop)`` of consecutive planes with the same signature."""
    out: list[tuple[int, int]] = []
    sigs = [engine.tree_signature(p) for p in planes]
    start = 0
    for i in range(1, len(planes) + 1):
        if i == len(planes) or sigs[i] != sigs[start]:
            out.append((start, i))
            start = i
    return [s for s in out if s[1] > s[0]]


def _tree_index(tree, k: int):
    if isinstance(tree, tuple):
        return tuple(t[k] for t in tree)
    return tree[k]


def _take(a, start, stop, axis):
    return a[(slice(None),) * axis + (slice(start, stop),)]


def _extend_linear(f, k: int, axis: int, *, xp):
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


def _upsample_cubic(field, s: int, *, xp):
    """(..., N_y + 4, N_x + 4, k) samples at pixel centres, including a 2-pixel frame, ->
    (..., N_y s, N_x s, k) at the sub-pixel centres of the inner N_y x N_x pixels."""
    rows = _upsample_1d(field, s, field.ndim - 3, xp=xp)
    return _upsample_1d(rows, s, field.ndim - 2, xp=xp)


def _per_halo(profile, method: str, points, *, xp):
    """``method`` of each halo of ``profile`` (parameters of shape (K,)) at its *own* points
    ``points`` (K, ..., 2): returns (K, ..., 2) for deflections. One elementwise evaluation,
    no sum over haloes (the profiles' maths broadcasts a (K, 1) parameter against (K, n))."""
    from .profiles.base import VECTOR_FIELDS

    out_dtype = points.dtype
    dtype = xp.float64 if method in profile.float64_methods else out_dtype
    k = points.shape[0]
    pts = xp.reshape(xp.astype(points, dtype), (k, -1, 2))
    p = {}
    for f in engine.data_fields(profile):
        v = xp.astype(xp.asarray(getattr(profile, f.name)), dtype)
        p[f.name] = (v[:, 0:1], v[:, 1:2]) if f.name in VECTOR_FIELDS else v[:, None]
    ay, ax = getattr(profile, method)(p, pts[..., 0], pts[..., 1], xp=xp)
    shape = (*points.shape[:-1], 1)
    return xp.concatenate([xp.reshape(xp.astype(a, out_dtype), shape) for a in (ay, ax)], axis=-1)


def _distance2(a, b):
    return (a[..., 0] - b[..., 0]) ** 2 + (a[..., 1] - b[..., 1]) ** 2


def _gather(profile, index, *, xp):
    """The haloes ``index`` of a profile with per-halo parameters (static fields kept)."""
    from .profiles.base import unchecked

    values = {f.name: xp.asarray(getattr(profile, f.name))[index] for f in engine.data_fields(profile)}
    values.update({n: getattr(profile, n) for n in getattr(profile, "_meta_fields", ())})
    return unchecked(type(profile), values)


def _window_correction(batch, fine, coarse, *, n_corrected: int, window: int, sub_size: int, pixel, xp):
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
    a strong lens a halo centre has several images; only the closest is corrected.
    """
    s = sub_size
    ny, nx = coarse.shape[0] - 4, coarse.shape[1] - 4
    w = min(window, ny, nx)
    prof = batch.masked_profile()
    n_slots = batch.capacity
    k = min(n_corrected, n_slots)
    dtype = fine.dtype
    centre = xp.astype(xp.asarray(prof.centre), dtype)  # (C, 2)
    # ranking: |alpha| one pixel from each centre (padded slots have zero mass: score 0)
    probe = centre + xp.reshape(xp.stack([xp.zeros((), dtype=dtype), xp.astype(pixel, dtype)]), (1, 2))
    a1 = _per_halo(prof, "_deflections", probe[:, None, :], xp=xp)[:, 0, :]
    score = xp.sqrt(a1[:, 0] ** 2 + a1[:, 1] ** 2) * xp.astype(xp.asarray(batch.mask) > 0.5, dtype)
    order = xp.argsort(-score)[:k]
    chosen = _gather(prof, order, xp=xp)
    weight = xp.astype(score[order] > 0, dtype)
    c = centre[order]  # (k, 2)
    # the pixel whose ray lands closest to each centre, then the window around it
    # searched on every other pixel-centre ray (4x cheaper), then among the 3 x 3 rays around
    # the one found
    sub = coarse[::2, ::2]
    flat = xp.argmin(xp.reshape(_distance2(sub[None], c[:, None, None, :]), (k, -1)), axis=1)
    row, col = 2 * (flat // sub.shape[1]), 2 * (flat % sub.shape[1])  # framed indices
    step = xp.asarray([-1, 0, 1])
    rows3 = xp.clip(row[:, None] + step, 0, ny + 3)[:, :, None]
    cols3 = xp.clip(col[:, None] + step, 0, nx + 3)[:, None, :]
    near = xp.argmin(xp.reshape(_distance2(coarse[rows3, cols3], c[:, None, None, :]), (k, 9)), axis=1)
    row = xp.reshape(rows3, (k, 3))[xp.arange(k), near // 3] - 2  # inner-pixel indices
    col = xp.reshape(cols3, (k, 3))[xp.arange(k), near % 3] - 2
    r0 = xp.clip(row - (w - 1) // 2, 0, ny - w)
    c0 = xp.clip(col - (w - 1) // 2, 0, nx - w)
    span = xp.arange(w + 4)
    coarse_win = coarse[(r0[:, None] + span)[:, :, None], (c0[:, None] + span)[:, None, :]]  # (k, w+4, w+4, 2)
    fspan = xp.arange(w * s)
    frows = (r0[:, None] * s + fspan)[:, :, None]
    fcols = (c0[:, None] * s + fspan)[:, None, :]
    fine_win = fine[frows, fcols]  # (k, w s, w s, 2)
    # one evaluation for both sets of rays (one copy of the profile's code in the program)
    n_fine = (w * s) ** 2
    points = xp.concatenate([xp.reshape(fine_win, (k, n_fine, 2)), xp.reshape(coarse_win, (k, -1, 2))], axis=1)
    alpha = _per_halo(chosen, "_deflections", points, xp=xp)
    exact = xp.reshape(alpha[:, :n_fine], fine_win.shape)
    interp = _upsample_cubic(xp.reshape(alpha[:, n_fine:], coarse_win.shape), s, xp=xp)
    diff = (exact - interp) * weight[:, None, None, None]
    return engine.at_add(xp.zeros_like(fine), (frows, fcols), diff, xp=xp)
