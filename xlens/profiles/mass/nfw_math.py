"""NFW-family building blocks and their stable evaluation (PHYSICS.md §7, §9, §10).

Every NFW-family field is assembled from four functions of ``x = r / r_s``:
``F``, ``G = (1 - F)/(x^2 - 1)``, ``g = ln(x/2) + F`` and ``h`` (PHYSICS.md §7).
Their textbook forms fail in floating point (``0/0`` at ``x = 1``,
catastrophic cancellation of ``g`` at small ``x``), so this module evaluates
them in the stable forms of §7: a series in ``u = (1 - x)(1 + x)`` near
``x = 1``, ``log1p`` forms below and ``atan`` forms above. The truncated-NFW
mass ``m(x)``, convergence ``L(x)`` and potential ``P(x)`` (§9) and the cored-NFW
braces (§10) are built on top.

All helpers are pure, take the namespace ``xp`` as a keyword and work on arrays
of any shape that broadcast against each other (per-halo constants are
``(h, 1)``, radii ``(h, n)``). Every branch is fed an argument it can handle
before ``xp.where`` chooses (the double ``where`` of §16), so values *and*
gradients are finite everywhere for ``x >= X_MIN``. Switch points and series
lengths depend on the dtype only (a static Python choice), never on values.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ...engine import ArrayLike, dtype_name

__all__ = [
    "N_SERIES",
    "TNFW_LARGE_X_TERMS",
    "U_SERIES",
    "X_MIN",
    "NFWBasis",
    "TNFWConstants",
    "cnfw_f1_convergence",
    "cnfw_f1_mass",
    "cnfw_f1_potential",
    "cnfw_convergence",
    "cnfw_mass",
    "cnfw_potential",
    "nfw_basis",
    "nfw_h",
    "tnfw_constants",
    "tnfw_convergence",
    "tnfw_mass",
    "tnfw_potential",
]

#: Half-width in ``u = (1 - x)(1 + x)`` of the series band about ``x = 1`` (PHYSICS.md §7):
#: balances the ``~3 eps / |u|`` loss of ``(F - 1)/u`` against the series truncation.
U_SERIES = {"float64": 0.05, "float32": 0.3}
#: Terms K of the series about ``x = 1`` (PHYSICS.md §7): truncation <= 0.3**12 / 25 = 2e-8.
N_SERIES = 12
#: Smallest ``x = r / r_s`` at which radial fields are evaluated (PHYSICS.md §16).
X_MIN = {"float64": 1e-12, "float32": 1e-6}
#: Terms N of the large-``x`` series of the tNFW convergence, used for ``x > 4 S``
#: (PHYSICS.md §9.3): the terms fall as ``n 4**-n``.
TNFW_LARGE_X_TERMS = {"float64": 28, "float32": 20}
#: The tNFW convergence switches to its large-``x`` series above ``x = 4 S`` (PHYSICS.md §9.3).
_TNFW_SERIES_START = 4.0
#: The tNFW mass uses its large-``x`` form above ``x = 2`` (PHYSICS.md §9.2).
_TNFW_LARGE_X = 2.0


def _horner(u: ArrayLike, coefficients: list[float]) -> ArrayLike:
    """``sum_k c_k u**k`` by Horner's rule (a fixed number of terms)."""
    out = coefficients[-1] + 0.0 * u
    for c in reversed(coefficients[:-1]):
        out = out * u + c
    return out


#: Terms of the series of ``atan(w)``, ``|w| <= tan(pi/12)``, in :func:`_atan_unit`: the first
#: omitted term is ``tan(pi/12)**(2K) / (2K + 1)`` relative, 2e-17 (float64), 1e-8 (float32).
_ATAN_TERMS = {"float64": 15, "float32": 6}
_TAN_PI_12 = 2.0 - math.sqrt(3.0)


