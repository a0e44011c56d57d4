"""What the subhalo and line-of-sight populations share: halo families, draws, sheets, reports.

Why this module exists: both populations draw *families* of haloes (one kind of
profile, one Poisson population per plane) with the same branch-free sampler
(:func:`draw_family`), size their capacities the same way
(:func:`capacity_for_mean`), normalise their negative sheets with the same
expected rendered mass (:func:`expected_rendered_mass`) and report overflows
with the same message (:func:`report_overflow`). Set-up is NumPy; the draws run
in ``xp`` inside ``jit`` and return :class:`PopulationInfo` beside the batches.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Any, NamedTuple

import numpy as np

from .. import engine
from ..errors import CapacityOverflowError
from ..halo_model.concentration import ludlow16_concentration
from ..halo_model.conversions import rendered_mass_ratio, rendered_mass_ratio_of_concentration
from ..halo_model.wdm import WDMModel
from ..profiles.base import unchecked
from ..profiles.mass.sheets import MassSheet
from .batch import HaloBatch, bucket_capacity
from .tables import CellTable, poisson_cdf_table, row_searchsorted

__all__ = [
    "CAPACITY_SIGMAS",
    "Family",
    "PopulationInfo",
    "capacity_for_mean",
    "check_capacity",
    "check_z_range",
    "M_HM_TABLE_DEX",
    "SheetTable",
    "draw_family",
    "expected_rendered_mass",
    "family_at",
    "poisson_cdf_traced",
    "rendered_mass_terms",
    "rendered_masses_over_m_hm",
    "report_overflow",
    "resolve_centre",
    "scale_to_reference",
    "sheet_profile",
    "wdm_at",
    "wdm_functions",
]

#: Capacities hold ``mean + CAPACITY_SIGMAS sqrt(mean)`` haloes before bucketing. A
#: Poisson count exceeds 6 sigma with probability < 1e-8 for means above ~20 (a few
#: per 1e8 realisations); smaller means are rounded up to the 8-slot bucket anyway.
CAPACITY_SIGMAS = 6.0


class PopulationInfo(NamedTuple):
    """What a draw did, returned beside the batches (arrays: works inside ``jit``).

    Attributes
    ----------
    n_drawn : int array, shape (..., F)
        Poisson counts before capacity clipping and WDM thinning, one per family
        (subhaloes: ``population.family_names``) or per plane (line of sight).
    n_kept : int array, shape (..., F)
        Real haloes in the batches (``mask`` sums).
    overflow : bool array, shape (...)
        True if any ``n_drawn`` exceeded its capacity: those haloes were dropped.
        Call ``population.check(info)`` outside ``jit`` to raise or warn.
    """

    n_drawn: Any
    n_kept: Any
    overflow: Any


def wdm_functions(config) -> tuple[Any, Any]:
    """``(suppression, concentration_factor)`` of a configuration's dark matter (set-up).

    ``(None, 1.0)`` unless ``config.dark_matter == "wdm"``; otherwise S(m) and,
    if ``config.wdm_concentration``, the Bose et al. (2016) factor ``(m, z) -> c_WDM/c_CDM``
    (else 1.0), both from one :class:`~xlens.halo_model.WDMModel`.
    """
    wdm = WDMModel.from_config(config)
    if wdm is None:
        return None, 1.0
    return wdm.suppression, (wdm.concentration_factor if wdm.concentration else 1.0)


def capacity_for_mean(mean: float) -> int:
    """Default capacity: the bucket of ``mean + CAPACITY_SIGMAS sqrt(mean)`` haloes."""
    return bucket_capacity(math.ceil(mean + CAPACITY_SIGMAS * math.sqrt(max(mean, 0.0))))


def check_capacity(owner: str, capacity) -> int:
    """A user-given capacity as a positive int, or ValueError naming ``owner``."""
    if isinstance(capacity, bool) or int(capacity) != capacity or int(capacity) < 1:
        raise ValueError(f"{owner}: capacity must be a positive integer; got {capacity!r}")
    return int(capacity)


@dataclasses.dataclass(frozen=True, eq=False)
class Family:
    """One kind of halo drawn as an independent Poisson population (static set-up)."""

    name: str
    profile: type
    table: CellTable  # P rows
    capacity: int
    redshifts: np.ndarray  # (P,) plane redshift of each row
    radii: np.ndarray  # (P,) disc radius [arcsec]
    thinning: Any = None  # callable(mass) -> keep probability, or None
    factor: Any = 1.0  # callable(mass, z) -> concentration factor, or a float
    fields: dict = dataclasses.field(default_factory=dict)  # constant per-slot fields (f_c)
    wdm: WDMModel | None = None  # the WDM model whose thinning a traced m_hm replaces
    #: ln of the pivot mass [ln M_sun] of a power-law table (one slope, normalised at the pivot)
    #: that a traced mass-function slope may re-slope (:meth:`CellTable.power_law_weights`)
    pivot_ln_mass: float | None = None

    @functools.cached_property
    def count_cdf(self) -> np.ndarray:
        return poisson_cdf_table(self.table.total, self.capacity)

    @property
    def n_uniforms(self) -> int:
        return self.table.shape[0] * (1 + 4 * self.capacity)


def poisson_cdf_traced(means, n_terms: int, *, xp):
    """CDF of Poisson(mean) at k = 0 .. n_terms - 1 per row, for means that may be traced.

    Parameters
    ----------
    means : array of ``xp``, shape (P,)
        Expected counts, >= 0 (a mean of 0 gives the CDF 1 from k = 0: no haloes).
    n_terms : int
        Static number of terms K + 1 (the length of the family's static CDF table,
        :func:`~xlens.halos.tables.poisson_cdf_table`, which lies > 10 sigma above
        the largest mean the capacity was sized for).

    Returns
    -------
    array of ``xp``, shape (P, n_terms)
        ``cumsum_k exp(k log(mean) - mean - gammaln(k + 1))``; searched with
        :func:`~xlens.halos.tables.row_searchsorted` it is inverse-CDF sampling of the
        Poisson law, like the static table.
    """
    lam = xp.asarray(means, dtype=xp.float64)[:, None]  # (P, 1)
    k = xp.asarray(np.arange(n_terms, dtype=np.float64))[None, :]  # (1, K + 1)
    positive = lam > 0.0
    log_lam = xp.log(xp.where(positive, lam, 1.0))  # double where: log never sees 0
    log_pmf = k * log_lam - lam - engine.gammaln(k + 1.0, xp=xp)
    # mean 0: the point mass at k = 0 (k log 0 would be 0 * -inf = NaN)
    pmf = xp.where(positive, xp.exp(log_pmf), xp.where(k == 0.0, 1.0, 0.0))
    return xp.cumsum(pmf, axis=1)


def draw_family(xp, u, fam: Family, z_source, centre, model: str, scale=None, m_hm=None,
                fields=None, factor=None, slope=None, cells=None, radii=None, redshifts=None):
    """Draw one family on all its rows: (HaloBatch with (P, C) fields, n_drawn, n_kept).

    ``u`` holds ``fam.n_uniforms`` uniforms: per row, one for the Poisson count (by
    inverse CDF) and four per slot (mass, radius, angle, WDM thinning). The same key
    therefore gives the same haloes whatever the thinning, so a WDM realisation is a
    subset of the CDM realisation of that key.

    ``scale`` (None, or a scalar >= 0 of ``xp``, may be traced) multiplies every row's
    mean count (``fam.table.total``) and leaves the mass function's shape alone: the
    counts then come from :func:`poisson_cdf_traced`. None uses the static table
    (``fam.count_cdf``). A scale above 1 may overflow ``fam.capacity``.

    ``m_hm`` (None, or a scalar > 0 [M_sun] of ``xp``, may be traced) replaces the half-mode
    mass of the family's WDM model (``fam.wdm``) in the thinning probability S(m) and in the
    concentration factor; the counts (``n_drawn``, before thinning) and the capacity do not
    depend on it. It needs a family that thins (``fam.thinning``).

    ``fields`` (``{name: scalar}``, may be traced) replaces constant per-slot fields of
    ``fam.fields`` (the SIDM core fraction ``f_c``) and ``factor`` (a scalar, may be traced)
    replaces a constant concentration factor (the SIDM boost ``b_c``).

    ``slope`` (None, or a scalar of ``xp``, may be traced) re-slopes the family's power-law
    table, ``dN/dln m`` proportional to ``(m / m_pivot)^slope`` (the subhalo mass function's
    ``alpha + 1``; :meth:`~xlens.halos.tables.CellTable.power_law_weights`): the mean counts
    and the masses follow it. It needs a family with ``pivot_ln_mass``; the capacity must
    hold the largest mean of the slopes passed.

    ``cells`` (None, or ``(weight, slope)`` of shape (P, K), may be traced) replaces the
    table's cell weights and slopes (a mass function that follows traced redshifts,
    :func:`~xlens.halos.tables.cells_from_densities`); ``radii`` (P,) [arcsec] and
    ``redshifts`` (P,) replace the rows' disc radii and plane redshifts, and ``z_source`` may
    be traced too. The capacity must hold the largest mean of the tables passed.
    """
    thinning, factor_fn = (fam.thinning, fam.factor) if m_hm is None else wdm_at(
        fam, xp.asarray(m_hm, dtype=xp.float64))
    n_rows, cap = fam.table.shape[0], fam.capacity
    u = xp.reshape(u, (n_rows, 1 + 4 * cap))
    weights = None
    if slope is not None:
        if fam.pivot_ln_mass is None:
            raise ValueError(f"slope: family {fam.name!r} is not a power law normalised at a pivot mass")
        if cells is not None:
            raise ValueError("slope and cells cannot both be given")
        weights = fam.table.power_law_weights(slope, fam.pivot_ln_mass, xp=xp)
    if cells is not None:
        weights, slope = cells
    if scale is None and weights is None:
        cdf = fam.count_cdf
    else:
        means = xp.asarray(fam.table.total) if weights is None else xp.sum(weights, axis=1)
        if scale is not None:
            means = means * xp.asarray(scale, dtype=xp.float64)
        cdf = poisson_cdf_traced(means, fam.count_cdf.shape[1], xp=xp)
    n = row_searchsorted(cdf, u[:, :1], xp=xp, compare_all=True)[:, 0]  # (P,)
    w = xp.reshape(u[:, 1:], (n_rows, cap, 4))
    ln_m = fam.table.sample_ln_mass(w[..., 0], xp=xp, weight=weights, slope=slope)
    lo = math.exp(float(fam.table.left.min()))
    hi = math.exp(float((fam.table.left + fam.table.width).max()))
    mass = xp.clip(xp.exp(ln_m), lo, hi)
    r = xp.asarray(fam.radii if radii is None else radii)[:, None] * xp.sqrt(w[..., 1])
    phi = (2.0 * math.pi) * w[..., 2]
    cy, cx = centre
    yx = xp.stack([cy + r * xp.sin(phi), cx + r * xp.cos(phi)], axis=-1)
    mask = xp.arange(cap)[None, :] < n[:, None]
    if thinning is not None:
        mask = mask & (w[..., 3] < thinning(mass))
    z = xp.broadcast_to(xp.asarray(fam.redshifts if redshifts is None else redshifts, dtype=xp.float64)[:, None],
                        (n_rows, cap))
    if factor is not None:
        if callable(factor_fn):
            raise ValueError(f"factor: family {fam.name!r} has a mass-dependent concentration factor")
        factor = xp.broadcast_to(xp.asarray(factor, dtype=xp.float64), (n_rows, cap))
    elif callable(factor_fn):
        factor = factor_fn(mass, z)
    else:
        factor = xp.full((n_rows, cap), float(factor_fn))
    values = {
        "centre": yx,
        "mass_at_200": mass,
        "redshift_object": z,
        "redshift_source": (xp.full((n_rows, cap), float(z_source)) if engine.is_concrete(z_source)
                            and not engine.is_jax(engine.namespace(z_source)) else
                            xp.broadcast_to(xp.asarray(z_source, dtype=xp.float64), (n_rows, cap))),
        "concentration_factor": factor,
        "concentration_model": model,
    }
    given = fields or {}
    unknown = set(given) - set(fam.fields)
    if unknown:
        raise ValueError(f"fields: {sorted(unknown)} are not constant fields of family {fam.name!r}")
    values.update({k: (xp.broadcast_to(xp.asarray(given[k], dtype=xp.float64), (n_rows, cap)) if k in given
                       else xp.full((n_rows, cap), float(v))) for k, v in fam.fields.items()})
    if not engine.is_jax(xp):  # validate the sampler's output on NumPy (shapes (P*C,))
        fam.profile(**{k: (np.reshape(v, (-1, 2)) if k == "centre" else
                           v if isinstance(v, str) else np.reshape(v, (-1,)))
                       for k, v in values.items()})
    batch = HaloBatch(profile=unchecked(fam.profile, values), mask=xp.astype(mask, xp.float64))
    return batch, n, xp.sum(xp.astype(mask, xp.int64), axis=1)


def wdm_at(fam: Family, m_hm) -> tuple[Any, Any]:
    """``(thinning, concentration_factor)`` of ``fam``'s WDM model at half-mode mass ``m_hm``
    [M_sun] (a float, or a scalar array that may be traced), as :class:`Family` holds them."""
    if fam.wdm is None or fam.thinning is None:
        raise ValueError(f"m_hm: family {fam.name!r} has no WDM thinning to draw a half-mode mass for "
                         "(dark_matter must be 'wdm', and subhaloes need wdm_sampling='thinning')")
    wdm = dataclasses.replace(fam.wdm, m_hm=m_hm)
    return wdm.suppression, (wdm.concentration_factor if wdm.concentration else 1.0)


def family_at(fam: Family, m_hm: float) -> Family:
    """``fam`` with its WDM thinning and concentration factor at half-mode mass ``m_hm`` [M_sun]."""
    thinning, factor = wdm_at(fam, float(m_hm))
    return dataclasses.replace(fam, thinning=thinning, factor=factor,
                               wdm=dataclasses.replace(fam.wdm, m_hm=float(m_hm)))


#: Spacing of the half-mode-mass nodes of a :class:`SheetTable` [dex].
M_HM_TABLE_DEX = 0.05


@dataclasses.dataclass(frozen=True, eq=False)
class SheetTable:
    """Negative-sheet convergences tabulated in ln m_hm at set-up, interpolated in ``xp``.

    A sheet cancels the mean rendered mass ``int m_ren S dN``, which depends on the
    half-mode mass through the thinning S(m; m_hm) and the WDM concentrations; with
    ``m_hm`` drawn per image it is tabulated on uniform nodes in ln m_hm
    (:data:`M_HM_TABLE_DEX` apart, at least 8 intervals) over the prior's support and
    interpolated linearly: the relative error is below 5e-4 (3.4e-4 at worst for the
    default line of sight over 1e7-1e10 M_sun, checked in the tests against direct
    integrals between the nodes), i.e. ~3e-7 in convergence.

    Attributes
    ----------
    ln_m_hm : ndarray, shape (N,)
        Nodes [ln M_sun], uniform.
    kappa : ndarray, shape (N, P)
        The convergence of each of P sheets at each node.
    """

    ln_m_hm: np.ndarray
    kappa: np.ndarray

    @staticmethod
    def nodes(m_hm_range: tuple[float, float]) -> np.ndarray:
        """The half-mode masses [M_sun] of the table over ``m_hm_range = (low, high)``."""
        lo, hi = (float(v) for v in m_hm_range)
        if not 0.0 < lo <= hi < math.inf:
            raise ValueError(f"m_hm_range must satisfy 0 < low <= high < inf [M_sun]; got {m_hm_range!r}")
        n = max(8, math.ceil(math.log10(hi / lo) / M_HM_TABLE_DEX)) if hi > lo else 0
        return np.exp(np.linspace(math.log(lo), math.log(hi), n + 1))

    @classmethod
    def build(cls, m_hm_range: tuple[float, float], kappa_of) -> SheetTable:
        """Tabulate ``kappa_of(m_hm_nodes) -> (N, P)`` over ``m_hm_range = (low, high)`` [M_sun]."""
        m_hm = cls.nodes(m_hm_range)
        kappa = np.asarray(kappa_of(m_hm), dtype=np.float64).reshape(m_hm.size, -1)
        return cls(np.log(m_hm), kappa)

    def __call__(self, m_hm, xp):
        """The (P,) convergences at ``m_hm`` [M_sun] (a scalar of ``xp``, may be traced;
        clipped to the tabulated range)."""
        table = xp.asarray(self.kappa)
        if self.ln_m_hm.size == 1:
            return table[0]
        x0, dx, n = float(self.ln_m_hm[0]), float(self.ln_m_hm[1] - self.ln_m_hm[0]), self.ln_m_hm.size
        t = xp.clip((xp.log(xp.asarray(m_hm, dtype=xp.float64)) - x0) / dx, 0.0, float(n - 1))
        i = xp.astype(xp.clip(xp.floor(t), 0.0, float(n - 2)), xp.int64)
        frac = t - xp.astype(i, xp.float64)
        rows = xp.take(table, xp.stack([i, i + 1]), axis=0)  # (2, P)
        return rows[0] * (1.0 - frac) + rows[1] * frac


def sheet_profile(centre, kappa: float, xp=None) -> MassSheet:
    """A MassSheet at the configured centre (validated) or at a given, possibly traced, one."""
    if xp is None:
        return MassSheet(centre=np.asarray(centre, dtype=np.float64),
                         kappa=np.asarray(kappa, dtype=np.float64))
    return unchecked(MassSheet, {"centre": xp.asarray(centre, dtype=xp.float64),
                                  "kappa": xp.asarray(kappa, dtype=xp.float64)})


def expected_rendered_mass(fam: Family, row: int, redshift: float, model: str) -> float:
    """``int m_ren S dN`` over row ``row`` of ``fam`` [M_sun] (PHYSICS.md §13.2; NumPy).

    ``m_ren = M200 m_inf(2c) / mu(c)`` is the mass the rendered truncated profile
    carries (:func:`~xlens.halo_model.rendered_mass_ratio`) and S the family's
    thinning probability; a negative sheet of ``-this / (Sigma_cr A)`` cancels the
    mean convergence the haloes add.
    """

    def rendered(m):
        keep = fam.thinning(m) if fam.thinning else 1.0
        f = fam.factor(m, redshift) if callable(fam.factor) else fam.factor
        return keep * m * rendered_mass_ratio(m, redshift, f, model)

    return fam.table.integrate(rendered, row=row)


def rendered_masses_over_m_hm(fam: Family, row: int, redshift: float, model: str,
                              m_hm_values) -> np.ndarray:
    """:func:`expected_rendered_mass` of row ``row`` at each half-mode mass of ``m_hm_values``
    [M_sun] (NumPy, vectorised over masses: the CDM concentrations are computed once).

    Returns
    -------
    ndarray, shape (len(m_hm_values),)
        ``int m_ren S(m; m_hm) dN`` [M_sun], the WDM concentration factor at each m_hm applied.
    """
    _, terms = rendered_mass_terms(fam, row, redshift, model, m_hm_values)
    return terms.sum(axis=1)


def rendered_mass_terms(fam: Family, row: int, redshift: float, model: str,
                        m_hm_values=None) -> tuple[np.ndarray, np.ndarray]:
    """The terms of :func:`expected_rendered_mass`'s quadrature on row ``row`` (NumPy).

    Returns ``(masses, terms)``: the quadrature's masses [M_sun], shape (Q,), and
    ``terms[j, q] = weight_q S(m_q) m_q m_ren/M200(m_q)`` [M_sun], shape (J, Q), with the
    family's thinning and concentration factor at each half-mode mass of ``m_hm_values``
    (J of them), or as configured (J = 1) when ``m_hm_values`` is None. Their sum over q is
    ``int m_ren S dN``; a re-weighted sum integrates another mass function on the same nodes.
    """
    masses, weights = fam.table.quadrature(row)
    c_cdm = np.asarray(ludlow16_concentration(masses, redshift, model=model))
    rules = ([(fam.thinning, fam.factor)] if m_hm_values is None
             else [wdm_at(fam, float(m_hm)) for m_hm in m_hm_values])
    terms = np.empty((len(rules), masses.size))
    for k, (keep, factor) in enumerate(rules):
        f = factor(masses, redshift) if callable(factor) else factor
        kept = keep(masses) if keep is not None else 1.0
        terms[k] = weights * kept * masses * rendered_mass_ratio_of_concentration(c_cdm * f)
    return masses, terms


def scale_to_reference(value, reference: float, xp):
    """``value / reference`` as a float64 scalar of ``xp`` (``value`` may be traced).

    The factor by which a population built at ``reference`` (its configured
    ``sigma_sub`` or ``delta_los``) scales its mean counts and sheets for ``value``.
    A reference of 0 has empty tables and zero sheets, so any factor gives no haloes:
    0 is returned (never 0/0).
    """
    v = xp.asarray(value, dtype=xp.float64)
    if tuple(v.shape) != ():
        raise ValueError(f"a population normalisation must be a scalar; got shape {tuple(v.shape)}")
    return v / reference if reference > 0 else v * 0.0


def check_z_range(owner: str, z_range):
    """``((z_lens_low, z_lens_high), (z_source_low, z_source_high))`` as floats, or None, with
    ``0 < z_lens_low <= z_lens_high < z_source_low <= z_source_high <= 10`` (ValueError naming
    ``owner`` and the value otherwise)."""
    if z_range is None:
        return None
    try:
        (l_lo, l_hi), (s_lo, s_hi) = ((float(a), float(b)) for a, b in z_range)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: z_range must be ((z_lens_low, z_lens_high), (z_source_low, z_source_high)); "
                         f"got {z_range!r}") from None
    if not (0.0 < l_lo <= l_hi < s_lo <= s_hi <= 10.0):
        raise ValueError(f"{owner}: z_range must satisfy 0 < z_lens_low <= z_lens_high < z_source_low <= "
                         f"z_source_high <= 10; got {z_range!r}")
    return (l_lo, l_hi), (s_lo, s_hi)


def resolve_centre(centre, default, xp):
    """``(y, x)`` float64 scalars of ``xp``: ``centre`` (may be traced) or the configured default."""
    if centre is None:
        return (xp.asarray(default[0], dtype=xp.float64), xp.asarray(default[1], dtype=xp.float64))
    c = xp.asarray(centre, dtype=xp.float64)
    if tuple(c.shape) != (2,):
        raise ValueError(f"centre must be a (y, x) pair [arcsec]; got shape {tuple(c.shape)}")
    return (c[0], c[1])


def report_overflow(owner: str, info: PopulationInfo, capacities, labels, means, action: str) -> None:
    """Outside jit: raise :class:`CapacityOverflowError` or warn if ``info`` shows an overflow.

    The message names the family or plane (``labels``), the drawn count, the capacity
    and a capacity that would hold it.
    """
    if action not in ("raise", "warn"):
        raise ValueError(f"action must be 'raise' or 'warn'; got {action!r}")
    drawn = np.asarray(info.n_drawn)
    cap = np.asarray(capacities)
    over = drawn > cap
    if not np.any(over):
        return
    batch_shape = drawn.shape[:-1]
    idx = tuple(int(i) for i in np.argwhere(over)[0])
    msg = (f"{owner}: {labels[idx[-1]]} drew {int(drawn[idx])} haloes but its capacity is "
           f"{int(cap[idx[-1]])}")
    if batch_shape:
        n_bad = int(np.sum(np.any(over, axis=-1)))
        flat = int(np.ravel_multi_index(idx[:-1], batch_shape))
        msg += f" (realisation {flat} of {int(np.prod(batch_shape))}; {n_bad} overflowed)"
    worst = int(np.argmax(np.max(np.reshape(drawn - cap, (-1, cap.size)), axis=0)))
    need = max(bucket_capacity(int(drawn[..., worst].max())), capacity_for_mean(float(means[worst])))
    msg += (f". The extra haloes were dropped from that realisation; build the population "
            f"with capacity={need} or more for {labels[worst]} (the default holds the mean "
            f"{float(means[worst]):.1f} + 6 sigma), or discard the flagged realisations")
    if action == "raise":
        raise CapacityOverflowError(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
