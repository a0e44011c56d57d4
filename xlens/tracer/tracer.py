"""Galaxies, planes and multi-plane ray tracing (PHYSICS.md §13).

`Tracer` sorts :class:`~xlens.Galaxy` objects
into planes and shoots rays from the image plane to the last plane with the
O(planes) recursion of McCully et al. (2014) (PHYSICS.md §13.1): with
``ahat_i = alpha_i chi_s / (chi_s - chi_i)`` and the running sums
``S_a = sum ahat_i``, ``S_b = sum chi_i ahat_i`` over the planes in front,
the position on plane j is ``theta_j = theta - S_a + S_b / chi_j``.

Every plane's deflection is the *reduced* deflection normalised to the last
plane: profiles on plane i must use ``Sigma_cr(z_i, z_source)`` (the
mass-concentration profiles do this from their ``redshift_source``).

The deflecting planes are iterated by :func:`xlens.engine.scan` (``lax.scan`` on JAX, a
Python loop on NumPy) over what they share (:func:`uniform_planes`: the halo batches,
padded with empty batches where a plane has none of a kind, and the components every
plane has), so the compiled program holds the halo code once per scan whatever the number
of planes: one scan for the planes in front of the main lens and one for the rest (in one
scan, reverse-mode differentiation would also run back through the front planes, whose
rays do not depend on the lens). What a plane alone holds (the main lens's macro model)
is evaluated on that plane only, through :func:`xlens.engine.switch`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..cosmology import Planck15
from ..engine import (
    ArrayLike,
    at_set,
    checkpoint,
    is_concrete,
    namespace,
    promoted_namespace,
    pytree_dataclass,
    scan,
    static_kind,
    switch,
    tree_leaves,
    tree_map,
    tree_signature,
    tree_stack,
)
from ..halos.batch import HaloBatch, concatenate_batches, group_batches
from ..imaging.grid import bin_over_sampled
from ..profiles.base import MassProfile
from . import fast_path
from .fast_path import centre_windows, extend_linear, split_halo_field, upsample_cubic, window_corrections
from .galaxy import Galaxy, sum_fields

__all__ = ["Tracer", "uniform_planes"]

#: Redshifts closer than this are the same plane.
PLANE_REDSHIFT_TOLERANCE = 1e-8


@pytree_dataclass(meta=("redshifts", "plane_of_galaxy", "chi", "cosmology"))
class Tracer:
    """Galaxies grouped into planes; multi-plane ray tracing (PyAutoLens ``al.Tracer``).

    Parameters
    ----------
    galaxies : sequence of Galaxy
        The galaxies; the one(s) at the highest redshift form the source plane.
    cosmology : FlatLambdaCDM, optional
        Default :data:`xlens.cosmology.Planck15`.
    plane_distances : array, shape (n_planes,), optional
        Comoving distances of the planes [Mpc], increasing, > 0 (may be traced, e.g.
        ``cosmology.comoving_distance_mpc`` of redshifts drawn inside ``jit``). They
        replace the distances of the galaxies' redshifts in the ray tracing; the
        redshifts then only order the galaxies into planes (so give each galaxy a
        redshift whose order is that of its traced one). Per-halo redshift fields
        (the mass-concentration profiles' ``redshift_object``, ``redshift_source``) are
        the profiles' own. Default: the distances of the redshifts, static.

    Notes
    -----
    Without ``plane_distances`` the plane redshifts and the distances (float64,
    computed once here) are static: a jitted function of a tracer recompiles only
    when they, the profile kinds or the array shapes change, never when parameter
    values or the number of real haloes in a padded batch change. With them, the
    distances are data too.
    """

    galaxies: tuple[Galaxy, ...]
    redshifts: tuple[float, ...]
    plane_of_galaxy: tuple[int, ...]
    chi: tuple[float, ...]
    cosmology: Any
    plane_distances: Any = None

    def __init__(self, galaxies: Sequence[Galaxy], cosmology: Any = None, plane_distances: Any = None):
        galaxies = tuple(galaxies)
        if not galaxies:
            raise ValueError("Tracer needs at least one galaxy")
        for g in galaxies:
            if not isinstance(g, Galaxy):
                raise TypeError(f"Tracer takes Galaxy objects; got {type(g).__name__}")
        cosmology = Planck15 if cosmology is None else cosmology
        redshifts: list[float] = []
        for z in sorted(g.redshift for g in galaxies):
            if not redshifts or z - redshifts[-1] > PLANE_REDSHIFT_TOLERANCE:
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
        object.__setattr__(self, "plane_distances", self._checked_distances(plane_distances))

    def _checked_distances(self, distances):
        if distances is None:
            return None
        xp = namespace(distances)
        d = xp.asarray(distances, dtype=xp.float64)
        if tuple(d.shape) != (self.n_planes,):
            raise ValueError(f"Tracer.plane_distances must have shape ({self.n_planes},), one comoving distance "
                             f"[Mpc] per plane; got shape {tuple(d.shape)}")
        if is_concrete(d):
            v = np.asarray(d)
            if not (np.all(np.isfinite(v)) and np.all(v > 0) and np.all(np.diff(v) > 0)):
                raise ValueError(f"Tracer.plane_distances must be finite, > 0 and increasing [Mpc]; got {v.tolist()}")
        return d

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
        galaxies = []
        for g in self.galaxies:
            groups: dict[Any, list[str]] = {}
            for name, prof in g.profiles.items():
                if isinstance(prof, MassProfile) and not isinstance(prof, HaloBatch) and prof.n_halos is None:
                    groups.setdefault(static_kind(prof), []).append(name)
            profiles = dict(g.profiles)
            for (cls, _), names in groups.items():
                if len(names) < min_haloes:
                    continue
                batch = HaloBatch.from_profiles([profiles.pop(n) for n in names])
                profiles[f"{cls.__name__}_batch"] = batch
            galaxies.append(Galaxy(g.redshift, **profiles))
        return Tracer(galaxies, cosmology=self.cosmology, plane_distances=self.plane_distances)

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
        return self._shoot(grid)

    def _shoot(self, grid: ArrayLike, pixels=None, fast_options=None):
        """The multi-plane recursion (PHYSICS.md §13.1), exact or fast.

        Without ``pixels`` every component is evaluated at the rays ``grid``. With
        ``pixels`` (the fast path: ``grid`` the sub-pixel rays, ``pixels`` the framed
        pixel-centre rays (N_y + 4, N_x + 4, 2)), both ray sets are traced in the same scan:
        the halo batches are evaluated at the pixel-centre rays only, their field is
        interpolated to the sub-pixel rays (:func:`upsample_cubic`) and corrected near the
        strongest haloes (:func:`window_corrections`, ``fast_options``); every other
        component is evaluated once at both ray sets together, so the compiled program holds
        one copy of each profile's code. With ``fast_options["split"]`` the planes in front of
        the main lens and the lens's own plane, where the pixel-centre rays form a near-regular
        grid, take the split halo field (:func:`split_halo_field`); the front scan then runs
        through the lens's plane for its field alone, which the second scan takes as given.
        With ``fast_options["lens_window"]`` the main lens's own components (its macro model)
        are evaluated at the pixel-centre rays too, interpolated, and exact near their centres
        (:func:`centre_windows`); a later plane's own components keep every ray.
        Returns the positions of ``grid`` on every plane.
        """
        xp = promoted_namespace(grid, *tree_leaves(self.galaxies))
        grid = xp.asarray(grid)
        if grid.ndim == 0 or grid.shape[-1] != 2:
            raise ValueError(f"grid must have shape (..., 2) holding (y, x) [arcsec]; got {grid.shape}")
        if self.n_planes == 1:
            return [grid]
        if self.plane_distances is None:
            chi = np.asarray(self.chi, dtype=np.float64)
        else:  # traced distances: the same recursion on arrays
            chi = xp.asarray(self.plane_distances, dtype=xp.float64)
        chi_s = chi[-1]
        n_defl = self.n_planes - 1
        shared, extras = uniform_planes(self._plane_masses()[:-1])
        # the planes' own components (the main lens's macro model), one branch per plane holding any
        branch_of = [0] * n_defl
        branches = [lambda theta: sum_fields([], theta, vector=True)]
        for i, comps in enumerate(extras):
            if comps:
                branch_of[i] = len(branches)
                branches.append(lambda theta, comps=comps: sum_fields([c.deflections_yx_2d_from for c in comps],
                                                                      theta, vector=True))
        rays = (grid,) if pixels is None else (grid, xp.asarray(pixels))

        split = None if pixels is None else fast_options.get("split")
        lens_window = None if pixels is None else fast_options.get("lens_window")
        corrections = {} if pixels is None else {k: v for k, v in fast_options.items()
                                                 if k not in ("split", "lens_window")}
        if lens_window is not None:
            # the main lens's own components on the fast path: at the pixel-centre rays,
            # interpolated to the sub-pixel rays, exact near their centres (centre_windows). Its
            # pixel-centre rays form a near-regular grid; behind it they fold (a centre can have
            # several images), so a later plane's own components keep every ray
            def lens_branch(rays_, comps):
                return centre_windows(comps, *rays_, window=lens_window, sub_size=fast_options["sub_size"], xp=xp)

            def every_ray_branch(rays_, comps):
                return _on_rays(lambda t: sum_fields([c.deflections_yx_2d_from for c in comps], t, vector=True),
                                rays_, xp=xp)

            first_own = next((i for i, b in enumerate(branch_of) if b), 0)
            branches = [lambda rays_: tuple(xp.zeros_like(r) for r in rays_)] + [
                functools.partial(lens_branch if i == first_own else every_ray_branch, comps=list(comps))
                for i, comps in enumerate(extras) if comps]

        def every_ray(batches, t):
            """The halo batches at the rays ``t``, one batch per profile class: one copy of its code."""
            out = xp.zeros_like(t)
            for group in group_batches(list(batches)):
                out = out + concatenate_batches(group).deflections_yx_2d_from(t)
            return out

        def advance(carry, plane, halo, own: bool):
            """The rays on the next plane, from the halo field ``halo`` at the last ray set."""
            s_a, s_b, theta = carry  # tuples: one entry per ray set (the sub-pixel rays first)
            (batches, others), index, chi_i, fac_i, inv_chi_next = plane
            alpha = [xp.zeros_like(t) for t in theta[:-1]] + [halo]
            if pixels is not None:  # the sub-pixel rays: corrected near the strongest haloes, interpolated
                fine, coarse = theta
                if batches and fast_options["n_corrected"] > 0:
                    # in front of the main lens (own is False) the pixel-centre rays form a
                    # near-regular grid
                    alpha[0] = alpha[0] + window_corrections(list(batches), fine, coarse, xp=xp, regular=not own,
                                                             **corrections)
                alpha[0] = alpha[0] + upsample_cubic(halo, fast_options["sub_size"], xp=xp)
            # the other components at all rays in one evaluation each
            parts = [_on_rays(lambda t: sum_fields([c.deflections_yx_2d_from for c in others], t, vector=True),
                              theta, xp=xp)]
            if own and len(branches) > 1:
                if lens_window is not None:
                    parts.append(switch(index, branches, tuple(theta), xp=xp))
                else:
                    parts.append(_on_rays(lambda t: switch(index, branches, t, xp=xp), theta, xp=xp))
            for part in parts:
                alpha = [a + b for a, b in zip(alpha, part, strict=True)]
            ahat = [xp.astype(fac_i, t.dtype) * a for t, a in zip(theta, alpha, strict=True)]
            s_a = tuple(s + a for s, a in zip(s_a, ahat, strict=True))
            s_b = tuple(s + xp.astype(chi_i, t.dtype) * a for s, t, a in zip(s_b, theta, ahat, strict=True))
            theta_next = tuple(r - sa + sb * xp.astype(inv_chi_next, r.dtype)
                               for r, sa, sb in zip(rays, s_a, s_b, strict=True))
            return (s_a, s_b, theta_next), theta_next[0]

        def step(carry, xs, own: bool):
            plane, given, use_given = xs
            batches = plane[0][0]
            if given is None:
                halo = every_ray(batches, carry[2][-1])
            else:  # a field computed by the front scan (the main lens's plane), or every halo here
                halo = switch(use_given, [lambda t: every_ray(batches, t), lambda t: given], carry[2][-1], xp=xp)
            return advance(carry, plane, halo, own)

        def split_step(carry, xs):
            """A plane whose pixel-centre rays form a near-regular grid: the split halo field
            (:func:`split_halo_field`); on the last (the main lens's plane) only the field."""
            plane, last = xs
            halo = split_halo_field(list(plane[0][0]), carry[2][-1], pixel=fast_options["pixel"], xp=xp, **split)
            new, out = switch(last, [lambda c: advance(c, plane, halo, False), lambda c: (c, c[2][0])], carry, xp=xp)
            return new, (out, halo)

        zero = tuple(xp.zeros_like(r) for r in rays)
        chi_defl = xp.asarray(chi[:-1], dtype=xp.float64)
        fac = chi_s / (chi_s - chi_defl)
        inv_next = 1.0 / xp.asarray(chi[1:], dtype=xp.float64)

        def planes(lo, hi):
            return (
                tree_stack(shared[lo:hi], xp=xp),
                xp.asarray(np.asarray(branch_of[lo:hi], dtype=np.int32)),
                chi_defl[lo:hi],
                fac[lo:hi],
                inv_next[lo:hi],
            )

        # Two scans: the planes in front of the first plane with components of its own (the main
        # lens), then the rest. The front planes' rays do not depend on the lens; in one scan with
        # the rest, reverse-mode differentiation would carry cotangents back through them too,
        # since a scan's carry is differentiated at every step or none (value_and_grad of the
        # default model's likelihood 3.1x -> 9.1x the forward; docs/performance.md, "Gradients
        # and the plane scans"). The front scan holds no switch of the lens.
        first = next((i for i, b in enumerate(branch_of) if b), 0)
        carry, outputs = (zero, zero, rays), []
        given = use_given = None
        if split is not None and shared[first][0]:
            # the fast path's split halo field where the pixel-centre rays form a near-regular grid:
            # the front planes and the main lens's own plane, whose field the front scan also
            # returns (its rays do not depend on the lens either); behind the lens the rays fold,
            # and every halo is evaluated at every ray
            last = xp.asarray((np.arange(first + 1) == first).astype(np.int32))
            carry, (ys, fields) = scan(split_step, carry, (planes(0, first + 1), last), xp=xp)
            outputs.extend(ys[k] for k in range(first))
            n_rest = n_defl - first
            given = at_set(xp.zeros((n_rest, *fields.shape[1:]), dtype=fields.dtype), 0, fields[first], xp=xp)
            use_given = xp.asarray((np.arange(n_rest) == 0).astype(np.int32))
            segments = [(first, n_defl, True)]
        else:
            segments = [(0, first, False), (first, n_defl, True)] if first > 0 else [(0, n_defl, True)]
        for lo, hi, own in segments:
            xs = (planes(lo, hi), given if own else None, use_given if own else None)
            # carry: S_a, S_b, theta on the plane; the last plane's rays are the final carry's
            body = functools.partial(step, own=own)
            # behind the front planes every step is differentiated: each stores only its carry
            # (value_and_grad 4.3x -> 3.4x the forward)
            carry, ys = scan(checkpoint(body, xp=xp) if own else body, carry, xs, xp=xp)
            outputs.extend(ys[k] for k in range(hi - lo))
        return [grid] + outputs[:-1] + [carry[2][0]]

    def traced_grid_2d_list_over_sampled_from(
        self,
        grid: ArrayLike,
        sub_size: int,
        exact: bool = False,
        n_corrected: int | None = None,
        window: int | None = None,
        coarsening: int | None = None,
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
            drops by about s^2 (16 for s = 4). On the planes in front of the main lens
            and at it, where the pixel-centre rays form a near-regular grid, the
            pixel-centre field is itself split (each halo's smooth far field on every
            other ray, interpolated; its near field exactly on a window:
            :data:`xlens.tracer.fast_path.FAST_PATH_SPLIT`), about 2.8x fewer
            halo-points per halo there. The error is measured in ``docs/performance.md`` and
            bounded by a test.
        n_corrected : int, optional
            Haloes per batch corrected on their window (default
            :data:`xlens.tracer.fast_path.FAST_PATH_CORRECTED`, read at each call, or
            ``FAST_PATH_COARSENED["n_corrected"]`` when coarsened; 0 switches the correction off).
        window : int, optional
            Side of the correction window in pixels (default :data:`xlens.tracer.fast_path.FAST_PATH_WINDOW`);
            in blocks of ``coarsening`` x ``coarsening`` pixels when coarsened (default
            ``FAST_PATH_COARSENED["window"]``).
        coarsening : int, optional
            Evaluate the halo batches at the centres of ``coarsening`` x ``coarsening`` pixel
            blocks instead of every pixel centre (default
            :data:`xlens.tracer.fast_path.FAST_PATH_COARSENING`, 1). 2 evaluates about 4x fewer
            halo-points; the interpolation then errs more, so more haloes are corrected, and the
            strongest also around the further images of their centre
            (:data:`xlens.tracer.fast_path.FAST_PATH_COARSENED`); speed and error in
            docs/performance.md. The grid's ``N_y`` and ``N_x`` pixels must be multiples of it.

        Returns
        -------
        list of arrays, shape (N_y s, N_x s, 2)
            (y, x) [arcsec] on each plane, the first being ``grid``.
        """
        if exact or sub_size == 1 or not any(
            isinstance(p, HaloBatch) for g in self.galaxies for p in g.profiles.values()
        ):
            return self.traced_grid_2d_list_from(grid)
        xp = promoted_namespace(grid, *tree_leaves(self.galaxies))
        grid = xp.asarray(grid)
        c = fast_path.FAST_PATH_COARSENING if coarsening is None else coarsening
        ny, nx = grid.shape[0] // sub_size, grid.shape[1] // sub_size
        if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 1 or ny % c or nx % c:
            raise ValueError(f"coarsening must be an integer >= 1 that divides the grid's {ny} x {nx} pixels; "
                             f"got {c!r}")
        # the halo batches' samples: the centres of c x c pixel blocks, s c sub-pixels on a side
        sub_size = sub_size * int(c)
        pixels = xp.stack([bin_over_sampled(grid[..., k], sub_size) for k in range(2)], axis=-1)
        # two extra pixels on every side: the cubic interpolation's neighbours are real rays
        pixels = extend_linear(extend_linear(pixels, 2, 0, xp=xp), 2, 1, xp=xp)
        options = fast_path.default_options(c)
        options.update({
            "n_corrected": options["n_corrected"] if n_corrected is None else int(n_corrected),
            "window": options["window"] if window is None else int(window),
            "sub_size": sub_size,
            # the pixel size [arcsec]: the radius of the mean convergence that ranks the haloes
            "pixel": xp.abs(pixels[0, 1, 1] - pixels[0, 0, 1]),
        })
        # the haloes' lensing parameters from their masses once, then both ray sets in one scan
        return self._with_lensing_batches()._shoot(grid, pixels, options)

    def _with_lensing_batches(self) -> Tracer:
        """The same tracer with every halo batch of mass-parameterised haloes (e.g.
        ``NFWTruncatedMCRLudlowSph``) replaced by the batch of its lensing profile
        (``NFWTruncatedSph``), padded slots set to their safe values: the fields are
        the same, and the conversion (concentration, distances) runs once. The one-plane
        batches of one kind (class and static fields: the subhaloes and the line-of-sight
        haloes of every plane) are joined and converted in one call, so the compiled program
        holds one copy of the conversion."""
        found = [(i, name, p) for i, g in enumerate(self.galaxies) for name, p in g.profiles.items()
                 if isinstance(p, HaloBatch) and hasattr(p.profile, "lensing_profile")]
        groups: dict[Any, list] = {}
        for item in found:
            p = item[2]
            key = (static_kind(p.profile), tuple(str(getattr(x, "dtype", type(x))) for x in tree_leaves(p)))
            groups.setdefault(key if np.ndim(p.mask) == 1 else (key, len(groups)), []).append(item)
        converted: dict[tuple[int, str], HaloBatch] = {}
        for items in groups.values():
            joined = concatenate_batches([p for _, _, p in items])
            lensing = HaloBatch(profile=joined.masked_profile(), mask=joined.mask)
            start = 0
            for i, name, p in items:
                stop = start + p.capacity
                part = lensing if len(items) == 1 else tree_map(lambda a, lo=start, hi=stop: a[lo:hi], lensing)
                converted[i, name] = part
                start = stop
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
        return sum_fields([g.convergence_2d_from for g in self.galaxies], grid)

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
        xp = namespace(traced[0])
        image = xp.zeros(traced[0].shape[:-1], dtype=traced[0].dtype)
        for g, i in zip(self.galaxies, self.plane_of_galaxy, strict=True):
            if g.light_profiles:
                image = image + g.image_2d_from(traced[i])
        return image


def uniform_planes(planes: Sequence[Sequence]) -> tuple[list[tuple[tuple, tuple]], list[tuple]]:
    """Split every deflecting plane into what all planes share and what is its own.

    A ``scan`` iterates alike planes with one compiled body, so the program holds one copy of
    the halo code per scan instead of one per run of alike planes (two scans in
    :class:`Tracer`: the planes in front of the main lens, then the rest; docs/performance.md,
    "Ray tracing: one scan over planes"). For that every plane's share must have the same
    structure:

    * halo batches: each plane holds, in one order, a batch of every signature (class,
      static fields, capacity) that any plane holds, as many as the most any plane has; a
      plane without one gets an empty batch (mask 0, which adds exactly zero; its halo
      chunks are skipped on the CPU). The line-of-sight planes gain an empty batch shaped
      like the main lens's subhaloes;
    * other components whose signature every plane has (the line-of-sight mass sheets).

    Returns ``(shared, own)``: per plane, ``(halo batches, other components)`` of equal
    signatures across planes, and the tuple of its remaining components (the main lens's
    macro model), evaluated only on that plane.
    """
    # (signature, component) per plane, halo batches and the rest apart
    halos = [[(tree_signature(c), c) for c in p if isinstance(c, HaloBatch)] for p in planes]
    others = [[(tree_signature(c), c) for c in p if not isinstance(c, HaloBatch)] for p in planes]
    template: list[tuple[Any, HaloBatch]] = []  # (signature, an example), most per plane of each
    for batches in halos:
        for sig, b in batches:
            if sum(t == sig for t, _ in template) < sum(s == sig for s, _ in batches):
                template.append((sig, b))
    # the other components' signatures on every plane, each as often as on the plane with fewest
    common = {sig: min(sum(s == sig for s, _ in p) for p in others) for sig, _ in others[0]} if others else {}
    shared, own = [], []
    for batches, rest in zip(halos, others, strict=True):
        slots = [_take(batches, sig) for sig, _ in template]
        slots = [_empty_batch(ex) if b is None else b for b, (_, ex) in zip(slots, template, strict=True)]
        kept = [_take(rest, sig) for sig, count in common.items() for _ in range(count)]
        shared.append((tuple(slots), tuple(kept)))
        own.append(tuple(c for _, c in rest))
    return shared, own


def _on_rays(fn, rays: tuple, *, xp) -> tuple:
    """``fn`` (a field of (..., 2) rays) at several ray sets in one evaluation: the sets are
    flattened and joined, and the result split back into their shapes."""
    if len(rays) == 1:
        return (fn(rays[0]),)
    flat = fn(xp.concatenate([xp.reshape(r, (-1, 2)) for r in rays]))
    out, start = [], 0
    for r in rays:
        n = int(np.prod(r.shape[:-1]))
        out.append(xp.reshape(flat[start:start + n], r.shape))
        start += n
    return tuple(out)


def _take(items: list, sig):
    """Remove and return the first component of ``(signature, component)`` ``items`` with ``sig``,
    or None."""
    k = next((j for j, (s, _) in enumerate(items) if s == sig), None)
    return None if k is None else items.pop(k)[1]


def _empty_batch(example: HaloBatch) -> HaloBatch:
    """A batch shaped like ``example`` with every slot padding (zero mask and parameters)."""
    xp = namespace(*tree_leaves(example))
    return tree_map(lambda a: xp.zeros_like(xp.asarray(a)), example)