def _atan_unit(z: ArrayLike, *, xp) -> ArrayLike:
    """``atan(z)`` for ``0 <= z <= 1`` from elementary operations.

    XLA's CPU ``atan`` costs as much as the rest of the truncated-NFW deflection
    kernel together (measured in docs/performance.md, issue 16), so the kernel uses
    this form on both engines: above ``tan(pi/12)``, ``atan(z) = pi/6 + atan(w)``,
    ``w = (sqrt(3) z - 1)/(sqrt(3) + z)``, so ``|w| <= tan(pi/12)``, then the
    alternating Taylor series of ``atan(w)`` with a fixed number of terms.
    """
    big = z > _TAN_PI_12
    w = xp.where(big, (math.sqrt(3.0) * z - 1.0) / (math.sqrt(3.0) + z), z)
    n = _ATAN_TERMS[dtype_name(z)]
    series = _horner(w * w, [(-1.0) ** j / (2 * j + 1) for j in range(n)])
    return xp.where(big, math.pi / 6.0, 0.0) + w * series


class NFWBasis(NamedTuple):
    """``F, G, g`` at ``x`` and the pieces the tNFW and cNFW forms reuse (PHYSICS.md §7).

    Branch pieces hold safe stand-ins outside their branch (``x = 0.5`` below,
    ``x = 2`` above), so they are finite everywhere but meaningful only where
    their mask is True.
    """

    x: ArrayLike  # r / r_s, >= X_MIN
    u: ArrayLike  # (1 - x)(1 + x), formed as a product
    near: ArrayLike  # |u| < u_F: the series about x = 1
    below: ArrayLike  # x < 1 outside the band
    above: ArrayLike  # x > 1 outside the band
    x_lo: ArrayLike  # x where below, else 0.5
    s_lo: ArrayLike  # sqrt(u) where below
    lam_lo: ArrayLike  # ln(2 / x) where below
    l1: ArrayLike  # log1p(-x^2 / (2 (1 + s))) where below (PHYSICS.md §7 item 2)
    s_hi: ArrayLike  # sqrt(-u) where above, else sqrt(3)
    F: ArrayLike
    G: ArrayLike
    g: ArrayLike


def nfw_basis(x: ArrayLike, *, xp) -> NFWBasis:
    """``F(x)``, ``G(x)``, ``g(x)`` in the stable forms of PHYSICS.md §7 (items 1-3), x > 0."""
    prec = dtype_name(x)
    u = (1.0 - x) * (1.0 + x)
    near = xp.abs(u) < U_SERIES[prec]
    below = (x < 1.0) & ~near
    above = (x > 1.0) & ~near

    # 1. |u| < u_F: F = sum u^k/(2k+1), G = sum u^k/(2k+3); fed u = 0 outside the band.
    u_near = xp.where(near, u, 0.0)
    f_near = _horner(u_near, [1.0 / (2 * k + 1) for k in range(N_SERIES)])
    g_near = _horner(u_near, [1.0 / (2 * k + 3) for k in range(N_SERIES)])

    # 2. x < 1: s = sqrt(u), F = (log1p(s) - ln x)/s = atanh(s)/s without the 1 - s cancellation.
    x_lo = xp.where(below, x, 0.5)
    u_lo = (1.0 - x_lo) * (1.0 + x_lo)
    s_lo = xp.sqrt(u_lo)
    lam_lo = xp.log(2.0 / x_lo)
    l1 = xp.log1p(-(x_lo * x_lo) / (2.0 * (1.0 + s_lo)))
    f_lo = (xp.log1p(s_lo) - xp.log(x_lo)) / s_lo
    # g = [x^2 ln(2/x)/(1 + s) + l1]/s: both ln(2/x) terms of ln(x/2) + F cancelled analytically
    gg_lo = ((x_lo * x_lo) / (1.0 + s_lo) * lam_lo + l1) / s_lo

    # 3. x > 1: s = sqrt(-u), F = atan(s)/s.
    x_hi = xp.where(above, x, 2.0)
    u_hi = (1.0 - x_hi) * (1.0 + x_hi)
    s_hi = xp.sqrt(-u_hi)
    f_hi = xp.atan(s_hi) / s_hi

    F = xp.where(near, f_near, xp.where(below, f_lo, f_hi))
    G = xp.where(
        near, g_near, xp.where(below, (f_lo - 1.0) / u_lo, (f_hi - 1.0) / u_hi)
    )
    g = xp.where(below, gg_lo, xp.log(0.5 * x) + F)
    return NFWBasis(x, u, near, below, above, x_lo, s_lo, lam_lo, l1, s_hi, F, G, g)


