"""Multi-plane ray tracing: reference positions, padded batches, one compile for any halo count."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import AGREE, REF, counting, load

from xlens import Galaxy, Tracer, mp
from xlens.halos import HaloBatch

TABLE = load("multiplane.json")


def _tracer_from_case(case, backend):
    galaxies = []
    for plane in case["planes"]:
        profiles = {}
        for k, spec in enumerate(plane["profiles"]):
            spec = dict(spec)
            cls = getattr(mp, spec.pop("type"))
            profiles[f"p{k}"] = cls(**{n: backend.asarray(v) for n, v in spec.items()})
        galaxies.append(Galaxy(plane["redshift"], **profiles))
    galaxies.append(Galaxy(case["source_redshift"]))
    return Tracer(galaxies)


@pytest.mark.parametrize("case", TABLE["cases"], ids=[c["id"] for c in TABLE["cases"]])
def test_multiplane_reference(case, backend):
    tracer = _tracer_from_case(case, backend)
    grid = backend.asarray([r["image_plane_yx"] for r in case["rays"]])
    traced = backend.jit(lambda t, g: t.traced_grid_2d_list_from(g))(tracer, grid)
    assert len(traced) == len(case["planes"]) + 1
    for j in range(len(case["planes"])):
        want = np.array([r["positions_on_planes_yx"][j] for r in case["rays"]])
        np.testing.assert_allclose(np.asarray(traced[j]), want, rtol=REF.float64, atol=1e-13,
                                   err_msg=f"plane {j}: {REF.why}")
    want = np.array([r["source_plane_yx"] for r in case["rays"]])
    # atol: source positions pass through ~0; 1e-13 arcsec is far below any pixel
    np.testing.assert_allclose(np.asarray(traced[-1]), want, rtol=REF.float64, atol=1e-13,
                               err_msg=f"source plane: {REF.why}")
    defl = tracer.deflections_yx_2d_from(grid)
    np.testing.assert_allclose(np.asarray(defl), np.asarray(grid) - want, rtol=1e-10, atol=1e-13)


def test_single_plane_tracer_is_the_lens_equation(backend):
    lens = mp.IsothermalSph(centre=backend.asarray([0.1, 0.0]), einstein_radius=1.2)
    tracer = Tracer([Galaxy(0.5, mass=lens), Galaxy(2.0)])
    grid = backend.asarray(np.random.default_rng(0).normal(size=(4, 5, 2)))
    src = tracer.traced_grid_2d_list_from(grid)[-1]
    np.testing.assert_allclose(np.asarray(src), np.asarray(grid) - np.asarray(lens.deflections_yx_2d_from(grid)),
                               rtol=1e-14, atol=1e-15)


def _halo_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return {
        "centre": rng.uniform(-1.5, 1.5, size=(n, 2)),
        "kappa_s": rng.uniform(0.01, 0.1, size=n),
        "scale_radius": rng.uniform(0.05, 0.3, size=n),
        "truncation_radius": rng.uniform(1.0, 3.0, size=n),
    }


def _los_tracer(counts, capacity, backend, seed=0):
    """A macro lens at z = 0.5 and one padded tNFW batch on each of four other planes."""
    galaxies = [Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0),
                       shear=mp.ExternalShear(gamma_1=0.02, gamma_2=-0.01))]
    for i, (z, n) in enumerate(zip((0.2, 0.35, 0.7, 0.85), counts, strict=True)):
        batch = HaloBatch.from_arrays(mp.NFWTruncatedSph, capacity=capacity, **_halo_arrays(n, seed + i))
        galaxies.append(Galaxy(z, halos=batch))
    galaxies.append(Galaxy(1.0))
    return Tracer(galaxies)


def test_batches_equal_list_of_profiles(backend):
    """A tracer of padded batches equals the tracer built from the same haloes as single profiles."""
    counts = (3, 0, 5, 2)
    padded = _los_tracer(counts, 8, backend)
    galaxies = [Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0),
                       shear=mp.ExternalShear(gamma_1=0.02, gamma_2=-0.01))]
    for i, (z, n) in enumerate(zip((0.2, 0.35, 0.7, 0.85), counts, strict=True)):
        arr = _halo_arrays(n, i)
        profs = {f"h{k}": mp.NFWTruncatedSph(**{key: v[k] for key, v in arr.items()}) for k in range(n)}
        galaxies.append(Galaxy(z, **profs))
    galaxies.append(Galaxy(1.0))
    loose = Tracer(galaxies)
    grid = backend.asarray(np.random.default_rng(5).uniform(-2, 2, size=(50, 2)))
    a = backend.jit(lambda t, g: t.deflections_yx_2d_from(g))(padded, grid)
    b = loose.deflections_yx_2d_from(grid)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=AGREE.float64, atol=1e-14, err_msg=AGREE.why)


def test_one_compile_for_any_halo_count():
    """5, 17 and 50 haloes per plane at capacity 64 trace the jitted function exactly once."""
    jax = pytest.importorskip("jax")
    from conftest import Backend

    backend = Backend("jax")
    deflect, traces = counting(lambda tracer, grid: tracer.deflections_yx_2d_from(grid))
    deflect = jax.jit(deflect)
    grid = jax.numpy.asarray(np.random.default_rng(2).uniform(-2, 2, size=(20, 2)))
    outs = []
    for n in (5, 17, 50):
        out = deflect(_los_tracer((n, n, n, n), 64, backend, seed=n), grid)
        assert np.all(np.isfinite(np.asarray(out)))
        outs.append(np.asarray(out))
    assert len(traces) == 1, f"traced {len(traces)} times for 3 halo counts at one capacity"
    assert not np.allclose(outs[0], outs[2])  # the haloes did change the result


def test_planes_in_front_of_the_lens_run_in_their_own_scan_and_stay_differentiable():
    """Two plane scans when planes lie in front of the main lens (their rays do not depend on it:
    reverse mode then does not carry cotangents back through them; docs/performance.md), one
    otherwise; gradients through both match central finite differences (float64): the lens's
    Einstein radius (behind the split) and a halo's kappa_s on a front plane."""
    jax = pytest.importorskip("jax")
    from conftest import Backend

    backend = Backend("jax")
    with jax.enable_x64(True):
        grid = jax.numpy.asarray(np.random.default_rng(5).uniform(-1.5, 1.5, size=(12, 2)))
        tracer = jax.tree_util.tree_map(jax.numpy.asarray, _los_tracer((3, 2, 4, 1), 4, backend, seed=3))

    def n_scans(t):
        jaxpr = jax.make_jaxpr(lambda g: t.traced_grid_2d_list_from(g)[-1])(grid)
        return sum(eqn.primitive.name == "scan" for eqn in jaxpr.jaxpr.eqns)

    def source_sum(t):
        return jax.numpy.sum(t.traced_grid_2d_list_from(grid)[-1] ** 2)

    def with_einstein_radius(t, b):
        lens = t.galaxies[0]
        galaxies = (Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=b), shear=lens.profiles["shear"]),
                    *t.galaxies[1:])
        return Tracer(list(galaxies))

    def with_front_kappa(t, k):
        g = t.galaxies[1]  # z = 0.2, in front of the lens
        batch = g.profiles["halos"]
        kappa = jax.numpy.asarray(batch.profile.kappa_s).at[0].set(k)
        prof = dataclasses.replace(batch.profile, kappa_s=kappa)
        return Tracer([t.galaxies[0], Galaxy(g.redshift, halos=HaloBatch(profile=prof, mask=batch.mask)),
                       *t.galaxies[2:]])

    with jax.enable_x64(True):
        assert n_scans(tracer) == 2
        behind_only = Tracer([g for g in tracer.galaxies if g.redshift >= 0.5])
        assert n_scans(behind_only) == 1
        for build, x0 in ((with_einstein_radius, 1.0), (with_front_kappa, 0.05)):
            f = jax.jit(lambda x, build=build: source_sum(build(tracer, x)))
            grad = float(jax.grad(f)(jax.numpy.float64(x0)))
            h = 1e-5 * x0
            fd = (float(f(jax.numpy.float64(x0 + h))) - float(f(jax.numpy.float64(x0 - h)))) / (2 * h)
            assert grad != 0.0
            # central differences in float64: truncation ~h^2 times the third derivative, rounding ~1e-16 f / h
            assert abs(grad - fd) <= 1e-6 * abs(fd), (build.__name__, grad, fd)


