"""Spherical NFW, truncated NFW and cored NFW haloes (PHYSICS.md §7-§10).

The three profiles share the building blocks ``F, G, g, h`` of PHYSICS.md §7,
evaluated in stable forms by :mod:`.nfw_math`. Radial fields are written as
functions of ``x = r / r_s`` evaluated at ``x_safe = max(x, x_min)``
(``x_min = 1e-12`` in float64, ``1e-6`` in float32, §16), and vector
deflections as ``alpha = A(x) (dy, dx)`` with ``A = alpha(r)/r``: a ray on a
centre is deflected by exactly 0, and every value and gradient is finite there.

Padded haloes (``kappa_s = 0`` with safe radii ``r_s = 1``, ``r_t = 2``,
``r_c = 0.1`` [arcsec], §16) contribute exactly zero.
"""

from __future__ import annotations

import math
from typing import ClassVar

from ... import engine
from ...engine import ArrayLike, pytree_dataclass
from ...halo_model.interpolation import interpolate_about_f1
from ..base import ANY_ARCSEC, MassProfile, Range
from ..geometry import safe_sqrt
from . import nfw_math as nm

__all__ = ["NFWSph", "NFWTruncatedSph", "cNFWSph"]

_KAPPA_S = Range(
    0.0,
    math.inf,
    low_inclusive=True,
    units="(dimensionless)",
    hint="kappa_s = rho_s r_s / Sigma_cr; padded haloes use kappa_s = 0",
)
_SCALE_RADIUS = Range(
    0.0,
    math.inf,
    units="[arcsec]",
    hint="a zero scale radius divides the grid by zero; padded haloes use scale_radius = 1",
)
_TRUNCATION_RADIUS = Range(
    0.0,
    math.inf,
    units="[arcsec]",
    hint="for an untruncated halo use NFWSph; padded haloes use truncation_radius = 2",
)
_CORE_RADIUS = Range(
    0.0,
    math.inf,
    units="[arcsec]",
    hint="core_radius -> 0 reproduces NFWSph, which should be used for a cusp",
)

def _offsets_and_x(p, y, x, *, xp):
    """Offsets ``(dy, dx)`` [arcsec] from the centre and ``x_safe = max(r / r_s, x_min)``."""
    cy, cx = p["centre"]
    dy, dx = y - cy, x - cx
    r = safe_sqrt(dy * dy + dx * dx, xp=xp)
    x_min = nm.X_MIN[engine.dtype_name(r)]
    return dy, dx, xp.maximum(r / p["scale_radius"], x_min)


@pytree_dataclass
class NFWSph(MassProfile):
    """Spherical NFW halo(s) (PyAutoLens ``mp.NFWSph``), summed over the halo axis.

    Parameters
    ----------
    centre : array_like, shape (2,) or (H, 2)
        ``(y, x)`` of each centre [arcsec].
    kappa_s : array_like, shape () or (H,)
        Convergence normalisation ``rho_s r_s / Sigma_cr`` (dimensionless), >= 0.
    scale_radius : array_like, shape () or (H,)
        Scale radius ``r_s`` [arcsec], > 0.

    Raises
    ------
    ParameterError
        If a parameter is outside its range or not finite.
    ValueError
        If the per-halo parameters have different lengths H.

    Notes
    -----
    Density ``rho = rho_s / [(r/r_s)(1 + r/r_s)^2]`` (Navarro, Frenk & White 1997).
    With ``x = r / r_s`` (PHYSICS.md §8)::

        kappa = 2 kappa_s G(x),  alpha = 4 kappa_s r_s g(x)/x,  psi = 2 kappa_s r_s^2 h(x),

    with ``F, G, g, h`` of PHYSICS.md §7 in their stable forms (series about
    ``x = 1``, ``log1p`` forms below, ``atan`` forms above). The potential is
    zero at the centre and is computed in float64 whatever the grid dtype.

    lenstronomy ``NFW`` (PHYSICS.md §17): ``Rs = r_s``,
    ``alpha_Rs = 4 kappa_s r_s (1 - ln 2)``; lenstronomy takes ``(x, y)`` and
    returns ``(alpha_x, alpha_y)``, xlens takes ``(y, x)`` grids and returns
    ``(alpha_y, alpha_x)``.
    """

    centre: ArrayLike = (0.0, 0.0)
    kappa_s: ArrayLike = 0.05
    scale_radius: ArrayLike = 1.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "kappa_s": _KAPPA_S,
        "scale_radius": _SCALE_RADIUS,
    }
    float64_methods: ClassVar = frozenset({"_potential"})

    def _convergence(self, p, y, x, *, xp):
        _, _, xs = _offsets_and_x(p, y, x, xp=xp)
        return 2.0 * p["kappa_s"] * nm.nfw_basis(xs, xp=xp).G

    def _deflections(self, p, y, x, *, xp):
        dy, dx, xs = _offsets_and_x(p, y, x, xp=xp)
        a = 4.0 * p["kappa_s"] * nm.nfw_basis(xs, xp=xp).g / (xs * xs)
        return a * dy, a * dx

    def _potential(self, p, y, x, *, xp):
        _, _, xs = _offsets_and_x(p, y, x, xp=xp)
        h = nm.nfw_h(nm.nfw_basis(xs, xp=xp), xp=xp)
        return 2.0 * p["kappa_s"] * p["scale_radius"] ** 2 * h