def nfw_h(b: NFWBasis, *, xp) -> ArrayLike:
    """``h(x)`` of PHYSICS.md §7 (float64; potentials only).

    ``h = ln^2(x/2) - u F^2`` on both sides of ``x = 1`` (``u F^2`` is
    ``-arccos^2(1/x)`` above, ``arccosh^2(1/x)`` below); for ``x < 1`` outside
    the band the cancellation-free ``h = -(2 ln(2/x) + l1) l1``.
    """
    h_lo = -(2.0 * b.lam_lo + b.l1) * b.l1
    h_rest = xp.log(0.5 * b.x) ** 2 - b.u * b.F * b.F
    return xp.where(b.below, h_lo, h_rest)


# --------------------------------------------------------------------------- truncated NFW


class TNFWConstants(NamedTuple):
    """Per-halo constants of the truncated NFW (PHYSICS.md §9.4), broadcast to ``(h, n)``."""

    tau: ArrayLike  # r_t / r_s
    tau2: ArrayLike  # tau^2
    T: ArrayLike  # tau^2 / (tau^2 + 1)^2
    log_tau: ArrayLike  # ln tau
    c1: ArrayLike  # (tau^2 - 1) / tau
    k0: ArrayLike  # pi tau + (tau^2 - 1) ln tau
    tm1: ArrayLike  # tau^2 - 1
    q: ArrayLike  # tau^2 + 1
    a_mid: ArrayLike  # pi + (tau^2 - 1) ln(tau) / tau


def tnfw_constants(tau: ArrayLike, *, like: ArrayLike, xp) -> TNFWConstants:
    """Per-halo constants of PHYSICS.md §9.4 from ``tau = r_t / r_s > 0`` (shape ``(h, 1)``).

    Each constant is computed once per halo and then broadcast to the shape of
    ``like`` (the ``(h, n)`` radii): reverse-mode differentiation then reduces each
    constant over the points once, instead of once per use, which keeps the
    compiled gradient small (a third faster to compile under JAX). NumPy
    broadcasts without copying.
    """
    tau2 = tau * tau
    log_tau = xp.log(tau)
    tm1 = tau2 - 1.0
    c1 = tm1 / tau
    per_halo = TNFWConstants(
        tau=tau,
        tau2=tau2,
        T=tau2 / (tau2 + 1.0) ** 2,
        log_tau=log_tau,
        c1=c1,
        k0=math.pi * tau + tm1 * log_tau,
        tm1=tm1,
        q=tau2 + 1.0,
        a_mid=math.pi + c1 * log_tau,
    )
    return TNFWConstants(*(xp.broadcast_to(c, like.shape) for c in per_halo))


def _rho_t_and_asinh(b: NFWBasis, k: TNFWConstants, *, xp):
    """``rho_t = sqrt(x^2 + tau^2)`` and ``A = asinh(tau / x)`` (PHYSICS.md §9)."""
    return xp.sqrt(b.x * b.x + k.tau2), xp.asinh(k.tau / b.x)


