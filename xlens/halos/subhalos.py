"""Subhaloes of the main lens, sampled on device as padded batches (PHYSICS.md §14.1-§14.3, §14.5).

Why this module is built the way it is: a user draws a new realisation of the
subhaloes for every simulated image, up to millions of times. Sampling therefore
happens inside the same jitted (and vmapped) function as the ray tracing and
produces padded :class:`~xlens.halos.HaloBatch` arrays of a fixed capacity. The
set-up (NumPy, once) turns a :class:`~xlens.halos.SubhaloConfig` into one
mass-function table per family (CDM/WDM: one; SIDM: cored and collapsed), the
capacities and the negative-sheet convergence. ``sample(key)`` draws
``N ~ Poisson(mean)``, masses by inverse CDF and positions uniform in a disc; the
engine follows the key (a JAX key samples with ``jax.random`` under ``jit`` and
``vmap``; an int, a ``SeedSequence`` or a ``numpy.random.Generator`` with NumPy).
:meth:`SubhaloPopulation.plane_profiles` hands the tracer plain profiles.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import engine
from ..cosmology import Planck15
from ..halo_model.concentration import ludlow16_concentration
from ..halo_model.conversions import rendered_mass_ratio_of_concentration
from ..halo_model.mass_function import SUBHALO_PIVOT_MASS, subhalo_host_scaling
from ..halo_model.wdm import WDMModel
from ..profiles.base import MassProfile
from ..profiles.mass.mcr import NFWTruncatedMCRLudlowSph, cNFWMCRLudlowSph
from .batch import HaloBatch
from .config import SubhaloConfig
from .sampling import (
    Family,
    PopulationInfo,
    SheetTable,
    capacity_for_mean,
    check_capacity,
    check_z_range,
    draw_family,
    expected_rendered_mass,
    rendered_mass_terms,
    rendered_masses_over_m_hm,
    report_overflow,
    resolve_centre,
    scale_to_reference,
    sheet_profile,
    wdm_at,
    wdm_functions,
)
from .tables import CellTable, ln_mass_nodes

__all__ = ["SubhaloPopulation"]


class SubhaloPopulation:
    """Subhaloes of the main lens, sampled as padded batches (PHYSICS.md §14.1-§14.3, §14.5).

    Parameters
    ----------
    config : SubhaloConfig
        The validated configuration.
    capacity : int or dict, optional
        Slots per family; default ``bucket_capacity(mean + 6 sqrt(mean))`` of each
        family. A dict maps family names to capacities.
    m_hm_range : (low, high), optional
        The half-mode masses [M_sun] that :meth:`sample` may be given per realisation
        (``m_hm=``). Needs ``dark_matter="wdm"`` with ``wdm_sampling="thinning"``; the
        sheet (``config.sheet``) is tabulated over the range (:class:`SheetTable`).
    alpha_range : (low, high), optional
        The mass-function slopes that :meth:`sample` may be given per realisation
        (``alpha=``), within [-3, 0]. Needs a power-law table: CDM, WDM with
        ``wdm_sampling="thinning"``, or SIDM. The mean count
        ``N(alpha) = Sigma_sub F A int (m/m0)^(alpha+1) dln m`` (m0 = 1e8 M_sun) is a sum of
        exponentials in alpha, hence convex, so the capacities hold the larger of the means
        at ``low`` and ``high``; the sheet
        is integrated per realisation on fixed quadrature nodes re-weighted by
        ``(m/m0)^(alpha - config.alpha)``.
    z_range : ((z_lens_low, z_lens_high), (z_source_low, z_source_high)), optional
        The redshifts that :meth:`sample` may be given per realisation (``z_lens=``,
        ``z_source=``): the mean counts scale with the disc's physical area (and the host
        scaling, with ``host_mass``) at the drawn ``z_lens``, the haloes carry the drawn
        redshifts, and the sheet is integrated in ``xp`` at them. The capacities hold the
        largest mean over the range (the area grows with ``z_lens`` up to z ~ 1.6, so the
        larger of the ends and a grid of 9 values is used).
    p_cc_range : (low, high), optional
        The SIDM collapsed probabilities that :meth:`sample` may be given per realisation
        (``p_cc=``), within [0, 1]; needs ``dark_matter="sidm"`` with one ``p_cc`` value (no
        ``p_cc_log10_breaks``). Both families then tabulate the whole mass function and each
        draw scales the cored mean by ``1 - p_cc`` and the collapsed mean by ``p_cc``; the
        capacities hold the cored mean at ``low`` and the collapsed mean at ``high``.

    Attributes
    ----------
    family_names : tuple of str
        ``("subhalos",)`` for CDM and WDM; ``("cored", "collapsed")`` for SIDM.
    expected_counts : dict
        Mean number of haloes per family (after WDM suppression).
    capacities : dict
        Slots per family.
    tables : dict of str -> CellTable
        The (one-row) mass-function table of each family, before WDM thinning.
    sheet_kappa : float or None
        Convergence of the optional negative sheet (None for SIDM).

    Examples
    --------
    >>> from xlens.halos import SubhaloConfig, SubhaloPopulation
    >>> pop = SubhaloPopulation(SubhaloConfig())
    >>> round(pop.expected_counts["subhalos"], 1), pop.capacities["subhalos"]
    (246.2, 512)
    >>> batches, info = pop.sample(0)          # NumPy key; a jax.random.key uses JAX
    >>> batches["subhalos"].capacity, bool(info.overflow)
    (512, False)
    """

    def __init__(self, config: SubhaloConfig, capacity: int | dict | None = None,
                 m_hm_range: tuple[float, float] | None = None,
                 p_cc_range: tuple[float, float] | None = None,
                 alpha_range: tuple[float, float] | None = None, z_range=None):
        if not isinstance(config, SubhaloConfig):
            raise TypeError(f"SubhaloPopulation takes a SubhaloConfig; got {type(config).__name__}")
        self.config = cfg = config
        beta = cfg.alpha + 1.0
        f_host = subhalo_host_scaling(cfg.host_mass, cfg.z_lens)
        #: dN/dln m = norm m^beta over the disc
        norm = cfg.sigma_sub * f_host * cfg.area_kpc2 * SUBHALO_PIVOT_MASS ** -beta
        ln_lo, ln_hi = math.log(cfg.m_min), math.log(cfg.m_max)
        z = np.array([cfg.z_lens])
        radii = np.array([cfg.radius])
        families: list[tuple[str, type, CellTable, Any, Any, dict]] = []
        if cfg.dark_matter in ("cdm", "wdm"):
            suppression, factor = wdm_functions(cfg)
            thinning = None
            table = CellTable.power_law([ln_lo, ln_hi], beta, norm)
            if suppression is not None:
                if cfg.wdm_sampling == "thinning":
                    thinning = suppression
                else:
                    nodes = ln_mass_nodes(ln_lo, ln_hi)
                    dens = norm * np.exp(beta * nodes) * suppression(np.exp(nodes))
                    table = CellTable.from_nodes(nodes, dens[None])
            families.append(("subhalos", NFWTruncatedMCRLudlowSph, table, thinning, factor, {}))
        else:  # SIDM: independent Poisson populations of cored and collapsed haloes
            breaks = [math.log(10.0**b) for b in cfg.p_cc_log10_breaks]
            inner = [b for b in breaks if ln_lo < b < ln_hi]
            edges = np.array([ln_lo, *inner, ln_hi])
            mids = 0.5 * (edges[:-1] + edges[1:])
            p = np.asarray(cfg.p_cc)[np.searchsorted(np.asarray(breaks), mids, side="right")]
            # with p_cc_range, both families hold the whole mass function and p_cc scales them
            drawn_p = p_cc_range is not None
            families.append(("cored", cNFWMCRLudlowSph,
                             CellTable.power_law(edges, beta, norm, None if drawn_p else 1.0 - p), None, 1.0,
                             {"f_c": cfg.f_c}))
            families.append(("collapsed", NFWTruncatedMCRLudlowSph,
                             CellTable.power_law(edges, beta, norm, None if drawn_p else p), None,
                             float(cfg.b_c), {}))
        self.p_cc_range = self._check_p_cc_range(p_cc_range)
        self.alpha_range = self._check_alpha_range(alpha_range)
        self.z_range = self._check_z_range(z_range)
        pivot = math.log(SUBHALO_PIVOT_MASS)
        means = {f[0]: float(f[2].total[0]) for f in families}
        if self.alpha_range is not None:  # convex in alpha: the largest mean is at an end
            means = {name: max(float(np.sum(table.power_law_weights(a + 1.0, pivot, xp=np)))
                                for a in self.alpha_range)
                     for name, _, table, *_ in families}
        if self.p_cc_range is not None:  # capacities at the largest mean each family can have
            means = {"cored": means["cored"] * (1.0 - self.p_cc_range[0]),
                     "collapsed": means["collapsed"] * self.p_cc_range[1]}
        if self.z_range is not None:
            grid = np.linspace(*self.z_range[0], 9)
            top = max(float(self._redshift_scale(z, np)) for z in grid)
            means = {k: v * max(top, 1.0) for k, v in means.items()}
        caps = self._capacities(capacity, means)
        wdm = WDMModel.from_config(cfg)
        self._families = tuple(
            Family(name, prof, table, caps[name], z, radii, thinning, factor, fields,
                   wdm if thinning is not None else None, pivot)
            for name, prof, table, thinning, factor, fields in families
        )
        #: the largest mean count of each family over the ranges drawn (sizes the capacities)
        self.largest_means = means
        if m_hm_range is not None and (cfg.dark_matter != "wdm" or cfg.wdm_sampling != "thinning"):
            raise ValueError(
                f"SubhaloPopulation: m_hm_range={m_hm_range!r} draws the half-mode mass per realisation, "
                "which needs dark_matter='wdm' and wdm_sampling='thinning'; got "
                f"dark_matter={cfg.dark_matter!r}, wdm_sampling={cfg.wdm_sampling!r}"
            )
        self.m_hm_range = None if m_hm_range is None else (float(m_hm_range[0]), float(m_hm_range[1]))
        self.family_names = tuple(f.name for f in self._families)
        self.tables = {f.name: f.table for f in self._families}
        self.capacities = caps
        self.expected_counts = {
            f.name: (f.table.integrate(f.thinning) if f.thinning else float(f.table.total[0]))
            for f in self._families
        }
        if self.p_cc_range is not None:  # at the configured p_cc
            p_ref = float(cfg.p_cc[0])
            self.expected_counts = {"cored": self.expected_counts["cored"] * (1.0 - p_ref),
                                    "collapsed": self.expected_counts["collapsed"] * p_ref}
        self.sheet_kappa = None if cfg.dark_matter == "sidm" else self._sheet_kappa(self._families[0])
        #: the sheet's convergence over m_hm_range (None without a range or a sheet)
        self.sheet_table = None
        if self.m_hm_range is not None and cfg.sheet:
            self.sheet_table = SheetTable.build(self.m_hm_range, self._sheet_kappa_over_m_hm)
        #: with alpha_range and a sheet: ln of the quadrature masses [ln M_sun], shape (Q,), and
        #: the terms of the sheet's convergence at config.alpha over m_hm_range (a
        #: SheetTable of shape (N, Q); one node without m_hm_range)
        self.sheet_terms = None
        if self.alpha_range is not None and self.sheet_kappa is not None:
            self.sheet_terms = self._sheet_terms()

    def _capacities(self, capacity, means: dict) -> dict:
        owner = type(self).__name__
        if capacity is None:
            return {k: capacity_for_mean(v) for k, v in means.items()}
        if isinstance(capacity, dict):
            unknown = set(capacity) - set(means)
            if unknown:
                raise ValueError(
                    f"{owner}: unknown families {sorted(unknown)}; have {sorted(means)}")
            return {k: (check_capacity(owner, capacity[k]) if k in capacity else capacity_for_mean(v))
                    for k, v in means.items()}
        cap = check_capacity(owner, capacity)
        return dict.fromkeys(means, cap)

    def _sheet_kappa_over_m_hm(self, m_hm: np.ndarray) -> np.ndarray:
        """(N,) sheet convergences at the half-mode masses ``m_hm`` [M_sun]."""
        cfg = self.config
        mass = rendered_masses_over_m_hm(self._families[0], 0, cfg.z_lens, cfg.concentration_model, m_hm)
        sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(cfg.z_lens, cfg.z_source))
        return -mass / (sigma_cr * cfg.area_kpc2)

    def _sheet_terms(self) -> tuple[np.ndarray, SheetTable]:
        cfg = self.config
        fam = self._families[0]
        norm = -1.0 / (float(Planck15.critical_surface_density_msun_per_kpc2(cfg.z_lens, cfg.z_source))
                       * cfg.area_kpc2)

        def kappa_of(m_hm):
            return norm * rendered_mass_terms(fam, 0, cfg.z_lens, cfg.concentration_model, m_hm)[1]

        if self.m_hm_range is not None:
            table = SheetTable.build(self.m_hm_range, kappa_of)
        else:
            table = SheetTable(np.zeros(1), norm * rendered_mass_terms(
                fam, 0, cfg.z_lens, cfg.concentration_model)[1])
        masses, _ = fam.table.quadrature(0)
        return np.log(masses), table

    def _sheet_at_redshifts(self, z_lens, z_source, m_hm, alpha, xp):
        """The sheet's convergence at traced redshifts (and m_hm, alpha), integrated in ``xp``:
        ``-F(z)/F(z_ref) sum_q W_q (m_q/m0)^(alpha - alpha_ref) S(m_q) m_q m_ren/M200 (c(m_q, z_l) f)
        / (Sigma_cr(z_l, z_s) A_ref)``, W the reference table's quadrature (the area cancels)."""
        cfg = self.config
        fam = self._families[0]
        masses, weights = fam.table.quadrature(0)
        zl = xp.asarray(z_lens, dtype=xp.float64)
        m = xp.asarray(masses)
        w = xp.asarray(weights)
        if alpha is not None:
            d_slope = xp.asarray(alpha, dtype=xp.float64) - cfg.alpha
            w = w * xp.exp(d_slope * xp.asarray(np.log(masses) - math.log(SUBHALO_PIVOT_MASS)))
        keep, factor = fam.thinning, fam.factor
        if m_hm is not None:
            keep, factor = wdm_at(fam, xp.asarray(m_hm, dtype=xp.float64))
        c = ludlow16_concentration(m, xp.broadcast_to(zl, m.shape), model=cfg.concentration_model)
        f = factor(m, zl) if callable(factor) else factor
        kept = keep(m) if keep is not None else 1.0
        mass = xp.sum(w * kept * m * rendered_mass_ratio_of_concentration(c * f))
        host = 1.0 if cfg.host_mass is None else ((zl + 0.5) / (cfg.z_lens + 0.5)) ** 1.7
        sigma_cr = Planck15.critical_surface_density_msun_per_kpc2(zl, xp.asarray(z_source, dtype=xp.float64))
        return -host * mass / (sigma_cr * cfg.area_kpc2)

    def _sheet_kappa(self, fam: Family) -> float:
        """-(mean rendered mass) / (Sigma_cr A) of the tNFW subhaloes (PHYSICS.md §13.2)."""
        cfg = self.config
        mass = expected_rendered_mass(fam, 0, cfg.z_lens, cfg.concentration_model)
        sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(cfg.z_lens, cfg.z_source))
        return -mass / (sigma_cr * cfg.area_kpc2)

    # ------------------------------------------------------------------ sampling
    def sample(self, key, centre=None, sigma_sub=None, m_hm=None, f_c=None, p_cc=None,
               b_c=None, alpha=None, z_lens=None, z_source=None) -> tuple[dict[str, HaloBatch], PopulationInfo]:
        """Draw one realisation (jittable, vmappable over JAX keys).

        Parameters
        ----------
        key : JAX key or NumPy key
            Selects the engine (see :func:`xlens.engine.key_engine`).
        centre : (y, x) array, optional
            Disc centre [arcsec] (may be traced); default ``config.centre``.
        sigma_sub : scalar array, optional
            Sigma_sub of this realisation [kpc^-2], >= 0 (may be traced, e.g. drawn from a
            prior): every family's mean count is scaled by ``sigma_sub / config.sigma_sub``
            and the counts are drawn from a traced Poisson CDF. The capacities are those of
            ``config.sigma_sub``, so build the population at the largest value you pass (the
            :class:`~xlens.Simulator` builds it at the prior's upper end). Default: the
            configured value, drawn from the static tables.
        m_hm : scalar array, optional
            Half-mode mass of this realisation [M_sun], inside ``m_hm_range`` (may be
            traced): the WDM thinning S(m; m_hm) and concentration factor use it; the
            counts before thinning (``n_drawn``) and the capacities do not depend on it.
            Default: ``config.m_hm``.
        f_c, p_cc, b_c : scalar arrays, optional
            SIDM fields of this realisation (may be traced): the core fraction of the cored
            haloes, in (0, 10]; the collapsed probability, inside ``p_cc_range``; the
            concentration boost of the collapsed haloes, in [1, 100]. Defaults: the
            configured values.
        alpha : scalar array, optional
            Mass-function slope of this realisation, inside ``alpha_range`` (may be traced):
            the mean counts (normalised at the pivot mass 1e8 M_sun) and the masses follow
            ``dN/dm ~ m^alpha``. Default: ``config.alpha``, from the static tables.
        z_lens, z_source : scalar arrays, optional
            Redshifts of this realisation, inside ``z_range`` (may be traced; both or
            neither): the mean counts scale with :meth:`_redshift_scale` and the haloes carry
            them. Default: the configured ones.

        Returns
        -------
        batches : dict of str -> HaloBatch
            One padded batch of shape (capacity,) per family (``family_names``).
        info : PopulationInfo
            ``n_drawn`` and ``n_kept`` of shape (F,), ``overflow`` a bool scalar.
        """
        rnd = engine.random_ops(key)
        xp = rnd.xp
        yx = resolve_centre(centre, self.config.centre, xp)
        self._check_m_hm(m_hm)
        self._check_sidm(f_c=f_c, p_cc=p_cc, b_c=b_c)
        self._check_alpha(alpha)
        self._check_redshifts(z_lens, z_source)
        slope = None if alpha is None else xp.asarray(alpha, dtype=xp.float64) + 1.0
        scale = None if sigma_sub is None else scale_to_reference(sigma_sub, self.config.sigma_sub, xp)
        z_src, z_rows = self.config.z_source, None
        if z_lens is not None:
            z_scale = self._redshift_scale(z_lens, xp)
            scale = z_scale if scale is None else scale * z_scale
            z_src = xp.asarray(z_source, dtype=xp.float64)
            z_rows = xp.reshape(xp.asarray(z_lens, dtype=xp.float64), (1,))
        scales = self._family_scales(scale, p_cc, xp)
        # one uniform array for all families (one random-bits call to compile)
        u = rnd.uniform(key, (sum(f.n_uniforms for f in self._families),))
        batches, drawn, kept = {}, [], []
        start = 0
        for fam in self._families:
            stop = start + fam.n_uniforms
            batch, n, n_kept = draw_family(
                xp, u[start:stop], fam, z_src, yx, self.config.concentration_model,
                scales[fam.name], m_hm, fields={"f_c": f_c} if f_c is not None and "f_c" in fam.fields else None,
                factor=b_c if fam.name == "collapsed" else None, slope=slope, redshifts=z_rows)
            start = stop
            batches[fam.name] = batch.plane(0)  # (1, C) -> (C,)
            drawn.append(n[0])
            kept.append(n_kept[0])
        n_drawn, n_kept = xp.stack(drawn), xp.stack(kept)
        cap = xp.asarray([f.capacity for f in self._families])
        return batches, PopulationInfo(n_drawn, n_kept, xp.any(n_drawn > cap))

    def _check_z_range(self, z_range):
        return check_z_range(type(self).__name__, z_range)

    def _redshift_scale(self, z_lens, xp):
        """Mean-count factor at ``z_lens`` relative to ``config.z_lens``: the disc's physical area
        ``(kpc_per_arcsec(z) / kpc_per_arcsec(z_ref))^2`` times, with ``host_mass``, the host
        scaling ``((z + 1/2) / (z_ref + 1/2))^1.7``."""
        cfg = self.config
        z = xp.asarray(z_lens, dtype=xp.float64)
        ratio = (Planck15.kpc_per_arcsec(z) / float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2
        if cfg.host_mass is not None:
            ratio = ratio * ((z + 0.5) / (cfg.z_lens + 0.5)) ** 1.7
        return ratio

    def _check_redshifts(self, z_lens, z_source) -> None:
        if (z_lens is None) != (z_source is None):
            raise ValueError("SubhaloPopulation: give both z_lens and z_source, or neither")
        if z_lens is not None and self.z_range is None:
            raise ValueError("SubhaloPopulation: z_lens/z_source are given, but the population was built without "
                             "z_range, the redshifts it may be given")

    def _check_alpha_range(self, alpha_range):
        if alpha_range is None:
            return None
        cfg = self.config
        lo, hi = (float(v) for v in alpha_range)
        if not -3.0 <= lo <= hi <= 0.0:
            raise ValueError(f"SubhaloPopulation: alpha_range must satisfy -3 <= low <= high <= 0; "
                             f"got {alpha_range!r}")
        if cfg.dark_matter == "wdm" and cfg.wdm_sampling != "thinning":
            raise ValueError(
                f"SubhaloPopulation: alpha_range={alpha_range!r} re-slopes the power-law mass function per "
                "realisation, which needs wdm_sampling='thinning' with dark_matter='wdm' (the 'direct' "
                "table holds the suppressed function); got wdm_sampling='direct'")
        return (lo, hi)

    def _check_alpha(self, alpha) -> None:
        if alpha is not None and self.alpha_range is None:
            raise ValueError("SubhaloPopulation: alpha is given, but the population was built without "
                             "alpha_range=(low, high), the mass-function slopes it may be given")

    def _check_p_cc_range(self, p_cc_range):
        if p_cc_range is None:
            return None
        cfg = self.config
        lo, hi = (float(v) for v in p_cc_range)
        if cfg.dark_matter != "sidm" or len(cfg.p_cc) != 1:
            raise ValueError(
                f"SubhaloPopulation: p_cc_range={p_cc_range!r} draws one collapsed probability per "
                "realisation, which needs dark_matter='sidm' with one p_cc value (no p_cc_log10_breaks); got "
                f"dark_matter={cfg.dark_matter!r}, p_cc={cfg.p_cc!r}")
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"SubhaloPopulation: p_cc_range must satisfy 0 <= low <= high <= 1; got {p_cc_range!r}")
        return (lo, hi)

    def _family_scales(self, scale, p_cc, xp) -> dict[str, Any]:
        """Each family's factor on its table's mean (None: the static tables)."""
        if self.p_cc_range is None:
            if p_cc is not None:
                raise ValueError("SubhaloPopulation: p_cc is given, but the population was built without "
                                 "p_cc_range=(low, high), the collapsed probabilities it may be given")
            return dict.fromkeys(self.family_names, scale)
        p = xp.asarray(self.config.p_cc[0] if p_cc is None else p_cc, dtype=xp.float64)
        base = 1.0 if scale is None else scale
        return {"cored": base * (1.0 - p), "collapsed": base * p}

    def _check_sidm(self, **values) -> None:
        given = [k for k, v in values.items() if v is not None]
        if given and self.config.dark_matter != "sidm":
            raise ValueError(f"SubhaloPopulation: {given[0]} is an SIDM field; this population's "
                             f"dark_matter is {self.config.dark_matter!r}")

    def _check_m_hm(self, m_hm) -> None:
        if m_hm is not None and self.m_hm_range is None:
            raise ValueError("SubhaloPopulation: m_hm is given, but the population was built without "
                             "m_hm_range=(low, high) [M_sun], the half-mode masses it may be given")

    def plane_profiles(self, batches: dict[str, HaloBatch], centre=None, sigma_sub=None, m_hm=None, alpha=None,
                       z_lens=None, z_source=None) -> list[tuple[float, dict[str, MassProfile]]]:
        """What the subhalo plane holds: ``[(z_lens, {name: profile})]``.

        The batches of :meth:`sample` under their family names and, if ``config.sheet``,
        the negative sheet as ``"subhalo_sheet"``. The profiles join the lens galaxy's
        plane: ``Galaxy(z, mass=..., **profiles)``. ``centre`` (the one given to
        :meth:`sample`, may be traced) centres the sheet; default ``config.centre``.
        ``sigma_sub`` [kpc^-2] (the one given to :meth:`sample`, may be traced) scales the
        sheet's convergence by ``sigma_sub / config.sigma_sub`` (it is linear in the mean
        mass); default the configured value. ``m_hm`` [M_sun] (the one given to
        :meth:`sample`) takes the sheet from :attr:`sheet_table`. ``alpha`` (the one given
        to :meth:`sample`) integrates the sheet on :attr:`sheet_terms`. ``z_lens`` and
        ``z_source`` (those given to :meth:`sample`) integrate it in ``xp`` at those redshifts
        (:meth:`_sheet_at_redshifts`); the plane keeps the configured redshift here (it orders
        the galaxies; the tracer takes traced ``plane_distances``).
        """
        self._check_m_hm(m_hm)
        self._check_alpha(alpha)
        self._check_redshifts(z_lens, z_source)
        profiles: dict[str, MassProfile] = dict(batches)
        if self.config.sheet:
            given = [v for v in (centre, sigma_sub, m_hm, alpha, z_lens, z_source) if v is not None]
            xp = engine.namespace(*given) if given else None
            axis = self.config.centre if centre is None else centre
            if z_lens is not None:
                kappa = self._sheet_at_redshifts(z_lens, z_source, m_hm, alpha, xp)
            elif alpha is not None:
                ln_m, terms = self.sheet_terms
                d_slope = xp.asarray(alpha, dtype=xp.float64) - self.config.alpha
                reweight = xp.exp(d_slope * xp.asarray(ln_m - math.log(SUBHALO_PIVOT_MASS)))
                kappa = xp.sum(terms(1.0 if m_hm is None else m_hm, xp) * reweight)
            else:
                kappa = self.sheet_kappa if m_hm is None else self.sheet_table(m_hm, xp)[0]
            if sigma_sub is not None:
                kappa = kappa * scale_to_reference(sigma_sub, self.config.sigma_sub, xp)
            profiles["subhalo_sheet"] = sheet_profile(axis, kappa, xp)
        return [(self.config.z_lens, profiles)]

    def check(self, info: PopulationInfo, *, action: str = "raise") -> None:
        """Outside jit: raise :class:`CapacityOverflowError` (or warn) if a draw overflowed.

        Works on the info of one draw or of a vmapped batch of draws.
        """
        caps = [self.capacities[n] for n in self.family_names]
        labels = [f"family {n!r}" for n in self.family_names]
        means = [self.largest_means[n] for n in self.family_names]
        report_overflow(type(self).__name__, info, caps, labels, means, action)
