"""Singular isothermal ellipsoid and sphere in closed form (PHYSICS.md §5).

``Isothermal`` is the ``slope = 2`` case of :class:`~xlens.profiles.mass.PowerLaw`
written with the Kormann, Schneider & Bartelmann (1994) / Keeton (2001) closed
form instead of a series: it is cheaper, exact to rounding, and serves as the
test oracle of the power law. Near q = 1 the closed form is 0/0, so a short
Taylor series in ``s = sqrt(1 - q^2)`` takes over below :data:`_SERIES_S_MAX`.
"""

from __future__ import annotations

from typing import ClassVar

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, ELL_COMPS, POSITIVE_ARCSEC, MassProfile, check_axis_ratio
from ..geometry import (
    ELLIPTICAL_CORE_RADIUS,
    at_round,
    clamped_elliptical_radius,
    elliptical_frame,
    rotate_from_frame,
    round_linear_terms,
)

__all__ = ["Isothermal", "IsothermalSph"]

#: Below this s = sqrt(1 - q^2) the Taylor series of arctan(s z)/s and
#: atanh(s z)/s replaces the closed form (PHYSICS.md §5): the first omitted term
#: is s^6 z^7/7 < 1e-18 |z|^7, while the closed form's 0/0 is avoided.
_SERIES_S_MAX = 1e-3


def _atanh_of_ratio(s, yr, psi, q2r2, *, xp):
    """``atanh(s y'/Psi)`` without forming ``1 - s y'/Psi``, which cancels as q -> 0.

    With ``(Psi + s y')(Psi - s y') = q^2 r^2`` (``r^2 = x'^2 + y'^2``),
    ``atanh(s y'/Psi) = G(y') = log1p(2 s y' (Psi + s y')/(q^2 r^2))/2``: exact and
    analytic in ``y'``, and free of cancellation for ``y' >= 0``. The function is
    odd, so ``-G(-y')`` is used below the axis; both branches are finite everywhere.
    """

    def g(v):
        return 0.5 * xp.log1p(2.0 * s * v * (psi + s * v) / q2r2)

    return xp.where(yr >= 0.0, g(yr), -g(-yr))


def _sie_frame_deflections(p, y, x, *, xp):
    """Profile-frame ``(alpha_y', alpha_x')`` of the SIE (PHYSICS.md §5) and the frame."""
    f, q, cos, sin, yr, xr = elliptical_frame(p, y, x, xp=xp)
    psi = clamped_elliptical_radius(q, yr, xr, xp=xp)  # Psi = sqrt(q^2 x'^2 + y'^2), clamped (§4.5)
    core = ELLIPTICAL_CORE_RADIUS[engine.dtype_name(psi)]
    q2r2 = q * q * xp.maximum(xr * xr + yr * yr, core * core)
    b = 2.0 * q * p["einstein_radius"] / (1.0 + q)
    zx, zy = xr / psi, yr / psi
    # s^2 = 1 - q^2 = 4 f/(1 + f)^2, formed from f: no cancellation as q -> 1
    s2 = 4.0 * f / (1.0 + f) ** 2
    series = s2 < _SERIES_S_MAX**2
    s2_closed = xp.where(series, 0.25, s2)  # keep the closed form away from 0/0 where unused
    s = xp.sqrt(s2_closed)
    closed_x = xp.atan(s * zx) / s
    closed_y = _atanh_of_ratio(s, yr, psi, q2r2, xp=xp) / s
    s2_series = xp.where(series, s2, 0.0)
    series_x = zx * (1.0 - s2_series * zx * zx / 3.0 + s2_series**2 * zx**4 / 5.0)
    series_y = zy * (1.0 + s2_series * zy * zy / 3.0 + s2_series**2 * zy**4 / 5.0)
    ax = b * xp.where(series, series_x, closed_x)
    ay = b * xp.where(series, series_y, closed_y)
    return ay, ax, cos, sin, yr, xr


