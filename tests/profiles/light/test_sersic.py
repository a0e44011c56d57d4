"""Sersic, SersicCore, Gaussian: b_n, normalisations, flux by quadrature, gradients, validation.

The images are pinned at the hard points by tests/profiles/test_reference.py;
here the conventions are checked against closed forms: the eccentric radius of
PHYSICS.md §1, ``I(R_e) = I_e``, ``I(R_b) = I_b``, the total flux of §12.1 by
2D quadrature, and the inner slope and outer normalisation of SersicCore.
"""

from __future__ import annotations

import functools
import math

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
import scipy.integrate
import scipy.special
from helpers import AGREE, NUMPY, assert_close, fd_gradient, from_range

from xlens import engine
from xlens.errors import ParameterError
from xlens.profiles.light import Gaussian, Sersic, SersicCore, sersic

#: Identities evaluated by the same closed form: only a few roundings differ.
EXACT = 1e-13
#: Flux by quad_vec (epsrel 1e-11) in radius and a 256-point periodic trapezoid
#: in angle (spectrally accurate for q >= 0.2): measured ~2e-15; 1e-9 leaves room.
QUAD = 1e-9



@st.composite
def geometry(draw, cls, q_min=0.2):
    q = draw(st.floats(q_min, 1.0))
    phi = draw(st.floats(0.0, math.pi))
    f = (1.0 - q) / (1.0 + q)
    centre = np.array([draw(from_range(cls, "centre", -1.0, 1.0)) for _ in range(2)])
    return (
        dict(centre=centre, ell_comps=np.array([f * math.sin(2 * phi), f * math.cos(2 * phi)])),
        q,
        phi,
    )


def sky_points(centre, q, phi, radius, angles):
    """Sky (y, x) points at eccentric radius ``radius`` (PHYSICS.md §1) at frame angles ``angles``.

    ``x' = r cos(a)/sqrt(q)``, ``y' = r sqrt(q) sin(a)`` has ``q x'^2 + y'^2/q = r^2``;
    rotate by +phi back to the sky.
    """
    xr = radius * np.cos(angles) / math.sqrt(q)
    yr = radius * math.sqrt(q) * np.sin(angles)
    c, s = math.cos(phi), math.sin(phi)
    return np.stack([xr * s + yr * c, xr * c - yr * s], -1) + centre


def total_flux(profile, centre, m=256):
    """Integral of the image over the sky: quad_vec in radius, trapezoid in angle."""
    th = np.arange(m) * 2 * np.pi / m
    unit = np.stack([np.sin(th), np.cos(th)], -1)
    val, _ = scipy.integrate.quad_vec(
        lambda rho: rho * profile.image_2d_from(centre + rho * unit), 0.0, np.inf, epsrel=1e-11
    )
    return 2 * np.pi * float(np.mean(val))


ANGLES = np.linspace(0.0, 2 * np.pi, 9)

# --------------------------------------------------------------------------- b_n


def test_sersic_constant_matches_exact_root_within_physics_table():
    # PHYSICS.md §12.1: relative error of the CB99 series vs gammaincinv(2n, 1/2)
    bounds = {0.36: 2e-3, 0.5: 3.7e-4, 1.0: 2.6e-5, 2.0: 1.4e-6, 4.0: 7.2e-8, 8.0: 4.3e-9}
    for n, bound in bounds.items():
        exact = scipy.special.gammaincinv(2 * n, 0.5)
        rel = abs(sersic._sersic_constant(n) / exact - 1)
        assert rel <= bound, f"n = {n}: b_n relative error {rel:.2e} > {bound:.1e}"
    # the value the reference table was built with
    assert sersic._sersic_constant(3.0) == pytest.approx(5.6701625084990175, rel=1e-15)


# --------------------------------------------------------------------------- Sersic


@st.composite
def sersics(draw):
    geo, q, phi = draw(geometry(Sersic))
    kw = dict(
        **geo,
        intensity=draw(from_range(Sersic, "intensity", 0.01, 5.0)),
        effective_radius=draw(from_range(Sersic, "effective_radius", 0.1, 2.0)),
        sersic_index=draw(from_range(Sersic, "sersic_index", 0.5, 6.0)),
    )
    return kw, q, phi


