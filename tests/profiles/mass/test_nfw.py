"""Tests of xlens/profiles/mass/nfw.py: NFWSph, NFWTruncatedSph, cNFWSph.

The reference values at the hard points are in tests/profiles/test_reference.py
(every case of tests/data/profiles.json, every engine, float32 included). This
file checks what a table cannot: the stable building blocks against mpmath, the
float32 bound against float64, finite gradients, padding, the halo sum, the
lensing identities, the limits to NFWSph and the validation messages.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import mpmath
import numpy as np
import pytest
from helpers import FD, NUMPY, REF, assert_close
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from xlens.errors import ParameterError
from xlens.profiles.mass import NFWSph, NFWTruncatedSph, cNFWSph
from xlens.profiles.mass import nfw_math as nm

CLASSES = [NFWSph, NFWTruncatedSph, cNFWSph]
#: Padded-halo parameters of PHYSICS.md §16: exactly zero field, finite gradients.
PADDING = {"kappa_s": 0.0, "scale_radius": 1.0, "truncation_radius": 2.0, "core_radius": 0.1}
#: A representative halo of each class [arcsec]; tau = 8/3, f = r_c/r_s = 1/4. The radii and
#: CENTRE are dyadic, so on-axis points sit at r = r_s, r_t, r_c exactly (x = 1 exactly).
BASE = {
    NFWSph: {"kappa_s": 0.3, "scale_radius": 0.75},
    NFWTruncatedSph: {"kappa_s": 0.3, "scale_radius": 0.75, "truncation_radius": 2.0},
    cNFWSph: {"kappa_s": 0.3, "scale_radius": 0.75, "core_radius": 0.1875},
}
CENTRE = (0.25, -0.5)
METHODS = ("convergence_2d_from", "deflections_yx_2d_from", "potential_2d_from")
#: Sum of H haloes in one object vs H objects: the same terms added in another order.
REORDER_RTOL = 1e-13


def _hard_radii(cls, params):
    """The hard points of STYLE.md §7 for one halo: r = 0, r/r_s = 1e-4, r = r_s, r = r_t
    (or r = r_c), the series-band switches of both dtypes, and far out (x = 1e4) [arcsec]."""
    rs = params["scale_radius"]
    radii = [0.0, 1e-4 * rs, rs, 1e4 * rs]
    radii += [rs * math.sqrt(1.0 + u) for u in (-0.3, -0.05, 0.05, 0.3)]
    radii += [2.0 * rs, 4.0 * rs]  # the tNFW large-x switches (§9.2, §9.3)
    if cls is NFWTruncatedSph:
        radii.append(params["truncation_radius"])
        radii.append(4.0 * params["truncation_radius"])
    if cls is cNFWSph:
        radii.append(params["core_radius"])
    return radii


def _grid(radii, centre=(0.0, 0.0), angle=0.7):
    """Points at the given radii from ``centre`` along a ray at ``angle`` [rad]; shape (n, 2)."""
    r = np.asarray(radii, dtype=np.float64)
    return np.stack([centre[0] + r * math.sin(angle), centre[1] + r * math.cos(angle)], axis=-1)


def _hard_grid(cls, params, centre):
    """The hard radii on the +x axis (exact for dyadic values) and along an oblique ray."""
    radii = _hard_radii(cls, params)
    return np.concatenate([_grid(radii, centre, angle=0.0), _grid(radii[1:], centre, angle=2.2)])


# ------------------------------------------------------------------ building blocks vs mpmath


def _mp_fgh(x):
    """F, G, g, h of PHYSICS.md §7 by their textbook forms at 50 digits."""
    with mpmath.workdps(50):
        x = mpmath.mpf(x)
        if x < 1:
            acos_like = mpmath.acosh(1 / x)
            F = acos_like / mpmath.sqrt(1 - x * x)
            h = mpmath.log(x / 2) ** 2 - acos_like**2
        elif x > 1:
            acos_like = mpmath.acos(1 / x)
            F = acos_like / mpmath.sqrt(x * x - 1)
            h = mpmath.log(x / 2) ** 2 + acos_like**2
        else:
            F, h = mpmath.mpf(1), mpmath.log(2) ** 2
        G = (1 - F) / (x * x - 1) if x != 1 else mpmath.mpf(1) / 3
        return [float(v) for v in (F, G, mpmath.log(x / 2) + F, h)]


def test_nfw_basis_against_mpmath(backend):
    """F, G, g, h (PHYSICS.md §7) at small x, on both sides of each series switch, at x = 1
    and far out, against the textbook forms at 50 digits."""
    u_edges = [0.3, 0.05]
    x = [1e-6, 1e-3, 0.3, 1.0, 1.7, 30.0, 1e4]
    x += [math.sqrt(1 + s * u) * (1 + d) for u in u_edges for s in (-1, 1) for d in (-1e-9, 1e-9)]
    xp = backend.xp

    def fgh(v):
        b = nm.nfw_basis(v, xp=xp)
        return xp.stack([b.F, b.G, b.g, nm.nfw_h(b, xp=xp)], axis=-1)

    got = backend.jit(fgh)(backend.asarray(x))
    want = np.array([_mp_fgh(v) for v in x])
    # PHYSICS.md §7 measures <= 1.2e-14 over x in [1e-6, 1e4] in float64
    assert_close(got, want, rtol=REF.rtol("float64"), atol=0.0, why=f"F, G, g, h ({REF.why})",
                 xp=xp)


# ------------------------------------------------------------------ float32 deflection bound

#: float32 deflections vs float64 at the same (float32-representable) points. PHYSICS.md §16
#: quotes <= 4e-6 for NFW and tNFW. Worst measured at these points (jax 0.10, CPU): NFWSph
#: 2.9e-7, NFWTruncatedSph 1.0e-6 (tau = 0.3); a dense sweep over x in [1e-6, 1e4],
#: tau in [0.3, 100] gives 3.1e-7 (NFW) and 3.05e-6 (tNFW, tau = 0.3, x = 1.87, middle regime).
#: (cNFWSph computes in float64 whatever the grid dtype, PHYSICS.md §10.2, and is covered by
#: tests/profiles/test_reference.py in float32.)
F32_DEFLECTION_RTOL = 1e-5


@functools.cache
def _jitted(name):
    """One jitted function per use, so that equal shapes compile once across cases."""
    import jax

    if name == "deflections":
        return jax.jit(lambda p, g: p.deflections_yx_2d_from(g))
    methods = {
        "all": METHODS,
        "NFWSph-float32": METHODS[:2],
        "NFWTruncatedSph-float32": METHODS[1:2],
    }[name]

    def total(p, g):
        return sum(jax.numpy.sum(getattr(p, m)(g)) for m in methods)

    return jax.jit(jax.value_and_grad(total, argnums=(0, 1)))


@pytest.mark.jax
@pytest.mark.parametrize(
    ("cls", "params"),
    [
        pytest.param(NFWSph, {}, id="NFWSph"),
        *(
            pytest.param(NFWTruncatedSph, {"truncation_radius": 0.75 * tau}, id=f"tNFW-tau{tau:g}")
            for tau in (0.3, 1.0, 2.5, 24.0, 150.0)
        ),
    ],
)
def test_float32_deflections_within_bound(cls, params):
    jnp = pytest.importorskip("jax.numpy")
    full = {**BASE[cls], **params}
    x = np.concatenate([np.logspace(-5, 3, 33), np.linspace(1.0, 4.0, 31)])  # + middle regime
    sweep = _grid(full["scale_radius"] * x)
    grid32 = np.concatenate([_hard_grid(cls, full, (0.0, 0.0)), sweep]).astype(np.float32)
    ref = cls(centre=(0.0, 0.0), **full).deflections_yx_2d_from(grid32.astype(np.float64))
    prof32 = cls(centre=jnp.zeros(2, dtype=jnp.float32),
                 **{k: jnp.asarray(v, dtype=jnp.float32) for k, v in full.items()})
    out = _jitted("deflections")(prof32, jnp.asarray(grid32))
    assert out.dtype == jnp.float32
    out = np.asarray(out, dtype=np.float64)
    assert np.all(out[0] == 0.0), "a ray on the centre must be deflected by exactly 0"
    scale = np.hypot(ref[1:, 0], ref[1:, 1])[:, None]
    err = np.max(np.abs(out[1:] - ref[1:]) / scale)  # r > 0 everywhere after point 0
    assert err <= F32_DEFLECTION_RTOL, f"{cls.__name__} {params}: float32 relative error {err:.2e}"


# ------------------------------------------------------------------ gradients


def _padded_pair(cls, dtype, jnp):
    """A real halo at CENTRE and a padded one (PHYSICS.md §16) at (0.5, 0.5), as (2,) arrays,
    with a grid of the real halo's hard points plus the padded centre."""
    real = {"centre": CENTRE, **BASE[cls]}
    pad = {"centre": (0.5, 0.5), **{k: PADDING[k] for k in BASE[cls]}}
    profile = cls(**{k: jnp.asarray(np.stack([real[k], pad[k]]), dtype=dtype) for k in real})
    grid = np.concatenate([_hard_grid(cls, real, CENTRE), [pad["centre"]]])
    return real, profile, jnp.asarray(grid, dtype=dtype)


