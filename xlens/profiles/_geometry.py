"""Pure geometry helpers shared by every profile (PHYSICS.md §1).

Grids and vectors are ``(y, x)`` [arcsec]. Every helper takes the namespace
``xp`` as a keyword and keeps gradients finite at the points where a naive form
has a 0/0 (a round profile, a ray on the centre).
"""

from __future__ import annotations

from ..engine import ArrayLike

__all__ = ["axis_ratio_and_angle", "rotate_to_frame", "rotate_from_frame", "safe_sqrt"]


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