def _log1p_l2(x: ArrayLike, k: TNFWConstants, *, xp) -> ArrayLike:
    """``l2 = ln[(tau + rho_t)/(2 tau)] = log1p(w / (2 (1 + sqrt(1 + w))))``, ``w = x^2/tau^2``."""
    w = (x * x) / k.tau2
    return xp.log1p(w / (2.0 * (1.0 + xp.sqrt(1.0 + w))))


def tnfw_mass(x: ArrayLike, k: TNFWConstants, *, xp) -> ArrayLike:
    """Dimensionless projected mass ``m(x)`` of the truncated NFW (PHYSICS.md §9.1, §9.2).

    ``x = r / r_s >= X_MIN`` (shape ``(h, n)``), ``k`` from :func:`tnfw_constants`.
    The three regimes of §9.2: the small-``x`` form (``x < 1`` outside the series
    band), where every term is ``O(x^2)`` or ``O(x^2 ln x)``; the closed form in
    the band and for ``1 < x <= 2``; and the large-``x`` form for ``x > 2``, where
    the ``pi x`` terms are combined without subtraction. In the middle regime the
    closed form is used with ``A = ln(2/x) + ln(tau) + l2``, which cancels its
    ``O(tau^2 ln tau)`` terms analytically::

        m/T = (tau^2 - 1 + 2 x^2) F - (pi + (tau^2-1) ln(tau)/tau) x^2/(rho_t + tau)
              - (tau^2-1)/tau rho_t (ln(2/x) + l2).

    Under ``where`` every regime is evaluated at every point, so the regimes
    *share* their transcendentals (docs/profiles.md, "the deflection kernel"):
    one ``sqrt`` for ``s = sqrt|1 - x^2|`` (``sqrt(1 - x^2)`` below, ``sqrt(x^2 - 1)``
    above), one for ``rho_t = sqrt(x^2 + tau^2)``, one ``log`` for ``ln(x/2)``, one
    ``log1p`` for ``l1`` (below only), one ``log1p`` that is ``l2`` up to ``x = 2``
    and ``A = asinh(tau/x)`` beyond, and one ``atan``, of ``s`` up to ``x = 2``
    (``F = atan(s)/s``) and of ``1/s`` beyond: six in all, against fifteen when
    each regime computes its own. The small and middle forms share one expression
    (they differ only in the coefficients of ``ln(2/x)`` and of ``tau^2 - 1 + 2 x^2``).
    Measured float32 error <= 3.1e-6 over ``x in [1e-6, 1e4]``, ``tau in [0.3, 100]``
    (float64: ~4e-15).
    """
    prec = dtype_name(x)
    x2 = x * x
    u = (1.0 - x) * (1.0 + x)
    near = xp.abs(u) < U_SERIES[prec]
    below = (x < 1.0) & ~near
    large = x > _TNFW_LARGE_X
    # s = sqrt(1 - x^2) below and sqrt(x^2 - 1) above the band; 1 in the band (unused there)
    s = xp.sqrt(xp.where(near, 1.0, xp.abs(u)))
    inv_s = 1.0 / s
    rho_t = xp.sqrt(x2 + k.tau2)
    inv_tpr = 1.0 / (k.tau + rho_t)
    lam = -xp.log(0.5 * x)  # ln(2/x)
    # l1 = ln((1 + s)/2) = log1p(-x^2/(2 (1 + s))), below only (PHYSICS.md §7 item 2)
    l1 = xp.log1p(xp.where(below, -x2 * 0.5 / (1.0 + s), 0.0))
    # one log1p: l2 = ln((tau + rho_t)/(2 tau)) up to x = 2, A = asinh(tau/x) beyond
    inv_xl = 1.0 / xp.where(large, x, 4.0)
    t = k.tau * inv_xl
    la = xp.log1p(xp.where(large, t + t * t / (1.0 + rho_t * inv_xl), 0.5 * x2 * inv_tpr / k.tau))
    # one atan: F = atan(s)/s for 1 < x <= 2, atan(1/s) = pi/2 - atan(s) beyond; reduced
    # to an argument in [0, 1] (atan(z) = pi/2 - atan(1/z)) for the series of _atan_unit
    arg = xp.where(large, inv_s, s)
    inverted = arg > 1.0
    at_unit = _atan_unit(xp.where(inverted, xp.where(large, s, inv_s), arg), xp=xp)
    at = xp.where(inverted, 0.5 * math.pi - at_unit, at_unit)

    # small x (F = (ln(2/x) + l1)/s, collected by powers of ln(2/x)) and the middle closed form
    f_near = _horner(xp.where(near, u, 0.0), [1.0 / (2 * j + 1) for j in range(N_SERIES)])
    c_rho = k.c1 * rho_t
    c_lam = x2 * inv_s * (k.c1 * (k.tm1 + x2) / (k.tau + s * rho_t) + 2.0)
    f_term = xp.where(below, l1 * inv_s, xp.where(near, f_near, at * inv_s))
    lam_coeff = xp.where(below, c_lam, -c_rho)
    m_mid = (k.tm1 + 2.0 * x2) * f_term + lam_coeff * lam - c_rho * la - k.a_mid * x2 * inv_tpr

    # large x: pi [s + (tau^2+1)/(2s) - rho_t] = pi q^2 / (4 s (s^2 + q/2 + s rho_t)), q = tau^2 + 1
    sh2 = -u
    m_large = (
        (math.pi * k.q * k.q / (4.0 * (sh2 + 0.5 * k.q + s * rho_t)) - (2.0 * sh2 + k.q) * at) * inv_s
        + k.k0
        - c_rho * la
    )
    return k.T * xp.where(large, m_large, m_mid)