def test_numpy_and_jax_tracers_agree():
    pytest.importorskip("jax")
    from conftest import Backend

    np_b, jx_b = Backend("numpy"), Backend("jax")
    grid = np.random.default_rng(3).uniform(-2, 2, size=(30, 2))
    a = _los_tracer((4, 9, 1, 6), 16, np_b).traced_grid_2d_list_from(grid)
    b = jx_b.jit(lambda t, g: t.traced_grid_2d_list_from(g))(_los_tracer((4, 9, 1, 6), 16, jx_b), jx_b.asarray(grid))
    for pa, pb in zip(a, b, strict=True):
        scale = np.max(np.abs(pa))
        np.testing.assert_allclose(np.asarray(pb), pa, rtol=AGREE.float64, atol=1e-12 * scale, err_msg=AGREE.why)


def test_bad_redshifts_are_errors():
    with pytest.raises(ValueError, match=r"Galaxy.redshift must be in \[0, inf\); got -0.1"):
        Galaxy(-0.1)
    with pytest.raises(ValueError, match="redshift must be in"):
        Galaxy(float("nan"))
    with pytest.raises(TypeError, match="must be a mass or light profile"):
        Galaxy(0.5, mass=3.0)


def test_mass_behind_the_source_is_an_error():
    lens = Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0))
    behind = Galaxy(2.0, mass=mp.PointMass(einstein_radius=0.1))
    with pytest.raises(ValueError, match=r"a galaxy at z = 2.0 has mass profiles but lies on the last plane"):
        Tracer([lens, behind])


def test_overflow_names_both_numbers():
    with pytest.raises(ValueError, match="20 haloes of NFWTruncatedSph exceed the capacity 16"):
        HaloBatch.from_arrays(mp.NFWTruncatedSph, capacity=16, **_halo_arrays(20, 0))
