"""Piecewise power-law tables of expected halo counts and their branch-free samplers (PHYSICS.md §14.5).

Why this module exists: every population draws its masses from a *piecewise
power-law table* (:class:`CellTable`): cells in ln m inside which ``dN/dln m``
is exactly a power law. A pure power law is one cell and its inverse CDF is the
log1p form of PHYSICS.md §14.5; the Sheth-Tormen function is log-linearly
interpolated between nodes :data:`TABLE_DEX` apart; the SIDM split (a
probability constant in bins of log m) is a power law with jumps. One
branch-free sampler covers them all, and :func:`poisson_cdf_table` with
:func:`row_searchsorted` draws the Poisson counts by inverse CDF on both engines.
Tables are NumPy set-up data; the samplers run in ``xp`` inside ``jit``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.stats

__all__ = ["TABLE_DEX", "CellTable", "cells_from_densities", "ln_mass_nodes", "poisson_cdf_table", "row_searchsorted",
           "traced_quadrature"]

#: Node spacing of the tabulated Sheth-Tormen and WDM mass functions [dex]. The
#: functions are smooth in ln m; log-linear interpolation between nodes this close
#: changes the counts by < 1e-5 (measured against Gauss-Legendre quadrature).
TABLE_DEX = 0.02
#: Gauss-Legendre nodes per table cell for expectations (sheets).
_CELL_NODES = 8


def _expm1_ratio(t):
    """``expm1(t) / t`` with the limit 1 at t = 0 (NumPy)."""
    t = np.asarray(t, dtype=np.float64)
    small = np.abs(t) < 1e-8
    ts = np.where(small, 1.0, t)
    return np.where(small, 1.0 + 0.5 * t, np.expm1(ts) / ts)


#: Tables with at most this many entries per row are searched by comparing with every
#: entry (cheap to compile, vectorises well); longer ones by ``searchsorted``.
_COMPARE_ALL_MAX = 32


def row_searchsorted(table, u, *, xp, compare_all: bool | None = None):
    """Per row p, the number of entries of ``table[p]`` that are <= ``u[p, :]`` (jittable).

    ``table`` (NumPy, shape (P, L); with ``compare_all`` also an array of ``xp``, possibly
    traced) holds non-decreasing values in [0, 1] per row;
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
    def sample_ln_mass(self, u, *, xp, weight=None, slope=None):
        """Inverse CDF: ``ln m`` for uniforms ``u`` of shape (P, C) in [0, 1) (jittable).

        The cell is found by :func:`row_searchsorted` (nothing to search for a single
        cell); inside the cell the power law is inverted exactly with the log1p form of
        PHYSICS.md §14.5.

        ``weight`` (shape (P, K)) and ``slope`` (a scalar, or shape (P, K)), arrays of ``xp``
        that may be traced, replace the table's cell weights and slopes (the cells stay):
        a power-law table re-sloped per realisation (:meth:`power_law_weights`), or a table
        whose densities follow traced redshifts (:func:`cells_from_densities`).
        """
        n_cells = self.shape[1]
        u = xp.asarray(u, dtype=xp.float64)
        traced = weight is not None
        if traced:
            total = xp.sum(weight, axis=1, keepdims=True)
            frac = weight / xp.where(total > 0.0, total, 1.0)
            cum = xp.cumsum(frac, axis=1) - frac  # the left cumulative probability of each cell
        else:
            frac, cum = self._normalised()
        if n_cells == 1:
            k = xp.zeros(u.shape, dtype=xp.int64)
        else:
            k = xp.clip(row_searchsorted(cum[:, 1:], u, xp=xp, compare_all=traced or None), 0, n_cells - 1)
        j = xp.reshape(k + xp.asarray(np.arange(self.shape[0])[:, None] * n_cells), (-1,))

        def take(table):
            return xp.reshape(xp.take(xp.reshape(xp.asarray(table), (-1,)), j), u.shape)

        f, c0 = take(frac), take(cum)
        left, width = take(self.left), take(self.width)
        if slope is None:
            slope = take(self.slope)
        else:
            slope = xp.asarray(slope, dtype=xp.float64)
            if slope.ndim == 2:
                slope = take(slope)
        v = xp.clip((u - c0) / xp.where(f > 0.0, f, 1.0), 0.0, 1.0)
        sd = slope * width
        flat = xp.abs(sd) < 1e-8
        sd_safe = xp.where(flat, 1.0, sd)
        g = xp.where(flat, v + 0.5 * v * (1.0 - v) * sd, xp.log1p(v * xp.expm1(sd_safe)) / sd_safe)
        return left + width * xp.clip(g, 0.0, 1.0)

    def power_law_weights(self, slope, pivot_ln_mass: float, *, xp):
        """Cell weights (P, K) of this table re-sloped to ``slope`` (jittable).

        For a table whose cells all share one slope ``s0`` and whose density is normalised
        at a pivot mass, ``dN/dln m = A_k (m / m_p)^s`` (a subhalo mass function, with
        per-cell multipliers ``A_k``): the weight of a cell of left edge ``x_k`` and width
        ``d_k`` is ``A_k exp(s (x_k - ln m_p)) d_k expm1(s d_k) / (s d_k)``, so at another
        slope ``s`` (a scalar of ``xp``, may be traced) it is this table's weight times
        ``exp((s - s0)(x_k - ln m_p)) E(s d_k) / E(s0 d_k)``, ``E(t) = expm1(t) / t``.
        """
        s = xp.asarray(slope, dtype=xp.float64)
        s0 = float(self.slope[0, 0])
        if not np.all(self.slope == s0):
            raise ValueError("power_law_weights needs a table whose cells share one slope")
        sd = s * xp.asarray(self.width)
        small = xp.abs(sd) < 1e-8
        sd_safe = xp.where(small, 1.0, sd)
        ratio = xp.where(small, 1.0 + 0.5 * sd, xp.expm1(sd_safe) / sd_safe)
        scale = xp.exp((s - s0) * xp.asarray(self.left - pivot_ln_mass)) * ratio
        return xp.asarray(self.weight / _expm1_ratio(s0 * self.width)) * scale

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

    def _cell_rules(self, row: int):
        """Per cell of ``row`` with weight: ``(weight, masses, rule)`` with ``int fn dN`` over the
        cell ``= weight * sum(rule * fn(masses))`` (Gauss-Legendre, see :meth:`integrate`)."""
        gl_x, gl_w = np.polynomial.legendre.leggauss(_CELL_NODES)
        for left, width, slope, weight in zip(self.left[row], self.width[row], self.slope[row],
                                              self.weight[row], strict=True):
            if weight <= 0.0:
                continue
            n_sub = max(1, math.ceil(width / (TABLE_DEX * math.log(10.0))))
            t = ((np.arange(n_sub)[:, None] + 0.5 * (gl_x + 1.0)) / n_sub).ravel()  # in [0, 1]
            wt = np.tile(0.5 * gl_w / n_sub, n_sub)
            sd = slope * width
            dens = 1.0 if abs(sd) < 1e-8 else sd * np.exp(sd * t) / math.expm1(sd)
            yield weight, np.exp(left + width * t), wt * dens

    def integrate(self, fn, row: int = 0) -> float:
        """``int fn(m) dN`` over the cells of ``row`` (NumPy).

        Gauss-Legendre with :data:`_CELL_NODES` nodes on pieces of each cell at most
        :data:`TABLE_DEX` wide, so that a smooth ``fn`` (a WDM suppression, a
        rendered-mass ratio) is integrated to ~1e-10 even over a one-cell power law.
        ``fn`` takes masses [M_sun] (a NumPy array) and returns an array of that shape.
        """
        total = 0.0
        for weight, masses, rule in self._cell_rules(row):
            vals = np.asarray(fn(masses), dtype=np.float64)
            total += float(weight * np.sum(rule * vals))
        return total

    def quadrature(self, row: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(masses [M_sun], weights)`` of :meth:`integrate`'s rule on ``row`` as flat arrays:
        ``int fn dN ~ sum(weights * fn(masses))``, one vectorised call of ``fn`` (NumPy)."""
        rules = list(self._cell_rules(row))
        if not rules:
            return np.zeros(0), np.zeros(0)
        return (np.concatenate([m for _, m, _ in rules]),
                np.concatenate([w * r for w, _, r in rules]))


def cells_from_densities(ln_nodes, density, *, xp):
    """Cell ``(weight, slope)`` of the log-linear table through ``density`` (jittable).

    The traced counterpart of :meth:`CellTable.from_nodes`: ``density`` (shape (P, K + 1),
    > 0, may be traced) is ``dN/dln m`` at the static nodes ``ln_nodes`` (K + 1,); each cell's
    power law passes through its two nodes. Returns two arrays of shape (P, K).
    """
    x = np.asarray(ln_nodes, dtype=np.float64)
    width = xp.asarray(np.diff(x))[None, :]
    log_d = xp.log(density)
    slope = (log_d[:, 1:] - log_d[:, :-1]) / width
    sd = slope * width
    small = xp.abs(sd) < 1e-8
    sd_safe = xp.where(small, 1.0, sd)
    ratio = xp.where(small, 1.0 + 0.5 * sd, xp.expm1(sd_safe) / sd_safe)
    return density[:, :-1] * width * ratio, slope


def traced_quadrature(table: CellTable, weight, slope, *, xp):
    """``(masses [M_sun] (Q,), weights (P, Q))`` of :meth:`CellTable.integrate`'s rule on cells
    whose weights and slopes are traced (shapes (P, K)): ``int fn dN_p ~ sum_q weights[p, q]
    fn(masses[q])`` for the cells of ``table`` (their edges are static; at most
    :data:`TABLE_DEX` wide, so one Gauss-Legendre piece of :data:`_CELL_NODES` nodes each)."""
    if np.any(table.width[0] > TABLE_DEX * math.log(10.0) * (1.0 + 1e-9)):
        raise ValueError("traced_quadrature needs cells at most TABLE_DEX wide (a tabulated mass function)")
    gl_x, gl_w = np.polynomial.legendre.leggauss(_CELL_NODES)
    t = 0.5 * (gl_x + 1.0)  # (J,) in [0, 1]
    left, width = table.left[0], table.width[0]  # the cells are the same on every row
    masses = np.exp(left[:, None] + width[:, None] * t[None, :]).ravel()  # (K J,)
    sd = slope * xp.asarray(width)[None, :]  # (P, K)
    small = xp.abs(sd) < 1e-8
    sd_safe = xp.where(small, 1.0, sd)
    tt = xp.asarray(t)[None, None, :]
    dens = xp.where(small[..., None], 1.0 + sd[..., None] * (tt - 0.5),
                    sd_safe[..., None] * xp.exp(sd_safe[..., None] * tt) / xp.expm1(sd_safe)[..., None])
    w = weight[..., None] * xp.asarray(0.5 * gl_w)[None, None, :] * dens  # (P, K, J)
    return masses, xp.reshape(w, (w.shape[0], -1))


def ln_mass_nodes(ln_lo: float, ln_hi: float) -> np.ndarray:
    """Nodes in ln m [ln M_sun] at most :data:`TABLE_DEX` apart (at least 8 cells) on [lo, hi]."""
    n = max(8, math.ceil((ln_hi - ln_lo) / (TABLE_DEX * math.log(10.0))))
    return np.linspace(ln_lo, ln_hi, n + 1)