#: sqrt(pi) Gamma((4 + n)/2) / Gamma((5 + n)/2): the projection of r^-(4+n) (PHYSICS.md §9.3).
_GAMMA_RATIO = [
    math.sqrt(math.pi) * math.exp(math.lgamma((4 + n) / 2) - math.lgamma((5 + n) / 2))
    for n in range(max(TNFW_LARGE_X_TERMS.values()))
]


def _tnfw_large_x_series(x: ArrayLike, tau2: ArrayLike, n_terms: int, *, xp) -> ArrayLike:
    """``L(x)`` by the large-``x`` series of PHYSICS.md §9.3, for ``x > 4 max(1, tau)``.

    ``L = tau^2/(2 x^4) sum_n e_n (S/x)^n`` with ``e_n = d_n S^-n Gamma-ratio_n``;
    here the powers of ``S`` are absorbed into the terms,
    ``c_n = d_n / x^n = a_n x^-n - (tau/x)^2 c_{n-2}``, ``a_n = (-1)^n (n + 1)``
    (the coefficients of ``(1 + y)^-2 (1 + tau^2 y^2)^-1``), so the sum needs no
    per-halo coefficient arrays. For ``x > 4 S`` both ``1/x`` and ``tau/x`` are
    below 1/4, so the terms fall as ``n 4^-n``.
    """
    inv_x = 1.0 / x
    a = tau2 * inv_x * inv_x
    power = inv_x  # x^-n for n = 1
    c_prev, c_now = 1.0 + 0.0 * x, -2.0 * inv_x  # c_0, c_1
    total = _GAMMA_RATIO[0] * c_prev + _GAMMA_RATIO[1] * c_now
    for n in range(2, n_terms):
        power = power * inv_x
        c_prev, c_now = c_now, (-1.0) ** n * (n + 1) * power - a * c_prev
        total = total + _GAMMA_RATIO[n] * c_now
    return 0.5 * a * inv_x * inv_x * total


