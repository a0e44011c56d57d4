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
from ..cosmology import Planck15
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
    draw_family,
    expected_rendered_mass,
    rendered_masses_over_m_hm,
    report_overflow,
    resolve_centre,
    scale_to_reference,
    sheet_profile,
    wdm_functions,
)
from .tables import CellTable, ln_mass_nodes

__all__ = ["LineOfSightPopulation", "plane_layout"]

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
    n_front = math.floor((n_planes - 1) * z_lens / z_source + 0.5)
    n_back = n_planes - 1 - n_front
    d_f = z_lens / (n_front + 0.5)
    d_b = (z_source - z_lens) / (n_back + 0.5)
    edges = [k * d_f for k in range(n_front + 1)]
    edges += [z_lens + 0.5 * d_b + k * d_b for k in range(n_back + 1)]
    planes = [(k + 0.5) * d_f for k in range(n_front)] + [z_lens]
    planes += [z_lens + 0.5 * d_b + (k + 0.5) * d_b for k in range(n_back)]
    edges[-1] = z_source
    return np.asarray(planes), np.asarray(edges)


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
                 m_hm_range: tuple[float, float] | None = None):
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
        self.capacity = (max(capacity_for_mean(float(m)) for m in means) if capacity is None
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

    @property
    def n_planes(self) -> int:
        return int(self.plane_redshifts.size)

    # ------------------------------------------------------------------ sampling
    def sample(self, key, centre=None, delta_los=None, m_hm=None) -> tuple[HaloBatch, PopulationInfo]:
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
        batch, n, n_kept = draw_family(xp, u, self._family, self.config.z_source, yx,
                                        self.config.concentration_model, scale, m_hm)
        return batch, PopulationInfo(n, n_kept, xp.any(n > self.capacity))

    def _check_m_hm(self, m_hm) -> None:
        if m_hm is not None and self.m_hm_range is None:
            raise ValueError("LineOfSightPopulation: m_hm is given, but the population was built without "
                             "m_hm_range=(low, high) [M_sun], the half-mode masses it may be given")

    def plane_profiles(self, batch: HaloBatch, centre=None, delta_los=None,
                       m_hm=None) -> list[tuple[float, dict[str, MassProfile]]]:
        """What each plane holds: ``[(z_i, {"los_halos": ..., "los_sheet": ...}), ...]``.

        Plane i holds its haloes (``batch.plane(i)``) and, if ``config.sheets``, its
        negative sheet. Every plane has the same structure, so the tracer scans them
        (the plane at ``z_lens`` joins the lens galaxy's plane); build galaxies with
        ``[Galaxy(z, **profiles) for z, profiles in population.plane_profiles(batch)]``.
        ``centre`` places the sheets' centre (it only shifts the deflection of a
        constant sheet by a constant; default the configured cone axis). ``delta_los`` (the
        one given to :meth:`sample`, may be traced) scales every sheet's convergence by
        ``delta_los / config.delta_los``; default the configured value. ``m_hm`` [M_sun] (the
        one given to :meth:`sample`) takes the sheets from :attr:`sheet_table`.
        """
        self._check_m_hm(m_hm)
        given = [v for v in (centre, delta_los, m_hm) if v is not None]
        xp = engine.namespace(*given, batch.mask) if given else None
        axis = self.config.centre if centre is None else centre
        scale = None if delta_los is None else scale_to_reference(delta_los, self.config.delta_los, xp)
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
                self.table.total, action)
