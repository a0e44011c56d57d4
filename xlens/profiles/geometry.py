"""Pure geometry helpers shared by every profile (PHYSICS.md §1).

Grids and vectors are ``(y, x)`` [arcsec]. Every helper takes the namespace
``xp`` as a keyword and keeps gradients finite at the points where a naive form
has a 0/0 (a round profile, a ray on the centre).
"""

from __future__ import annotations

from .. import engine
from ..engine import ArrayLike

__all__ = [
    "ELLIPTICAL_CORE_RADIUS",
    "axis_ratio_and_angle",
    "clamped_elliptical_radius",
    "elliptical_frame",
    "rotate_from_frame",
    "rotate_to_frame",
    "at_round",
    "round_linear_terms",
    "safe_sqrt",
]

#: Core radius eps [arcsec] below which R = sqrt(q^2 x'^2 + y'^2) is clamped
#: (PHYSICS.md §4.5): keeps kappa, alpha and their gradients finite at the centre.
ELLIPTICAL_CORE_RADIUS = {"float64": 1e-8, "float32": 1e-4}



def safe_sqrt(v: ArrayLike, *, xp) -> ArrayLike:
    """``sqrt(v)`` for ``v >= 0`` whose gradient is finite (0) at ``v = 0`` (PHYSICS.md §16)."""
    positive = v > 0
    root = xp.sqrt(xp.where(positive, v, xp.ones_like(v)))
    return xp.where(positive, root, xp.zeros_like(v))


def axis_ratio_and_angle(e1: ArrayLike, e2: ArrayLike, *, xp):
    """Return ``(q, cos(phi), sin(phi))`` from ``ell_comps = (e1, e2)`` (PHYSICS.md §1).

    ``f = sqrt(e1^2 + e2^2)``, ``q = (1 - f)/(1 + f)``, ``phi = atan2(e1, e2)/2``.
    At ``e1 = e2 = 0`` the angle is set to 0 through a guarded ``atan2`` so the
    gradient with respect to the components stays finite.
    """
    f2 = e1 * e1 + e2 * e2
    round_ = f2 > 0
    f = safe_sqrt(f2, xp=xp)
    q = (1 - f) / (1 + f)
    phi = 0.5 * xp.atan2(xp.where(round_, e1, xp.zeros_like(e1)), xp.where(round_, e2, xp.ones_like(e2)))
    return q, xp.cos(phi), xp.sin(phi)


def round_linear_terms(p, y, x, slope, *, xp):
    """First-order ellipticity terms of a power law at ``ell_comps = (0, 0)`` (PHYSICS.md §4).

    Returns ``(kappa_1, psi_1, alpha_1y, alpha_1x)``, linear in ``(e1, e2)``, so exactly 0 when
    both are 0 while their derivatives are those of the smooth part of the profile there.
    To first order the eccentric radius is ``xi = r - Q/r`` with
    ``Q = (dx^2 - dy^2) e2 + 2 dx dy e1`` (f cos 2phi = e2, f sin 2phi = e1), so the convergence
    ``(3 - g)/2 (theta_E / xi)^(g - 1)`` gains ``kappa_1 = (g - 1) kappa_0 Q / r^2``; its m = 2
    potential solves ``laplacian(A r^n cos 2theta) = (n^2 - 4) A r^(n-2) cos 2theta`` with
    n = 3 - g: ``psi_1 = C r^(1-g) Q``, ``C = -(3 - g) theta_E^(g-1) / (5 - g)``, and
    ``alpha_1 = grad psi_1``. The axis-ratio prefactor ``q^((g-1)/2) / (1 + q)`` of the
    PyAutoGalaxy normalisation adds ``(2 - g)|e|/2`` (a cone, no derivative unless g = 2),
    which these terms leave out: away from the SIE they give the symmetric derivative.
    ``r`` is clamped at the core radius, so the terms stay finite at the centre.
    """
    cy, cx = p["centre"]
    e1, e2 = p["ell_comps"]
    dy, dx = y - cy, x - cx
    core = ELLIPTICAL_CORE_RADIUS[engine.dtype_name(dy)]
    r2 = xp.maximum(dx * dx + dy * dy, core * core)
    g = slope
    quad = (dx * dx - dy * dy) * e2 + 2.0 * dx * dy * e1
    theta_e = p["einstein_radius"]
    kappa0 = 0.5 * (3.0 - g) * xp.pow(theta_e * theta_e / r2, 0.5 * (g - 1.0))
    kappa1 = (g - 1.0) * kappa0 * quad / r2
    c = -(3.0 - g) / (5.0 - g) * xp.pow(theta_e, g - 1.0)
    rp = c * xp.pow(r2, 0.5 * (1.0 - g))  # C r^(1-g)
    psi1 = rp * quad
    # grad (C r^(1-g) Q) = C [(1-g) r^(-1-g) Q (dx, dy) + r^(1-g) grad Q]
    radial = (1.0 - g) * psi1 / r2
    ax = radial * dx + rp * (2.0 * dx * e2 + 2.0 * dy * e1)
    ay = radial * dy + rp * (-2.0 * dy * e2 + 2.0 * dx * e1)
    return kappa1, psi1, ay, ax


def at_round(value, term, e1, e2, *, xp):
    """``value`` where ``(e1, e2) != (0, 0)``; ``value + term`` at exactly (0, 0), where ``term``
    (linear in e, :func:`round_linear_terms`) is 0 and carries the derivative."""
    return xp.where(e1 * e1 + e2 * e2 > 0, value, value + term)


def rotate_to_frame(dy: ArrayLike, dx: ArrayLike, cos: ArrayLike, sin: ArrayLike):
    """Offsets from the centre rotated by ``-phi`` into the profile frame: ``(y', x')``."""
    return -dx * sin + dy * cos, dx * cos + dy * sin


def rotate_from_frame(vy: ArrayLike, vx: ArrayLike, cos: ArrayLike, sin: ArrayLike):
    """A profile-frame vector ``(v_y', v_x')`` rotated back by ``+phi``: ``(v_y, v_x)``."""
    return vx * sin + vy * cos, vx * cos - vy * sin


def elliptical_frame(p, y, x, *, xp):
    """Ellipticity ``f``, axis ratio, rotation and profile-frame offsets ``(y', x')`` (§1)."""
    cy, cx = p["centre"]
    e1, e2 = p["ell_comps"]
    q, cos, sin = axis_ratio_and_angle(e1, e2, xp=xp)
    f = safe_sqrt(e1 * e1 + e2 * e2, xp=xp)  # f directly, not (1 - q)/(1 + q): no cancellation
    yr, xr = rotate_to_frame(y - cy, x - cx, cos, sin)
    return f, q, cos, sin, yr, xr


def clamped_elliptical_radius(q, yr, xr, *, xp):
    """R = sqrt(q^2 x'^2 + y'^2) clamped at the core radius of §4.5 (never 0)."""
    core = ELLIPTICAL_CORE_RADIUS[engine.dtype_name(yr)]
    return xp.sqrt(xp.maximum((q * xr) ** 2 + yr**2, core * core))