def tnfw_convergence(b: NFWBasis, k: TNFWConstants, *, xp) -> ArrayLike:
    """``L(x) = kappa / (2 kappa_s)`` of the truncated NFW (PHYSICS.md §9.1, §9.3).

    The closed form up to ``x = 4 S``, ``S = max(1, tau)``; beyond, where the
    closed form sums ``O(1/x)`` terms to an ``O(x^-4)`` result, the convergent
    large-``x`` series.
    """
    x = b.x
    rho_t, A = _rho_t_and_asinh(b, k, xp=xp)
    closed = k.T * (
        (k.tau2 + 1.0) * b.G + 2.0 * b.F - math.pi / rho_t - k.c1 * A / rho_t
    )
    start = _TNFW_SERIES_START * xp.maximum(k.tau, 1.0)
    far = x > start
    x_far = xp.where(far, x, 2.0 * start)
    n_terms = TNFW_LARGE_X_TERMS[dtype_name(x)]
    series = _tnfw_large_x_series(x_far, k.tau2, n_terms, xp=xp)
    return xp.where(far, series, closed)


def tnfw_potential(b: NFWBasis, k: TNFWConstants, *, xp) -> ArrayLike:
    """``P(x) = psi / (4 kappa_s r_s^2)`` of the truncated NFW, ``P(0) = 0`` (PHYSICS.md §9.1).

    Evaluate in float64. For ``x < 1`` outside the series band the closed form
    cancels to ``O(x^2 ln x)`` (relative error ``3e-9`` at ``x = 1e-3``), so there
    it is rewritten, as ``m(x)`` in §9.2, with ``F = (ln(2/x) + l1)/s``,
    ``A = ln(2/x) + ln tau + l2`` and ``C_0`` cancelled analytically::

        P/T = ln(2/x) C + (tau^2-1) [ln(tau) l2 + (l2^2 - l1^2)/2] - 2 s l1
              - pi x^2/(rho_t + tau) + pi tau l2
              - (tau^2-1)/tau [x^2 ln(tau)/(rho_t + tau) + rho_t l2],
        C = (tau^2-1)(l2 - l1) + 2 x^2/(1 + s) - (tau^2-1) x^2/(tau (tau + rho_t)).

    Elsewhere the closed form, with ``h/2 - ln^2(x/2)/2 = -u F^2/2`` (§7) and, for
    ``x > 1``, ``2 (x^2 - 1) F - pi rho_t = -pi (tau^2 + 1)/(s + rho_t) - 2 s arctan(1/s)``.
    """
    x = b.x
    x2 = x * x
    tm1 = k.tau2 - 1.0
    rho_t, A = _rho_t_and_asinh(b, k, xp=xp)
    m_inf = k.k0 - (k.tau2 + 1.0)  # m_inf / T
    ln2 = math.log(2.0)
    ln_2tau = ln2 + k.log_tau
    c0 = (
        -2.0 * ln2
        - math.pi * k.tau
        + math.pi * k.tau * ln_2tau
        - tm1 * ln_2tau
        + 0.5 * tm1 * (ln_2tau * ln_2tau - ln2 * ln2)
    )
    # 2 (x^2 - 1) F - pi rho_t; for x > 1 the O(pi x) terms cancel analytically via
    # arctan(s) = pi/2 - arctan(1/s), as in the large-x form of m (§9.2)
    sh = b.s_hi
    linear = xp.where(
        b.above,
        -math.pi * (k.tau2 + 1.0) / (sh + rho_t) - 2.0 * sh * xp.atan(1.0 / sh),
        -2.0 * b.u * b.F - math.pi * rho_t,
    )
    closed = (
        0.5 * tm1 * (A * A - b.u * b.F * b.F)
        + linear
        + m_inf * xp.log(x)
        + math.pi * k.tau * A
        - k.c1 * rho_t * A
        - c0
    )

    s, l1 = b.s_lo, b.l1
    l2 = _log1p_l2(x, k, xp=xp)
    coeff = tm1 * (l2 - l1) + 2.0 * x2 / (1.0 + s) - tm1 * x2 / (k.tau * (k.tau + rho_t))
    small = (
        b.lam_lo * coeff
        + tm1 * (k.log_tau * l2 + 0.5 * (l2 * l2 - l1 * l1))
        - 2.0 * s * l1
        - math.pi * x2 / (rho_t + k.tau)
        + math.pi * k.tau * l2
        - k.c1 * (x2 * k.log_tau / (rho_t + k.tau) + rho_t * l2)
    )
    return k.T * xp.where(b.below, small, closed)