@pytest.mark.jax
@pytest.mark.parametrize("cls", CLASSES)
def test_gradients_finite_and_correct_at_hard_points(cls):
    """jax.grad of the sum of kappa, alpha and psi w.r.t. every parameter and the grid, at
    r = 0, r/r_s = 1e-4, r = r_s, r = r_t (r_c), x = 1e4 and the series switches, with a padded
    halo beside the real one: finite everywhere, exactly 0 w.r.t. the padded halo's radii and
    centre, and equal to central differences w.r.t. the real halo's radii. (One gradient of
    the sum: a non-finite gradient of any one output makes the sum's non-finite, and a single
    reverse pass keeps the XLA compile, which dominates this file's run time, to one per class.)"""
    jax = pytest.importorskip("jax")
    real, profile, grid = _padded_pair(cls, "float64", jax.numpy)
    fn = _jitted("all")
    _, (g_profile, g_grid) = fn(profile, grid)
    assert np.all(np.isfinite(np.asarray(g_grid))), f"{cls.__name__}: d/dgrid not finite"
    for name in real:
        leaf = np.asarray(getattr(g_profile, name))
        assert np.all(np.isfinite(leaf)), f"{cls.__name__}: d/d{name} not finite: {leaf}"
        if name != "kappa_s":  # a padded halo has no field, so no other derivative
            assert np.all(leaf[1] == 0.0), f"{cls.__name__}: d/d{name} of the padded halo {leaf}"
    for name in BASE[cls]:
        if name == "kappa_s":
            continue
        h = 1e-4 * real[name]
        values = np.asarray(getattr(profile, name))
        totals = [
            fn(dataclasses.replace(profile, **{name: jax.numpy.asarray(values + [s * h, 0.0])}),
               grid)[0]
            for s in (1.0, -1.0)
        ]
        fd = (totals[0] - totals[1]) / (2 * h)
        assert_close(getattr(g_profile, name)[0], fd, rtol=FD.rtol("float64"),
                     atol=0.0, why=f"{cls.__name__} d/d{name}: {FD.why}", xp=jax.numpy)


