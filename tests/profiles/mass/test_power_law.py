"""PowerLaw: the series term bound, its truncation against 2F1, identities, gradients, validation.

The reference values (tests/profiles/test_reference.py) pin the fields at the
hard points; here the series length is checked against its own bound and
against scipy's hypergeometric function, and the lensing identities of
PHYSICS.md §3 are checked on random parameters drawn from ``PowerLaw.ranges``.
"""

from __future__ import annotations

import functools
import math

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
import scipy.special
from helpers import AGREE, FD, NUMPY, assert_close, fd_gradient, from_range

from xlens import engine
from xlens.errors import ParameterError
from xlens.profiles.mass import PowerLaw, power_law

# --------------------------------------------------------------------------- strategies



@st.composite
def ell_comps(draw, q_min):
    """ell_comps with q in [q_min, 1] and any position angle (PHYSICS.md §1)."""
    q = draw(st.floats(q_min, 1.0))
    phi = draw(st.floats(0.0, math.pi))
    f = (1.0 - q) / (1.0 + q)
    return np.array([f * math.sin(2 * phi), f * math.cos(2 * phi)])


@st.composite
def power_laws(draw):
    return dict(
        centre=np.array([draw(from_range(PowerLaw, "centre", -1.0, 1.0)) for _ in range(2)]),
        ell_comps=draw(ell_comps(PowerLaw.q_min)),
        einstein_radius=draw(from_range(PowerLaw, "einstein_radius", 0.2, 2.5)),
        slope=draw(from_range(PowerLaw, "slope", 1.05, 2.95)),
    )


#: Offsets from the centre [arcsec] at which identities are checked: three rings
#: of radius 0.8, 1.4 and 2.3 (far enough out that h = 1e-4 differences of a
#: field with a scale length q r >= 0.16 stay at the FD tolerance).
_ANGLES = np.linspace(0.1, 2 * np.pi + 0.1, 7, endpoint=False)
OFFSETS = np.concatenate(
    [r * np.stack([np.sin(_ANGLES), np.cos(_ANGLES)], -1) for r in (0.8, 1.4, 2.3)]
)
H_FD = 1e-4


def divergence_fd(profile, grid, h=H_FD):
    """Central differences: ``(d alpha_y/dy + d alpha_x/dx, |d alpha_y/dy| + |d alpha_x/dx|)``.

    The second value is the scale of the FD error: it is relative to the two
    terms, not to their sum 2 kappa, which vanishes as slope -> 3 while alpha
    does not (the point-mass limit).
    """
    dy, dx = np.array([h, 0.0]), np.array([0.0, h])
    a = profile.deflections_yx_2d_from
    d_yy = (a(grid + dy)[:, 0] - a(grid - dy)[:, 0]) / (2 * h)
    d_xx = (a(grid + dx)[:, 1] - a(grid - dx)[:, 1]) / (2 * h)
    return d_yy + d_xx, np.abs(d_yy) + np.abs(d_xx)


def gradient_fd(profile, grid, h=H_FD):
    """Central-difference (d psi/dy, d psi/dx)."""
    dy, dx = np.array([h, 0.0]), np.array([0.0, h])
    p = profile.potential_2d_from
    return np.stack([p(grid + dy) - p(grid - dy), p(grid + dx) - p(grid - dx)], -1) / (2 * h)


# --------------------------------------------------------------------------- series length


def test_series_terms_match_physics_table():
    # PHYSICS.md §4.4, "bound" columns, and the counts xlens uses.
    table = {
        (0.1, 1e-5): 69,
        (0.2, 1e-5): 33,
        (0.5, 1e-5): 12,
        (0.9, 1e-5): 4,
        (0.1, 1e-8): 104,
        (0.2, 1e-8): 50,
        (0.5, 1e-8): 18,
        (0.9, 1e-8): 7,
    }
    got = {k: power_law._series_terms(*k) for k in table}
    assert got == table
    assert power_law._N_TERMS == {"float64": 67, "float32": 33}
    assert power_law._series_terms(1.0, 1e-5) == 1
    for name, size in power_law._SERIES_BLOCK.items():
        assert (power_law._N_TERMS[name] - 1) % size == 0, (
            f"{name}: N - 1 is not a whole number of blocks"
        )


