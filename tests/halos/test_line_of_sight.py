"""Line-of-sight population: slab counts, plane layout, draws on both engines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from population_draws import (
    ENGINES,
    assert_mean,
    draw_many,
    ks_test,
    population,
)

from xlens.halo_model.mass_function import (
    sheth_tormen_dndlnm,
)
from xlens.halos import (
    plane_layout,
)


def test_line_of_sight_plane_counts_are_slab_integrals():
    los = population("los")
    assert los.n_planes == 8 and 0.5 in los.plane_redshifts
    for i, (a, b) in enumerate(zip(los.slab_edges[:-1], los.slab_edges[1:], strict=True)):
        # the table (log-linear in ln m, 0.02 dex) vs Gauss-Legendre quadrature: < 1e-5
        want = los.cone.expected_count(a, b, 1e7, 1e10, n_z=16, n_m=32)
        assert los.expected_counts[i] == pytest.approx(want, rel=2e-5), f"plane {i}"


def test_plane_layout():
    z, edges = plane_layout(8, 0.5, 1.0)
    assert z.size == 8 and edges.size == 9
    assert edges[0] == 0.0 and edges[-1] == 1.0 and np.all(np.diff(edges) > 0)
    assert np.all((edges[:-1] < z) & (z < edges[1:]))
    assert 0.5 in z
    z1, edges1 = plane_layout(1, 0.3, 2.0)
    np.testing.assert_array_equal(z1, [0.3])
    np.testing.assert_array_equal(edges1, [0.0, 2.0])


@pytest.mark.parametrize("eng", ENGINES)
def test_line_of_sight_counts_masses_positions(eng):
    los, d = population("los"), draw_many("los", eng)
    for i, mean in enumerate(los.expected_counts):
        assert_mean(d["n_drawn"][:, i], mean, mean, f"plane {i} count")  # 8 x 6.3e-5
    assert not d["overflow"].any()
    mask = d["los/mask"] > 0.5
    np.testing.assert_array_equal(mask.sum(-1), d["n_drawn"])

    # masses: probability integral transform with each plane's slab-integrated ST CDF, built
    # here by trapezoid on 4001 nodes with 16 z nodes per piece (the population: 24 nodes,
    # piecewise power law); pooled PIT values must be uniform (false alarm 1e-3)
    lnm = np.linspace(math.log(1e7), math.log(1e10), 4001)
    pit = []
    for i in range(los.n_planes):
        z, wz = los.cone.redshift_nodes(los.slab_edges[i], los.slab_edges[i + 1], 16)
        dens = sheth_tormen_dndlnm(np.exp(lnm)[:, None], z[None, :]) @ wz
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(lnm))])
        m = d["los/mass"][:, i][mask[:, i]]
        pit.append(np.interp(np.log(m), lnm, cdf / cdf[-1]))
        # positions in the plane's disc (radius of the double cone / chi)
        r2 = (d["los/centre"][:, i][mask[:, i]] ** 2).sum(-1) / los.angular_radii[i] ** 2
        assert r2.size == 0 or r2.max() <= 1.0 + 1e-12
    pit = np.concatenate(pit)
    rng = np.random.default_rng(0)
    ks_test(rng.permutation(pit), "uniform", "LOS masses (PIT)")
    yx = d["los/centre"][mask]
    plane = np.broadcast_to(np.arange(los.n_planes)[None, :, None], mask.shape)[mask]
    r2 = (yx ** 2).sum(-1) / los.angular_radii[plane] ** 2
    ks_test(rng.permutation(r2), "uniform", "LOS (r/R)^2")
