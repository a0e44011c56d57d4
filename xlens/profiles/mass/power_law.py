"""Elliptical power-law mass profile (EPL), PHYSICS.md §4.

The deflection is the Tessore & Metcalf (2015) hypergeometric series, summed
with a *fixed* number of terms. The count is chosen in Python, once per dtype,
from the rigorous tail bound of PHYSICS.md §4.4 evaluated at the lowest axis
ratio that validation accepts (:data:`_Q_MIN`); it never depends on a traced
value, so the NumPy and JAX engines sum exactly the same terms and nothing is
retraced when parameters change. The recursion runs as a short scan over blocks
of a few steps unrolled in Python (:data:`_SERIES_BLOCK` says why).

The complex recursion is written with real pairs ``(re, im)`` so that it runs in
any array-API namespace and in float32.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, ELL_COMPS, POSITIVE_ARCSEC, MassProfile, Range, check_axis_ratio
from ..geometry import (
    at_round,
    clamped_elliptical_radius,
    elliptical_frame,
    rotate_from_frame,
    round_linear_terms,
)

__all__ = ["PowerLaw"]

#: Lowest axis ratio the EPL accepts (PHYSICS.md §4.4, convention). The series
#: term counts below are derived from it.
_Q_MIN = 0.2

#: Relative truncation error targeted by the series, per dtype. float64: 1e-11,
#: so that the reference tests at q = _Q_MIN meet rtol 1e-10 with a decade to
#: spare for rounding; float32: 1e-5, below the float32 REF tolerance.
_SERIES_EPS = {"float64": 1e-11, "float32": 1e-5}


def _series_terms(q_min: float, eps: float) -> int:
    """Number of Tessore & Metcalf terms that bound the relative error by ``eps`` for q >= q_min.

    Parameters
    ----------
    q_min : float
        Lowest axis ratio, in (0, 1].
    eps : float
        Target relative truncation error of the angular factor Omega, in (0, 1).

    Returns
    -------
    int
        ``N = ceil(ln[eps (1 - f)/(1 + f)] / ln f)`` with ``f = (1 - q_min)/(1 + q_min)``
        (PHYSICS.md §4.4): the tail after N terms is at most ``f^N/(1 - f)`` and
        ``|Omega| >= 1/(1 + f)``, so the relative error is at most
        ``(1 + f) f^N/(1 - f) <= eps``. Returns 1 for a round profile (f = 0).
    """
    if not 0.0 < q_min <= 1.0 or not 0.0 < eps < 1.0:
        raise ValueError(
            f"_series_terms needs q_min in (0, 1] and eps in (0, 1); got {q_min}, {eps}"
        )
    f = (1.0 - q_min) / (1.0 + q_min)
    if f == 0.0:
        return 1
    return max(1, math.ceil(math.log(eps * (1.0 - f) / (1.0 + f)) / math.log(f)))


#: Terms the error bound asks for, per dtype: {"float64": 67, "float32": 33} for _Q_MIN = 0.2.
_N_TERMS = {name: _series_terms(_Q_MIN, eps) for name, eps in _SERIES_EPS.items()}

#: Recursion steps unrolled per scan iteration. Unrolling all 66 steps makes one
#: huge fused kernel: XLA on the CPU took ~2 s to compile the series alone and
#: ~28 s for its gradient. One step per scan iteration compiles fast but writes
#: four arrays per step. Measured for the PowerLaw gradient (all fields, jit) and
#: the deflection of 160 000 points, block size 1 / 3 / 6 / 11: compile 4.6 / 4.9 /
#: 7.0 / 10.4 s, run 52 / 36 / 41 / 38 ms (JAX 0.10, CPU time on a shared 2-core
#: machine, 2026-11). Each block size divides the dtype's N - 1
#: (66 = 22 x 3, 32 = 8 x 4), so exactly N terms are summed.
_SERIES_BLOCK = {"float64": 3, "float32": 4}



def _tm15_omega(cos_phi, sin_phi, f, t, *, xp):
    """Omega(phi) = sum_{n<N} Omega_n as a real pair (Tessore & Metcalf 2015, PHYSICS.md §4.2).

    ``Omega_0 = e^{i phi}``, ``Omega_n = -f (2n - (2 - t))/(2n + (2 - t)) e^{2 i phi} Omega_{n-1}``.
    The ``N - 1`` recursion steps (:data:`_N_TERMS` for the dtype) run as a scan
    over blocks of :data:`_SERIES_BLOCK` steps unrolled in Python (see there for
    why); a count that is not a whole number of blocks is rounded up, which only
    shrinks the truncation error.
    """
    dtype = engine.dtype_name(cos_phi)
    size = _SERIES_BLOCK[dtype]
    n_blocks = -(-(_N_TERMS[dtype] - 1) // size)
    zr = cos_phi * cos_phi - sin_phi * sin_phi  # e^{2 i phi}
    zi = 2.0 * cos_phi * sin_phi
    two_minus_t = 2.0 - t

    def block(carry, b):
        wr, wi, sr, si = carry
        for j in range(size):
            n = b * size + (j + 1)
            c = -f * (2 * n - two_minus_t) / (2 * n + two_minus_t)  # (h, 1): one per halo
            wr, wi = c * (zr * wr - zi * wi), c * (zr * wi + zi * wr)
            sr, si = sr + wr, si + wi  # no in-place update: read-only arrays must work
        return (wr, wi, sr, si), None

    blocks = xp.arange(n_blocks, dtype=cos_phi.dtype)
    (_, _, sr, si), _ = engine.scan(block, (cos_phi, sin_phi, cos_phi, sin_phi), blocks, xp=xp)
    return sr, si


def _frame_deflections(p, y, x, *, xp):
    """Profile-frame deflection ``(alpha_y', alpha_x')`` and the frame (PHYSICS.md §4.2)."""
    f, q, cos, sin, yr, xr = elliptical_frame(p, y, x, xp=xp)
    t = p["slope"] - 1.0
    r = clamped_elliptical_radius(q, yr, xr, xp=xp)
    om_x, om_y = _tm15_omega(q * xr / r, yr / r, f, t, xp=xp)
    # 2b/(1+q) (b/R)^(t-1) = 2R/(1+q) (b/R)^t and (b/R)^t = 2/(1+q) (q theta_E/R)^t:
    # this form never raises 2/(1+q) to the power 1/t, which overflows float32 as t -> 0.
    scale = 4.0 * r * xp.pow(q * p["einstein_radius"] / r, t) / (1.0 + q) ** 2
    return scale * om_y, scale * om_x, cos, sin, yr, xr


@pytree_dataclass
class PowerLaw(MassProfile):
    """Elliptical power-law mass profile(s) (PyAutoLens ``mp.PowerLaw``), summed over haloes.

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    ell_comps : (e1, e2) or array, shape (2,) or (H, 2)
        Elliptical components (dimensionless), ``e1 = f sin 2phi``,
        ``e2 = f cos 2phi``, ``f = (1 - q)/(1 + q)``; the axis ratio must be
        ``q >= 0.2`` (``|ell_comps| <= 2/3``, :data:`_Q_MIN`).
    einstein_radius : float or array, shape () or (H,)
        theta_E > 0 [arcsec], in the PyAutoGalaxy normalisation (PHYSICS.md §4.1).
    slope : float or array, shape () or (H,)
        Logarithmic slope gamma of the 3D density, in (1, 3) (dimensionless);
        2 is isothermal.

    Raises
    ------
    ParameterError
        (a ``ValueError``) for a parameter outside its range, naming it, its
        value and the range; ``ValueError`` for per-halo lengths that differ.

    Notes
    -----
    Convergence (PHYSICS.md §4.1), with ``eta = sqrt(x'^2 + y'^2/q^2)``::

        kappa = (3 - gamma)/(1 + q) * (theta_E/eta)^(gamma - 1)

    The deflection is the Tessore & Metcalf (2015) series (§4.2) summed to a
    fixed number of terms: 67 in float64 and 33 in float32, from the bound
    ``(1 + f) f^N/(1 - f)`` of §4.4 at q = 0.2 with targets 1e-11 and 1e-5
    (:func:`_series_terms`). The potential is ``psi = (x' alpha_x' + y' alpha_y')/(3 - gamma)``
    (§4.3), zero at the centre. Positions and deflections are (y, x).

    At the centre ``R = q eta`` is clamped at 1e-8 arcsec (1e-4 in float32),
    §4.5, so the fields stay finite and differentiable there; outside that core
    they are unchanged. Inside it the deflection falls smoothly (about linearly
    in R) to exactly 0 at the centre for every slope (the true field vanishes
    there for ``gamma < 2``, has no direction for ``gamma = 2`` and diverges for
    ``gamma > 2``).

    Conversions (PHYSICS.md §17): lenstronomy ``EPL`` has
    ``theta_E_L = sqrt(q) (2/(1 + q))^(1/(gamma - 1)) theta_E``, ``gamma`` the
    same, ``(e1, e2)_lenstronomy = (e2, e1)_xlens``, ``center_x = x_c``,
    ``center_y = y_c``; lenstronomy takes (x, y) and returns (alpha_x, alpha_y).
    PyAutoLens ``mp.PowerLaw`` uses the same parameters as xlens;
    ``mp.PowerLawIntermediate`` uses theta_E_L.
    """

    centre: ArrayLike = (0.0, 0.0)
    ell_comps: ArrayLike = (0.0, 0.0)
    einstein_radius: ArrayLike = 1.0
    slope: ArrayLike = 2.0

    #: Lowest axis ratio accepted (the series term counts assume it).
    q_min: ClassVar[float] = _Q_MIN

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "ell_comps": ELL_COMPS,
        "einstein_radius": POSITIVE_ARCSEC,
        "slope": Range(
            1.0,
            3.0,
            units="(dimensionless)",
            hint="slope 1 has no convergence, slope 3 an infinite mass in any aperture",
        ),
    }

    def _validate(self) -> None:
        check_axis_ratio(
            type(self).__name__,
            self.ell_comps,
            _Q_MIN,
            hint="the deflection series sums a fixed number of terms chosen for "
            "q >= 0.2 (PHYSICS.md §4.4)",
        )

    # At ell_comps = (0, 0) the frame (q, phi) has no derivative; round_linear_terms adds the
    # first-order ellipticity terms there (0 in value), so the gradient is the profile's.
    def _convergence(self, p, y, x, *, xp):
        _, q, _, _, yr, xr = elliptical_frame(p, y, x, xp=xp)
        t = p["slope"] - 1.0
        r = clamped_elliptical_radius(q, yr, xr, xp=xp)
        kappa = (2.0 - t) / (1.0 + q) * xp.pow(q * p["einstein_radius"] / r, t)  # eta = R/q
        k1, _, _, _ = round_linear_terms(p, y, x, p["slope"], xp=xp)
        return at_round(kappa, k1, *p["ell_comps"], xp=xp)

    def _deflections(self, p, y, x, *, xp):
        ay, ax, cos, sin, _, _ = _frame_deflections(p, y, x, xp=xp)
        ay, ax = rotate_from_frame(ay, ax, cos, sin)
        _, _, a1y, a1x = round_linear_terms(p, y, x, p["slope"], xp=xp)
        e1, e2 = p["ell_comps"]
        return at_round(ay, a1y, e1, e2, xp=xp), at_round(ax, a1x, e1, e2, xp=xp)

    def _potential(self, p, y, x, *, xp):
        ay, ax, _, _, yr, xr = _frame_deflections(p, y, x, xp=xp)
        _, psi1, _, _ = round_linear_terms(p, y, x, p["slope"], xp=xp)
        return at_round((xr * ax + yr * ay) / (3.0 - p["slope"]), psi1, *p["ell_comps"], xp=xp)