@hypothesis.given(args=sersics())
def test_sersic_intensity_at_effective_radius(args):
    kw, q, phi = args
    pts = sky_points(kw["centre"], q, phi, kw["effective_radius"], ANGLES)
    assert_close(
        Sersic(**kw).image_2d_from(pts),
        np.full(len(ANGLES), kw["intensity"]),
        rtol=EXACT,
        atol=0,
        why="I = I_e on the ellipse of eccentric radius R_e",
        xp=NUMPY,
    )
    centre = Sersic(**kw).image_2d_from(kw["centre"][None, :])
    b = sersic._sersic_constant(kw["sersic_index"])
    assert_close(
        centre, [kw["intensity"] * math.exp(b)], rtol=EXACT, atol=0, why="I(0) = I_e e^b_n", xp=NUMPY
    )


@hypothesis.settings(max_examples=5)  # each example is a 2D adaptive quadrature (~0.3 s)
@hypothesis.given(args=sersics())
def test_sersic_total_flux_by_quadrature(args):
    kw, _, _ = args
    n, r_e, i_e = kw["sersic_index"], kw["effective_radius"], kw["intensity"]
    b = sersic._sersic_constant(n)
    exact = 2 * math.pi * n * i_e * r_e**2 * math.exp(b) * math.gamma(2 * n) / b ** (2 * n)
    assert_close(
        total_flux(Sersic(**kw), kw["centre"]),
        exact,
        rtol=QUAD,
        atol=0,
        why="total flux 2 pi n I_e R_e^2 e^b Gamma(2n)/b^2n (PHYSICS.md §12.1) by quadrature",
        xp=NUMPY,
    )


@hypothesis.given(
    parts=st.lists(sersics(), min_size=3, max_size=3),
    shift=st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
)
def test_sersic_halo_sum_and_centre_invariance(parts, shift):
    kws = [p[0] for p in parts]
    grid = np.concatenate([sky_points(np.zeros(2), 0.7, 0.3, r, ANGLES) for r in (0.05, 0.5, 2.0)])
    stacked = Sersic(**{k: np.stack([kw[k] for kw in kws]) for k in kws[0]})
    ref = sum(Sersic(**kw).image_2d_from(grid) for kw in kws)
    assert_close(
        stacked.image_2d_from(grid),
        ref,
        rtol=AGREE.float64,
        atol=0,
        why="H = 3 profiles equal the sum of three single ones (rounding only)",
        xp=NUMPY,
    )
    kw = kws[0]
    moved = Sersic(**{**kw, "centre": kw["centre"] + np.array(shift)})
    ref = Sersic(**kw).image_2d_from(grid + kw["centre"])
    assert_close(
        moved.image_2d_from(grid + kw["centre"] + np.array(shift)),
        ref,
        rtol=AGREE.float64,
        atol=0,
        why="moving centre and grid together: rounding of y - y_c",
        xp=NUMPY,
    )


# --------------------------------------------------------------------------- SersicCore


@st.composite
def sersic_cores(draw):
    geo, q, phi = draw(geometry(SersicCore))
    kw = dict(
        **geo,
        intensity=draw(from_range(SersicCore, "intensity", 0.01, 5.0)),
        effective_radius=draw(from_range(SersicCore, "effective_radius", 0.2, 2.0)),
        sersic_index=draw(from_range(SersicCore, "sersic_index", 0.5, 6.0)),
        radius_break=draw(from_range(SersicCore, "radius_break", 0.005, 0.1)),
        gamma=draw(from_range(SersicCore, "gamma", 0.0, 1.5)),
        alpha=draw(from_range(SersicCore, "alpha", 0.5, 20.0)),
    )
    return kw, q, phi


@hypothesis.given(args=sersic_cores())
def test_sersic_core_intensity_at_break_radius(args):
    kw, q, phi = args
    pts = sky_points(kw["centre"], q, phi, kw["radius_break"], ANGLES)
    assert_close(
        SersicCore(**kw).image_2d_from(pts),
        np.full(len(ANGLES), kw["intensity"]),
        rtol=EXACT,
        atol=0,
        why="I = I_b on the ellipse of eccentric radius R_b (§12.2)",
        xp=NUMPY,
    )


