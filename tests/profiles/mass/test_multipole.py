"""PowerLawMultipole: against an independent multipole integral of its convergence, identities,
the PyAutoLens convention, engines, gradients and validation (docs/profiles.md).

Independent reference: for ``kappa = kappa_m(r) cos(m (phi - phi_m))`` the potential
``psi = (1/pi) int kappa(x') ln|x - x'| d^2x'`` is, from the expansion
``ln|x - x'| = ln r_> - sum_m (1/m) (r_</r_>)^m cos(m dphi)``,
``psi_m(r) cos(m (phi - phi_m))`` with
``psi_m(r) = -(1/m) [r^-m int_0^r kappa_m r'^(m+1) dr' + r^m int_r^inf kappa_m r'^(1-m) dr']``,
so ``alpha_r = psi_m'(r) cos(...)`` with
``psi_m' = -r^(-m-1) int_0^r kappa_m r'^(m+1) dr' ... `` (differentiated below) and
``alpha_phi = -(m / r) psi_m(r) sin(...)``; the radial integrals are done with ``scipy.integrate.quad``.
They converge for ``gamma > 3 - m`` (all m >= 3 in (1, 3); m = 1 needs gamma > 2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import AGREE, assert_close
from scipy.integrate import quad

from xlens import engine
from xlens.errors import ParameterError
from xlens.profiles.mass import PowerLawMultipole

POINTS = np.array([[0.4, 0.9], [-1.2, 0.3], [0.7, -0.6], [-0.2, -1.5], [1.6, 1.1], [0.05, -0.08]])
CENTRE = np.array([0.1, -0.2])


def _profile(m, slope, comps=(0.03, -0.045), theta_e=1.15, **kw):
    return PowerLawMultipole(m=m, centre=CENTRE, einstein_radius=theta_e, slope=slope,
                             multipole_comps=np.asarray(comps), **kw)


def _reference_deflection(m, slope, comps, theta_e, point):
    """(alpha_y, alpha_x) from the radial integrals of the multipole Green's function (quad)."""
    c0, c1 = comps
    k_m, phi_m = math.hypot(c0, c1), math.atan2(c0, c1) / m
    dy, dx = point - CENTRE
    r, phi = math.hypot(dx, dy), math.atan2(dy, dx)

    def kappa_m(s):
        return 0.5 * (theta_e / s) ** (slope - 1.0) * k_m

    inner, _ = quad(lambda s: kappa_m(s) * s ** (m + 1), 0.0, r, epsabs=0.0, epsrel=1e-12, limit=200)
    outer, _ = quad(lambda s: kappa_m(s) * s ** (1 - m), r, math.inf, epsabs=0.0, epsrel=1e-12, limit=200)
    psi_m = -(inner * r ** (-m) + outer * r**m) / m
    # d/dr: the boundary terms of the two integrals cancel
    dpsi_m = inner * r ** (-m - 1) - outer * r ** (m - 1)
    a_r = dpsi_m * math.cos(m * (phi - phi_m))
    a_phi = -(m / r) * psi_m * math.sin(m * (phi - phi_m))
    return np.array([a_r * math.sin(phi) + a_phi * math.cos(phi), a_r * math.cos(phi) - a_phi * math.sin(phi)])


@pytest.mark.parametrize(("m", "slope"), [(3, 1.8), (3, 2.0), (4, 2.0), (4, 2.35), (4, 1.3), (1, 2.4)])
def test_deflection_matches_the_multipole_integral_of_its_convergence(m, slope):
    comps, theta_e = (0.03, -0.045), 1.15
    prof = _profile(m, slope, comps, theta_e)
    got = np.asarray(prof.deflections_yx_2d_from(POINTS[:5]))
    want = np.array([_reference_deflection(m, slope, comps, theta_e, p) for p in POINTS[:5]])
    if m == 1:  # defined up to a uniform shift (the docstring's regularisation): compare differences
        got, want = got - got[0], want - want[0]
    assert_close(got, want, rtol=1e-10, atol=1e-13, why="quad to 1e-12; closed form exact", xp=np)


