"""The power-law multipole perturbation of a lens (PyAutoLens ``mp.PowerLawMultipole``; docs/profiles.md).

Why this module exists: angular structure of the main deflector (discy or boxy isophotes,
lopsidedness) is degenerate with the signal of subhaloes, so substructure analyses fit
multipoles m = 1, 3, 4 beside the elliptical power law. The convergence, potential and
deflection are closed forms in polar coordinates about the centre; they are written
without ``atan2`` (``cos m phi`` and ``sin m phi`` by complex powers of ``(x + i y)/r``) and
with the amplitude as its two components, so gradients are finite everywhere, including at
zero amplitude.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ...errors import ParameterError
from ..base import ANY_ARCSEC, POSITIVE_ARCSEC, MassProfile, Range
from ..geometry import ELLIPTICAL_CORE_RADIUS

__all__ = ["PowerLawMultipole"]


def _cos_sin_m(u, v, m: int):
    """``(cos m phi, sin m phi)`` from ``(cos phi, sin phi) = (u, v)`` by complex powers (m static)."""
    c, s = u, v
    for _ in range(m - 1):
        c, s = c * u - s * v, c * v + s * u
    return c, s


@pytree_dataclass(meta=("m",))
class PowerLawMultipole(MassProfile):
    """A power-law multipole of order m (PyAutoLens ``mp.PowerLawMultipole``), summed over haloes.

    Parameters
    ----------
    m : int
        The order, >= 1 (static: a new m compiles a new program). m = 1, 3, 4 are usual.
    centre : (y, x) or array, shape (2,) or (H, 2)
        Centre [arcsec] (normally the lens's).
    einstein_radius : float or array, shape () or (H,)
        theta_E > 0 [arcsec] (normally the lens's).
    slope : float or array, shape () or (H,)
        gamma in (1, 3) (dimensionless; normally the lens's).
    multipole_comps : (c_0, c_1) or array, shape (2,) or (H, 2)
        Amplitude components (dimensionless): ``k_m = hypot(c_0, c_1)`` and
        ``phi_m = atan2(c_0, c_1) / m``, counter-clockwise from +x.

    Notes
    -----
    With ``(r, phi)`` polar about the centre (phi counter-clockwise from +x) and
    ``A = k_m cos(m (phi - phi_m)) = c_1 cos(m phi) + c_0 sin(m phi)``::

        kappa = 1/2 (theta_E / r)^(gamma - 1) A
        psi   = theta_E^(gamma - 1) r^n A / (n^2 - m^2),    n = 3 - gamma

    since ``laplacian(r^n cos m phi) = (n^2 - m^2) r^(n-2) cos m phi`` gives
    ``laplacian(psi) = 2 kappa``; the deflection is ``grad psi``: radial
    ``n psi / r`` and tangential ``-m theta_E^(gamma-1) r^(n-1) B / (n^2 - m^2)`` with
    ``B = c_1 sin(m phi) - c_0 cos(m phi)``. ``n^2 = m^2`` is singular, which for a slope in
    (1, 3) happens only at m = 1, gamma = 2; m = 1 is made regular (below), and m >= 2 would
    need gamma <= 1, which the slope's range excludes.

    For m = 1 the potential holds the term ``theta_E^(gamma-1) theta_E^(n-1) (c_1 x + c_0 y)
    / (n^2 - 1)``, linear in the position: a uniform deflection, which diverges at gamma = 2
    and is degenerate with the source position. It is removed, i.e. the potential is
    ``theta_E^(gamma-1) (r^n A - theta_E^(n-1) (c_1 x + c_0 y)) / (n^2 - 1)``, which is finite at
    gamma = 2 (``theta_E r ln(r/theta_E) A / 2``); the convergence is unchanged. The
    deflection is therefore defined up to that uniform shift (PyAutoLens's convention may
    differ by a constant vector for m = 1; compare differences of deflections).

    At the centre ``r`` is clamped at 1e-8 arcsec (1e-4 in float32), so the fields stay
    finite and differentiable there.
    """

    m: int = 4
    centre: ArrayLike = (0.0, 0.0)
    einstein_radius: ArrayLike = 1.0
    slope: ArrayLike = 2.0
    multipole_comps: ArrayLike = (0.0, 0.0)

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "einstein_radius": POSITIVE_ARCSEC,
        "slope": Range(1.0, 3.0, units="(dimensionless)"),
        "multipole_comps": Range(-math.inf, math.inf, units="(dimensionless)"),
    }

    def _validate(self) -> None:
        owner = type(self).__name__
        if isinstance(self.m, bool) or not isinstance(self.m, int | np.integer) or self.m < 1:
            raise ParameterError(f"{owner}.m must be an integer >= 1; got {self.m!r}", name=f"{owner}.m",
                                 value=self.m, low=1, high=math.inf)

    def _polar(self, p, y, x, *, xp):
        cy, cx = p["centre"]
        dy, dx = y - cy, x - cx
        core = ELLIPTICAL_CORE_RADIUS[engine.dtype_name(dy)]
        r = xp.sqrt(xp.maximum(dx * dx + dy * dy, core * core))
        u, v = dx / r, dy / r
        cos_m, sin_m = _cos_sin_m(u, v, self.m)
        c0, c1 = p["multipole_comps"]
        a = c1 * cos_m + c0 * sin_m
        b = c1 * sin_m - c0 * cos_m
        return dy, dx, r, u, v, a, b

    def _convergence(self, p, y, x, *, xp):
        _, _, r, _, _, a, _ = self._polar(p, y, x, xp=xp)
        return 0.5 * xp.pow(p["einstein_radius"] / r, p["slope"] - 1.0) * a

    def _potential(self, p, y, x, *, xp):
        dy, dx, r, _, _, a, _ = self._polar(p, y, x, xp=xp)
        te, g = p["einstein_radius"], p["slope"]
        n = 3.0 - g
        amp = xp.pow(te, g - 1.0)
        if self.m == 1:
            c0, c1 = p["multipole_comps"]
            return amp * self._m1_p(r, te, n, xp=xp) * (c1 * dx + c0 * dy)
        return amp * xp.pow(r, n) * a / (n * n - self.m * self.m)

    @staticmethod
    def _m1_p(r, te, n, *, xp):
        """``(r^(n-1) - theta_E^(n-1)) / (n^2 - 1)``, stable at n = 1: theta_E^(n-1) L E((n-1) L) / (n+1),
        ``L = ln(r/theta_E)``, ``E(t) = expm1(t)/t``."""
        big_l = xp.log(r / te)
        t = (n - 1.0) * big_l
        small = xp.abs(t) < 1e-8
        t_safe = xp.where(small, 1.0, t)
        ratio = xp.where(small, 1.0 + 0.5 * t, xp.expm1(t_safe) / t_safe)
        return xp.pow(te, n - 1.0) * big_l * ratio / (n + 1.0)

    def _deflections(self, p, y, x, *, xp):
        dy, dx, r, u, v, a, b = self._polar(p, y, x, xp=xp)
        te, g = p["einstein_radius"], p["slope"]
        n = 3.0 - g
        amp = xp.pow(te, g - 1.0)
        if self.m == 1:
            # grad[P(r) (c1 x + c0 y)] with P' = r^(n-2)/(n+1): finite at gamma = 2
            c0, c1 = p["multipole_comps"]
            lin = c1 * dx + c0 * dy
            radial = xp.pow(r, n - 3.0) / (n + 1.0) * lin  # P'(r)/r (c1 x + c0 y)
            pr = self._m1_p(r, te, n, xp=xp)
            return amp * (radial * dy + pr * c0), amp * (radial * dx + pr * c1)
        scale = amp * xp.pow(r, n - 1.0) / (n * n - self.m * self.m)
        a_r, a_phi = n * scale * a, -self.m * scale * b
        return a_r * v + a_phi * u, a_r * u - a_phi * v
