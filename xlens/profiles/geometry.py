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