def test_convergence_is_the_pyautolens_convention():
    """kappa = 1/2 (theta_E/r)^(gamma-1) k_m cos(m (phi - phi_m)), k_m = hypot(c0, c1),
    phi_m = atan2(c0, c1)/m counter-clockwise from +x."""
    c0, c1, m, slope, te = 0.04, -0.025, 4, 2.15, 1.1
    prof = _profile(m, slope, (c0, c1), te)
    dy, dx = (POINTS - CENTRE).T
    r, phi = np.hypot(dx, dy), np.arctan2(dy, dx)
    want = 0.5 * (te / r) ** (slope - 1) * math.hypot(c0, c1) * np.cos(m * (phi - math.atan2(c0, c1) / m))
    np.testing.assert_allclose(prof.convergence_2d_from(POINTS), want, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize(("m", "slope"), [(1, 2.0), (1, 1.7), (3, 2.2), (4, 2.0)])
def test_identities_div_alpha_is_2_kappa_and_alpha_is_grad_psi(m, slope):
    prof = _profile(m, slope)
    h = 1e-5
    pts = POINTS[:5]
    ey, ex = np.array([h, 0.0]), np.array([0.0, h])
    a = lambda g: np.asarray(prof.deflections_yx_2d_from(g))  # noqa: E731
    psi = lambda g: np.asarray(prof.potential_2d_from(g))  # noqa: E731
    div = (a(pts + ey)[:, 0] - a(pts - ey)[:, 0] + a(pts + ex)[:, 1] - a(pts - ex)[:, 1]) / (2 * h)
    np.testing.assert_allclose(div, 2 * np.asarray(prof.convergence_2d_from(pts)), rtol=1e-6, atol=1e-9)
    curl = (a(pts + ex)[:, 0] - a(pts - ex)[:, 0] - a(pts + ey)[:, 1] + a(pts - ey)[:, 1]) / (2 * h)
    np.testing.assert_allclose(curl, 0.0, atol=1e-8)
    grad = np.stack([(psi(pts + ey) - psi(pts - ey)) / (2 * h), (psi(pts + ex) - psi(pts - ex)) / (2 * h)], -1)
    np.testing.assert_allclose(a(pts), grad, rtol=1e-7, atol=1e-10)


def test_m1_is_continuous_through_the_isothermal_slope():
    """The regularised m = 1 field is finite at gamma = 2 and continuous there."""
    at = np.asarray(_profile(1, 2.0).deflections_yx_2d_from(POINTS))
    near = np.asarray(_profile(1, 2.0 + 1e-7).deflections_yx_2d_from(POINTS))
    assert np.all(np.isfinite(at))
    np.testing.assert_allclose(near, at, rtol=1e-5, atol=1e-9)


@pytest.mark.jax
@pytest.mark.parametrize("m", [1, 3, 4])
def test_numpy_and_jax_agree_in_float64_and_float32(m):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    prof = _profile(m, 2.1)
    jprof = PowerLawMultipole(m=m, centre=jnp.asarray(CENTRE), einstein_radius=jnp.asarray(1.15),
                              slope=jnp.asarray(2.1), multipole_comps=jnp.asarray([0.03, -0.045]))
    with engine.float64_scope():
        for method in ("convergence_2d_from", "deflections_yx_2d_from", "potential_2d_from"):
            want = np.asarray(getattr(prof, method)(POINTS))
            got64 = np.asarray(getattr(jprof, method)(jnp.asarray(POINTS)))
            assert_close(got64, want, rtol=AGREE.float64, atol=AGREE.float64 * np.max(np.abs(want)),
                         why=f"{method} float64", xp=np)
            got32 = np.asarray(getattr(jprof, method)(jnp.asarray(POINTS, dtype=jnp.float32)), dtype=np.float64)
            assert_close(got32, want, rtol=1e-5, atol=1e-5 * np.max(np.abs(want)),
                         why=f"{method} float32: a few ulp per pow and product", xp=np)


@pytest.mark.jax
@pytest.mark.parametrize(("m", "comps"), [(4, (0.03, -0.045)), (4, (0.0, 0.0)), (1, (0.02, 0.01))])
def test_gradients_match_finite_differences_also_at_zero_amplitude(m, comps):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def fields(profile, grid):
        xp = engine.namespace(grid)
        out = xp.concat([profile.convergence_2d_from(grid), xp.reshape(profile.deflections_yx_2d_from(grid), (-1,)),
                         profile.potential_2d_from(grid)])
        return xp.sum(xp.linspace(1.0, 2.0, out.shape[0], dtype=out.dtype) * out)

    kw = dict(m=m, centre=CENTRE, einstein_radius=1.15, slope=2.05, multipole_comps=np.asarray(comps))
    with engine.float64_scope():
        ad = jax.grad(fields)(PowerLawMultipole(**{k: (v if k == "m" else jnp.asarray(v)) for k, v in kw.items()}),
                              jnp.asarray(POINTS[:5]))
    fd = {}
    h = 1e-5
    for name in ("centre", "einstein_radius", "slope", "multipole_comps"):  # m is static: not a field to vary
        v = np.asarray(kw[name], dtype=np.float64)
        d = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            e = np.zeros_like(v)
            e[i] = h
            d[i] = (fields(PowerLawMultipole(**{**kw, name: v + e}), POINTS[:5])
                    - fields(PowerLawMultipole(**{**kw, name: v - e}), POINTS[:5])) / (2 * h)
        fd[name] = d
    for name in ("centre", "einstein_radius", "slope", "multipole_comps"):
        want = fd[name]
        scale = max(np.max(np.abs(want)), 1e-12)
        assert_close(np.asarray(getattr(ad, name)), want, rtol=1e-6, atol=1e-6 * scale,
                     why=f"d/d{name}: central differences, h = 1e-5", xp=np)
    assert np.max(np.abs(fd["multipole_comps"])) > 1e-3  # the amplitude matters even at 0


def test_centre_is_finite():
    prof = _profile(4, 2.3)
    out = np.asarray(prof.deflections_yx_2d_from(CENTRE[None]))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(prof.potential_2d_from(CENTRE[None])))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (dict(m=0), "PowerLawMultipole.m must be an integer >= 1; got 0"),
        (dict(m=2.5), "got 2.5"),
        (dict(slope=3.0), "PowerLawMultipole.slope"),
        (dict(einstein_radius=0.0), "PowerLawMultipole.einstein_radius"),
        (dict(multipole_comps=(float("nan"), 0.0)), "PowerLawMultipole.multipole_comps"),
    ],
)
def test_validation_names_the_parameter(kwargs, text):
    with pytest.raises(ParameterError, match=text.replace(".", r"\.").replace("(", r"\(")):
        PowerLawMultipole(**kwargs)


def test_a_lens_with_a_multipole_in_a_tracer():
    """A galaxy holds a PowerLaw and its multipole; the multipole changes the rays (m = 4 is discy)."""
    from xlens import Galaxy, Tracer
    from xlens.profiles.light import SersicCore
    from xlens.profiles.mass import PowerLaw

    lens = dict(centre=CENTRE, einstein_radius=1.15, slope=2.0)
    plain = Tracer([Galaxy(0.5, mass=PowerLaw(**lens)), Galaxy(1.0, light=SersicCore())])
    multi = Tracer([Galaxy(0.5, mass=PowerLaw(**lens), multipole=_profile(4, 2.0, (0.01, 0.0))),
                    Galaxy(1.0, light=SersicCore())])
    diff = multi.traced_grid_2d_list_from(POINTS)[-1] - plain.traced_grid_2d_list_from(POINTS)[-1]
    np.testing.assert_allclose(diff, -np.asarray(_profile(4, 2.0, (0.01, 0.0)).deflections_yx_2d_from(POINTS)),
                               rtol=1e-12, atol=1e-15)
