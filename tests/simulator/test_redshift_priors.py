"""Lens and source redshifts drawn per image (priors.redshifts.z_lens, z_source).

Drawn redshifts move every plane: the line-of-sight slabs, their mass functions, disc radii and
sheets, the subhalo disc's physical area and sheet, the haloes' redshift fields, and the
tracer's plane distances; all of it inside one compiled program. The expectations here are
independent of the code's traced tables: the line-of-sight count of an image is the double
cone's Sheth-Tormen integral at its (z_lens, z_source) (``DoubleCone.expected_count``, a direct
quadrature that knows nothing of planes and slabs), and the subhalo count is the analytic
``Sigma_sub A(z_lens) int (m/m0)^alpha dm/m0``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import counting, poisson_z_checks

from xlens.config import config_from_dict, config_to_dict
from xlens.cosmology import Planck15
from xlens.halo_model.mass_function import DoubleCone
from xlens.halos import LineOfSightConfig, LineOfSightPopulation, SubhaloConfig, SubhaloPopulation
from xlens.halos.line_of_sight import plane_counts, plane_layout_at
from xlens.model import Fixed, SimulatorConfig, Uniform, parameter_columns
from xlens.simulator import Simulator

BASE = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1)
SUB = SubhaloConfig(sigma_sub=0.05, m_min=1e8, m_max=1e10, radius=2.0)
LOS = LineOfSightConfig(n_planes=5, cone_radius=2.0, m_min=1e7, m_max=1e10)
Z = {"redshifts": {"z_lens": Uniform(0.3, 0.8), "z_source": Uniform(1.2, 2.5)}}


def _config(priors=None, **kwargs):
    return SimulatorConfig(**{**BASE, "subhalos": SUB, "line_of_sight": LOS, **kwargs},
                           priors=dict(priors or {}))


def _subhalo_mean(z_lens, cfg: SubhaloConfig = SUB):
    area = math.pi * (cfg.radius * np.asarray(Planck15.kpc_per_arcsec(np.asarray(z_lens)))) ** 2
    b = cfg.alpha + 1.0
    return cfg.sigma_sub * area * ((cfg.m_max / 1e8) ** b - (cfg.m_min / 1e8) ** b) / b


@pytest.mark.jax
def test_counts_follow_the_drawn_redshifts_in_one_compile():
    jax = pytest.importorskip("jax")
    from xlens.engine import jit

    sim = Simulator(_config(Z), engine="jax")
    assert sim.z_reference == (0.55, 1.85)
    fn, traces = counting(sim.sample_params)
    draw = jit(jax.vmap(fn), "jax")
    n_draws = 300
    params, info = draw(jax.random.split(jax.random.key(51), n_draws))
    draw(jax.random.split(jax.random.key(52), n_draws))
    assert len(traces) == 1
    assert not np.any(np.asarray(info["subhalos"].overflow)) and not np.any(np.asarray(info["line_of_sight"].overflow))
    zl = np.asarray(params.hyper["redshifts"]["z_lens"])
    zs = np.asarray(params.hyper["redshifts"]["z_source"])
    assert np.all((zl >= 0.3) & (zl <= 0.8)) and np.all((zs >= 1.2) & (zs <= 2.5))

    # line of sight: every plane's count summed = the double cone's count at the image's redshifts
    n_los = np.asarray(info["line_of_sight"].n_kept).sum(axis=1).astype(float)
    lam_los = np.array([DoubleCone(LOS.cone_radius, a, b).expected_count(0.0, b, LOS.m_min, LOS.m_max)
                        for a, b in zip(zl, zs, strict=True)]) * LOS.delta_los
    assert lam_los.min() > 20 and lam_los.max() / lam_los.min() > 1.5  # the redshifts matter
    poisson_z_checks("line of sight", n_los, lam_los)
    # subhaloes: the physical area of the disc at the drawn lens redshift
    n_sub = np.asarray(info["subhalos"].n_kept)[:, 0].astype(float)
    poisson_z_checks("subhaloes", n_sub, _subhalo_mean(zl))

    # the haloes carry the drawn redshifts; line-of-sight planes sit at the layout of each draw
    sub = params.subhalos["subhalos"].profile
    for field, want in (("redshift_object", zl), ("redshift_source", zs)):
        got = np.asarray(getattr(sub, field))
        np.testing.assert_array_equal(got, np.broadcast_to(want[:, None], got.shape))
    los = params.line_of_sight.profile
    counts = plane_counts(LOS.n_planes, *sim.z_reference)
    for i in (0, 7, 123):
        planes, _ = plane_layout_at(*counts, zl[i], zs[i], xp=np)
        np.testing.assert_allclose(np.asarray(los.redshift_object)[i, :, 0], planes, rtol=1e-15)
        assert np.all(np.asarray(los.redshift_source)[i] == zs[i])


def test_traced_tables_equal_the_static_ones_at_the_same_redshifts():
    """At any (z_l, z_s) with the reference's plane counts, the traced line-of-sight tables are a
    population built there (counts and sheets to 1e-6: the z table of dn/dln m is linear in z at
    0.005; radii to rounding); the subhalo mean and sheet are exact."""
    los_cfg = dataclasses.replace(LOS, z_lens=0.55, z_source=1.85)
    pop = LineOfSightPopulation(los_cfg, z_range=((0.3, 0.8), (1.2, 2.5)))
    for zl, zs in ((0.55, 1.85), (0.62, 2.1), (0.45, 1.6)):
        assert plane_counts(5, zl, zs) == plane_counts(5, 0.55, 1.85)
        static = LineOfSightPopulation(dataclasses.replace(LOS, z_lens=zl, z_source=zs))
        tab = pop.at_redshifts(zl, zs, np)
        np.testing.assert_allclose(tab["redshifts"], static.plane_redshifts, rtol=1e-15)
        np.testing.assert_allclose(tab["radii"], static.angular_radii, rtol=1e-14)
        np.testing.assert_allclose(np.sum(tab["cells"][0], axis=1), static.table.total, rtol=1e-6)
        np.testing.assert_allclose(pop._sheets_at(tab, zs, None, np), static.sheet_kappa, rtol=1e-6)
        sub_cfg = dataclasses.replace(SUB, z_lens=0.55, z_source=1.85, sheet=True)
        sub = SubhaloPopulation(sub_cfg, z_range=((0.3, 0.8), (1.2, 2.5)))
        there = SubhaloPopulation(dataclasses.replace(sub_cfg, z_lens=zl, z_source=zs))
        assert sub.expected_counts["subhalos"] * float(sub._redshift_scale(zl, np)) == pytest.approx(
            there.expected_counts["subhalos"], rel=1e-12)
        [(_, prof)] = sub.plane_profiles({}, z_lens=np.float64(zl), z_source=np.float64(zs))
        assert float(prof["subhalo_sheet"].kappa) == pytest.approx(there.sheet_kappa, rel=1e-12)


def test_capacity_holds_the_largest_mean_over_the_redshift_box():
    los_cfg = dataclasses.replace(LOS, z_lens=0.55, z_source=1.85)
    pop = LineOfSightPopulation(los_cfg, z_range=((0.3, 0.8), (1.2, 2.5)))
    corner = pop.at_redshifts(0.8, 2.5, np)  # a corner of the box
    assert pop.largest_mean >= float(np.max(np.sum(corner["cells"][0], axis=1)))
    assert pop.largest_mean > float(np.max(pop.table.total))  # the box reaches beyond the reference
    sub = SubhaloPopulation(dataclasses.replace(SUB, z_lens=0.55, z_source=1.85), z_range=((0.3, 0.8), (1.2, 2.5)))
    assert sub.largest_means["subhalos"] == pytest.approx(float(_subhalo_mean(0.8)), rel=1e-9)


def test_images_at_drawn_redshifts_equal_a_simulator_built_at_them():
    """The traced path's model image = the static simulator's at the same redshifts and haloes
    (line-of-sight sheets differ by 1e-6 relative: 1e-6 of the image's peak)."""
    zl, zs = 0.62, 2.1
    sim = Simulator(_config({"redshifts": {"z_lens": Uniform(zl, zl), "z_source": Uniform(zs, zs)}}), engine="numpy")
    assert sim.population_priors["redshifts"]  # drawn (a point), so the traced path runs
    static = Simulator(_config(z_lens=zl, z_source=zs,
                               subhalos=dataclasses.replace(SUB, z_lens=zl, z_source=zs),
                               line_of_sight=dataclasses.replace(LOS, z_lens=zl, z_source=zs)), engine="numpy")
    assert plane_counts(5, zl, zs) == plane_counts(5, *sim.z_reference)
    params, _ = sim.sample_params(3)
    a = np.asarray(sim.model_image(params))
    b = np.asarray(static.model_image(dataclasses.replace(params, hyper={})))
    assert a.max() > 0.1
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * a.max())