@hypothesis.given(q=st.floats(0.05, 0.99), log_eps=st.floats(-14.0, -2.0))
def test_series_terms_is_smallest_count_meeting_the_bound(q, log_eps):
    eps = 10.0**log_eps
    n = power_law._series_terms(q, eps)
    f = (1 - q) / (1 + q)

    def bound(k):
        return (1 + f) / (1 - f) * f**k

    assert bound(n) <= eps * (1 + 1e-12)
    assert n == 1 or bound(n - 1) > eps * (1 - 1e-12)


def test_series_terms_rejects_bad_input():
    with pytest.raises(ValueError, match="q_min"):
        power_law._series_terms(0.0, 1e-5)
    with pytest.raises(ValueError, match="eps"):
        power_law._series_terms(0.5, 1.0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_series_truncation_against_hyp2f1(dtype, monkeypatch):
    """At q = q_min the truncated series meets its target against scipy's 2F1.

    The series is run in float64 with the term count of ``dtype``, so only the
    truncation is measured (float32 rounding is the reference tests' business).
    Measured worst (t -> 2): 1.6e-12 with 67 terms, 1.5e-6 with 33.
    """
    from array_api_compat import numpy as xp

    monkeypatch.setitem(power_law._N_TERMS, "float64", power_law._N_TERMS[dtype])
    monkeypatch.setitem(power_law._SERIES_BLOCK, "float64", power_law._SERIES_BLOCK[dtype])
    q = power_law._Q_MIN
    f = (1 - q) / (1 + q)
    phi = np.linspace(
        0.0, np.pi / 2, 401
    )  # Omega(-phi) = conj(Omega(phi)), Omega(pi - phi) = -conj
    t = np.array([0.01, 0.3, 1.0, 1.5, 1.8, 1.95, 1.999])[:, None]
    re, im = power_law._tm15_omega(
        xp.asarray(np.cos(phi))[None, :],
        xp.asarray(np.sin(phi))[None, :],
        xp.asarray(np.full_like(t, f)),
        xp.asarray(t),
        xp=xp,
    )
    z = np.exp(1j * phi)[None, :]
    exact = z * scipy.special.hyp2f1(1.0, t / 2, 2.0 - t / 2, -f * z**2)
    rel = np.abs(np.asarray(re) + 1j * np.asarray(im) - exact) / np.abs(exact)
    eps = power_law._SERIES_EPS[dtype]
    assert rel.max() <= eps, f"{dtype}: worst truncation {rel.max():.2e} > target {eps:.0e}"
    # the count is not wastefully large either: the worst case uses > 1% of the budget
    assert rel.max() > 0.01 * eps, f"{dtype}: worst truncation {rel.max():.2e} far below {eps:.0e}"


# --------------------------------------------------------------------------- identities (NumPy)


@hypothesis.given(kw=power_laws())
def test_divergence_of_deflection_is_twice_convergence(kw):
    profile = PowerLaw(**kw)
    grid = kw["centre"] + OFFSETS
    div, scale = divergence_fd(profile, grid)
    err = np.abs(div - 2 * profile.convergence_2d_from(grid))
    assert np.all(err <= FD.float64 * scale), (
        f"div alpha = 2 kappa ({FD.why}): max {np.max(err / scale):.2e} of |d_y a_y| + |d_x a_x|"
    )


@hypothesis.given(kw=power_laws())
def test_deflection_is_gradient_of_potential(kw):
    profile = PowerLaw(**kw)
    grid = kw["centre"] + OFFSETS
    alpha = profile.deflections_yx_2d_from(grid)
    scale = np.hypot(alpha[:, 0], alpha[:, 1])[:, None]
    err = np.abs(gradient_fd(profile, grid) - alpha)
    assert np.all(err <= FD.float64 * scale), (
        f"alpha = grad psi ({FD.why}): max {np.max(err / scale):.2e}"
    )


@hypothesis.given(kw=power_laws(), shift=st.tuples(st.floats(-2, 2), st.floats(-2, 2)))
def test_moving_centre_and_grid_together_changes_nothing(kw, shift):
    grid = kw["centre"] + OFFSETS
    moved = PowerLaw(**{**kw, "centre": kw["centre"] + np.array(shift)})
    for method in ("convergence_2d_from", "deflections_yx_2d_from", "potential_2d_from"):
        ref = getattr(PowerLaw(**kw), method)(grid)
        assert_close(
            getattr(moved, method)(grid + np.array(shift)),
            ref,
            rtol=AGREE.float64,
            atol=AGREE.float64 * np.max(np.abs(ref)),
            why=f"{method}: only the rounding of y - y_c differs",
            xp=NUMPY,
        )


@hypothesis.given(kws=st.lists(power_laws(), min_size=3, max_size=3))
def test_halo_axis_sums_single_profiles(kws):
    stacked = PowerLaw(**{k: np.stack([kw[k] for kw in kws]) for k in kws[0]})
    grid = OFFSETS
    for method in ("convergence_2d_from", "deflections_yx_2d_from", "potential_2d_from"):
        ref = sum(getattr(PowerLaw(**kw), method)(grid) for kw in kws)
        assert_close(
            getattr(stacked, method)(grid),
            ref,
            rtol=AGREE.float64,
            atol=AGREE.float64 * np.max(np.abs(ref)),
            why=f"{method}: H = 3 equals the sum of three single profiles (rounding only)",
            xp=NUMPY,
        )


def test_round_profile_matches_closed_form():
    """q = 1: kappa = (2 - t)/2 (theta_E/r)^t, alpha = theta_E^t r^(1 - t) (dy, dx)/r (§4.1, §3)."""
    te, slope = 1.3, 2.4
    t = slope - 1
    grid = OFFSETS
    r = np.hypot(grid[:, 0], grid[:, 1])
    p = PowerLaw(einstein_radius=te, slope=slope)
    why = "spherical power law in closed form; only rounding differs"
    assert_close(
        p.convergence_2d_from(grid), (2 - t) / 2 * (te / r) ** t, rtol=1e-14, atol=0, why=why, xp=NUMPY
    )
    assert_close(
        p.deflections_yx_2d_from(grid),
        (te**t * r ** (-t))[:, None] * grid,
        rtol=1e-14,
        atol=0,
        why=why, xp=NUMPY
    )
    assert_close(
        p.potential_2d_from(grid), te**t * r ** (2 - t) / (2 - t), rtol=1e-14, atol=0, why=why, xp=NUMPY
    )


def test_centre_is_finite_and_clamped():
    """At the exact centre every field is finite; for slope < 2 the deflection vanishes."""
    grid = np.zeros((1, 2))
    for slope in (1.2, 2.0, 2.9):
        p = PowerLaw(ell_comps=(0.1, 0.2), slope=slope)
        for method in ("convergence_2d_from", "deflections_yx_2d_from", "potential_2d_from"):
            assert np.all(np.isfinite(getattr(p, method)(grid))), (slope, method)
        assert np.all(p.deflections_yx_2d_from(grid) == 0.0), (
            "Omega_0 = (q x', y')/eps = 0 at the centre"
        )


@pytest.mark.jax
def test_float32_within_physics_bound():
    """float32 vs float64 at q = q_min, gamma = 2.9: PHYSICS.md §4.4 bounds (2.5e-6, 7e-6)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    q, phi = power_law._Q_MIN, 0.3
    f = (1 - q) / (1 + q)
    kw = dict(ell_comps=np.array([f * np.sin(2 * phi), f * np.cos(2 * phi)]), slope=2.9)
    p32 = PowerLaw(**{k: jnp.asarray(v, dtype="float32") for k, v in kw.items()})
    fields = jax.jit(lambda p, g: (p.deflections_yx_2d_from(g), p.potential_2d_from(g)))
    a32, p32 = fields(p32, jnp.asarray(OFFSETS, dtype="float32"))
    assert a32.dtype == jnp.float32
    ref = PowerLaw(**kw)  # float64 NumPy reference
    a64, psi64 = ref.deflections_yx_2d_from(OFFSETS), ref.potential_2d_from(OFFSETS)
    rel_a = np.max(np.hypot(*(np.asarray(a32, np.float64) - a64).T) / np.hypot(*a64.T))
    rel_p = np.max(np.abs(np.asarray(p32, np.float64) - psi64) / np.abs(psi64))
    assert rel_a <= 2.5e-6, f"float32 deflection error {rel_a:.2e}"
    assert rel_p <= 7e-6, f"float32 potential error {rel_p:.2e}"


# --------------------------------------------------------------------------- gradients (JAX)

#: Hard points: the exact centre, both axes, 1e-9 from the centre (inside the
#: float64 core) and an ordinary point.
HARD = np.array([[0.0, 0.0], [0.0, 0.7], [-0.5, 0.0], [1e-9, -2e-9], [0.3, -1.1]])
#: Ordinary points, as many as HARD so that the jitted gradient is reused.
ORDINARY = np.array([[0.4, 0.9], [-1.2, 0.3], [0.7, -0.6], [-0.2, -1.5], [1.9, 0.1]])


def weighted_fields(profile, grid):
    """sum(w * [kappa, alpha_y, alpha_x, psi]) with positive weights w.

    Its gradient is finite iff every entry of the Jacobian is (a non-finite
    entry cannot cancel), and it is one scalar for an FD check of size.
    """
    xp = engine.namespace(grid)
    fields = xp.concat(
        [
            profile.convergence_2d_from(grid),
            xp.reshape(profile.deflections_yx_2d_from(grid), (-1,)),
            profile.potential_2d_from(grid),
        ]
    )
    return xp.sum(xp.linspace(1.0, 2.0, fields.shape[0], dtype=fields.dtype) * fields)


@functools.cache
def weighted_gradient():
    """jax.grad (reverse mode, as users call it), jitted once for the whole module."""
    import jax

    return jax.jit(jax.grad(weighted_fields, argnums=(0, 1)))



@pytest.mark.jax
def test_gradients_finite_everywhere():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    for ell in ((0.0, 0.0), (0.3, -0.2), (0.0, 0.6)):
        for slope in (1.3, 2.0, 2.7):
            p = PowerLaw(
                centre=jnp.asarray([0.0, 0.0]),
                ell_comps=jnp.asarray(ell),
                einstein_radius=jnp.asarray(1.2),
                slope=jnp.asarray(slope),
            )
            d_profile, d_grid = weighted_gradient()(p, jnp.asarray(HARD))
            for name in ("centre", "ell_comps", "einstein_radius", "slope"):
                leaf = getattr(d_profile, name)
                assert np.all(np.isfinite(leaf)), f"d/d{name} not finite: ell={ell}, slope={slope}"
            assert np.all(np.isfinite(d_grid)), f"d/dgrid not finite at ell={ell}, slope={slope}"


@pytest.mark.jax
@pytest.mark.parametrize("ell", [(0.2, 0.1), (0.0, 0.0)])
def test_gradient_matches_finite_differences(ell):
    """AD of every parameter and of the grid vs central differences (h = 1e-5)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    kw = dict(centre=np.array([0.1, -0.2]), ell_comps=np.array(ell), einstein_radius=1.1, slope=2.2)
    d_profile, d_grid = weighted_gradient()(
        PowerLaw(**{k: jnp.asarray(v) for k, v in kw.items()}), jnp.asarray(ORDINARY)
    )
    fd = fd_gradient(weighted_fields, PowerLaw(**kw), ORDINARY)
    ad = {name: getattr(d_profile, name) for name in kw} | {"grid": d_grid}
    scale = max(np.max(np.abs(v)) for v in fd.values())
    for name, want in fd.items():
        if name == "ell_comps" and ell == (0.0, 0.0):
            continue  # a cone in e at 0 for slope != 2: no derivative (see test_isothermal)
        assert_close(
            ad[name],
            want,
            rtol=FD.float64,
            atol=FD.float64 * scale,
            why=f"d/d{name}: central differences, h = 1e-5 (O(h^2) + eps/h)",
            xp=jnp,
        )


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "name", "text"),
    [
        (dict(slope=1.0), "PowerLaw.slope", "(1, 3)"),
        (dict(slope=3.0), "PowerLaw.slope", "(1, 3)"),
        (dict(slope=0.5), "PowerLaw.slope", "got 0.5"),
        (dict(slope=float("nan")), "PowerLaw.slope", "nan"),
        (dict(einstein_radius=0.0), "PowerLaw.einstein_radius", "(0, inf) [arcsec]; got 0.0"),
        (dict(einstein_radius=float("inf")), "PowerLaw.einstein_radius", "got inf"),
        (dict(ell_comps=(0.0, 0.7)), "PowerLaw.ell_comps", "q = 0.176471"),
        (dict(ell_comps=(0.8, 0.8)), "PowerLaw.ell_comps", "[0.2, 1]"),
        (dict(ell_comps=(1.0, 0.0)), "PowerLaw.ell_comps", "(-1, 1)"),
        (dict(centre=(0.0, float("nan"))), "PowerLaw.centre", "nan"),
    ],
)
def test_validation_names_parameter_value_and_range(kwargs, name, text):
    with pytest.raises(ParameterError, match=r"^" + name.replace(".", r"\.")) as info:
        PowerLaw(**kwargs)
    assert text in str(info.value), str(info.value)
    assert info.value.name == name


