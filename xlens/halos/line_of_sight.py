"""Line-of-sight haloes in the pyHalo double cone, one padded row per plane (PHYSICS.md §13.2, §14.4).

Why this module is built the way it is: the haloes between observer and source
are drawn for every image inside the jitted function, like the subhaloes, and
each plane must have the same structure so that the tracer scans the planes.
The set-up (NumPy, once) lays out the planes and their slabs
(:func:`plane_layout`), integrates the Sheth-Tormen function over each slab of
the double cone into one table row per plane, and normalises one negative sheet
per plane; :meth:`LineOfSightPopulation.sample` draws every plane at once.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .. import engine
from ..cosmology import C_KM_S, RAD_PER_ARCSEC, Planck15
from ..halo_model.concentration import ludlow16_concentration
from ..halo_model.conversions import rendered_mass_ratio_of_concentration
from ..halo_model.mass_function import DoubleCone, sheth_tormen_dndlnm
from ..halo_model.wdm import WDMModel
from ..profiles.base import MassProfile
from ..profiles.mass.mcr import NFWTruncatedMCRLudlowSph
from .batch import HaloBatch
from .config import LineOfSightConfig
from .sampling import (
    Family,
    PopulationInfo,
    SheetTable,
    capacity_for_mean,
    check_capacity,
    check_z_range,
    draw_family,
    expected_rendered_mass,
    rendered_masses_over_m_hm,
    report_overflow,
    resolve_centre,
    scale_to_reference,
    sheet_profile,
    wdm_at,
    wdm_functions,
)
from .tables import CellTable, cells_from_densities, ln_mass_nodes, traced_quadrature

__all__ = ["LineOfSightPopulation", "plane_counts", "plane_layout", "plane_layout_at"]

#: Gauss-Legendre nodes in z per slab piece for the slab-integrated mass function.
_SLAB_Z_NODES = 24


def plane_layout(n_planes: int, z_lens: float, z_source: float) -> tuple[np.ndarray, np.ndarray]:
    """Plane redshifts and slab edges of the line of sight (PHYSICS.md §14.4, **convention**).

    ``n_front = round((n_planes - 1) z_lens / z_source)`` planes in front of the lens,
    one at ``z_lens`` exactly and the rest behind. In front, slabs of width
    ``z_lens / (n_front + 1/2)`` start at 0 with the plane at each slab's centre; behind,
    slabs of width ``(z_source - z_lens) / (n_back + 1/2)`` end at ``z_source``; the lens
    slab is the half-slab on either side of ``z_lens``.

    Returns
    -------
    redshifts : ndarray, shape (n_planes,)
    edges : ndarray, shape (n_planes + 1,)
        From 0 to ``z_source``.
    """
    n_front, n_back = plane_counts(n_planes, z_lens, z_source)
    d_f = z_lens / (n_front + 0.5)
    d_b = (z_source - z_lens) / (n_back + 0.5)
    edges = [k * d_f for k in range(n_front + 1)]
    edges += [z_lens + 0.5 * d_b + k * d_b for k in range(n_back + 1)]
    planes = [(k + 0.5) * d_f for k in range(n_front)] + [z_lens]
    planes += [z_lens + 0.5 * d_b + (k + 0.5) * d_b for k in range(n_back)]
    edges[-1] = z_source
    return np.asarray(planes), np.asarray(edges)


def plane_counts(n_planes: int, z_lens: float, z_source: float) -> tuple[int, int]:
    """``(n_front, n_back)`` of :func:`plane_layout`: planes in front of and behind the lens."""
    n_front = math.floor((n_planes - 1) * z_lens / z_source + 0.5)
    return n_front, n_planes - 1 - n_front


def plane_layout_at(n_front: int, n_back: int, z_lens, z_source, *, xp):
    """:func:`plane_layout` with the plane counts fixed and the redshifts as arrays (jittable).

    The same rule at any ``(z_lens, z_source)`` (scalars of ``xp``, may be traced): the
    planes sit at fixed fractions of ``z_lens`` in front and of ``z_source - z_lens`` behind,
    so their order never changes. Returns ``(redshifts (P,), edges (P + 1,))``.
    """
    zl = xp.asarray(z_lens, dtype=xp.float64)
    zs = xp.asarray(z_source, dtype=xp.float64)
    kf, kb = np.arange(n_front, dtype=np.float64), np.arange(n_back, dtype=np.float64)
    frac_f = (kf + 0.5) / (n_front + 0.5)
    frac_b = (kb + 1.0) / (n_back + 0.5)
    planes = xp.concat([xp.asarray(frac_f) * zl, xp.reshape(zl, (1,)), zl + xp.asarray(frac_b) * (zs - zl)])
    ef = np.arange(n_front + 1, dtype=np.float64) / (n_front + 0.5)
    eb = (np.arange(n_back + 1, dtype=np.float64) + 0.5) / (n_back + 0.5)
    edges = xp.concat([xp.asarray(ef) * zl, zl + xp.asarray(eb[:-1]) * (zs - zl), xp.reshape(zs, (1,))])
    return planes, edges


class LineOfSightPopulation:
    """Line-of-sight haloes in the double cone, one padded batch row per plane (PHYSICS.md §14.4).

    Parameters
    ----------
    config : LineOfSightConfig
        The validated configuration.
    capacity : int, optional
        Slots per plane, the same on every plane so that the tracer scans the planes;
        default ``bucket_capacity`` of the largest ``mean + 6 sqrt(mean)`` over planes.
    m_hm_range : (low, high), optional
        The half-mode masses [M_sun] that :meth:`sample` may be given per realisation
        (``m_hm=``); needs ``dark_matter="wdm"``. The sheets are tabulated over the range
        (:class:`~xlens.halos.sampling.SheetTable`).
    z_range : ((z_lens_low, z_lens_high), (z_source_low, z_source_high)), optional
        The redshifts that :meth:`sample` may be given per realisation (``z_lens=``,
        ``z_source=``), with ``z_source_low > z_lens_high``. The planes then follow the
        redshifts (:func:`plane_layout_at`, with the plane counts of ``config``'s redshifts,
        the reference), and each realisation integrates the Sheth-Tormen function over its
        own slabs (24 Gauss-Legendre nodes per piece, a table in z 0.005 apart) and its
        sheets in ``xp``; the capacity holds the largest plane mean over a 7 x 7 grid of
        the box, plus 2%.

    Attributes
    ----------
    plane_redshifts : ndarray, shape (P,)
    slab_edges : ndarray, shape (P + 1,)
        Redshift edges of the slab each plane represents (:func:`plane_layout`).
    slab_volumes_mpc3 : ndarray, shape (P,)
        Comoving volume of the double cone in each slab [Mpc^3].
    angular_radii : ndarray, shape (P,)
        Radius of the disc of each plane [arcsec]: ``R(chi_i) / chi_i``.
    expected_counts : ndarray, shape (P,)
        Mean number of haloes per plane: the Sheth-Tormen function integrated over the
        slab volume (its z dependence inside the slab included) and the mass range,
        times ``delta_los`` (and the mean WDM suppression).
    sheet_kappa : ndarray, shape (P,)
        Convergence of each plane's negative sheet (PHYSICS.md §13.2).
    table : CellTable
        Slab-integrated mass function of every plane (one row each), before WDM thinning.
    capacity : int

    Notes
    -----
    Haloes of slab i are all placed at the plane redshift z_i with masses drawn from
    the slab-integrated mass function ``int_slab dV dn/dln m``, and rendered as
    ``NFWTruncatedMCRLudlowSph`` with ``redshift_source = z_source`` (PHYSICS.md §13.1).
    The sheet of plane i is
    ``kappa_i = -int m_ren S dN_i / (Sigma_cr(z_i, z_s) pi (theta_i kpc_per_arcsec(z_i))^2)``,
    where ``m_ren = M200 m_inf(2c) / mu(c)`` is the mass the truncated profile carries
    (1.3-1.6 M200; pyHalo uses M200), so that the sheet cancels the mean convergence the
    rendered haloes add. It is deterministic (the expected, not the realised, mass).

    Examples
    --------
    >>> from xlens.halos import LineOfSightConfig, LineOfSightPopulation
    >>> los = LineOfSightPopulation(LineOfSightConfig())
    >>> round(float(los.expected_counts.sum()))
    180
    """

    def __init__(self, config: LineOfSightConfig, capacity: int | None = None,
                 m_hm_range: tuple[float, float] | None = None, z_range=None):
        if not isinstance(config, LineOfSightConfig):
            raise TypeError(
                f"LineOfSightPopulation takes a LineOfSightConfig; got {type(config).__name__}"
            )
        self.config = cfg = config
        self.cone = cone = DoubleCone(cfg.cone_radius, cfg.z_lens, cfg.z_source)
        self.plane_redshifts, self.slab_edges = plane_layout(cfg.n_planes, cfg.z_lens, cfg.z_source)
        z = self.plane_redshifts
        self.slab_volumes_mpc3 = np.array(
            [cone.volume_mpc3(a, b) for a, b in zip(self.slab_edges[:-1], self.slab_edges[1:],
                                                     strict=True)]
        )
        self.angular_radii = np.asarray(cone.angular_radius_arcsec(z), dtype=np.float64)

        nodes = ln_mass_nodes(math.log(cfg.m_min), math.log(cfg.m_max))
        dens = np.empty((z.size, nodes.size))
        for i, (a, b) in enumerate(zip(self.slab_edges[:-1], self.slab_edges[1:], strict=True)):
            zz, wz = cone.redshift_nodes(a, b, _SLAB_Z_NODES)
            dn = sheth_tormen_dndlnm(np.exp(nodes)[:, None], zz[None, :], transfer=cfg.transfer)
            dens[i] = cfg.delta_los * (dn @ wz)
        if cfg.delta_los == 0.0:
            table = CellTable.from_nodes(nodes, np.ones_like(dens))
            table = dataclasses.replace(table, weight=np.zeros_like(table.weight))
        else:
            table = CellTable.from_nodes(nodes, dens)

        thinning, factor = wdm_functions(cfg)  # WDM always thins the line of sight

        means = table.total
        self._nodes = nodes
        self.z_range = self._check_z_range(z_range)
        largest = float(np.max(means))
        if self.z_range is not None:
            self._set_up_redshifts()
            largest = max(largest, 1.02 * self._largest_mean_over_box())
        self.largest_mean = largest
        self.capacity = (capacity_for_mean(largest) if capacity is None
                         else check_capacity(type(self).__name__, capacity))
        self._family = Family("los", NFWTruncatedMCRLudlowSph, table, self.capacity, z,
                               self.angular_radii, thinning, factor, {}, WDMModel.from_config(cfg))
        if m_hm_range is not None and cfg.dark_matter != "wdm":
            raise ValueError(
                f"LineOfSightPopulation: m_hm_range={m_hm_range!r} draws the half-mode mass per "
                f"realisation, which needs dark_matter='wdm'; got dark_matter={cfg.dark_matter!r}"
            )
        self.m_hm_range = None if m_hm_range is None else (float(m_hm_range[0]), float(m_hm_range[1]))
        self.table = table
        self.expected_counts = np.array(
            [table.integrate(thinning, row=i) if thinning else means[i] for i in range(z.size)]
        )
        self.sheet_kappa = self._sheet_kappa(self._family)
        #: the (P,) sheet convergences over m_hm_range (None without a range or sheets)
        self.sheet_table = None
        if self.m_hm_range is not None and cfg.sheets:
            self.sheet_table = SheetTable.build(self.m_hm_range, self._sheet_kappa_over_m_hm)

    def _sheet_kappa(self, fam: Family) -> np.ndarray:
        cfg = self.config
        out = np.empty(self.plane_redshifts.size)
        for i, z in enumerate(self.plane_redshifts):
            mass = expected_rendered_mass(fam, i, z, cfg.concentration_model)
            sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(z, cfg.z_source))
            area = math.pi * (self.angular_radii[i] * float(Planck15.kpc_per_arcsec(z))) ** 2
            out[i] = -mass / (sigma_cr * area)
        return out

    def _sheet_kappa_over_m_hm(self, m_hm: np.ndarray) -> np.ndarray:
        """(N, P) sheet convergences at the half-mode masses ``m_hm`` [M_sun]."""
        cfg, fam = self.config, self._family
        out = np.empty((m_hm.size, self.plane_redshifts.size))
        for i, z in enumerate(self.plane_redshifts):
            mass = rendered_masses_over_m_hm(fam, i, z, cfg.concentration_model, m_hm)
            sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(z, cfg.z_source))
            area = math.pi * (self.angular_radii[i] * float(Planck15.kpc_per_arcsec(z))) ** 2
            out[:, i] = -mass / (sigma_cr * area)
        return out

    # -------------------------------------------------------- traced redshifts
    def _check_z_range(self, z_range):
        checked = check_z_range(type(self).__name__, z_range)
        if checked is not None and self.config.delta_los <= 0.0:
            raise ValueError(f"{type(self).__name__}: z_range needs delta_los > 0 (the reference); "
                             f"got {self.config.delta_los!r}")
        return checked

    def _set_up_redshifts(self) -> None:
        """The static data of the traced-redshift path: plane counts, the z table of dn/dln m."""
        cfg = self.config
        self._counts = plane_counts(cfg.n_planes, cfg.z_lens, cfg.z_source)
        z_top = self.z_range[1][1]
        self._z_step = 0.005
        self._z_grid = np.arange(0.0, z_top + 2 * self._z_step, self._z_step)
        dn = sheth_tormen_dndlnm(np.exp(self._nodes)[None, :], np.maximum(self._z_grid, 0.0)[:, None],
                                 transfer=cfg.transfer)
        self._dn_table = cfg.delta_los * np.asarray(dn, dtype=np.float64)  # (Z, K + 1)
        self._gl = np.polynomial.legendre.leggauss(_SLAB_Z_NODES)

    def _dn_at(self, z, xp):
        """delta_los dn/dln m at redshifts ``z`` (shape S) and every mass node: (S, K + 1)."""
        t = z / self._z_step
        i = xp.clip(xp.floor(t), 0.0, float(self._z_grid.size - 2))
        frac = t - i
        ii = xp.astype(i, xp.int64)
        table = xp.asarray(self._dn_table)
        lo = xp.take(table, xp.reshape(ii, (-1,)), axis=0)
        hi = xp.take(table, xp.reshape(ii + 1, (-1,)), axis=0)
        f = xp.reshape(frac, (-1, 1))
        return lo * (1.0 - f) + hi * f

    def at_redshifts(self, z_lens, z_source, xp) -> dict:
        """The realisation's static tables recomputed at ``(z_lens, z_source)`` (jittable).

        Returns a dict of ``xp`` arrays: ``redshifts`` (P,) and ``edges`` (P + 1,) of the planes,
        ``radii`` (P,) [arcsec], ``cells`` (weight, slope) of shape (P, K) (the slab-integrated
        mass function, as :attr:`table`), and ``chi`` (P,), ``chi_source`` [Mpc].
        """
        if self.z_range is None:
            raise ValueError("LineOfSightPopulation: z_lens/z_source are given, but the population was built "
                             "without z_range, the redshifts it may be given")
        cosmo = Planck15
        n_front, n_back = self._counts
        zl = xp.asarray(z_lens, dtype=xp.float64)
        zs = xp.asarray(z_source, dtype=xp.float64)
        planes, edges = plane_layout_at(n_front, n_back, zl, zs, xp=xp)
        chi_l = cosmo.comoving_distance_mpc(zl)
        chi_s = cosmo.comoving_distance_mpc(zs)
        theta = self.config.cone_radius * RAD_PER_ARCSEC

        def radius(chi):
            back = theta * chi_l * (chi_s - chi) / (chi_s - chi_l)
            return xp.where(chi <= chi_l, theta * chi, back)

        # each slab in two pieces split at the lens (the cone's kink): a piece may be empty
        a, b = edges[:-1], edges[1:]
        mid = xp.clip(zl, a, b)
        x, w = (xp.asarray(v) for v in self._gl)
        pieces = []
        for lo, hi in ((a, mid), (mid, b)):
            half = 0.5 * (hi - lo)
            z = lo[:, None] + half[:, None] * (x[None, :] + 1.0)  # (P, J)
            chi = cosmo.comoving_distance_mpc(z)
            dvdz = math.pi * radius(chi) ** 2 * (C_KM_S / float(cosmo.H0)) / cosmo.efunc(z)
            pieces.append((z, half[:, None] * w[None, :] * dvdz))
        z_all = xp.concat([pieces[0][0], pieces[1][0]], axis=1)  # (P, 2J)
        w_all = xp.concat([pieces[0][1], pieces[1][1]], axis=1)
        n_p, n_j = z_all.shape
        dn = xp.reshape(self._dn_at(xp.reshape(z_all, (-1,)), xp), (n_p, n_j, -1))  # (P, 2J, K + 1)
        dens = xp.sum(w_all[..., None] * dn, axis=1)  # (P, K + 1)
        chi_p = cosmo.comoving_distance_mpc(planes)
        return {
            "redshifts": planes, "edges": edges, "radii": radius(chi_p) / chi_p / RAD_PER_ARCSEC,
            "cells": cells_from_densities(self._nodes, dens, xp=xp), "chi": chi_p, "chi_source": chi_s,
        }

    def _largest_mean_over_box(self) -> float:
        (l_lo, l_hi), (s_lo, s_hi) = self.z_range
        best = 0.0
        for zl in np.linspace(l_lo, l_hi, 7):
            for zs in np.linspace(s_lo, s_hi, 7):
                weight, _ = self.at_redshifts(zl, zs, np)["cells"]
                best = max(best, float(np.max(np.sum(weight, axis=1))))
        return best

    def _sheets_at(self, tables: dict, z_source, m_hm, xp):
        """(P,) sheet convergences at traced redshifts (see the class notes), in ``xp``."""
        cfg, fam = self.config, self._family
        weight, slope = tables["cells"]
        masses, w = traced_quadrature(self.table, weight, slope, xp=xp)  # (Q,), (P, Q)
        keep, factor = (fam.thinning, fam.factor) if m_hm is None else wdm_at(fam, xp.asarray(m_hm, dtype=xp.float64))
        z = tables["redshifts"][:, None]  # (P, 1)
        m = xp.asarray(masses)[None, :]
        c = ludlow16_concentration(xp.broadcast_to(m, w.shape), xp.broadcast_to(z, w.shape),
                                   model=cfg.concentration_model)
        f = factor(m, z) if callable(factor) else factor
        kept = keep(m) if keep is not None else 1.0
        mass = xp.sum(w * kept * m * rendered_mass_ratio_of_concentration(c * f), axis=1)  # (P,)
        zp = tables["redshifts"]
        sigma_cr = Planck15.critical_surface_density_msun_per_kpc2(zp, z_source)
        area = math.pi * (tables["radii"] * Planck15.kpc_per_arcsec(zp)) ** 2
        return -mass / (sigma_cr * area)

    @property
    def n_planes(self) -> int:
        return int(self.plane_redshifts.size)

    # ------------------------------------------------------------------ sampling
    def sample(self, key, centre=None, delta_los=None, m_hm=None, z_lens=None,
               z_source=None) -> tuple[HaloBatch, PopulationInfo]:
        """Draw one realisation of every plane (jittable, vmappable over JAX keys).

        Parameters
        ----------
        key : JAX key or NumPy key
            Selects the engine (see :func:`xlens.engine.key_engine`).
        centre : (y, x) array, optional
            Cone axis [arcsec] (may be traced); default ``config.centre``.
        delta_los : scalar array, optional
            delta_los of this realisation (dimensionless), >= 0 (may be traced, e.g. drawn
            from a prior): every plane's mean count is scaled by
            ``delta_los / config.delta_los`` and the counts are drawn from a traced Poisson
            CDF. The capacity is that of ``config.delta_los``, so build the population at
            the largest value you pass (the :class:`~xlens.Simulator` builds it at the
            prior's upper end). Default: the configured value, drawn from the static tables.
        m_hm : scalar array, optional
            Half-mode mass of this realisation [M_sun], inside ``m_hm_range`` (may be
            traced): the WDM thinning and concentration factor use it; the counts before
            thinning (``n_drawn``) and the capacity do not. Default: ``config.m_hm``.
        z_lens, z_source : scalar arrays, optional
            Redshifts of this realisation, inside ``z_range`` (may be traced; both or
            neither): the planes, their slabs' mass functions, disc radii and the haloes'
            redshift fields follow them (:meth:`at_redshifts`). Default: the configured ones.

        Returns
        -------
        batch : HaloBatch
            ``NFWTruncatedMCRLudlowSph`` haloes with fields of shape (P, capacity);
            ``batch.plane(i)`` is plane i.
        info : PopulationInfo
            ``n_drawn`` and ``n_kept`` of shape (P,), ``overflow`` a bool scalar.
        """
        rnd = engine.random_ops(key)
        xp = rnd.xp
        yx = resolve_centre(centre, self.config.centre, xp)
        scale = None if delta_los is None else scale_to_reference(delta_los, self.config.delta_los, xp)
        self._check_m_hm(m_hm)
        u = rnd.uniform(key, (self._family.n_uniforms,))
        if (z_lens is None) != (z_source is None):
            raise ValueError("LineOfSightPopulation.sample: give both z_lens and z_source, or neither")
        if z_lens is None:
            batch, n, n_kept = draw_family(xp, u, self._family, self.config.z_source, yx,
                                            self.config.concentration_model, scale, m_hm)
        else:
            tables = self.at_redshifts(z_lens, z_source, xp)
            batch, n, n_kept = draw_family(xp, u, self._family, xp.asarray(z_source, dtype=xp.float64), yx,
                                            self.config.concentration_model, scale, m_hm, cells=tables["cells"],
                                            radii=tables["radii"], redshifts=tables["redshifts"])
        return batch, PopulationInfo(n, n_kept, xp.any(n > self.capacity))

    def _check_m_hm(self, m_hm) -> None:
        if m_hm is not None and self.m_hm_range is None:
            raise ValueError("LineOfSightPopulation: m_hm is given, but the population was built without "
                             "m_hm_range=(low, high) [M_sun], the half-mode masses it may be given")

    def plane_profiles(self, batch: HaloBatch, centre=None, delta_los=None,
                       m_hm=None, z_lens=None, z_source=None) -> list[tuple[float, dict[str, MassProfile]]]:
        """What each plane holds: ``[(z_i, {"los_halos": ..., "los_sheet": ...}), ...]``.

        Plane i holds its haloes (``batch.plane(i)``) and, if ``config.sheets``, its
        negative sheet. Every plane has the same structure, so the tracer scans them
        (the plane at ``z_lens`` joins the lens galaxy's plane); build galaxies with
        ``[Galaxy(z, **profiles) for z, profiles in population.plane_profiles(batch)]``.
        ``centre`` places the sheets' centre (it only shifts the deflection of a
        constant sheet by a constant; default the configured cone axis). ``delta_los`` (the
        one given to :meth:`sample`, may be traced) scales every sheet's convergence by
        ``delta_los / config.delta_los``; default the configured value. ``m_hm`` [M_sun] (the
        one given to :meth:`sample`) takes the sheets from :attr:`sheet_table`. ``z_lens`` and
        ``z_source`` (those given to :meth:`sample`) compute the sheets at those redshifts; the
        planes keep their reference redshifts here (they order the galaxies: give the tracer
        ``plane_distances`` from :meth:`at_redshifts`).
        """
        self._check_m_hm(m_hm)
        given = [v for v in (centre, delta_los, m_hm, z_lens, z_source) if v is not None]
        xp = engine.namespace(*given, batch.mask) if given else None
        axis = self.config.centre if centre is None else centre
        scale = None if delta_los is None else scale_to_reference(delta_los, self.config.delta_los, xp)
        if z_lens is not None and self.config.sheets:
            kappas = self._sheets_at(self.at_redshifts(z_lens, z_source, xp), z_source, m_hm, xp)
        else:
            kappas = None if m_hm is None or not self.config.sheets else self.sheet_table(m_hm, xp)
        out = []
        for i, z in enumerate(self.plane_redshifts):
            profiles: dict[str, MassProfile] = {"los_halos": batch.plane(i)}
            if self.config.sheets:
                kappa = float(self.sheet_kappa[i]) if kappas is None else kappas[i]
                kappa = kappa if scale is None else kappa * scale
                profiles["los_sheet"] = sheet_profile(axis, kappa, xp)
            out.append((float(z), profiles))
        return out

    def check(self, info: PopulationInfo, *, action: str = "raise") -> None:
        """Outside jit: raise :class:`CapacityOverflowError` (or warn) if a plane overflowed."""
        labels = [f"plane {i} (z = {z:.4f})" for i, z in enumerate(self.plane_redshifts)]
        report_overflow(type(self).__name__, info, [self.capacity] * self.n_planes, labels,
                        np.full(self.n_planes, self.largest_mean), action)
