"""What both populations share: sheets, overflow reports, plane profiles for the tracer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from population_draws import (
    ENGINES,
    assert_mean,
    draw_many,
    jitted_sample,
    ks_test,
    population,
    rendered_mass,
    sample_arrays,
)

from xlens import Galaxy, Tracer, engine, mp
from xlens.cosmology import Planck15
from xlens.errors import CapacityOverflowError
from xlens.halo_model import ludlow16_concentration, nfw_mass_factor, truncated_nfw_mass_ratio
from xlens.halo_model.mass_function import (
    sheth_tormen_dndlnm,
)
from xlens.halos import (
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
)


def test_rendered_profile_carries_the_sheet_mass():
    """The rendered tNFW profiles carry M200 m_inf(2c) / mu(c), as the sheets assume."""
    batches, _ = population("cdm").sample(7)
    b = batches["subhalos"]
    lens = b.masked_profile()
    sel = np.asarray(b.mask) > 0.5
    ell = float(Planck15.kpc_per_arcsec(0.5))
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    ks, rs, rt = (np.asarray(getattr(lens, n))[sel] for n in
                  ("kappa_s", "scale_radius", "truncation_radius"))
    total = 4 * np.pi * ks * (rs * ell) ** 2 * truncated_nfw_mass_ratio(rt / rs) * sigma_cr
    m = np.asarray(b.profile.mass_at_200)[sel]
    c = np.asarray(ludlow16_concentration(m, 0.5))
    np.testing.assert_allclose(total, m * truncated_nfw_mass_ratio(2 * c) / nfw_mass_factor(c),
                               rtol=1e-10)


def test_sheets_equal_the_expected_rendered_mass():
    """kappa_sheet = -int m_ren dN / (Sigma_cr A), by quadrature independent of the tables."""
    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    cfg = sub.config

    def m_ren(m, z):
        c = np.asarray(ludlow16_concentration(m, z))
        return m * truncated_nfw_mass_ratio(2 * c) / np.asarray(nfw_mass_factor(c))

    norm = cfg.sigma_sub * cfg.area_kpc2 / 1e8
    mass = scipy.integrate.quad(lambda m: norm * (m / 1e8) ** cfg.alpha * m_ren(m, 0.5), 1e7, 1e10,
                                epsrel=1e-10, limit=200)[0]
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
    assert sub.sheet_kappa == pytest.approx(-mass / (sigma_cr * cfg.area_kpc2), rel=1e-8)

    los = population("los")
    x, w = np.polynomial.legendre.leggauss(40)
    for i in (0, 4, 6):
        zi = los.plane_redshifts[i]
        z, wz = los.cone.redshift_nodes(los.slab_edges[i], los.slab_edges[i + 1], 16)
        lnm = 0.5 * math.log(1e3) * x + 0.5 * math.log(1e17)
        m = np.exp(lnm)
        dn = sheth_tormen_dndlnm(m[:, None], z[None, :]) @ wz
        mass = 0.5 * math.log(1e3) * np.sum(w * dn * m_ren(m, zi))
        area = np.pi * (los.angular_radii[i] * float(Planck15.kpc_per_arcsec(zi))) ** 2
        sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(zi, 1.0))
        # the table interpolates dn/dln m log-linearly between 0.02-dex nodes: ~1e-5
        want = -mass / (sigma_cr * area)
        assert los.sheet_kappa[i] == pytest.approx(want, rel=5e-5), f"plane {i}"


@pytest.mark.parametrize("eng", ENGINES)
def test_sheets_cancel_the_mean_rendered_convergence(eng):
    """Monte Carlo: mean over draws of sum(m_ren) / (Sigma_cr A) + kappa_sheet = 0 (4 SE)."""
    m_ren = rendered_mass
    los, d = population("los"), draw_many("los", eng)
    for i, z in enumerate(los.plane_redshifts):
        m = d["los/mass"][:, i]
        total = np.sum(np.where(d["los/mask"][:, i] > 0.5, m_ren(m, z), 0.0), axis=-1)
        area = np.pi * (los.angular_radii[i] * float(Planck15.kpc_per_arcsec(z))) ** 2
        kappa = total / (float(Planck15.critical_surface_density_msun_per_kpc2(z, 1.0)) * area)
        assert_mean(kappa, -los.sheet_kappa[i], kappa.var(ddof=1), f"plane {i} mean kappa")

    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    d = draw_many("cdm", eng)
    m = d["subhalos/mass"]
    total = np.sum(np.where(d["subhalos/mask"] > 0.5, m_ren(m, 0.5), 0.0), axis=-1)
    kappa = total / (float(Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0))
                     * sub.config.area_kpc2)
    assert_mean(kappa, -sub.sheet_kappa, kappa.var(ddof=1), "subhalo mean kappa")


# ===================================================================== overflow, jit, vmap, keys
@pytest.mark.parametrize("eng", ENGINES)
def test_overflow_is_flagged_and_reported(eng):
    pop = population("tiny")  # capacity 8 for a mean of 246
    if eng == "jax":
        jax = engine.import_jax()
        outs = [jitted_sample("tiny")(jax.random.key(s)) for s in range(3)]
    else:
        outs = [pop.sample(s) for s in range(3)]
    d = {k: np.stack([sample_arrays(o)[k] for o in outs]) for k in sample_arrays(outs[0])}
    assert d["overflow"].all()
    assert np.all(d["n_drawn"][:, 0] > 8) and np.all(d["n_kept"][:, 0] == 8)
    assert np.all(d["subhalos/mask"].sum(-1) == 8)
    n0 = int(d["n_drawn"][0, 0])
    with pytest.raises(CapacityOverflowError, match=f"family 'subhalos' drew {n0} haloes but its "
                                                    r"capacity is 8.*capacity=512 or more"):
        pop.check(outs[0][1])
    with pytest.warns(RuntimeWarning, match="capacity is 8"):
        pop.check(outs[0][1], action="warn")
    stacked = type(outs[0][1])(*(np.stack([np.asarray(o[1][i]) for o in outs]) for i in range(3)))
    with pytest.raises(CapacityOverflowError, match=f"drew {n0} haloes.*realisation 0 of 3; "
                                                    "3 overflowed"):
        pop.check(stacked)
    population("cdm").check(population("cdm").sample(0)[1])  # no overflow: silent


def test_plane_profiles_feed_the_tracer():
    sub = SubhaloPopulation(SubhaloConfig(sheet=True))
    los = population("los")
    k1, k2 = engine.split_key(3, 2)
    subs = [Galaxy(z, **p) for z, p in sub.plane_profiles(sub.sample(k1)[0])]
    planes = [Galaxy(z, **p) for z, p in los.plane_profiles(los.sample(k2)[0])]
    lens = Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0))
    tracer = Tracer([lens, *subs, *planes, Galaxy(1.0)])
    assert tracer.n_planes == los.n_planes + 1  # LOS planes (one at z_lens) + source
    assert planes[4].profiles["los_sheet"].kappa == los.sheet_kappa[4]
    assert subs[0].profiles["subhalo_sheet"].kappa == sub.sheet_kappa
    # every plane shares one structure (one scanned body): the LOS batch, the subhaloes' batch
    # (empty off the lens plane) and a sheet; the lens and its second sheet (the subhaloes') are its own
    from xlens.engine import tree_signature
    from xlens.tracer import uniform_planes

    shared, own = uniform_planes(tracer._plane_masses()[:-1])
    assert len({tree_signature(p) for p in shared}) == 1
    assert [len(o) for o in own] == [0, 0, 0, 0, 2, 0, 0, 0]
    assert len(shared[0][0]) == 2 and not np.asarray(shared[0][0][1].mask).any()
    grid = np.random.default_rng(0).uniform(-2, 2, size=(50, 2))
    defl = tracer.deflections_yx_2d_from(grid)
    assert defl.shape == (50, 2) and np.all(np.isfinite(defl))


def test_edge_cases_and_centre_override():
    empty = SubhaloPopulation(SubhaloConfig(sigma_sub=0.0, sheet=True))
    batches, info = empty.sample(1)
    assert empty.capacities["subhalos"] == 8 and int(info.n_drawn[0]) == 0
    assert not np.asarray(batches["subhalos"].mask).any() and empty.sheet_kappa == 0.0
    none = LineOfSightPopulation(LineOfSightConfig(delta_los=0.0))
    assert not np.asarray(none.sample(1)[0].mask).any() and np.all(none.sheet_kappa == 0.0)
    one = LineOfSightPopulation(LineOfSightConfig(n_planes=1))
    assert one.expected_counts.sum() == pytest.approx(population("los").expected_counts.sum(), rel=1e-6)
    # alpha = -1: uniform in ln m (KS false alarm 1e-3)
    flat = SubhaloPopulation(SubhaloConfig(alpha=-1.0))
    draws = [sample_arrays(flat.sample(i)) for i in range(10)]
    m = np.concatenate([d["subhalos/mass"][d["subhalos/mask"] > 0.5] for d in draws])
    ks_test(np.log(m / 1e7) / math.log(1e3), "uniform", "alpha = -1 masses")
    assert flat.expected_counts["subhalos"] == pytest.approx(0.025 * 1118.02 * math.log(1e3), 1e-4)
    # a centre given to sample() moves the disc and the sheet
    sub = SubhaloPopulation(SubhaloConfig(sheet=True, radius=0.5))
    centre = np.array([1.0, -2.0])
    galaxies = [Galaxy(z, **p) for z, p in sub.plane_profiles(sub.sample(3, centre)[0], centre)]
    yx = np.asarray(galaxies[0].profiles["subhalos"].profile.centre)
    assert np.all(np.hypot(yx[:, 0] - 1.0, yx[:, 1] + 2.0) <= 0.5)
    np.testing.assert_array_equal(np.asarray(galaxies[0].profiles["subhalo_sheet"].centre),
                                  [1.0, -2.0])