@hypothesis.given(args=sersic_cores())
def test_sersic_core_inner_slope_is_minus_gamma(args):
    """d ln I / d ln r -> -gamma for r << R_b; corrections are O((r/R_b)^alpha)."""
    kw, q, phi = args
    kw["alpha"] = max(kw["alpha"], 2.0)  # corrections (r/R_b)^alpha <= 1e-8 at r = 1e-4 R_b
    r, h = 1e-4 * kw["radius_break"], 1e-3
    img = SersicCore(**kw).image_2d_from
    lo, hi = (img(sky_points(kw["centre"], q, phi, r * math.exp(s), ANGLES)) for s in (-h, h))
    slope = (np.log(hi) - np.log(lo)) / (2 * h)
    assert_close(
        slope,
        np.full(len(ANGLES), -kw["gamma"]),
        rtol=0,
        atol=1e-6,
        why="inner power law r^-gamma; O(h^2) differences and (r/R_b)^alpha terms",
        xp=NUMPY,
    )


@hypothesis.given(args=sersic_cores())
def test_sersic_core_outer_part_is_sersic_with_stated_normalisation(args):
    """For r >> R_b, I -> I' exp(-b_n (r/R_e)^(1/n)) with the I' of PHYSICS.md §12.2.

    ``I' = I_b 2^(-g/a) exp[b_n (2^(1/a) R_b/R_e)^(1/n)]``.
    """
    kw, q, phi = args
    kw["alpha"] = max(kw["alpha"], 2.0)
    n, a, g, r_b, r_e = (
        kw[k] for k in ("sersic_index", "alpha", "gamma", "radius_break", "effective_radius")
    )
    b = sersic._sersic_constant(n)
    i_prime = kw["intensity"] * 2 ** (-g / a) * math.exp(b * (2 ** (1 / a) * r_b / r_e) ** (1 / n))
    r = 1e4 * r_b  # (R_b/r)^alpha <= 1e-8
    pts = sky_points(kw["centre"], q, phi, r, ANGLES)
    ref = Sersic(
        **{k: kw[k] for k in ("centre", "ell_comps", "effective_radius", "sersic_index")},
        intensity=i_prime * math.exp(-b),
    ).image_2d_from(pts)
    assert_close(
        SersicCore(**kw).image_2d_from(pts),
        ref,
        rtol=1e-6,
        atol=0,
        why="outer Sersic part; neglected terms (R_b/r)^alpha (g/a + b_n (r/R_e)^(1/n)/(a n))",
        xp=NUMPY,
    )


# --------------------------------------------------------------------------- Gaussian


@st.composite
def gaussians(draw):
    geo, q, phi = draw(geometry(Gaussian))
    kw = dict(
        **geo,
        intensity=draw(from_range(Gaussian, "intensity", 0.01, 5.0)),
        sigma=draw(from_range(Gaussian, "sigma", 0.05, 2.0)),
    )
    return kw, q, phi


@hypothesis.given(args=gaussians())
def test_gaussian_peak_and_axis_dispersions(args):
    """I(0) = I_0; e^(-1/2) I_0 at sigma on the minor axis and at sigma/q on the major axis."""
    kw, q, phi = args
    c, s = math.cos(phi), math.sin(phi)
    major, minor = np.array([s, c]), np.array([c, -s])  # (y, x) of the frame's x' and y' axes
    pts = kw["centre"] + np.stack([0 * major, kw["sigma"] / q * major, kw["sigma"] * minor])
    want = kw["intensity"] * np.array([1.0, math.exp(-0.5), math.exp(-0.5)])
    assert_close(
        Gaussian(**kw).image_2d_from(pts),
        want,
        rtol=EXACT,
        atol=0,
        why="PyAutoGalaxy convention: sigma along the minor axis, sigma/q along the major",
        xp=NUMPY,
    )


@hypothesis.settings(max_examples=5)  # 2D adaptive quadrature
@hypothesis.given(args=gaussians())
def test_gaussian_total_flux_by_quadrature(args):
    kw, q, _ = args
    exact = 2 * math.pi * kw["intensity"] * kw["sigma"] ** 2 / q
    assert_close(
        total_flux(Gaussian(**kw), kw["centre"]),
        exact,
        rtol=QUAD,
        atol=0,
        why="total flux 2 pi I_0 sigma^2/q by quadrature",
        xp=NUMPY,
    )


