"""Tracer(plane_distances=...): comoving distances of the planes as data (may be traced).

Plane redshifts drawn per image (inside ``jit``) move the planes; the galaxies' static
redshifts then only order them. Checked against static tracers built at the same values.
"""

from __future__ import annotations

import numpy as np
import pytest

from xlens import Galaxy, Tracer
from xlens.cosmology import Planck15
from xlens.profiles.light import SersicCore
from xlens.profiles.mass import IsothermalSph, PowerLaw

GRID = np.stack(np.meshgrid(np.linspace(-1.5, 1.5, 7), np.linspace(-1.4, 1.6, 6), indexing="ij"), axis=-1)


def _galaxies(z_front=0.3, z_lens=0.5, z_source=1.2):
    return [
        Galaxy(z_front, mass=IsothermalSph(centre=(0.2, -0.3), einstein_radius=0.15)),
        Galaxy(z_lens, mass=PowerLaw(centre=(0.01, 0.02), ell_comps=(0.1, -0.05), einstein_radius=1.1, slope=2.1)),
        Galaxy(z_source, light=SersicCore()),
    ]


def _chi(*z):
    return np.asarray(Planck15.comoving_distance_mpc(np.asarray(z)), dtype=np.float64)


def test_explicit_distances_of_the_redshifts_give_the_same_rays():
    static = Tracer(_galaxies())
    given = Tracer(_galaxies(), plane_distances=_chi(0.3, 0.5, 1.2))
    for a, b in zip(static.traced_grid_2d_list_from(GRID), given.traced_grid_2d_list_from(GRID), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-15, atol=1e-15)


def test_distances_move_the_planes_like_a_tracer_at_those_redshifts():
    """Galaxies at the reference redshifts with the distances of others = a tracer at the others."""
    moved = Tracer(_galaxies(), plane_distances=_chi(0.41, 0.62, 2.3))
    there = Tracer(_galaxies(0.41, 0.62, 2.3))
    for a, b in zip(there.traced_grid_2d_list_from(GRID), moved.traced_grid_2d_list_from(GRID), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-13)
    # and they matter: the source-plane rays differ from the reference's by more than rounding
    ref = Tracer(_galaxies()).traced_grid_2d_list_from(GRID)[-1]
    assert np.max(np.abs(moved.traced_grid_2d_list_from(GRID)[-1] - ref)) > 1e-3


@pytest.mark.jax
def test_traced_redshifts_under_jit_and_grad():
    jax = pytest.importorskip("jax")
    from xlens import engine

    jnp = jax.numpy
    tracer_galaxies = _galaxies()

    def source_rays(z):  # z = (z_front, z_lens, z_source), traced
        chi = Planck15.comoving_distance_mpc(z)
        return Tracer(tracer_galaxies, plane_distances=chi).traced_grid_2d_list_from(jnp.asarray(GRID))[-1]

    fn = engine.jit(source_rays, "jax")
    for z in ((0.3, 0.5, 1.2), (0.41, 0.62, 2.3), (0.2, 0.7, 1.05)):
        want = Tracer(_galaxies(*z)).traced_grid_2d_list_from(GRID)[-1]
        np.testing.assert_allclose(np.asarray(fn(np.asarray(z))), want, rtol=1e-12, atol=1e-12)
    assert fn._cache_size() == 1  # other redshifts: the same program

    def summary(z):
        return jnp.sum(source_rays(z) * jnp.asarray(np.linspace(0.5, 1.5, GRID.size).reshape(GRID.shape)))

    z0 = np.array([0.3, 0.5, 1.2])
    with engine.float64_scope():
        grad = np.asarray(jax.grad(summary)(jnp.asarray(z0)))
    h = 1e-6
    fd = []
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        plus = Tracer(_galaxies(*(z0 + e))).traced_grid_2d_list_from(GRID)[-1]
        minus = Tracer(_galaxies(*(z0 - e))).traced_grid_2d_list_from(GRID)[-1]
        weights = np.linspace(0.5, 1.5, GRID.size).reshape(GRID.shape)
        fd.append(np.sum((plus - minus) * weights) / (2 * h))
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    assert np.all(np.abs(fd) > 1e-3)


def test_bad_plane_distances_name_the_rule():
    with pytest.raises(ValueError, match=r"plane_distances must have shape \(3,\)"):
        Tracer(_galaxies(), plane_distances=_chi(0.3, 0.5))
    with pytest.raises(ValueError, match=r"finite, > 0 and increasing"):
        Tracer(_galaxies(), plane_distances=_chi(0.5, 0.3, 1.2))
    with pytest.raises(ValueError, match=r"finite, > 0 and increasing"):
        Tracer(_galaxies(), plane_distances=np.array([1000.0, np.nan, 3000.0]))


def test_padded_keeps_the_distances():
    galaxies = _galaxies()
    galaxies[0] = Galaxy(0.3, a=IsothermalSph(centre=(0.2, -0.3), einstein_radius=0.1),
                         b=IsothermalSph(centre=(-0.4, 0.1), einstein_radius=0.05))
    tracer = Tracer(galaxies, plane_distances=_chi(0.41, 0.62, 2.3))
    padded = tracer.padded()
    np.testing.assert_array_equal(padded.plane_distances, tracer.plane_distances)
    np.testing.assert_allclose(padded.traced_grid_2d_list_from(GRID)[-1], tracer.traced_grid_2d_list_from(GRID)[-1],
                               rtol=1e-14, atol=1e-14)
