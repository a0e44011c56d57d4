"""Dark-matter populations sampled on device: subhaloes and line-of-sight haloes (PHYSICS.md §14).

Why this module is built the way it is: a user draws a new realisation of the
dark-matter population for every simulated image, up to millions of times.
Sampling therefore happens inside the same jitted (and vmapped) function as the
ray tracing, and produces *padded* :class:`~xlens.halos.HaloBatch` arrays of a
fixed capacity rather than Python lists of halo objects.

Two layers:

* **Set-up (NumPy, float64, once):** a frozen, validated configuration
  (:class:`SubhaloConfig`, :class:`LineOfSightConfig`) becomes a population
  object (:class:`SubhaloPopulation`, :class:`LineOfSightPopulation`) that holds
  every static quantity: expected counts, plane redshifts and slab edges, the
  tabulated mass functions, the negative-sheet convergences and the capacities
  (``bucket_capacity(mean + 6 sqrt(mean))``).
* **Sampling (``xp``, jittable):** ``population.sample(key)`` draws
  ``N ~ Poisson(mean)``, masses by inverse CDF, positions uniform in a disc,
  applies WDM thinning or the SIDM split, and returns the padded batches plus a
  :class:`PopulationInfo` with the drawn counts and an overflow flag. The engine
  follows the key: a JAX key (``jax.random.key`` or ``PRNGKey``) samples with
  ``jax.random`` and works under ``jit`` and ``vmap``; a NumPy key (an int, an
  integer array, a ``SeedSequence`` or a ``numpy.random.Generator``) samples
  with NumPy. ``population.check(info)`` reports an overflow outside ``jit``.

Mass functions are sampled from *piecewise power-law tables* (:class:`CellTable`):
cells in ln m inside which ``dN/dln m`` is exactly a power law. A pure power law
is one cell and its inverse CDF is the log1p form of PHYSICS.md §14.5; the
Sheth-Tormen function is log-linearly interpolated between nodes 0.02 dex apart;
the SIDM split (a probability constant in bins of log m) is a power law with
jumps. One branch-free sampler covers them all.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import engine
from ..cosmology import Planck15
from ..errors import CapacityOverflowError, ParameterError, check_range
from ..profiles.mass.mcr import NFWTruncatedMCRLudlowSph, cNFWMCRLudlowSph
from ..profiles.mass.sheets import MassSheet
from ..tracer import Galaxy
from .batch import HaloBatch, bucket_capacity, unchecked
from .mass_concentration import ludlow16_concentration, nfw_mass_factor
from .mass_function import DoubleCone, sheth_tormen_dndlnm

__all__ = [
    "WDM_COEFFICIENTS",
    "CapacityOverflowError",
    "CellTable",
    "LineOfSightConfig",
    "LineOfSightPopulation",
    "PopulationInfo",
    "SubhaloConfig",
    "SubhaloPopulation",
    "key_engine",
    "plane_layout",
    "poisson_cdf_table",
    "split_key",
    "subhalo_host_scaling",
    "truncated_nfw_mass_ratio",
    "wdm_concentration_factor",
    "wdm_suppression",
]

#: Pivot mass m_0 of the subhalo mass function [M_sun] (PHYSICS.md §14.1).
SUBHALO_PIVOT_MASS = 1e8

#: Named (a, b, c) of the WDM suppression S(m) = [1 + (a m_hm / m)^b]^c (PHYSICS.md §14.2).
WDM_COEFFICIENTS: dict[str, tuple[float, float, float]] = {
    "lovell2014": (1.0, 1.0, -1.3),
    "lovell2020_field": (2.3, 0.8, -1.0),
    "lovell2020_subhalo": (4.2, 2.5, -0.2),
}

#: Capacities hold ``mean + CAPACITY_SIGMAS sqrt(mean)`` haloes before bucketing. A
#: Poisson count exceeds 6 sigma with probability < 1e-8 for means above ~20 (a few
#: per 1e8 realisations); smaller means are rounded up to the 8-slot bucket anyway.
CAPACITY_SIGMAS = 6.0

#: Node spacing of the tabulated Sheth-Tormen and WDM mass functions [dex]. The
#: functions are smooth in ln m; log-linear interpolation between nodes this close
#: changes the counts by < 1e-5 (measured against Gauss-Legendre quadrature).
TABLE_DEX = 0.02
#: Gauss-Legendre nodes in z per slab piece for the slab-integrated mass function.
_SLAB_Z_NODES = 24
#: Gauss-Legendre nodes per table cell for expectations (sheets).
_CELL_NODES = 8

_MASS_RANGE = (1e3, 1e16)  # the concentration and sigma tables (mass_concentration)
_Z_RANGE = (0.0, 10.0)




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


# =====================================================================================
# Random keys: the small adapter that lets one sampler run on both engines
# =====================================================================================


# the adapter lives in xlens.engine (it names the backends); these names stay importable here
key_engine = engine.key_engine
split_key = engine.split_key
_random = engine.random_ops


# =====================================================================================
# Dark-matter model functions (PHYSICS.md §14.1-§14.2), engine-agnostic
# =====================================================================================


def wdm_suppression(mass_msun, m_hm: float, coefficients: Sequence[float],
                    a_placement: str = "inside"):
    """WDM suppression of the mass function ``S(m)`` (Lovell et al. 2014; Lovell 2020).

    Parameters
    ----------
    mass_msun : float or array
        Halo mass [M_sun], > 0.
    m_hm : float
        Half-mode mass [M_sun], > 0.
    coefficients : (a, b, c)
        See :data:`WDM_COEFFICIENTS`.
    a_placement : {"inside", "outside"}
        ``"inside"``: ``S = [1 + (a m_hm / m)^b]^c`` as PHYSICS.md §14.2 writes
        Lovell (2020); ``"outside"``: ``S = [1 + a (m_hm / m)^b]^c`` (pyHalo's
        form). Which one the paper means is **unverified**; they differ unless a = 1.

    Returns
    -------
    array, shape of ``mass_msun``
        S in (0, 1] [dimensionless]; on the namespace of the input.
    """
    xp = engine.namespace(mass_msun)
    a, b, c = (float(v) for v in coefficients)
    m = xp.asarray(mass_msun, dtype=xp.float64)
    if a_placement == "inside":
        return (1.0 + (a * m_hm / m) ** b) ** c
    if a_placement == "outside":
        return (1.0 + a * (m_hm / m) ** b) ** c
    raise ValueError(f"a_placement must be 'inside' or 'outside'; got {a_placement!r}")


def wdm_concentration_factor(mass_msun, m_hm: float, redshift):
    """c_WDM / c_CDM of Bose et al. (2016): ``(1 + 60 m_hm/m)^-0.17 (1+z)^(0.026 z - 0.04)``.

    As written in PHYSICS.md §14.2 (**unverified** against the paper). Note that the
    redshift factor does not tend to 1 as ``m_hm -> 0`` (0.989 at z = 0.5).
    """
    xp = engine.namespace(mass_msun, redshift)
    m = xp.asarray(mass_msun, dtype=xp.float64)
    z = xp.asarray(redshift, dtype=xp.float64)
    return (1.0 + 60.0 * m_hm / m) ** -0.17 * (1.0 + z) ** (0.026 * z - 0.04)


def subhalo_host_scaling(host_mass_msun: float | None, z_lens: float) -> float:
    """pyHalo's host scaling ``F`` of the subhalo density (PHYSICS.md §14.1, **unverified**).

    ``log10 F = 0.88 log10(M_host / 1e13 M_sun) + 1.7 log10(z_l + 0.5)``; ``F = 1``
    when ``host_mass_msun`` is None (the default of :class:`SubhaloConfig`).
    """
    if host_mass_msun is None:
        return 1.0
    return 10.0 ** (0.88 * math.log10(host_mass_msun / 1e13) + 1.7 * math.log10(z_lens + 0.5))


def truncated_nfw_mass_ratio(tau):
    """``m_inf(tau)``: total mass of a BMO09 (n = 1) truncated NFW over ``4 pi rho_s r_s^3``.

    ``m_inf = tau^2 / (tau^2 + 1)^2 [(tau^2 - 1) ln tau + pi tau - (tau^2 + 1)]``
    (Baltz, Marshall & Oguri 2009). NumPy, float64.
    """
    t = np.asarray(tau, dtype=np.float64)
    t2 = t * t
    return t2 / (t2 + 1.0) ** 2 * ((t2 - 1.0) * np.log(t) + math.pi * t - (t2 + 1.0))


def _rendered_mass_ratio(mass, redshift, factor, model: str) -> np.ndarray:
    """m_ren / M200 of ``NFWTruncatedMCRLudlowSph``: ``m_inf(2c) / mu(c)`` (PHYSICS.md §11.3)."""
    c = np.asarray(ludlow16_concentration(mass, redshift, model=model)) * factor
    return truncated_nfw_mass_ratio(2.0 * c) / np.asarray(nfw_mass_factor(c))


# =====================================================================================
# Piecewise power-law tables and their branch-free inverse CDF
# =====================================================================================


def _expm1_ratio(t):
    """``expm1(t) / t`` with the limit 1 at t = 0 (NumPy)."""
    t = np.asarray(t, dtype=np.float64)
    small = np.abs(t) < 1e-8
    ts = np.where(small, 1.0, t)
    return np.where(small, 1.0 + 0.5 * t, np.expm1(ts) / ts)


#: Tables with at most this many entries per row are searched by comparing with every
#: entry (cheap to compile, vectorises well); longer ones by ``searchsorted``.
_COMPARE_ALL_MAX = 32


def _row_searchsorted(table, u, *, xp, compare_all: bool | None = None):
    """Per row p, the number of entries of ``table[p]`` that are <= ``u[p, :]`` (jittable).

    ``table`` (NumPy, shape (P, L)) holds non-decreasing values in [0, 1] per row;
    ``u`` has shape (P, C) with values in [0, 1). Short tables (or ``compare_all``)
    compare every entry; long ones use one ``searchsorted`` over all rows, row p
    shifted by p so that rows do not mix (the shift costs ~3 bits of the resolution
    of u, i.e. ~1e-15).
    """
    n_rows, length = table.shape
    if compare_all or (compare_all is None and length <= _COMPARE_ALL_MAX):
        hits = xp.asarray(table)[:, None, :] <= u[:, :, None]
        return xp.sum(xp.astype(hits, xp.int64), axis=-1)
    rows = np.arange(n_rows, dtype=np.float64)[:, None]
    edges = xp.asarray((rows + table).ravel())
    j = xp.searchsorted(edges, xp.reshape(xp.asarray(rows) + u, (-1,)), side="right")
    j = xp.reshape(xp.astype(j, xp.int64), u.shape) - xp.asarray(
        np.arange(n_rows, dtype=np.int64)[:, None] * length
    )
    return xp.clip(j, 0, length)


def poisson_cdf_table(means, capacity: int) -> np.ndarray:
    """CDF of Poisson(mean) at k = 0 .. K per row, K = max(capacity, mean) + 10 sqrt(mean) + 10.

    Sampling ``N = #{k : cdf[k] <= u}`` for a uniform u is exact inverse-CDF sampling
    of the Poisson law up to K + 1 (``mean`` is the largest row mean); K lies > 10 sigma
    above every mean, so a count capped at K + 1 is never reached in practice (and it
    exceeds the capacity, hence is flagged).
    Used instead of ``jax.random.poisson``, whose rejection loops compile slowly,
    and on both engines so that they share one algorithm.
    """
    import scipy.stats

    means = np.atleast_1d(np.asarray(means, dtype=np.float64))
    top = max(float(means.max()), 0.0)
    k_max = math.ceil(max(capacity, top) + 10.0 * math.sqrt(top) + 10.0)
    k = np.arange(k_max + 1, dtype=np.float64)
    return scipy.stats.poisson.cdf(k[None, :], means[:, None])


@dataclasses.dataclass(frozen=True, eq=False)
class CellTable:
    """Expected halo counts as a piecewise power law in ln m, one row per plane (NumPy set-up).

    Inside cell k of row p, ``dN/dln m = w_pk s_pk exp(s_pk (x - x_pk)) / expm1(s_pk d_pk)``
    for ``x = ln m`` in ``[x_pk, x_pk + d_pk]``: the cell holds ``w_pk`` haloes on
    average and its density is a power law ``m^s_pk``.

    Parameters
    ----------
    left : array, shape (P, K)
        Left edge of each cell [ln M_sun].
    width : array, shape (P, K)
        Width of each cell in ln m (> 0).
    slope : array, shape (P, K)
        Logarithmic slope ``d ln(dN/dln m) / d ln m`` inside each cell.
    weight : array, shape (P, K)
        Expected number of haloes in each cell (>= 0).
    """

    left: np.ndarray
    width: np.ndarray
    slope: np.ndarray
    weight: np.ndarray

    # ------------------------------------------------------------ constructors
    @classmethod
    def power_law(cls, ln_edges, slope: float, norm: float, multipliers=None) -> CellTable:
        """One row: ``dN/dln m = multiplier_k norm m^slope`` on the cells between ``ln_edges``."""
        e = np.asarray(ln_edges, dtype=np.float64)
        left, width = e[:-1], np.diff(e)
        mult = np.ones_like(left) if multipliers is None else np.asarray(multipliers, float)
        weight = mult * norm * np.exp(slope * left) * width * _expm1_ratio(slope * width)
        return cls(left[None], width[None], np.full((1, left.size), float(slope)), weight[None])

    @classmethod
    def from_nodes(cls, ln_nodes, density) -> CellTable:
        """Log-linear interpolation of ``dN/dln m`` (> 0) given at ``ln_nodes``.

        ``density`` has shape (P, K + 1) for K + 1 nodes; each cell's power law
        passes through the densities at its two nodes.
        """
        x = np.asarray(ln_nodes, dtype=np.float64)
        d = np.atleast_2d(np.asarray(density, dtype=np.float64))
        if np.any(d <= 0) or not np.all(np.isfinite(d)):
            raise ValueError("CellTable.from_nodes needs finite, positive densities")
        width = np.broadcast_to(np.diff(x), (d.shape[0], x.size - 1))
        slope = np.diff(np.log(d), axis=1) / width
        weight = d[:, :-1] * width * _expm1_ratio(slope * width)
        left = np.broadcast_to(x[:-1], width.shape)
        return cls(left.copy(), width.copy(), slope, weight)

    # -------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def total(self) -> np.ndarray:
        """Expected number of haloes per row, shape (P,)."""
        return self.weight.sum(axis=1)

    def _normalised(self):
        """Per-row cell probabilities and left cumulative probabilities (empty rows: uniform)."""
        total = self.total[:, None]
        empty = total <= 0
        frac = np.where(empty, 1.0 / self.shape[1], self.weight / np.where(empty, 1.0, total))
        cum = np.cumsum(frac, axis=1)[:, :-1]
        cum = np.concatenate([np.zeros((self.shape[0], 1)), cum], axis=1)
        return frac, np.minimum(cum, 1.0)

    # ---------------------------------------------------------------- sampling
    def sample_ln_mass(self, u, *, xp):
        """Inverse CDF: ``ln m`` for uniforms ``u`` of shape (P, C) in [0, 1) (jittable).

        The cell is found by :func:`_row_searchsorted` (nothing to search for a single
        cell); inside the cell the power law is inverted exactly with the log1p form of
        PHYSICS.md §14.5.
        """
        n_cells = self.shape[1]
        frac, cum = self._normalised()
        u = xp.asarray(u, dtype=xp.float64)
        if n_cells == 1:
            k = xp.zeros(u.shape, dtype=xp.int64)
        else:
            k = xp.clip(_row_searchsorted(cum[:, 1:], u, xp=xp), 0, n_cells - 1)
        j = xp.reshape(k + xp.asarray(np.arange(self.shape[0])[:, None] * n_cells), (-1,))

        def take(table):
            return xp.reshape(xp.take(xp.asarray(np.ravel(table)), j), u.shape)

        f, c0 = take(frac), take(cum)
        left, width, slope = take(self.left), take(self.width), take(self.slope)
        v = xp.clip((u - c0) / xp.where(f > 0.0, f, 1.0), 0.0, 1.0)
        sd = slope * width
        flat = xp.abs(sd) < 1e-8
        sd_safe = xp.where(flat, 1.0, sd)
        g = xp.where(flat, v + 0.5 * v * (1.0 - v) * sd, xp.log1p(v * xp.expm1(sd_safe)) / sd_safe)
        return left + width * xp.clip(g, 0.0, 1.0)

    # ---------------------------------------------------------- NumPy helpers
    def cdf(self, ln_mass, row: int = 0) -> np.ndarray:
        """Cumulative distribution of ``ln m`` in ``row`` (NumPy; for tests and plots)."""
        x = np.asarray(ln_mass, dtype=np.float64)
        frac, cum = self._normalised()
        left, width, slope = self.left[row], self.width[row], self.slope[row]
        k = np.clip(np.searchsorted(left, x, side="right") - 1, 0, left.size - 1)
        t = np.clip((x - left[k]) / width[k], 0.0, 1.0)
        sd = slope[k] * width[k]
        flat = np.abs(sd) < 1e-8
        part = np.where(flat, t, np.expm1(sd * t) / np.where(flat, 1.0, np.expm1(sd)))
        return np.clip(cum[row, k] + frac[row, k] * part, 0.0, 1.0)

    def integrate(self, fn, row: int = 0) -> float:
        """``int fn(m) dN`` over the cells of ``row`` (NumPy).

        Gauss-Legendre with :data:`_CELL_NODES` nodes on pieces of each cell at most
        :data:`TABLE_DEX` wide, so that a smooth ``fn`` (a WDM suppression, a
        rendered-mass ratio) is integrated to ~1e-10 even over a one-cell power law.
        ``fn`` takes masses [M_sun] (a NumPy array) and returns an array of that shape.
        """
        gl_x, gl_w = np.polynomial.legendre.leggauss(_CELL_NODES)
        total = 0.0
        for left, width, slope, weight in zip(self.left[row], self.width[row], self.slope[row],
                                              self.weight[row], strict=True):
            if weight <= 0.0:
                continue
            n_sub = max(1, math.ceil(width / (TABLE_DEX * math.log(10.0))))
            t = ((np.arange(n_sub)[:, None] + 0.5 * (gl_x + 1.0)) / n_sub).ravel()  # in [0, 1]
            wt = np.tile(0.5 * gl_w / n_sub, n_sub)
            sd = slope * width
            dens = 1.0 if abs(sd) < 1e-8 else sd * np.exp(sd * t) / math.expm1(sd)
            vals = np.asarray(fn(np.exp(left + width * t)), dtype=np.float64)
            total += float(weight * np.sum(wt * dens * vals))
        return total


# =====================================================================================
# Configuration objects (validated outside jit)
# =====================================================================================

_DARK_MATTER = ("cdm", "wdm", "sidm")
_PLACEMENTS = ("inside", "outside")
_WDM_SAMPLING = ("thinning", "direct")
_CONCENTRATION_MODELS = ("full", "fit")
_TRANSFERS = ("eh98", "eh98_nowiggle")


def _choice(owner: str, name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{owner}.{name} must be one of {options}; got {value!r}")


def _check_masses(owner: str, m_min, m_max) -> None:
    check_range(owner, "m_min", m_min, _MASS_RANGE[0], _MASS_RANGE[1], low_inclusive=True,
                units="[M_sun]",
                hint="the concentration and sigma(M) tables cover 1e3 to 1e16 M_sun")
    check_range(owner, "m_max", m_max, float(m_min), _MASS_RANGE[1], high_inclusive=True,
                units="[M_sun]", hint="m_max must exceed m_min")


def _check_redshifts(owner: str, z_lens, z_source) -> None:
    check_range(owner, "z_lens", z_lens, _Z_RANGE[0], _Z_RANGE[1], units="(dimensionless)")
    check_range(owner, "z_source", z_source, float(z_lens), _Z_RANGE[1], high_inclusive=True,
                units="(dimensionless)",
                hint="the source must lie behind the lens (z_source > z_lens)")


def _check_centre(owner: str, centre) -> tuple[float, float]:
    arr = np.asarray(centre, dtype=np.float64)
    if arr.shape != (2,):
        raise ValueError(f"{owner}.centre must be a (y, x) pair [arcsec]; got shape {arr.shape}")
    check_range(owner, "centre", arr, units="[arcsec]")
    return (float(arr[0]), float(arr[1]))


def _wdm_fields(owner: str, cfg) -> None:
    """Validate the WDM fields shared by both configurations."""
    _choice(owner, "wdm_a_placement", cfg.wdm_a_placement, _PLACEMENTS)
    coeffs = cfg.wdm_coefficients
    if isinstance(coeffs, str):
        if coeffs not in WDM_COEFFICIENTS:
            raise ValueError(
                f"{owner}.wdm_coefficients must be (a, b, c) or one of {tuple(WDM_COEFFICIENTS)}; "
                f"got {coeffs!r}"
            )
    else:
        values = tuple(float(v) for v in coeffs)
        if len(values) != 3:
            raise ValueError(f"{owner}.wdm_coefficients must be (a, b, c); got {coeffs!r}")
        check_range(owner, "wdm_coefficients[0] (a)", values[0], 0.0)
        check_range(owner, "wdm_coefficients[1] (b)", values[1], 0.0)
        check_range(owner, "wdm_coefficients[2] (c)", values[2], high=0.0,
                    hint="c < 0 makes S(m) <= 1 (a suppression)")
        object.__setattr__(cfg, "wdm_coefficients", values)
    if cfg.dark_matter == "wdm":
        if cfg.m_hm is None:
            raise ParameterError(
                f"{owner}.m_hm (half-mode mass [M_sun], in (0, inf)) is required when "
                "dark_matter='wdm'; got None",
                name=f"{owner}.m_hm", value=None, low=0.0, high=math.inf,
            )
        check_range(owner, "m_hm", cfg.m_hm, 0.0, units="[M_sun]")
    elif cfg.m_hm is not None:
        raise ValueError(
            f"{owner}.m_hm is used only when dark_matter='wdm'; got m_hm={cfg.m_hm!r} with "
            f"dark_matter={cfg.dark_matter!r}"
        )


def _coefficients(cfg) -> tuple[float, float, float]:
    c = cfg.wdm_coefficients
    return WDM_COEFFICIENTS[c] if isinstance(c, str) else tuple(c)


@dataclasses.dataclass(frozen=True)
class SubhaloConfig:
    """Subhaloes of the main lens (PHYSICS.md §14.1-§14.3); validated on construction.

    Parameters
    ----------
    sigma_sub : float
        Projected number density normalisation Sigma_sub [kpc^-2], >= 0 (default
        0.025; typical 0.01-0.1). ``d^2N/dm dA = (Sigma_sub/m0) (m/m0)^alpha F S(m)``,
        ``m0 = 1e8 M_sun``.
    alpha : float
        Logarithmic slope of the mass function (default -1.9), in (-3, 0).
    m_min, m_max : float
        Mass range of M200c [M_sun] (default 1e7, 1e10), ``1e3 <= m_min < m_max <= 1e16``.
    radius : float
        Radius of the disc in which subhaloes are placed, about ``centre`` [arcsec]
        (default 3), > 0.
    z_lens, z_source : float
        Lens and source (last plane) redshifts (defaults 0.5, 1), ``0 < z_lens < z_source <= 10``.
    centre : (y, x)
        Centre of the disc [arcsec] (default (0, 0)); ``sample(key, centre=...)`` overrides it.
    host_mass : float or None
        Host halo mass [M_sun] for pyHalo's scaling F (**unverified**); None (default): F = 1.
    dark_matter : {"cdm", "wdm", "sidm"}
        CDM: ``NFWTruncatedMCRLudlowSph`` haloes. WDM: the same with the mass function
        suppressed by S(m) and the concentration by the Bose et al. (2016) factor.
        SIDM: cored ``cNFWMCRLudlowSph`` haloes plus a core-collapsed fraction drawn
        as ``NFWTruncatedMCRLudlowSph`` with concentration times ``b_c``.
    m_hm : float or None
        WDM half-mode mass [M_sun], > 0; required for (and only for) WDM.
    wdm_coefficients : (a, b, c) or str
        S(m) coefficients or a key of :data:`WDM_COEFFICIENTS` (default
        ``"lovell2020_subhalo"`` = (4.2, 2.5, -0.2)).
    wdm_a_placement : {"inside", "outside"}
        Where ``a`` sits in S(m) (see :func:`wdm_suppression`); default "inside".
    wdm_concentration : bool
        Apply the Bose et al. (2016) concentration factor (default True).
    wdm_sampling : {"thinning", "direct"}
        "thinning" (default, PHYSICS.md §14.5): draw the CDM population and keep each
        halo with probability S(m); the capacity is the CDM one and, with the same key,
        the WDM haloes are a subset of the CDM ones. "direct": draw from the suppressed
        function itself (tabulated), with a capacity sized to the WDM mean (smaller
        arrays, faster rendering).
    f_c : float or None
        SIDM core fraction r_c / r_s of the cored haloes, in (0, 10]; required for SIDM.
    p_cc : float or tuple of float or None
        SIDM probability that a halo is core-collapsed, in [0, 1]: one value, or one per
        mass bin delimited by ``p_cc_log10_breaks``. Required for SIDM.
    p_cc_log10_breaks : tuple of float
        Interior bin edges in log10(m / M_sun), increasing; ``len(p_cc) - 1`` of them.
    b_c : float or None
        Concentration boost of collapsed haloes, >= 1; required for SIDM.
    sheet : bool
        Add a uniform negative sheet that cancels the mean subhalo convergence (PHYSICS.md
        §13.2, optional; default False). Not available for SIDM (untruncated cored haloes
        have no finite mass).
    concentration_model : {"full", "fit"}
        Ludlow et al. (2016) model of the rendered profiles (default "full").

    Notes
    -----
    The SIDM numbers are a stand-in, not derived from a cross-section (PHYSICS.md §14.3).
    """

    sigma_sub: float = 0.025
    alpha: float = -1.9
    m_min: float = 1e7
    m_max: float = 1e10
    radius: float = 3.0
    z_lens: float = 0.5
    z_source: float = 1.0
    centre: tuple[float, float] = (0.0, 0.0)
    host_mass: float | None = None
    dark_matter: str = "cdm"
    m_hm: float | None = None
    wdm_coefficients: Any = "lovell2020_subhalo"
    wdm_a_placement: str = "inside"
    wdm_concentration: bool = True
    wdm_sampling: str = "thinning"
    f_c: float | None = None
    p_cc: Any = None
    p_cc_log10_breaks: tuple[float, ...] = ()
    b_c: float | None = None
    sheet: bool = False
    concentration_model: str = "full"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "sigma_sub", self.sigma_sub, 0.0, low_inclusive=True, units="[kpc^-2]",
                    hint="a negative number density has no meaning")
        check_range(owner, "alpha", self.alpha, -3.0, 0.0, units="(dimensionless)")
        _check_masses(owner, self.m_min, self.m_max)
        check_range(owner, "radius", self.radius, 0.0, units="[arcsec]")
        _check_redshifts(owner, self.z_lens, self.z_source)
        object.__setattr__(self, "centre", _check_centre(owner, self.centre))
        if self.host_mass is not None:
            check_range(owner, "host_mass", self.host_mass, 0.0, units="[M_sun]")
        _choice(owner, "dark_matter", self.dark_matter, _DARK_MATTER)
        _choice(owner, "wdm_sampling", self.wdm_sampling, _WDM_SAMPLING)
        _choice(owner, "concentration_model", self.concentration_model, _CONCENTRATION_MODELS)
        _wdm_fields(owner, self)
        sidm = {"f_c": self.f_c, "p_cc": self.p_cc, "b_c": self.b_c}
        if self.dark_matter == "sidm":
            for name, value in sidm.items():
                if value is None:
                    raise ValueError(
                        f"{owner}.{name} is required when dark_matter='sidm'; got None")
            check_range(owner, "f_c", self.f_c, 0.0, 10.0, high_inclusive=True,
                        units="(dimensionless)")
            check_range(owner, "b_c", self.b_c, 1.0, 100.0, low_inclusive=True,
                        units="(dimensionless)")
            p = tuple(float(v) for v in np.atleast_1d(np.asarray(self.p_cc, dtype=np.float64)))
            check_range(owner, "p_cc", np.asarray(p), 0.0, 1.0, low_inclusive=True,
                        high_inclusive=True, units="(probability)")
            breaks = tuple(float(b) for b in self.p_cc_log10_breaks)
            if len(breaks) != len(p) - 1:
                raise ValueError(
                    f"{owner}.p_cc_log10_breaks must hold len(p_cc) - 1 = {len(p) - 1} bin edges; "
                    f"got {len(breaks)}"
                )
            if any(b2 <= b1 for b1, b2 in zip(breaks[:-1], breaks[1:], strict=True)):
                raise ValueError(f"{owner}.p_cc_log10_breaks must increase; got {breaks}")
            object.__setattr__(self, "p_cc", p)
            object.__setattr__(self, "p_cc_log10_breaks", breaks)
            if self.sheet:
                raise ValueError(
                    f"{owner}.sheet=True needs haloes of finite mass; the cored SIDM haloes "
                    "(untruncated cNFW) have none. Use sheet=False with dark_matter='sidm'"
                )
        else:
            given = [k for k, v in sidm.items() if v is not None]
            if given:
                raise ValueError(
                    f"{owner}.{given[0]} is used only when dark_matter='sidm'; got "
                    f"dark_matter={self.dark_matter!r}"
                )

    @property
    def area_kpc2(self) -> float:
        """Physical area of the disc at z_lens [kpc^2]: ``pi (radius kpc_per_arcsec)^2``."""
        return math.pi * (self.radius * float(Planck15.kpc_per_arcsec(self.z_lens))) ** 2


@dataclasses.dataclass(frozen=True)
class LineOfSightConfig:
    """Line-of-sight haloes in the pyHalo double cone (PHYSICS.md §13.2, §14.4); validated.

    Parameters
    ----------
    n_planes : int
        Number of lens planes between observer and source, including one at
        ``z_lens`` exactly (default 8), in [1, 200].
    cone_radius : float
        Angular radius theta_c of the double cone [arcsec] (default 3), > 0.
    m_min, m_max : float
        Mass range [M_sun] (default 1e7, 1e10), ``1e3 <= m_min < m_max <= 1e16``.
    z_lens, z_source : float
        Main-lens and source redshifts (defaults 0.5, 1), ``0 < z_lens < z_source <= 10``.
    delta_los : float
        Overall normalisation of the mass function (default 1), >= 0 (**modelling choice**).
    sheets : bool
        One negative convergence sheet per plane cancelling the mean halo convergence
        (default True, PHYSICS.md §13.2).
    centre : (y, x)
        Cone axis [arcsec] (default (0, 0)); ``sample(key, centre=...)`` overrides it.
    dark_matter : {"cdm", "wdm"}
        WDM suppresses the mass function and the concentrations as for subhaloes.
    m_hm, wdm_coefficients, wdm_a_placement, wdm_concentration
        As :class:`SubhaloConfig`; ``wdm_coefficients`` defaults to
        ``"lovell2020_field"`` = (2.3, 0.8, -1.0). WDM always uses thinning here.
    transfer : {"eh98", "eh98_nowiggle"}
        Transfer function of sigma(M) in the mass function (default "eh98", as colossus).
    concentration_model : {"full", "fit"}
        Ludlow et al. (2016) model of the rendered profiles (default "full").

    Notes
    -----
    No two-halo term (PHYSICS.md §14.4, optional and unverified) is included.
    """

    n_planes: int = 8
    cone_radius: float = 3.0
    m_min: float = 1e7
    m_max: float = 1e10
    z_lens: float = 0.5
    z_source: float = 1.0
    delta_los: float = 1.0
    sheets: bool = True
    centre: tuple[float, float] = (0.0, 0.0)
    dark_matter: str = "cdm"
    m_hm: float | None = None
    wdm_coefficients: Any = "lovell2020_field"
    wdm_a_placement: str = "inside"
    wdm_concentration: bool = True
    transfer: str = "eh98"
    concentration_model: str = "full"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if isinstance(self.n_planes, bool) or int(self.n_planes) != self.n_planes:
            raise ValueError(f"{owner}.n_planes must be an integer; got {self.n_planes!r}")
        check_range(owner, "n_planes", self.n_planes, 1, 200, low_inclusive=True,
                    high_inclusive=True)
        object.__setattr__(self, "n_planes", int(self.n_planes))
        check_range(owner, "cone_radius", self.cone_radius, 0.0, units="[arcsec]")
        _check_masses(owner, self.m_min, self.m_max)
        _check_redshifts(owner, self.z_lens, self.z_source)
        check_range(owner, "delta_los", self.delta_los, 0.0, low_inclusive=True,
                    units="(dimensionless)")
        object.__setattr__(self, "centre", _check_centre(owner, self.centre))
        if self.dark_matter == "sidm":
            raise ValueError(
                f"{owner}.dark_matter='sidm' is not supported for the line of sight: "
                "the cored haloes have no finite mass for the negative sheets; use 'cdm' or 'wdm'"
            )
        _choice(owner, "dark_matter", self.dark_matter, ("cdm", "wdm"))
        _choice(owner, "transfer", self.transfer, _TRANSFERS)
        _choice(owner, "concentration_model", self.concentration_model, _CONCENTRATION_MODELS)
        _wdm_fields(owner, self)


# =====================================================================================
# Sampling core (xp)
# =====================================================================================


def _capacity(mean: float) -> int:
    return bucket_capacity(math.ceil(mean + CAPACITY_SIGMAS * math.sqrt(max(mean, 0.0))))


def _check_capacity(owner: str, capacity) -> int:
    if isinstance(capacity, bool) or int(capacity) != capacity or int(capacity) < 1:
        raise ValueError(f"{owner}: capacity must be a positive integer; got {capacity!r}")
    return int(capacity)


@dataclasses.dataclass(frozen=True, eq=False)
class _Family:
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

    @functools.cached_property
    def count_cdf(self) -> np.ndarray:
        return poisson_cdf_table(self.table.total, self.capacity)

    @property
    def n_uniforms(self) -> int:
        return self.table.shape[0] * (1 + 4 * self.capacity)


def _draw_family(xp, u, fam: _Family, z_source: float, centre, model: str):
    """Draw one family on all its rows: (HaloBatch with (P, C) fields, n_drawn, n_kept).

    ``u`` holds ``fam.n_uniforms`` uniforms: per row, one for the Poisson count (by
    inverse CDF) and four per slot (mass, radius, angle, WDM thinning). The same key
    therefore gives the same haloes whatever the thinning, so a WDM realisation is a
    subset of the CDM realisation of that key.
    """
    n_rows, cap = fam.table.shape[0], fam.capacity
    u = xp.reshape(u, (n_rows, 1 + 4 * cap))
    n = _row_searchsorted(fam.count_cdf, u[:, :1], xp=xp, compare_all=True)[:, 0]  # (P,)
    w = xp.reshape(u[:, 1:], (n_rows, cap, 4))
    ln_m = fam.table.sample_ln_mass(w[..., 0], xp=xp)
    lo = math.exp(float(fam.table.left.min()))
    hi = math.exp(float((fam.table.left + fam.table.width).max()))
    mass = xp.clip(xp.exp(ln_m), lo, hi)
    r = xp.asarray(fam.radii)[:, None] * xp.sqrt(w[..., 1])
    phi = (2.0 * math.pi) * w[..., 2]
    cy, cx = centre
    yx = xp.stack([cy + r * xp.sin(phi), cx + r * xp.cos(phi)], axis=-1)
    mask = xp.arange(cap)[None, :] < n[:, None]
    if fam.thinning is not None:
        mask = mask & (w[..., 3] < fam.thinning(mass))
    z = xp.broadcast_to(xp.asarray(fam.redshifts, dtype=xp.float64)[:, None], (n_rows, cap))
    if callable(fam.factor):
        factor = fam.factor(mass, z)
    else:
        factor = xp.full((n_rows, cap), float(fam.factor))
    values = {
        "centre": yx,
        "mass_at_200": mass,
        "redshift_object": z,
        "redshift_source": xp.full((n_rows, cap), float(z_source)),
        "concentration_factor": factor,
        "concentration_model": model,
    }
    values.update({k: xp.full((n_rows, cap), float(v)) for k, v in fam.fields.items()})
    if not engine.is_jax(xp):  # validate the sampler's output on NumPy (shapes (P*C,))
        fam.profile(**{k: (np.reshape(v, (-1, 2)) if k == "centre" else
                           v if isinstance(v, str) else np.reshape(v, (-1,)))
                       for k, v in values.items()})
    batch = HaloBatch(profile=unchecked(fam.profile, values), mask=xp.astype(mask, xp.float64))
    return batch, n, xp.sum(xp.astype(mask, xp.int64), axis=1)


def _sheet(centre, kappa: float, xp=None) -> MassSheet:
    """A MassSheet at the configured centre (validated) or at a given, possibly traced, one."""
    if xp is None:
        return MassSheet(centre=np.asarray(centre, dtype=np.float64),
                         kappa=np.asarray(kappa, dtype=np.float64))
    return unchecked(MassSheet, {"centre": xp.asarray(centre, dtype=xp.float64),
                                  "kappa": xp.asarray(kappa, dtype=xp.float64)})


def _squeeze_plane(batch: HaloBatch) -> HaloBatch:
    """(1, C) batch -> (C,) batch."""
    return batch.plane(0)


def _resolve_centre(centre, default, xp):
    if centre is None:
        return (xp.asarray(default[0], dtype=xp.float64), xp.asarray(default[1], dtype=xp.float64))
    c = xp.asarray(centre, dtype=xp.float64)
    if tuple(c.shape) != (2,):
        raise ValueError(f"centre must be a (y, x) pair [arcsec]; got shape {tuple(c.shape)}")
    return (c[0], c[1])


def _report(owner: str, info: PopulationInfo, capacities, labels, means, action: str) -> None:
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
    need = max(bucket_capacity(int(drawn[..., worst].max())), _capacity(float(means[worst])))
    msg += (f". The extra haloes were dropped from that realisation; build the population "
            f"with capacity={need} or more for {labels[worst]} (the default holds the mean "
            f"{float(means[worst]):.1f} + 6 sigma), or discard the flagged realisations")
    if action == "raise":
        raise CapacityOverflowError(msg)
    warnings.warn(msg, RuntimeWarning, stacklevel=3)


# =====================================================================================
# Subhaloes
# =====================================================================================


class SubhaloPopulation:
    """Subhaloes of the main lens, sampled as padded batches (PHYSICS.md §14.1-§14.3, §14.5).

    Parameters
    ----------
    config : SubhaloConfig
        The validated configuration.
    capacity : int or dict, optional
        Slots per family; default ``bucket_capacity(mean + 6 sqrt(mean))`` of each
        family. A dict maps family names to capacities.

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
    >>> from xlens.halos.populations import SubhaloConfig, SubhaloPopulation
    >>> pop = SubhaloPopulation(SubhaloConfig())
    >>> round(pop.expected_counts["subhalos"], 1), pop.capacities["subhalos"]
    (246.2, 512)
    >>> batches, info = pop.sample(0)          # NumPy key; a jax.random.key uses JAX
    >>> batches["subhalos"].capacity, bool(info.overflow)
    (512, False)
    """

    def __init__(self, config: SubhaloConfig, capacity: int | dict | None = None):
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
            thinning, factor = None, 1.0
            table = CellTable.power_law([ln_lo, ln_hi], beta, norm)
            if cfg.dark_matter == "wdm":
                m_hm, abc, where = cfg.m_hm, _coefficients(cfg), cfg.wdm_a_placement

                def suppression(m, m_hm=m_hm, abc=abc, where=where):
                    return wdm_suppression(m, m_hm, abc, where)

                if cfg.wdm_concentration:
                    def factor(m, zz, m_hm=m_hm):
                        return wdm_concentration_factor(m, m_hm, zz)
                if cfg.wdm_sampling == "thinning":
                    thinning = suppression
                else:
                    nodes = _ln_nodes(ln_lo, ln_hi)
                    dens = norm * np.exp(beta * nodes) * suppression(np.exp(nodes))
                    table = CellTable.from_nodes(nodes, dens[None])
            families.append(("subhalos", NFWTruncatedMCRLudlowSph, table, thinning, factor, {}))
        else:  # SIDM: independent Poisson populations of cored and collapsed haloes
            breaks = [math.log(10.0**b) for b in cfg.p_cc_log10_breaks]
            inner = [b for b in breaks if ln_lo < b < ln_hi]
            edges = np.array([ln_lo, *inner, ln_hi])
            mids = 0.5 * (edges[:-1] + edges[1:])
            p = np.asarray(cfg.p_cc)[np.searchsorted(np.asarray(breaks), mids, side="right")]
            families.append(("cored", cNFWMCRLudlowSph,
                             CellTable.power_law(edges, beta, norm, 1.0 - p), None, 1.0,
                             {"f_c": cfg.f_c}))
            families.append(("collapsed", NFWTruncatedMCRLudlowSph,
                             CellTable.power_law(edges, beta, norm, p), None, float(cfg.b_c), {}))
        caps = self._capacities(capacity, {f[0]: float(f[2].total[0]) for f in families})
        self._families = tuple(
            _Family(name, prof, table, caps[name], z, radii, thinning, factor, fields)
            for name, prof, table, thinning, factor, fields in families
        )
        self.family_names = tuple(f.name for f in self._families)
        self.tables = {f.name: f.table for f in self._families}
        self.capacities = caps
        self.expected_counts = {
            f.name: (f.table.integrate(f.thinning) if f.thinning else float(f.table.total[0]))
            for f in self._families
        }
        self.sheet_kappa = None if cfg.dark_matter == "sidm" else self._sheet_kappa()

    def _capacities(self, capacity, means: dict) -> dict:
        owner = type(self).__name__
        if capacity is None:
            return {k: _capacity(v) for k, v in means.items()}
        if isinstance(capacity, dict):
            unknown = set(capacity) - set(means)
            if unknown:
                raise ValueError(
                    f"{owner}: unknown families {sorted(unknown)}; have {sorted(means)}")
            return {k: (_check_capacity(owner, capacity[k]) if k in capacity else _capacity(v))
                    for k, v in means.items()}
        cap = _check_capacity(owner, capacity)
        return dict.fromkeys(means, cap)

    def _sheet_kappa(self) -> float:
        """-(mean rendered mass) / (Sigma_cr A) of the tNFW subhaloes (PHYSICS.md §13.2)."""
        cfg = self.config
        fam = self._families[0]

        def rendered(m):
            keep = fam.thinning(m) if fam.thinning else 1.0
            f = fam.factor(m, cfg.z_lens) if callable(fam.factor) else fam.factor
            return keep * m * _rendered_mass_ratio(m, cfg.z_lens, f, cfg.concentration_model)

        mass = fam.table.integrate(rendered)
        sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(cfg.z_lens, cfg.z_source))
        return -mass / (sigma_cr * cfg.area_kpc2)

    # ------------------------------------------------------------------ sampling
    def sample(self, key, centre=None) -> tuple[dict[str, HaloBatch], PopulationInfo]:
        """Draw one realisation (jittable, vmappable over JAX keys).

        Parameters
        ----------
        key : JAX key or NumPy key
            Selects the engine (see :func:`key_engine`).
        centre : (y, x) array, optional
            Disc centre [arcsec] (may be traced); default ``config.centre``.

        Returns
        -------
        batches : dict of str -> HaloBatch
            One padded batch of shape (capacity,) per family (``family_names``).
        info : PopulationInfo
            ``n_drawn`` and ``n_kept`` of shape (F,), ``overflow`` a bool scalar.
        """
        rnd = _random(key)
        xp = rnd.xp
        yx = _resolve_centre(centre, self.config.centre, xp)
        # one uniform array for all families (one random-bits call to compile)
        u = rnd.uniform(key, (sum(f.n_uniforms for f in self._families),))
        batches, drawn, kept = {}, [], []
        start = 0
        for fam in self._families:
            stop = start + fam.n_uniforms
            batch, n, n_kept = _draw_family(xp, u[start:stop], fam, self.config.z_source, yx,
                                            self.config.concentration_model)
            start = stop
            batches[fam.name] = _squeeze_plane(batch)
            drawn.append(n[0])
            kept.append(n_kept[0])
        n_drawn, n_kept = xp.stack(drawn), xp.stack(kept)
        cap = xp.asarray([f.capacity for f in self._families])
        return batches, PopulationInfo(n_drawn, n_kept, xp.any(n_drawn > cap))

    def galaxies(self, batches: dict[str, HaloBatch], centre=None) -> list[Galaxy]:
        """The subhaloes (and the optional sheet) as one :class:`~xlens.Galaxy` at z_lens.

        The tracer merges it with the lens galaxy's plane. ``centre`` (the one given to
        :meth:`sample`, may be traced) centres the sheet; default ``config.centre``.
        """
        profiles: dict[str, Any] = dict(batches)
        if self.config.sheet:
            xp = None if centre is None else engine.namespace(centre)
            axis = self.config.centre if centre is None else centre
            profiles["subhalo_sheet"] = _sheet(axis, self.sheet_kappa, xp)
        return [Galaxy(self.config.z_lens, **profiles)]

    def sample_galaxies(self, key, centre=None) -> tuple[list[Galaxy], PopulationInfo]:
        """:meth:`sample` followed by :meth:`galaxies`."""
        batches, info = self.sample(key, centre)
        return self.galaxies(batches, centre), info

    def check(self, info: PopulationInfo, *, action: str = "raise") -> None:
        """Outside jit: raise :class:`CapacityOverflowError` (or warn) if a draw overflowed.

        Works on the info of one draw or of a vmapped batch of draws.
        """
        caps = [self.capacities[n] for n in self.family_names]
        labels = [f"family {n!r}" for n in self.family_names]
        means = [float(f.table.total.max()) for f in self._families]
        _report(type(self).__name__, info, caps, labels, means, action)


def _ln_nodes(ln_lo: float, ln_hi: float) -> np.ndarray:
    n = max(8, math.ceil((ln_hi - ln_lo) / (TABLE_DEX * math.log(10.0))))
    return np.linspace(ln_lo, ln_hi, n + 1)


# =====================================================================================
# Line of sight
# =====================================================================================


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
    >>> from xlens.halos.populations import LineOfSightConfig, LineOfSightPopulation
    >>> los = LineOfSightPopulation(LineOfSightConfig())
    >>> round(float(los.expected_counts.sum()))
    180
    """

    def __init__(self, config: LineOfSightConfig, capacity: int | None = None):
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

        nodes = _ln_nodes(math.log(cfg.m_min), math.log(cfg.m_max))
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

        thinning, factor = None, 1.0
        if cfg.dark_matter == "wdm":
            m_hm, abc, where = cfg.m_hm, _coefficients(cfg), cfg.wdm_a_placement

            def thinning(m, m_hm=m_hm, abc=abc, where=where):
                return wdm_suppression(m, m_hm, abc, where)

            if cfg.wdm_concentration:
                def factor(m, zz, m_hm=m_hm):
                    return wdm_concentration_factor(m, m_hm, zz)

        means = table.total
        self.capacity = (max(_capacity(float(m)) for m in means) if capacity is None
                         else _check_capacity(type(self).__name__, capacity))
        self._family = _Family("los", NFWTruncatedMCRLudlowSph, table, self.capacity, z,
                               self.angular_radii, thinning, factor, {})
        self.table = table
        self.expected_counts = np.array(
            [table.integrate(thinning, row=i) if thinning else means[i] for i in range(z.size)]
        )
        self.sheet_kappa = self._sheet_kappa()

    def _sheet_kappa(self) -> np.ndarray:
        cfg, fam = self.config, self._family
        out = np.empty(self.plane_redshifts.size)
        for i, z in enumerate(self.plane_redshifts):

            def rendered(m, z=z):
                keep = fam.thinning(m) if fam.thinning else 1.0
                f = fam.factor(m, z) if callable(fam.factor) else fam.factor
                return keep * m * _rendered_mass_ratio(m, z, f, cfg.concentration_model)

            mass = fam.table.integrate(rendered, row=i)
            sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(z, cfg.z_source))
            area = math.pi * (self.angular_radii[i] * float(Planck15.kpc_per_arcsec(z))) ** 2
            out[i] = -mass / (sigma_cr * area)
        return out

    @property
    def n_planes(self) -> int:
        return int(self.plane_redshifts.size)

    # ------------------------------------------------------------------ sampling
    def sample(self, key, centre=None) -> tuple[HaloBatch, PopulationInfo]:
        """Draw one realisation of every plane (jittable, vmappable over JAX keys).

        Parameters
        ----------
        key : JAX key or NumPy key
            Selects the engine (see :func:`key_engine`).
        centre : (y, x) array, optional
            Cone axis [arcsec] (may be traced); default ``config.centre``.

        Returns
        -------
        batch : HaloBatch
            ``NFWTruncatedMCRLudlowSph`` haloes with fields of shape (P, capacity);
            ``batch.plane(i)`` is plane i.
        info : PopulationInfo
            ``n_drawn`` and ``n_kept`` of shape (P,), ``overflow`` a bool scalar.
        """
        rnd = _random(key)
        xp = rnd.xp
        yx = _resolve_centre(centre, self.config.centre, xp)
        u = rnd.uniform(key, (self._family.n_uniforms,))
        batch, n, n_kept = _draw_family(xp, u, self._family, self.config.z_source, yx,
                                        self.config.concentration_model)
        return batch, PopulationInfo(n, n_kept, xp.any(n > self.capacity))

    def galaxies(self, batch: HaloBatch, centre=None) -> list[Galaxy]:
        """One :class:`~xlens.Galaxy` per plane: its haloes and (if ``sheets``) its sheet.

        Every plane has the same structure, so the tracer scans them (the plane at
        ``z_lens`` joins the lens galaxy's plane). ``centre`` places the sheets' centre
        (it only shifts the deflection of a constant sheet by a constant; default the
        configured cone axis).
        """
        xp = None if centre is None else engine.namespace(centre, batch.mask)
        axis = self.config.centre if centre is None else centre
        out = []
        for i, z in enumerate(self.plane_redshifts):
            profiles: dict[str, Any] = {"los_halos": batch.plane(i)}
            if self.config.sheets:
                profiles["los_sheet"] = _sheet(axis, self.sheet_kappa[i], xp)
            out.append(Galaxy(float(z), **profiles))
        return out

    def sample_galaxies(self, key, centre=None) -> tuple[list[Galaxy], PopulationInfo]:
        """:meth:`sample` followed by :meth:`galaxies`."""
        batch, info = self.sample(key, centre)
        return self.galaxies(batch, centre), info

    def check(self, info: PopulationInfo, *, action: str = "raise") -> None:
        """Outside jit: raise :class:`CapacityOverflowError` (or warn) if a plane overflowed."""
        labels = [f"plane {i} (z = {z:.4f})" for i, z in enumerate(self.plane_redshifts)]
        _report(type(self).__name__, info, [self.capacity] * self.n_planes, labels,
                self.table.total, action)