@pytree_dataclass
class NFWTruncatedSph(MassProfile):
    """Spherical truncated NFW halo(s) (PyAutoLens ``mp.NFWTruncatedSph``).

    Parameters
    ----------
    centre : array_like, shape (2,) or (H, 2)
        ``(y, x)`` of each centre [arcsec].
    kappa_s : array_like, shape () or (H,)
        Convergence normalisation ``rho_s r_s / Sigma_cr`` of the untruncated
        NFW (dimensionless), >= 0.
    scale_radius : array_like, shape () or (H,)
        Scale radius ``r_s`` [arcsec], > 0.
    truncation_radius : array_like, shape () or (H,)
        Truncation radius ``r_t`` [arcsec], > 0.

    Raises
    ------
    ParameterError
        If a parameter is outside its range or not finite.
    ValueError
        If the per-halo parameters have different lengths H.

    Notes
    -----
    Baltz, Marshall & Oguri (2009) with ``n = 1``:
    ``rho = rho_NFW(r) tau^2 / (tau^2 + r^2/r_s^2)``, ``tau = r_t / r_s``.
    With ``x = r / r_s`` (PHYSICS.md §9.1)::

        kappa = 2 kappa_s L(x),  alpha = 4 kappa_s r_s m(x)/x,  psi = 4 kappa_s r_s^2 P(x).

    ``m`` uses the three regimes of PHYSICS.md §9.2 (measured float32 error
    <= 3.1e-6), ``L`` the closed form up to ``x = 4 max(1, tau)`` and the
    large-``x`` series beyond (§9.3). The convergence and the potential (zero at
    the centre, with the constant ``C_0`` of §9.1) are computed in float64
    whatever the grid dtype: in float32 the closed form of ``L`` loses up to
    ~6e-5 just below ``x = 4 max(1, tau)`` for ``tau < 1``.
    The total mass is ``4 pi rho_s r_s^3 m_inf`` (§9.1); ``tau -> inf`` gives
    :class:`NFWSph`.

    lenstronomy ``TNFW`` (PHYSICS.md §17): ``Rs = r_s``, ``r_trunc = r_t``,
    ``alpha_Rs = 4 kappa_s r_s (1 - ln 2)`` (the untruncated NFW value).
    """

    centre: ArrayLike = (0.0, 0.0)
    kappa_s: ArrayLike = 0.05
    scale_radius: ArrayLike = 1.0
    truncation_radius: ArrayLike = 2.0

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "kappa_s": _KAPPA_S,
        "scale_radius": _SCALE_RADIUS,
        "truncation_radius": _TRUNCATION_RADIUS,
    }
    #: float32 convergence: the closed form loses up to ~6e-5 just below x = 4 max(1, tau)
    #: for tau < 1 (PHYSICS.md §9.3), above the 1e-5 target, so it is computed in float64.
    float64_methods: ClassVar = frozenset({"_convergence", "_potential"})

    def _basis(self, p, y, x, *, xp):
        dy, dx, xs = _offsets_and_x(p, y, x, xp=xp)
        k = nm.tnfw_constants(p["truncation_radius"] / p["scale_radius"], like=xs, xp=xp)
        return dy, dx, nm.nfw_basis(xs, xp=xp), k

    def _convergence(self, p, y, x, *, xp):
        _, _, b, k = self._basis(p, y, x, xp=xp)
        return 2.0 * p["kappa_s"] * nm.tnfw_convergence(b, k, xp=xp)

    def _deflections(self, p, y, x, *, xp):
        dy, dx, xs = _offsets_and_x(p, y, x, xp=xp)
        k = nm.tnfw_constants(p["truncation_radius"] / p["scale_radius"], like=xs, xp=xp)
        a = 4.0 * p["kappa_s"] * nm.tnfw_mass(xs, k, xp=xp) / (xs * xs)
        return a * dy, a * dx

    def _potential(self, p, y, x, *, xp):
        _, _, b, k = self._basis(p, y, x, xp=xp)
        return 4.0 * p["kappa_s"] * p["scale_radius"] ** 2 * nm.tnfw_potential(b, k, xp=xp)