# --------------------------------------------------------------------------- gradients (JAX)

#: centre, on the frame axes, 1e-9 from the centre, just above and below the Sersic
#: float64 threshold (r/R_e)^2 = 1e-200, a subnormal (r/R_e)^2, far out.
HARD = np.array(
    [
        [0.0, 0.0],
        [0.0, 0.3],
        [0.2, 0.0],
        [1e-9, -2e-9],
        [2e-100, 0.0],
        [1e-120, 0.0],
        [1e-155, 0.0],
        [1.5, -2.0],
    ]
)
#: Ordinary points (inside and outside R_b and R_e), as many as HARD so that the
#: jitted gradient is reused.
ORDINARY = np.array(
    [
        [0.03, 0.04],
        [-0.02, 0.05],
        [0.1, -0.3],
        [0.4, 0.2],
        [-0.6, -0.1],
        [0.9, 0.5],
        [-0.3, 1.1],
        [1.4, -0.2],
    ]
)


def weighted_image(profile, grid):
    """sum(w * image), w > 0: its gradient is finite iff every Jacobian entry is."""
    xp = engine.namespace(grid)
    image = profile.image_2d_from(grid)
    return xp.sum(xp.linspace(1.0, 2.0, image.shape[0], dtype=image.dtype) * image)


@functools.cache
def weighted_gradient():
    """jax.grad (reverse mode, as users call it), jitted once for the module."""
    import jax

    return jax.jit(jax.grad(weighted_image, argnums=(0, 1)))