@pytest.mark.jax
@pytest.mark.parametrize("cls", [NFWSph, NFWTruncatedSph])
def test_float32_gradients_finite_at_hard_points(cls):
    """As above in float32, for the outputs computed in float32: NFWSph kappa and alpha,
    NFWTruncatedSph alpha (the tNFW convergence, every potential and all of cNFWSph are
    computed in float64, whose graphs the float64 test covers)."""
    jax = pytest.importorskip("jax")
    real, profile, grid = _padded_pair(cls, "float32", jax.numpy)
    _, grads = _jitted(f"{cls.__name__}-float32")(profile, grid)
    for path, leaf in jax.tree_util.tree_leaves_with_path(grads):
        assert np.all(np.isfinite(np.asarray(leaf))), (
            f"{cls.__name__}: non-finite float32 gradient {jax.tree_util.keystr(path)}"
        )


# ------------------------------------------------------------------ padding and halo sums


@pytest.fixture(params=[False, True], ids=["numpy", "numpy-ro"])
def as_array(request):
    """NumPy arrays, optionally read-only (an in-place write would fail, as on JAX)."""

    def convert(x):
        arr = np.array(x, dtype=np.float64)
        arr.setflags(write=not request.param)
        return arr

    return convert


def _population(cls, n):
    """n haloes of class ``cls`` with varied parameters (as a dict of (n,) arrays)."""
    rng = np.random.default_rng(7)
    out = {
        "centre": rng.uniform(-1.0, 1.0, (n, 2)),
        "kappa_s": rng.uniform(0.05, 0.5, n),
        "scale_radius": rng.uniform(0.2, 2.0, n),
    }
    if cls is NFWTruncatedSph:
        out["truncation_radius"] = out["scale_radius"] * rng.uniform(0.5, 30.0, n)
    if cls is cNFWSph:
        out["core_radius"] = out["scale_radius"] * np.array([0.05, 0.3, 0.995, 2.0][:n])
    return out