def test_validation_axis_ratio_reports_halo_and_bounds():
    ell = np.array([[0.0, 0.1], [0.0, 0.6], [0.5, 0.5]])
    with pytest.raises(ParameterError, match=r"halo 2 of 3") as info:
        PowerLaw(ell_comps=ell, einstein_radius=np.ones(3))
    assert (info.value.low, info.value.high) == (power_law._Q_MIN, 1.0)
    assert info.value.value == pytest.approx((1 - math.sqrt(0.5)) / (1 + math.sqrt(0.5)))
    assert "q >= 0.2" in str(info.value)


def test_validation_accepts_q_min_exactly():
    """q = q_min is inside the closed range [q_min, 1], also when the ell_comps written for
    it round off to a q a few ulp below q_min; a q genuinely below q_min is rejected."""
    q_min = power_law._Q_MIN
    cases = [(0.0, 2.0 / 3.0), (0.6408411306255459, 0.18375823721133278)]  # 2nd: reference sky frame
    qs = []
    for e in cases:
        f = np.sqrt(e[0] ** 2 + e[1] ** 2)
        qs.append(float((1.0 - f) / (1.0 + f)))  # PHYSICS.md §1
        assert abs(qs[-1] - q_min) <= 4 * np.finfo(np.float64).eps, (e, qs[-1])
        p = PowerLaw(ell_comps=e)
        np.testing.assert_array_equal(np.asarray(p.ell_comps), np.asarray(e))
    assert min(qs) < q_min, "one case must round below q_min, or the rounding slack is untested"
    q = q_min * (1.0 - 1e-9)  # far above rounding, far below any meaningful axis ratio change
    f = (1.0 - q) / (1.0 + q)
    with pytest.raises(ParameterError, match=r"^PowerLaw\.ell_comps") as info:
        PowerLaw(ell_comps=(0.0, f))
    assert info.value.value == pytest.approx(q, rel=1e-12)


