"""Point mass (PHYSICS.md §3)."""

from __future__ import annotations

from typing import ClassVar

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, MassProfile, Range

__all__ = ["PointMass"]

#: Squared radius below which the point-mass fields are clamped [arcsec^2]
#: (float64: 1e-24, i.e. r = 1e-12 arcsec; float32 uses 1e-12, r = 1e-6 arcsec).
_R2_MIN = {"float64": 1e-24, "float32": 1e-12}


@pytree_dataclass
class PointMass(MassProfile):
    """A point mass (PyAutoLens ``mp.PointMass``).

    Parameters
    ----------
    centre : (y, x) or array, shape (H, 2)
        Position [arcsec].
    einstein_radius : float or array, shape (H,)
        Einstein radius theta_E >= 0 [arcsec]; ``M = pi Sigma_cr theta_E^2``.

    Notes
    -----
    ``alpha = theta_E^2 (y - y_c, x - x_c) / r^2``, ``psi = theta_E^2 ln r``,
    ``kappa = 0`` away from the centre (the delta function is not represented).
    At ``r < 1e-12`` arcsec (1e-6 in float32) ``r^2`` is clamped, so the
    deflection is exactly 0 on the centre and the potential finite.
    lenstronomy ``POINT_MASS``: ``theta_E`` is the same.
    """

    centre: ArrayLike = (0.0, 0.0)
    einstein_radius: ArrayLike = 1.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "einstein_radius": Range(0.0, float("inf"), low_inclusive=True, units="[arcsec]"),
    }

    def _r2(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        dy, dx = y - cy, x - cx
        r2 = dy * dy + dx * dx
        r2_min = _R2_MIN[engine.dtype_name(r2)]
        return dy, dx, xp.maximum(r2, r2_min)

    def _convergence(self, p, y, x, *, xp):
        return xp.zeros_like(p["einstein_radius"] * x)

    def _deflections(self, p, y, x, *, xp):
        dy, dx, r2 = self._r2(p, y, x, xp=xp)
        a = p["einstein_radius"] ** 2 / r2
        return a * dy, a * dx

    def _potential(self, p, y, x, *, xp):
        _, _, r2 = self._r2(p, y, x, xp=xp)
        return 0.5 * p["einstein_radius"] ** 2 * xp.log(r2)