@pytest.mark.parametrize("cls", CLASSES)
def test_padded_haloes_add_exactly_zero(cls, as_array):
    real = _population(cls, 3)
    padded = {k: np.concatenate([v, np.broadcast_to(PADDING.get(k, 0.0), (2, *v.shape[1:]))])
              for k, v in real.items()}
    padded["centre"][3:] = real["centre"][0]  # a padded halo may sit anywhere, even on a ray
    grid = as_array(np.concatenate([_grid([0.0, 0.3, 1.0, 5.0]), real["centre"]]))
    a = cls(**{k: as_array(v) for k, v in real.items()})
    b = cls(**{k: as_array(v) for k, v in padded.items()})
    for method in METHODS:
        want, got = getattr(a, method)(grid), getattr(b, method)(grid)
        np.testing.assert_array_equal(got, want,
                                      err_msg=f"{cls.__name__}.{method}: padding changed the field")


@pytest.mark.parametrize("cls", CLASSES)
def test_many_haloes_equal_sum_of_single_haloes(cls, as_array):
    pop = _population(cls, 4)
    grid = as_array(_grid([0.0, 0.01, 0.4, 1.1, 6.0], centre=(0.2, 0.1)))
    many = cls(**{k: as_array(v) for k, v in pop.items()})
    for method in METHODS:
        singles = [getattr(cls(**{k: as_array(v[i]) for k, v in pop.items()}), method)(grid)
                   for i in range(4)]
        want = np.sum(singles, axis=0)
        assert_close(getattr(many, method)(grid), want, rtol=REORDER_RTOL,
                     atol=REORDER_RTOL * np.max(np.abs(want)),
                     why=f"{cls.__name__}.{method}: H haloes vs sum of singles (summation order)", xp=NUMPY)


# ------------------------------------------------------------------ properties (hypothesis)

#: Sensible bounds for the property tests, intersected with each class's ``ranges``.
SENSIBLE = {
    "kappa_s": (0.01, 1.0),
    "scale_radius": (0.3, 5.0),
    "truncation_radius": (0.3, 60.0),
    "core_radius": (0.01, 5.0),
}


def _from_range(cls, name, low, high):
    """Log-uniform draws inside ``cls.ranges[name]`` and within [low, high]."""
    rng = cls.ranges[name]
    low, high = max(low, rng.low), min(high, rng.high)
    assert low < high, f"{cls.__name__}.{name}: empty draw range"
    return st.floats(math.log(low), math.log(high)).map(math.exp)


def _params(cls, **bounds):
    names = [n for n in cls.ranges if n != "centre"]
    return st.fixed_dictionaries(
        {n: _from_range(cls, n, *bounds.get(n, SENSIBLE[n])) for n in names}
    )


_centres = st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0))
_angles = st.floats(0.0, 2 * math.pi)


def _ring(centre, radii, angle):
    """Points at ``radii`` [arcsec] around ``centre``, spread in angle."""
    ang = angle + np.arange(len(radii)) * 2.4
    r = np.asarray(radii)
    return np.stack([centre[0] + r * np.sin(ang), centre[1] + r * np.cos(ang)], -1)