# --------------------------------------------------------------------------- cored NFW


def _q(b: NFWBasis) -> ArrayLike:
    """``Q(y) = y^2 F(y) - g(y)`` (PHYSICS.md §10; not ``(y^2-1)F + ln(2/y)``, which cancels)."""
    return b.x * b.x * b.F - b.g


def cnfw_convergence(b0: NFWBasis, bf: NFWBasis, f: ArrayLike) -> ArrayLike:
    """``kappa / (2 kappa_s)`` of the cored NFW for ``f = r_c/r_s != 1`` (PHYSICS.md §10.1).

    ``b0`` is the basis at ``X = r/r_s``, ``bf`` at ``X/f``.
    """
    one_f = 1.0 - f
    return (b0.F - bf.F) / (one_f * one_f) - (b0.F - b0.G) / one_f


def cnfw_mass(b0: NFWBasis, bf: NFWBasis, f: ArrayLike) -> ArrayLike:
    """``M_2D / (4 pi rho_s r_s^3)`` of the cored NFW for ``f != 1`` (PHYSICS.md §10.1)."""
    one_f = 1.0 - f
    q0 = _q(b0)
    return (q0 - f * f * _q(bf)) / (one_f * one_f) - (q0 - b0.g) / one_f


def cnfw_potential(b0: NFWBasis, bf: NFWBasis, f: ArrayLike, *, xp) -> ArrayLike:
    """``P_c = psi / (4 kappa_s r_s^2)`` of the cored NFW for ``f != 1`` (PHYSICS.md §10.1)."""
    one_f = 1.0 - f
    q0, h0 = _q(b0), nfw_h(b0, xp=xp)
    core = _q(bf) - 0.5 * nfw_h(bf, xp=xp)
    return (q0 - 0.5 * h0 - f * f * core) / (one_f * one_f) - (q0 - h0) / one_f


def cnfw_f1_convergence(b0: NFWBasis, *, xp) -> ArrayLike:
    """``kappa / (2 kappa_s)`` at ``f = 1`` (PHYSICS.md §10.1).

    ``(3 X^2 G - 1)/(2 (X^2 - 1))``; in the band ``|u| < u_F`` the series
    ``3 sum_k u^k / ((2k+3)(2k+5))`` (value 1/5 at ``X = 1``).
    """
    u_safe = xp.where(b0.near, 1.0, b0.u)
    closed = -(3.0 * b0.x * b0.x * b0.G - 1.0) / (2.0 * u_safe)
    u_near = xp.where(b0.near, b0.u, 0.0)
    series = _horner(u_near, [3.0 / ((2 * k + 3) * (2 * k + 5)) for k in range(N_SERIES)])
    return xp.where(b0.near, series, closed)


def cnfw_f1_mass(b0: NFWBasis) -> ArrayLike:
    """``M_2D / (4 pi rho_s r_s^3)`` at ``f = 1``: ``g - X^2 G / 2`` (PHYSICS.md §10.1).

    This is the ``2 g - X^2 G`` form, free of the small-``X`` cancellation of the
    expanded one.
    """
    return b0.g - 0.5 * b0.x * b0.x * b0.G


def cnfw_f1_potential(b0: NFWBasis, *, xp) -> ArrayLike:
    """``P_c`` at ``f = 1``: ``(h - g)/2`` (PHYSICS.md §10.1)."""
    return 0.5 * (nfw_h(b0, xp=xp) - b0.g)
