"""External shear and uniform mass sheets (PHYSICS.md §6, §13.2)."""

from __future__ import annotations

from typing import ClassVar

from ...engine import ArrayLike, pytree_dataclass
from ..base import ANY_ARCSEC, MassProfile, Range

__all__ = ["ExternalShear", "MassSheet"]

_SHEAR = Range(
    -1.0, 1.0, units="(dimensionless)", hint="a shear component of magnitude 1 or more is not a weak external shear"
)


@pytree_dataclass
class ExternalShear(MassProfile):
    """External shear about the origin (PyAutoLens ``mp.ExternalShear``).

    Parameters
    ----------
    gamma_1, gamma_2 : float or array, shape (H,)
        Shear components, each in (-1, 1) (dimensionless).
        ``gamma = sqrt(gamma_1^2 + gamma_2^2)``; the angle of the stretch is
        ``phi = atan2(gamma_2, gamma_1)/2`` counter-clockwise from +x.

    Notes
    -----
    ``psi = gamma_1 (x^2 - y^2)/2 + gamma_2 x y``, ``kappa = 0``,
    ``alpha = (gamma_2 x - gamma_1 y, gamma_1 x + gamma_2 y)`` in (y, x) order
    (PHYSICS.md §6). The shear acts about (0, 0): it has no centre.
    lenstronomy ``SHEAR`` uses the same ``gamma1, gamma2`` with ``ra_0 = dec_0 = 0``.
    """

    gamma_1: ArrayLike = 0.0
    gamma_2: ArrayLike = 0.0

    ranges: ClassVar = {"gamma_1": _SHEAR, "gamma_2": _SHEAR}

    def _convergence(self, p, y, x, *, xp):
        return xp.zeros_like(p["gamma_1"] * x)

    def _deflections(self, p, y, x, *, xp):
        g1, g2 = p["gamma_1"], p["gamma_2"]
        return g2 * x - g1 * y, g1 * x + g2 * y

    def _potential(self, p, y, x, *, xp):
        g1, g2 = p["gamma_1"], p["gamma_2"]
        return 0.5 * g1 * (x * x - y * y) + g2 * x * y


@pytree_dataclass
class MassSheet(MassProfile):
    """A uniform convergence sheet (PyAutoLens ``mp.MassSheet``).

    Parameters
    ----------
    centre : (y, x) or array, shape (H, 2)
        Point about which the sheet deflects [arcsec].
    kappa : float or array, shape (H,)
        Convergence of the sheet (dimensionless, any sign: negative sheets
        cancel the mean convergence of line-of-sight haloes, PHYSICS.md §13.2).

    Notes
    -----
    ``alpha = kappa (y - y_c, x - x_c)``, ``psi = kappa r^2 / 2``.
    """

    centre: ArrayLike = (0.0, 0.0)
    kappa: ArrayLike = 0.0

    ranges: ClassVar = {"centre": ANY_ARCSEC, "kappa": Range(units="(dimensionless)")}

    def _convergence(self, p, y, x, *, xp):
        return p["kappa"] + xp.zeros_like(x)

    def _deflections(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        return p["kappa"] * (y - cy), p["kappa"] * (x - cx)

    def _potential(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        dy, dx = y - cy, x - cx
        return 0.5 * p["kappa"] * (dy * dy + dx * dx)