def _all_classes(**bounds):
    return st.sampled_from(CLASSES).flatmap(
        lambda c: st.tuples(st.just(c), _params(c, **bounds))
    )


#: Radii for the finite-difference identities [arcsec]: >= 0.3 so that the O((h/r)^2)
#: truncation of a central difference with h = 1e-4 stays below 1e-7.
_fd_radii = st.lists(st.floats(0.3, 15.0), min_size=1, max_size=4)


@given(case=_all_classes(), centre=_centres, radii=_fd_radii, angle=_angles)
def test_divergence_of_deflections_is_twice_convergence(case, centre, radii, angle):
    cls, params = case
    profile = cls(centre=centre, **params)
    pts, h = _ring(centre, radii, angle), 1e-4
    shifts = np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    a = profile.deflections_yx_2d_from(pts[:, None, :] + shifts)
    div = (a[:, 0, 0] - a[:, 1, 0] + a[:, 2, 1] - a[:, 3, 1]) / (2 * h)
    kappa = profile.convergence_2d_from(pts)
    assert_close(div, 2 * kappa, rtol=FD.rtol("float64"), atol=0.0,
                 why=f"{cls.__name__} {params}: div alpha = 2 kappa ({FD.why})", xp=NUMPY)


@given(case=_all_classes(), centre=_centres, radii=_fd_radii, angle=_angles)
def test_deflections_are_gradient_of_potential(case, centre, radii, angle):
    cls, params = case
    profile = cls(centre=centre, **params)
    pts, h = _ring(centre, radii, angle), 1e-4
    shifts = np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    psi = profile.potential_2d_from(pts[:, None, :] + shifts)
    grad = np.stack([psi[:, 0] - psi[:, 1], psi[:, 2] - psi[:, 3]], -1) / (2 * h)
    alpha = profile.deflections_yx_2d_from(pts)
    scale = np.max(np.abs(alpha))
    assert_close(grad, alpha, rtol=FD.rtol("float64"), atol=FD.rtol("float64") * scale,
                 why=f"{cls.__name__} {params}: alpha = grad psi ({FD.why})", xp=NUMPY)


#: alpha from scipy quadrature of kappa: quad's epsrel plus float64 rounding of kappa.
QUAD_RTOL = 1e-10


@settings(max_examples=12)
@given(case=_all_classes(), radius=st.floats(1e-3, 50.0).map(float))
def test_deflection_is_enclosed_mass_over_pi_r(case, radius):
    """alpha(r) = M_2D(<r)/(pi r) = (2/r) int_0^r kappa r' dr' (PHYSICS.md §3)."""
    cls, params = case
    profile = cls(centre=(0.0, 0.0), **params)

    def integrand(s):  # r' = r s^2 removes the log-derivative singularity of kappa r' at 0
        rp = radius * s * s
        return float(profile.convergence_2d_from(np.array([0.0, rp]))) * rp * 2 * radius * s

    breaks = [math.sqrt(v / radius) for k, v in params.items()
              if k != "kappa_s" and v < radius]
    mass, _ = integrate.quad(integrand, 0.0, 1.0, points=breaks or None, epsabs=0.0,
                             epsrel=1e-12, limit=200)
    alpha = profile.deflections_yx_2d_from(np.array([0.0, radius]))
    assert_close(alpha[1], 2.0 * mass / radius, rtol=QUAD_RTOL, atol=0.0,
                 why=f"{cls.__name__} {params}: alpha = M_2D/(pi r), scipy quad of kappa", xp=NUMPY)
    assert alpha[0] == 0.0


#: Moving the centre and the grid together changes only the rounding of y - y_c
#: (|theta| <= 20 arcsec, r >= 0.05 arcsec: a few 1e-13 relative).
SHIFT_RTOL = 1e-11


@given(case=_all_classes(), centre=_centres, shift=_centres,
       radii=st.lists(st.floats(0.05, 15.0), min_size=1, max_size=4), angle=_angles)