@pytree_dataclass
class cNFWSph(MassProfile):  # noqa: N801 - PyAutoLens name
    """Spherical cored NFW halo(s) (PyAutoLens ``mp.cNFWSph``).

    Parameters
    ----------
    centre : array_like, shape (2,) or (H, 2)
        ``(y, x)`` of each centre [arcsec].
    kappa_s : array_like, shape () or (H,)
        Convergence normalisation ``rho_s r_s / Sigma_cr`` (dimensionless), >= 0,
        with the NFW meaning (``core_radius -> 0`` is :class:`NFWSph`).
    scale_radius : array_like, shape () or (H,)
        Scale radius ``r_s`` [arcsec], > 0.
    core_radius : array_like, shape () or (H,)
        Core radius ``r_c`` [arcsec], > 0. ``core_radius -> 0`` reproduces
        :class:`NFWSph` (the differences fall as ``r_c / r`` away from the core);
        use :class:`NFWSph` for a cusp.

    Raises
    ------
    ParameterError
        If a parameter is outside its range or not finite.
    ValueError
        If the per-halo parameters have different lengths H.

    Notes
    -----
    Density ``rho = rho_s r_s^3 / [(r + r_c)(r + r_s)^2]`` (Peñarrubia et al.
    2012). With ``X = r / r_s``, ``f = r_c / r_s`` and ``Q(y) = y^2 F(y) - g(y)``
    (PHYSICS.md §10.1)::

        kappa = 2 kappa_s {[F(X) - F(X/f)]/(1-f)^2 - [F(X) - G(X)]/(1-f)},
        alpha = 4 kappa_s r_s / X {[Q(X) - f^2 Q(X/f)]/(1-f)^2 - [Q(X) - g(X)]/(1-f)},

    and the potential ``psi = 4 kappa_s r_s^2 P_c(X)`` of §10.1 (zero at the
    centre). For ``|1 - f| < 0.01`` every quantity is the quadratic
    interpolation in ``f`` through ``f = 0.99, 1, 1.01``, with the ``f = 1``
    closed forms at the middle node (§10.2). All quantities are computed in
    float64 whatever the grid dtype (§10.2: float32 loses ~1e-4).

    lenstronomy ``CNFW`` (PHYSICS.md §17): ``Rs = r_s``, ``r_core = r_c``,
    ``alpha_Rs = 4 kappa_s r_s m_c(1)`` with ``m_c(1)`` the braces of the
    deflection above at ``X = 1``.
    """

    centre: ArrayLike = (0.0, 0.0)
    kappa_s: ArrayLike = 0.05
    scale_radius: ArrayLike = 1.0
    core_radius: ArrayLike = 0.1

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "kappa_s": _KAPPA_S,
        "scale_radius": _SCALE_RADIUS,
        "core_radius": _CORE_RADIUS,
    }
    float64_methods: ClassVar = frozenset({"_convergence", "_deflections", "_potential"})

    def _braces(self, p, y, x, general, at_one, *, xp):
        """A cored-NFW brace ``general(b0, b_f, f)``, interpolated near ``f = 1`` (§10.2)."""
        dy, dx, xs = _offsets_and_x(p, y, x, xp=xp)
        # broadcast once: reverse mode then reduces f over the points once (see tnfw_constants)
        f = xp.broadcast_to(p["core_radius"] / p["scale_radius"], xs.shape)
        b0 = nm.nfw_basis(xs, xp=xp)
        value = interpolate_about_f1(
            f, lambda ff: general(b0, nm.nfw_basis(xs / ff, xp=xp), ff), at_one(b0), xp=xp
        )
        return dy, dx, xs, value

    def _convergence(self, p, y, x, *, xp):
        *_, kappa = self._braces(
            p, y, x, nm.cnfw_convergence, lambda b: nm.cnfw_f1_convergence(b, xp=xp), xp=xp
        )
        return 2.0 * p["kappa_s"] * kappa

    def _deflections(self, p, y, x, *, xp):
        dy, dx, xs, m = self._braces(p, y, x, nm.cnfw_mass, nm.cnfw_f1_mass, xp=xp)
        a = 4.0 * p["kappa_s"] * m / (xs * xs)
        return a * dy, a * dx

    def _potential(self, p, y, x, *, xp):
        *_, pc = self._braces(
            p,
            y,
            x,
            lambda b0, bf, f: nm.cnfw_potential(b0, bf, f, xp=xp),
            lambda b: nm.cnfw_f1_potential(b, xp=xp),
            xp=xp,
        )
        return 4.0 * p["kappa_s"] * p["scale_radius"] ** 2 * pc