def test_labels_round_trip_and_one_drawn_redshift():
    cfg = _config({"redshifts": {"z_source": Uniform(1.5, 3.0)}})
    cols = parameter_columns(cfg)
    assert cols[-1] == ("redshifts.z_source", "dimensionless")
    assert config_from_dict(config_to_dict(cfg)) == cfg
    sim = Simulator(cfg, engine="numpy")
    assert sim.z_reference == (0.5, 2.25)
    ex = sim.sample(4)
    assert set(ex.params.hyper) == {"redshifts"} and 1.5 <= float(ex.params.hyper["redshifts"]["z_source"]) <= 3.0
    assert np.all(np.isfinite(np.asarray(ex.data)))
    both = parameter_columns(_config(Z))
    assert [c for c, _ in both[-2:]] == ["redshifts.z_lens", "redshifts.z_source"]
    fixed = _config({"redshifts": {"z_lens": Fixed(0.5), "z_source": 1.0}})
    assert parameter_columns(fixed) == parameter_columns(_config())


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        ({"redshifts": {"z_lens": (0.3, 1.3), "z_source": (1.2, 2.5)}},
         r"the z_source low \(1.2\) must be > the z_lens high \(1.3\)"),
        ({"redshifts": {"z_source": (0.4, 2.0)}}, r"the z_source low \(0.4\) must be > the z_lens high \(0.5\)"),
        ({"redshifts": {"z_source": (1.5, 12.0)}}, r"reaches 12.0, outside the allowed range \(0, 10\]"),
        ({"redshifts": {"z_lens": (0.0, 0.5)}}, r"reaches 0.0, outside the allowed range \(0, 10\]"),
        ({"redshifts": {"z_lenz": (0.3, 0.5)}}, r"unknown key 'z_lenz'"),
    ],
)
def test_bad_redshift_priors(priors, message):
    with pytest.raises(ValueError, match=message):
        _config(priors)


def test_populations_refuse_redshifts_they_were_not_built_for():
    with pytest.raises(ValueError, match="z_range"):
        SubhaloPopulation(SUB).sample(0, z_lens=np.float64(0.5), z_source=np.float64(1.0))
    with pytest.raises(ValueError, match="both z_lens and z_source"):
        SubhaloPopulation(SUB, z_range=((0.3, 0.8), (1.2, 2.5))).sample(0, z_lens=np.float64(0.5))
    with pytest.raises(ValueError, match="z_range"):
        LineOfSightPopulation(LOS).sample(0, z_lens=np.float64(0.5), z_source=np.float64(1.0))
    with pytest.raises(ValueError, match=r"0 < z_lens_low <= z_lens_high < z_source_low"):
        LineOfSightPopulation(LOS, z_range=((0.3, 1.3), (1.2, 2.5)))