def test_invariant_under_moving_centre_with_grid(case, centre, shift, radii, angle):
    cls, params = case
    pts = _ring(centre, radii, angle)
    moved = (centre[0] + shift[0], centre[1] + shift[1])
    a, b = cls(centre=centre, **params), cls(centre=moved, **params)
    for method in METHODS:
        want = getattr(a, method)(pts)
        assert_close(getattr(b, method)(pts + np.asarray(shift)), want, rtol=SHIFT_RTOL,
                     atol=SHIFT_RTOL * np.max(np.abs(want)),
                     why=f"{cls.__name__}.{method}: translation invariance (offset rounding)", xp=NUMPY)


def _nfw_of(params):
    return NFWSph(centre=(0.0, 0.0), kappa_s=params["kappa_s"], scale_radius=params["scale_radius"])


@given(params=_params(NFWTruncatedSph), log_tau=st.floats(math.log(1e3), math.log(1e5)),
       x=st.lists(st.floats(1e-3, 10.0), min_size=1, max_size=4))
def test_truncated_tends_to_nfw_as_truncation_radius_grows(params, log_tau, x):
    """PHYSICS.md §9.1: m -> g, L -> G as tau -> inf, ~1e-7 at tau = 1e4 for x <~ 1, growing
    as (x/tau)^2. Measured for kappa, alpha and psi: |rel| <= 1.6 ln(tau) (1 + x^2)/tau^2."""
    tau = math.exp(log_tau)
    rs = params["scale_radius"]
    tnfw = NFWTruncatedSph(centre=(0.0, 0.0), kappa_s=params["kappa_s"], scale_radius=rs,
                           truncation_radius=tau * rs)
    xs = np.asarray(x)
    pts = _ring((0.0, 0.0), xs * rs, 0.3)
    bound = 2.0 * math.log(tau) * (1.0 + xs**2) / tau**2
    for method in METHODS:
        want = getattr(_nfw_of(params), method)(pts)
        got = getattr(tnfw, method)(pts)
        rel = np.abs(got - want) / np.abs(want)
        if rel.ndim == 2:  # deflections: compare against the vector magnitude
            rel = np.max(np.abs(got - want), axis=-1) / np.hypot(want[:, 0], want[:, 1])
        assert np.all(rel <= bound), f"tNFW -> NFW, {method}: {rel} > {bound} (tau {tau:.3g})"


@given(params=_params(cNFWSph), log_f=st.floats(math.log(1e-6), math.log(1e-3)),
       x=st.lists(st.floats(1e-2, 100.0), min_size=1, max_size=4))
def test_cored_tends_to_nfw_as_core_radius_shrinks(params, log_f, x):
    """PHYSICS.md §10.1: f = r_c/r_s -> 0 gives NFW. The difference is first order in the
    core: measured |rel| <= 0.8, 1.3, 2.5 (f/X)(1 + X) for kappa, alpha, psi (f <= 1e-3)."""
    f = math.exp(log_f)
    rs = params["scale_radius"]
    cnfw = cNFWSph(centre=(0.0, 0.0), kappa_s=params["kappa_s"], scale_radius=rs,
                   core_radius=f * rs)
    xs = np.asarray(x)
    pts = _ring((0.0, 0.0), xs * rs, 0.3)
    bound = 3.0 * (f / xs) * (1.0 + xs)
    for method in METHODS:
        want = getattr(_nfw_of(params), method)(pts)
        got = getattr(cnfw, method)(pts)
        rel = np.abs(got - want) / np.abs(want)
        if rel.ndim == 2:
            rel = np.max(np.abs(got - want), axis=-1) / np.hypot(want[:, 0], want[:, 1])
        assert np.all(rel <= bound), f"cNFW -> NFW, {method}: {rel} > {bound} (f {f:.3g})"


#: The quadratic interpolation about f = 1 is good to 1.5e-7 and the general form at
#: f = 0.99, 1.01 to 3e-8 (PHYSICS.md §10.2): the two sides of each band edge agree to that.
BAND_EDGE_RTOL = 1e-6