@pytree_dataclass
class Isothermal(MassProfile):
    """Singular isothermal ellipsoid(s) (PyAutoLens ``mp.Isothermal``), summed over haloes.

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    ell_comps : (e1, e2) or array, shape (2,) or (H, 2)
        Elliptical components (dimensionless), ``f = |ell_comps| < 1``
        (axis ratio ``q = (1 - f)/(1 + f) > 0``; no lower bound is needed).
    einstein_radius : float or array, shape () or (H,)
        theta_E > 0 [arcsec], PyAutoGalaxy normalisation (PHYSICS.md §4.1).

    Notes
    -----
    With ``b = 2 q theta_E/(1 + q)``, ``s = sqrt(1 - q^2)`` and
    ``Psi = sqrt(q^2 x'^2 + y'^2)`` (PHYSICS.md §5)::

        kappa = b/(2 Psi)
        alpha_x' = (b/s) arctan(s x'/Psi),  alpha_y' = (b/s) atanh(s y'/Psi)
        psi = x' alpha_x' + y' alpha_y'

    This equals :class:`PowerLaw` with ``slope = 2``. For ``s < 1e-3`` the
    series ``z -/+ s^2 z^3/3 + s^4 z^5/5`` is used. ``atanh(s y'/Psi)`` is
    formed with ``log1p`` from ``(Psi + s y')(Psi - s y') = q^2 r^2``, so it stays
    accurate (also in float32) as ``q -> 0``. ``Psi`` is clamped at
    1e-8 arcsec (1e-4 in float32) as for the power law (§4.5), so the
    deflection is 0 at the exact centre and all fields stay finite.
    Positions and deflections are (y, x).

    Conversions (PHYSICS.md §17): lenstronomy ``SIE`` has
    ``theta_E_L = 2 sqrt(q) theta_E/(1 + q)`` and
    ``(e1, e2)_lenstronomy = (e2, e1)_xlens``; PyAutoLens ``mp.Isothermal``
    uses the same parameters as xlens.
    """

    centre: ArrayLike = (0.0, 0.0)
    ell_comps: ArrayLike = (0.0, 0.0)
    einstein_radius: ArrayLike = 1.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "ell_comps": ELL_COMPS,
        "einstein_radius": POSITIVE_ARCSEC,
    }

    def _validate(self) -> None:
        check_axis_ratio(type(self).__name__, self.ell_comps, 0.0)

    # At ell_comps = (0, 0) the frame (q, phi) has no derivative; round_linear_terms (slope 2)
    # adds the first-order ellipticity terms there (0 in value): the SIE is smooth in e.
    def _convergence(self, p, y, x, *, xp):
        _, q, _, _, yr, xr = elliptical_frame(p, y, x, xp=xp)
        psi = clamped_elliptical_radius(q, yr, xr, xp=xp)
        k1, _, _, _ = round_linear_terms(p, y, x, 2.0, xp=xp)
        return at_round(q * p["einstein_radius"] / ((1.0 + q) * psi), k1, *p["ell_comps"], xp=xp)

    def _deflections(self, p, y, x, *, xp):
        ay, ax, cos, sin, _, _ = _sie_frame_deflections(p, y, x, xp=xp)
        ay, ax = rotate_from_frame(ay, ax, cos, sin)
        _, _, a1y, a1x = round_linear_terms(p, y, x, 2.0, xp=xp)
        e1, e2 = p["ell_comps"]
        return at_round(ay, a1y, e1, e2, xp=xp), at_round(ax, a1x, e1, e2, xp=xp)

    def _potential(self, p, y, x, *, xp):
        ay, ax, _, _, yr, xr = _sie_frame_deflections(p, y, x, xp=xp)
        _, psi1, _, _ = round_linear_terms(p, y, x, 2.0, xp=xp)
        return at_round(xr * ax + yr * ay, psi1, *p["ell_comps"], xp=xp)


@pytree_dataclass
class IsothermalSph(MassProfile):
    """Singular isothermal sphere(s) (PyAutoLens ``mp.IsothermalSph``), summed over haloes.

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    einstein_radius : float or array, shape () or (H,)
        theta_E > 0 [arcsec].

    Notes
    -----
    ``kappa = theta_E/(2 r)``, ``alpha = theta_E (y - y_c, x - x_c)/r``,
    ``psi = theta_E r`` (PHYSICS.md §5 with q = 1). ``r`` is clamped at
    1e-8 arcsec (1e-4 in float32), so the deflection is 0 at the exact centre.
    lenstronomy ``SIS``: ``theta_E`` is the same.
    """

    centre: ArrayLike = (0.0, 0.0)
    einstein_radius: ArrayLike = 1.0

    ranges: ClassVar = {"centre": ANY_ARCSEC, "einstein_radius": POSITIVE_ARCSEC}

    def _radius(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        dy, dx = y - cy, x - cx
        core = ELLIPTICAL_CORE_RADIUS[engine.dtype_name(dy)]
        r2 = dy * dy + dx * dx
        return dy, dx, r2, xp.sqrt(xp.maximum(r2, core * core))

    def _convergence(self, p, y, x, *, xp):
        _, _, _, r = self._radius(p, y, x, xp=xp)
        return 0.5 * p["einstein_radius"] / r

    def _deflections(self, p, y, x, *, xp):
        dy, dx, _, r = self._radius(p, y, x, xp=xp)
        a = p["einstein_radius"] / r
        return a * dy, a * dx

    def _potential(self, p, y, x, *, xp):
        _, _, r2, r = self._radius(p, y, x, xp=xp)
        return p["einstein_radius"] * r2 / r  # theta_E r outside the core, smooth inside