@pytest.mark.jax
@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Sersic, dict(intensity=1.0, effective_radius=0.5, sersic_index=4.0)),
        (Sersic, dict(intensity=1.0, effective_radius=0.5, sersic_index=0.4)),
        (Sersic, dict(intensity=0.0, effective_radius=0.5, sersic_index=10.0)),
        (
            SersicCore,
            dict(
                intensity=1.0,
                effective_radius=0.5,
                sersic_index=4.0,
                radius_break=0.05,
                gamma=0.5,
                alpha=3.0,
            ),
        ),
        (
            SersicCore,
            dict(
                intensity=0.0,
                effective_radius=0.5,
                sersic_index=1.0,
                radius_break=0.05,
                gamma=0.0,
                alpha=30.0,
            ),
        ),
        (Gaussian, dict(intensity=1.0, sigma=0.3)),
    ],
    ids=["sersic-n4", "sersic-n0.4", "sersic-n10-zero", "core", "core-sharp-zero", "gaussian"],
)
def test_gradients_finite_everywhere_and_match_finite_differences(cls, kwargs):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    for ell in ((0.0, 0.0), (0.3, -0.2)):
        kw = dict(centre=np.array([0.0, 0.01]), ell_comps=np.array(ell), **kwargs)
        jkw = {k: jnp.asarray(v) for k, v in kw.items()}
        d_profile, d_grid = weighted_gradient()(cls(**jkw), jnp.asarray(HARD))
        for name in kw:
            leaf = getattr(d_profile, name)
            assert np.all(np.isfinite(leaf)), f"{cls.__name__}: d/d{name} not finite at ell={ell}"
        assert np.all(np.isfinite(d_grid)), f"{cls.__name__}: d/dgrid not finite at ell={ell}"
        if kw["intensity"] == 0.0 or ell == (0.0, 0.0):
            continue  # size checked on the elliptical, non-zero profiles
        d_profile, d_grid = weighted_gradient()(cls(**jkw), jnp.asarray(ORDINARY))
        ad = {name: getattr(d_profile, name) for name in kw} | {"grid": d_grid}
        fd = fd_gradient(weighted_image, cls(**kw), ORDINARY)
        scale = max(np.max(np.abs(v)) for v in fd.values())
        for name, want in fd.items():
            assert_close(
                ad[name],
                want,
                rtol=1e-6,
                atol=1e-6 * scale,
                why=f"{cls.__name__} d/d{name}: central differences, h = 1e-5 "
                "(O(h^2) truncation plus eps/h rounding)",
                xp=jnp,
            )


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Sersic, dict(intensity=1.0, effective_radius=0.5, sersic_index=2.5)),
        (SersicCore, dict(intensity=1.0, effective_radius=0.5, sersic_index=1.5, radius_break=0.05, gamma=0.25,
                          alpha=3.0)),
    ],
    ids=["sersic", "core"],
)
def test_ellipticity_gradient_at_a_round_profile(cls, kwargs):
    """At ell_comps = (0, 0), where q and phi are not differentiable, the image is (its eccentric
    radius is smooth in e1, e2): the gradient matches central differences and is not 0."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    kw = dict(centre=np.array([0.05, -0.1]), ell_comps=np.zeros(2), **kwargs)
    d_profile, _ = weighted_gradient()(cls(**{k: jnp.asarray(v) for k, v in kw.items()}), jnp.asarray(ORDINARY))
    fd = fd_gradient(weighted_image, cls(**kw), ORDINARY)
    scale = max(np.max(np.abs(v)) for v in fd.values())
    assert np.max(np.abs(fd["ell_comps"])) > 1e-3 * scale  # a real derivative, not 0
    assert_close(d_profile.ell_comps, fd["ell_comps"], rtol=1e-6, atol=1e-6 * scale,
                 why=f"{cls.__name__} d/d ell_comps at (0, 0): central differences, h = 1e-5", xp=jnp)
    # and the value is continuous there: (0, 0) against the frame form at |e| = 1e-9
    grid = np.asarray(ORDINARY)
    round_ = cls(**kw).image_2d_from(grid)
    near = cls(**{**kw, "ell_comps": np.array([6e-10, -8e-10])}).image_2d_from(grid)
    np.testing.assert_allclose(near, round_, rtol=1e-7, atol=0)  # first order: ~|e| r dI/dr / I


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("cls", "kwargs", "name", "text"),
    [
        (Sersic, dict(sersic_index=0.3), "Sersic.sersic_index", "[0.36, 10]"),
        (Sersic, dict(sersic_index=10.5), "Sersic.sersic_index", "got 10.5"),
        (
            Sersic,
            dict(effective_radius=0.0),
            "Sersic.effective_radius",
            "(0, inf) [arcsec]; got 0.0",
        ),
        (Sersic, dict(intensity=-1.0), "Sersic.intensity", "[0, inf)"),
        (Sersic, dict(intensity=float("nan")), "Sersic.intensity", "nan"),
        (Sersic, dict(ell_comps=(0.8, 0.8)), "Sersic.ell_comps", "(0, 1]"),
        (Sersic, dict(ell_comps=(0.0, 1.0)), "Sersic.ell_comps", "(-1, 1)"),
        (SersicCore, dict(radius_break=0.0), "SersicCore.radius_break", "(0, inf) [arcsec]"),
        (SersicCore, dict(gamma=-0.1), "SersicCore.gamma", "[0, inf)"),
        (SersicCore, dict(alpha=0.0), "SersicCore.alpha", "(0, inf)"),
        (SersicCore, dict(sersic_index=0.2), "SersicCore.sersic_index", "[0.36, 10]"),
        (Gaussian, dict(sigma=0.0), "Gaussian.sigma", "(0, inf) [arcsec]; got 0.0"),
        (Gaussian, dict(intensity=-0.5), "Gaussian.intensity", "got -0.5"),
        (Gaussian, dict(ell_comps=(0.6, -0.9)), "Gaussian.ell_comps", "|e| = 1.08167"),
    ],
)
def test_validation_names_parameter_value_and_range(cls, kwargs, name, text):
    with pytest.raises(ParameterError, match=r"^" + name.replace(".", r"\.")) as info:
        cls(**kwargs)
    assert text in str(info.value), str(info.value)
    assert info.value.name == name


def test_validation_reports_halo_index_and_mismatched_lengths():
    with pytest.raises(ParameterError, match=r"halo 1 of 3"):
        Sersic(sersic_index=np.array([1.0, 12.0, 2.0]))
    with pytest.raises(ValueError, match=r"intensity: 2.*sigma: 3"):
        Gaussian(intensity=np.ones(2), sigma=np.ones(3))