@pytest.mark.parametrize("edge", [0.99, 1.01])
def test_cored_interpolation_band_is_continuous(edge):
    """cNFWSph just inside and just outside |1 - f| < 0.01 (PHYSICS.md §10.2)."""
    rs = 0.8
    pts = _grid(rs * np.array([1e-4, 0.3, 1.0, edge, 2.0, 50.0]))
    inside, outside = (cNFWSph(kappa_s=0.3, scale_radius=rs, core_radius=rs * (edge + d))
                       for d in ((1 - edge) * 1e-6, (edge - 1) * 1e-6))
    for method in METHODS:
        want = getattr(outside, method)(pts)
        assert_close(getattr(inside, method)(pts), want, rtol=BAND_EDGE_RTOL,
                     atol=BAND_EDGE_RTOL * np.max(np.abs(want)),
                     why=f"cNFW {method}: interpolation vs general form at f = {edge}", xp=NUMPY)


def test_cored_at_f_equal_one_has_known_convergence_at_scale_radius():
    """f = 1 (rho ~ (1 + r/r_s)^-3): kappa(r_s) = 2 kappa_s / 5 (PHYSICS.md §10.1)."""
    profile = cNFWSph(kappa_s=0.3, scale_radius=0.8, core_radius=0.8)
    kappa = profile.convergence_2d_from(np.array([[0.0, 0.8], [0.8, 0.0]]))
    assert_close(kappa, np.full(2, 0.4 * 0.3), rtol=REF.rtol("float64"), atol=0.0,
                 why=f"cNFW f = 1 middle node: kappa(1) = 2/5 kappa_s ({REF.why})", xp=NUMPY)


# ------------------------------------------------------------------ validation

BAD_VALUES = [
    ("scale_radius", -0.2, r"\(0, inf\) \[arcsec\]; got -0\.2"),
    ("scale_radius", 0.0, r"\(0, inf\) \[arcsec\]; got 0\.0"),
    ("kappa_s", -0.1, r"\[0, inf\) \(dimensionless\); got -0\.1"),
    ("kappa_s", float("nan"), r"\[0, inf\) \(dimensionless\); got nan"),
    ("truncation_radius", 0.0, r"\(0, inf\) \[arcsec\]; got 0\.0"),
    ("truncation_radius", float("inf"), r"\(0, inf\) \[arcsec\]; got inf"),
    ("core_radius", -1.0, r"\(0, inf\) \[arcsec\]; got -1\.0"),
    ("core_radius", 0.0, r"\(0, inf\) \[arcsec\]; got 0\.0"),
]


@pytest.mark.parametrize(
    ("cls", "name", "value", "message"),
    [
        pytest.param(cls, name, value, message, id=f"{cls.__name__}-{name}-{value}")
        for cls in CLASSES
        for name, value, message in BAD_VALUES
        if name in cls.ranges
    ],
)
def test_out_of_range_parameters_raise(cls, name, value, message):
    match = rf"^{cls.__name__}\.{name} must be in {message}"
    with pytest.raises(ParameterError, match=match) as err:
        cls(**{**BASE[cls], name: value})
    assert err.value.name == f"{cls.__name__}.{name}"
    assert err.value.value == value or (math.isnan(value) and math.isnan(err.value.value))


@pytest.mark.parametrize("cls", CLASSES)
def test_bad_halo_in_an_array_is_located(cls):
    values = np.array([1.0, 0.5, -0.3])
    with pytest.raises(ParameterError, match=r"got -0\.3 \(halo 2 of 3\)"):
        cls(**{**BASE[cls], "scale_radius": values, "kappa_s": np.full(3, 0.1)})


@pytest.mark.parametrize("cls", CLASSES)
def test_mismatched_halo_counts_raise(cls):
    with pytest.raises(ValueError, match=r"share one length H; got kappa_s: 3, scale_radius: 2"):
        cls(**{**BASE[cls], "kappa_s": np.full(3, 0.1), "scale_radius": np.ones(2)})
    with pytest.raises(ValueError, match=r"centre must have shape \(2,\) or \(H, 2\)"):
        cls(**{**BASE[cls], "centre": np.zeros(3)})


def test_padding_parameters_are_valid():
    """The padded-halo values of PHYSICS.md §16 pass validation (kappa_s = 0 is allowed)."""
    for cls in CLASSES:
        profile = cls(**{k: v for k, v in PADDING.items() if k in cls.ranges})
        out = profile.deflections_yx_2d_from(_grid([0.0, 0.5, 3.0]))
        assert np.all(out == 0.0)
