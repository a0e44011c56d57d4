"""Elliptical Gaussian light profile (PyAutoGalaxy convention)."""

from __future__ import annotations

from typing import ClassVar

from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, ELL_COMPS, INTENSITY, POSITIVE_ARCSEC, LightProfile, check_axis_ratio
from ..geometry import axis_ratio_and_angle, rotate_to_frame

__all__ = ["Gaussian"]


@pytree_dataclass
class Gaussian(LightProfile):
    """Elliptical Gaussian light profile(s) (PyAutoLens ``lp.Gaussian``), summed over profiles.

    Parameters
    ----------
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre (y_c, x_c) [arcsec].
    ell_comps : (e1, e2) or array, shape (2,) or (H, 2)
        Elliptical components (dimensionless), ``|ell_comps| < 1`` (PHYSICS.md §1).
    intensity : float or array, shape () or (H,)
        Peak surface brightness I_0 >= 0, at the centre [data units, e.g.
        electrons per second].
    sigma : float or array, shape () or (H,)
        Dispersion sigma > 0 along the **minor** axis [arcsec].

    Notes
    -----
    PyAutoGalaxy's convention: with the eccentric radius
    ``r = sqrt(q x'^2 + y'^2/q)`` (PHYSICS.md §1) it divides sigma by sqrt(q)::

        I = I_0 exp(-q r^2/(2 sigma^2)) = I_0 exp(-(q^2 x'^2 + y'^2)/(2 sigma^2))

    so the dispersions are sigma/q along the major axis (x') and sigma along
    the minor axis (y'), and the total flux is ``2 pi I_0 sigma^2/q``. For
    q = 1 this is ``I_0 exp(-r^2/(2 sigma^2))``. Parameter values therefore
    carry over from PyAutoLens unchanged; a Gaussian whose sigma is the
    circularised dispersion has ``sigma_xlens = sqrt(q) sigma_circ``.
    Positions are (y, x).
    """

    centre: ArrayLike = (0.0, 0.0)
    ell_comps: ArrayLike = (0.0, 0.0)
    intensity: ArrayLike = 0.1
    sigma: ArrayLike = 1.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "ell_comps": ELL_COMPS,
        "intensity": INTENSITY,
        "sigma": POSITIVE_ARCSEC,
    }

    def _validate(self) -> None:
        check_axis_ratio(type(self).__name__, self.ell_comps, 0.0)

    def _image(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        e1, e2 = p["ell_comps"]
        q, cos, sin = axis_ratio_and_angle(e1, e2, xp=xp)
        yr, xr = rotate_to_frame(y - cy, x - cx, cos, sin)
        u = (q * xr) ** 2 + yr * yr
        return p["intensity"] * xp.exp(-0.5 * u / (p["sigma"] * p["sigma"]))