def test_validation_rejects_mismatched_halo_lengths():
    with pytest.raises(ValueError, match=r"einstein_radius: 3.*slope: 2"):
        PowerLaw(einstein_radius=np.ones(3), slope=np.full(2, 2.0))


@pytest.mark.jax
@pytest.mark.parametrize("slope", [2.0, 1.7, 2.4])
def test_ellipticity_gradient_at_a_round_power_law(slope):
    """At ell_comps = (0, 0) the gradient of sum(w [kappa, alpha, psi]) w.r.t. ell_comps matches
    central differences (h = 1e-5) and is not 0. For slope 2 (the SIE) the profile is smooth there;
    otherwise the axis-ratio prefactor adds a cone (2 - g)|e|/2 x kappa_0, which central
    differences cancel: both give the symmetric derivative (docs/profiles.md). The cone times
    the linear term is odd in e, an O(h) error of central differences: h = 1e-7 there (rounding
    eps/h ~ 1e-9)."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    grid = np.array([[0.4, 0.9], [-1.2, 0.3], [0.7, -0.6], [-0.2, -1.5]])

    def fields(profile, g):
        xp = engine.namespace(g)
        out = xp.concat([profile.convergence_2d_from(g), xp.reshape(profile.deflections_yx_2d_from(g), (-1,)),
                         profile.potential_2d_from(g)])
        return xp.sum(xp.linspace(1.0, 2.0, out.shape[0], dtype=out.dtype) * out)

    kw = dict(centre=np.array([0.1, -0.2]), ell_comps=np.zeros(2), einstein_radius=1.1, slope=slope)
    ad = jax.grad(fields)(PowerLaw(**{k: jnp.asarray(v) for k, v in kw.items()}), jnp.asarray(grid))
    fd = fd_gradient(fields, PowerLaw(**kw), grid, h=1e-5 if slope == 2.0 else 1e-7)
    assert np.max(np.abs(fd["ell_comps"])) > 0.1
    assert_close(ad.ell_comps, fd["ell_comps"], rtol=FD.float64, atol=FD.float64 * np.max(np.abs(fd["ell_comps"])),
                 why=f"PowerLaw(slope={slope}) d/d ell_comps at (0, 0): central differences", xp=jnp)
    # the other parameters' gradients are unchanged by the added terms (0 in value at e = 0)
    for name in ("centre", "einstein_radius", "slope"):
        scale = np.max(np.abs(fd[name]))
        assert_close(getattr(ad, name), fd[name], rtol=FD.float64, atol=FD.float64 * scale,
                     why=f"PowerLaw d/d{name} at e = 0", xp=jnp)
