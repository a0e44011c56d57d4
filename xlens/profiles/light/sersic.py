"""Sersic and cored-Sersic light profiles (PHYSICS.md §12).

Both use the eccentric (circularised) radius ``r = sqrt(q x'^2 + y'^2/q)`` of
PyAutoGalaxy (§1) and the Ciotti & Bertin (1999) expansion of ``b_n``. The
exponents are formed with ``expm1`` and ``log`` of a guarded radius, so the
profiles are exact at ``R_e`` (Sersic) and ``R_b`` (SersicCore), finite at the
centre, and differentiable with respect to every parameter there.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, ELL_COMPS, INTENSITY, POSITIVE_ARCSEC, LightProfile, Range, check_axis_ratio
from ..geometry import axis_ratio_and_angle, rotate_to_frame

__all__ = ["Sersic", "SersicCore"]

#: SersicCore: radii below x_min R_b are clamped (PHYSICS.md §16, convention):
#: for gamma > 0 the profile diverges at r = 0, and log(0) must never be formed.
_X_MIN = {"float64": 1e-12, "float32": 1e-6}

#: Sersic: below this (r/R_e)^2 the term (r/R_e)^(1/n) is set to 0 (double
#: where), so I(0) = I_e e^(b_n) exactly and log(0) is never formed. Above it the
#: reverse-mode gradient, which divides by (r/R_e)^2, stays finite for every
#: n <= 10 (a subnormal (r/R_e)^2 would overflow 1/(r/R_e)^2). The value dropped
#: is at most b_n (r/R_e)^(1/n) < 2e-9 for n <= 10 (float64); in float32 it only
#: matters within 1e-15 R_e of the centre.
_SERSIC_U2_MIN = {"float64": 1e-200, "float32": 1e-30}

#: Sersic indices accepted: the Ciotti & Bertin series degrades below 0.36
#: (PHYSICS.md §12.1); above 10 the profile is far outside the galaxies it models.
_SERSIC_INDEX = Range(
    0.36,
    10.0,
    low_inclusive=True,
    high_inclusive=True,
    units="(dimensionless)",
    hint="b_n is the Ciotti & Bertin expansion, which degrades below n = 0.36 "
    "(PHYSICS.md §12.1); n > 10 is far outside the galaxies the profile models",
)

_LN2 = math.log(2.0)


def _sersic_constant(n: ArrayLike) -> ArrayLike:
    """``b_n`` of the Sersic profile: Ciotti & Bertin (1999) to ``n^-4`` (PHYSICS.md §12.1).

    Parameters
    ----------
    n : float or array
        Sersic index (dimensionless), in [0.36, 10].

    Returns
    -------
    float or array
        ``b_n`` with ``gamma(2n, b_n) = Gamma(2n)/2`` to a relative error below
        4e-4 (n = 0.5), 3e-5 (n = 1), 1e-7 (n = 4).
    """
    inv = 1.0 / n
    return (
        2.0 * n
        - 1.0 / 3.0
        + inv
        * (
            4.0 / 405.0
            + inv * (46.0 / 25515.0 + inv * (131.0 / 1148175.0 - inv * (2194697.0 / 30690717750.0)))
        )
    )


def _eccentric_radius2(p, y, x, *, xp):
    """Squared eccentric radius ``q x'^2 + y'^2/q`` [arcsec^2] (PHYSICS.md §1, §12).

    With ``f^2 = e1^2 + e2^2``, ``f cos 2phi = e2`` and ``f sin 2phi = e1`` it is
    ``[r^2 (1 + f^2) - 2 ((dx^2 - dy^2) e2 + 2 dx dy e1)] / (1 - f^2)``: smooth in
    ``ell_comps``, also at (0, 0), where the axis ratio and angle are not (|e| and atan2). The
    value comes from the frame form (no cancellation at small q); at exactly e = 0 the smooth
    form, equal there, supplies the derivative (which through q and phi would be 0).
    """
    cy, cx = p["centre"]
    e1, e2 = p["ell_comps"]
    q, cos, sin = axis_ratio_and_angle(e1, e2, xp=xp)
    dy, dx = y - cy, x - cx
    yr, xr = rotate_to_frame(dy, dx, cos, sin)
    frame = q * xr * xr + yr * yr / q
    f2 = e1 * e1 + e2 * e2
    smooth = ((dx * dx + dy * dy) * (1.0 + f2) - 2.0 * ((dx * dx - dy * dy) * e2 + 2.0 * dx * dy * e1)) / (1.0 - f2)
    return xp.where(f2 > 0, frame, smooth)


@pytree_dataclass
class Sersic(LightProfile):
    """Elliptical Sersic light profile(s) (PyAutoLens ``lp.Sersic``), summed over profiles.

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    ell_comps : (e1, e2) or array, shape (2,) or (H, 2)
        Elliptical components (dimensionless), ``|ell_comps| < 1`` (PHYSICS.md §1).
    intensity : float or array, shape () or (H,)
        Surface brightness I_e >= 0 at the effective radius [data units, e.g.
        electrons per second].
    effective_radius : float or array, shape () or (H,)
        Circularised half-light radius R_e > 0 [arcsec].
    sersic_index : float or array, shape () or (H,)
        Sersic index n in [0.36, 10] (dimensionless).

    Notes
    -----
    ``I(r) = I_e exp{-b_n [(r/R_e)^(1/n) - 1]}`` with the eccentric radius
    ``r = sqrt(q x'^2 + y'^2/q)`` and the Ciotti & Bertin ``b_n``
    (:func:`_sersic_constant`, PHYSICS.md §12.1). The ellipse ``r < R_e``
    holds half of the total flux ``2 pi n I_e R_e^2 e^(b_n) Gamma(2n)/b_n^(2n)``.
    ``I(0) = I_e e^(b_n)`` exactly; the term ``(r/R_e)^(1/n)`` is dropped
    for ``r < 1e-100 R_e`` (``1e-15 R_e`` in float32) so that gradients stay
    finite (:data:`_SERSIC_U2_MIN`). Positions are (y, x).

    Conversions (PHYSICS.md §17): lenstronomy ``SERSIC_ELLIPSE`` has
    ``amp = I_e``, ``R_sersic = R_e``, ``n_sersic = n``, swapped ``(e1, e2)``
    (lenstronomy's are ``(e2, e1)`` of xlens), but a linear ``b_n``
    (1.9992 n - 0.3271) that differs by up to 18% at 3 R_e for n = 0.5.
    PyAutoLens ``lp.Sersic`` uses the same parameters and ``b_n`` as xlens.
    """

    centre: ArrayLike = (0.0, 0.0)
    ell_comps: ArrayLike = (0.0, 0.0)
    intensity: ArrayLike = 0.1
    effective_radius: ArrayLike = 0.6
    sersic_index: ArrayLike = 4.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "ell_comps": ELL_COMPS,
        "intensity": INTENSITY,
        "effective_radius": POSITIVE_ARCSEC,
        "sersic_index": _SERSIC_INDEX,
    }

    def _validate(self) -> None:
        check_axis_ratio(type(self).__name__, self.ell_comps, 0.0)

    def _image(self, p, y, x, *, xp):
        n, r_e = p["sersic_index"], p["effective_radius"]
        u2 = _eccentric_radius2(p, y, x, xp=xp) / (r_e * r_e)  # (r/R_e)^2
        inside = u2 > _SERSIC_U2_MIN[engine.dtype_name(u2)]
        log_u = 0.5 * xp.log(xp.where(inside, u2, 1.0))
        # (r/R_e)^(1/n) - 1 = expm1(ln(r/R_e)/n): exact 0 at r = R_e, no cancellation near it
        power_m1 = xp.where(inside, xp.expm1(log_u / n), -1.0)
        return p["intensity"] * xp.exp(-_sersic_constant(n) * power_m1)


@pytree_dataclass
class SersicCore(LightProfile):
    """Cored Sersic light profile(s) (Graham et al. 2003; PyAutoLens ``lp.SersicCore``).

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    ell_comps : (e1, e2) or array, shape (2,) or (H, 2)
        Elliptical components (dimensionless), ``|ell_comps| < 1``.
    intensity : float or array, shape () or (H,)
        Surface brightness I_b >= 0 **at the break radius** [data units]
        (PyAutoGalaxy convention, PHYSICS.md §12.2).
    effective_radius : float or array, shape () or (H,)
        R_e > 0 [arcsec]: the half-light radius of the outer Sersic part.
    sersic_index : float or array, shape () or (H,)
        Sersic index n in [0.36, 10] (dimensionless).
    radius_break : float or array, shape () or (H,)
        Break radius R_b > 0 [arcsec].
    gamma : float or array, shape () or (H,)
        Inner logarithmic slope gamma >= 0 (dimensionless).
    alpha : float or array, shape () or (H,)
        Sharpness alpha > 0 of the transition (dimensionless).

    Notes
    -----
    PHYSICS.md §12.2, with the eccentric radius ``r`` of §1::

        I(r) = I' [1 + (R_b/r)^alpha]^(gamma/alpha)
                  * exp{-b_n ((r^alpha + R_b^alpha)/R_e^alpha)^(1/(alpha n))}
        I'   = I_b 2^(-gamma/alpha) exp[b_n (2^(1/alpha) R_b/R_e)^(1/n)]

    so that ``I(R_b) = I_b`` exactly. It is evaluated as ``I_b exp(E)`` with
    ``s = alpha ln(r/R_b)`` and ``sp(s) = ln(1 + e^s)``::

        E = -b_n 2^(1/(alpha n)) (R_b/R_e)^(1/n) expm1[(sp(s) - ln 2)/(alpha n)]
            + (gamma/alpha) (sp(-s) - ln 2)

    which never overflows for large ``alpha`` or small ``r``. ``r`` is
    clamped at ``1e-12 R_b`` (``1e-6 R_b`` in float32), PHYSICS.md §16.
    Positions are (y, x).

    Conversions (PHYSICS.md §17): lenstronomy ``CORE_SERSIC`` has ``Rb = R_b``,
    ``gamma``, ``alpha``, ``R_sersic = R_e``, ``n_sersic = n`` and
    ``amp = I_b 2^(-gamma/alpha) exp{b_n [(2^(1/alpha) R_b/R_e)^(1/n) - 1]}``
    with the same ``b_n`` (lenstronomy's own is the linear approximation).
    """

    centre: ArrayLike = (0.0, 0.0)
    ell_comps: ArrayLike = (0.0, 0.0)
    intensity: ArrayLike = 0.05
    effective_radius: ArrayLike = 0.6
    sersic_index: ArrayLike = 4.0
    radius_break: ArrayLike = 0.01
    gamma: ArrayLike = 0.25
    alpha: ArrayLike = 3.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "ell_comps": ELL_COMPS,
        "intensity": INTENSITY,
        "effective_radius": POSITIVE_ARCSEC,
        "sersic_index": _SERSIC_INDEX,
        "radius_break": POSITIVE_ARCSEC,
        "gamma": Range(0.0, math.inf, low_inclusive=True, units="(dimensionless)"),
        "alpha": Range(0.0, math.inf, units="(dimensionless)"),
    }

    def _validate(self) -> None:
        check_axis_ratio(type(self).__name__, self.ell_comps, 0.0)

    def _image(self, p, y, x, *, xp):
        n, a, g = p["sersic_index"], p["alpha"], p["gamma"]
        r_b = p["radius_break"]
        u2 = _eccentric_radius2(p, y, x, xp=xp) / (r_b * r_b)  # (r/R_b)^2, clamped (§16)
        x_min = _X_MIN[engine.dtype_name(u2)]
        s = 0.5 * a * xp.log(xp.maximum(u2, x_min * x_min))  # alpha ln(r/R_b)
        tail = xp.log1p(xp.exp(-xp.abs(s)))
        sp_pos = xp.maximum(s, 0.0) + tail  # ln(1 + (r/R_b)^alpha)
        sp_neg = xp.maximum(-s, 0.0) + tail  # ln(1 + (R_b/r)^alpha)
        an = a * n
        outer = _sersic_constant(n) * xp.exp((xp.log(r_b / p["effective_radius"]) + _LN2 / a) / n)
        exponent = -outer * xp.expm1((sp_pos - _LN2) / an) + (g / a) * (sp_neg - _LN2)
        return p["intensity"] * xp.exp(exponent)
