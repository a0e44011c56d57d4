"""The WDM half-mode mass drawn per image (priors.subhalos.m_hm, priors.line_of_sight.m_hm).

A drawn ``m_hm`` thins the CDM draws of a WDM population with S(m; m_hm) inside the
compiled program: a thinned Poisson process is a Poisson process, so the kept count of
an image is Poisson with mean ``int dN S(m; m_hm)``. The subhalo expectation is computed
here, independently of the code's tables: the mass function of docs/populations.md,
``dN/dm = Sigma_sub A (m/m0)^alpha / m0``, times the Lovell (2020) subhalo suppression
``S = (1 + (a m_hm/m)^b)^c`` with (a, b, c) = (4.2, 2.5, -0.2) (PHYSICS.md §14.2),
integrated with ``scipy.integrate.quad``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import counting
from scipy.integrate import quad

from xlens.cosmology import Planck15
from xlens.engine import tree_leaves
from xlens.halos import LineOfSightConfig, LineOfSightPopulation, SubhaloConfig, SubhaloPopulation
from xlens.halos.sampling import SheetTable, family_at
from xlens.model import Fixed, LogUniform, SimulatorConfig, parameter_columns
from xlens.simulator import Simulator

BASE = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1)
SUB = SubhaloConfig(sigma_sub=0.025, m_min=1e7, m_max=1e10, radius=2.0, dark_matter="wdm", m_hm=1e8)
LOS = LineOfSightConfig(n_planes=3, m_min=1e7, m_max=1e10, cone_radius=2.0, dark_matter="wdm", m_hm=1e8)
M_HM = {"subhalos": {"m_hm": LogUniform(1e7, 1e10)}, "line_of_sight": {"m_hm": LogUniform(1e7, 1e10)}}


def _config(priors=None, **kwargs):
    return SimulatorConfig(**{**BASE, "subhalos": SUB, "line_of_sight": LOS, **kwargs},
                           priors=dict(priors or {}))


def _subhalo_mean(m_hm: float, cfg: SubhaloConfig = SUB) -> float:
    """Sigma_sub A int (m/m0)^alpha S(m; m_hm) dm/m0 over [m_min, m_max] (F = 1), by quad in ln m."""
    area = math.pi * (cfg.radius * float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2  # [kpc^2]
    a, b, c = 4.2, 2.5, -0.2

    def integrand(ln_m):
        m = math.exp(ln_m)
        return (m / 1e8) ** (cfg.alpha + 1.0) * (1.0 + (a * m_hm / m) ** b) ** c

    value, _ = quad(integrand, math.log(cfg.m_min), math.log(cfg.m_max), epsabs=0.0, epsrel=1e-10, limit=200)
    return cfg.sigma_sub * area * value


@pytest.mark.jax
def test_kept_counts_follow_the_drawn_half_mode_mass_in_one_compile():
    jax = pytest.importorskip("jax")
    from xlens.engine import jit

    sim = Simulator(_config(M_HM), engine="jax")
    fn, traces = counting(sim.sample_params)
    draw = jit(jax.vmap(fn), "jax")
    n_draws = 400
    params, info = draw(jax.random.split(jax.random.key(21), n_draws))
    draw(jax.random.split(jax.random.key(22), n_draws))
    assert len(traces) == 1  # other keys and other m_hm values: the same program
    assert not np.any(np.asarray(info["subhalos"].overflow))
    m_sub = np.asarray(params.hyper["subhalos"]["m_hm"])
    m_los = np.asarray(params.hyper["line_of_sight"]["m_hm"])
    assert np.all((m_sub >= 1e7) & (m_sub <= 1e10)) and np.all((m_los >= 1e7) & (m_los <= 1e10))
    # log-uniform: log10 m_hm is uniform on [7, 10] (Kolmogorov-Smirnov at the 1e-3 level)
    from scipy.stats import kstest

    assert kstest(np.log10(m_sub), "uniform", args=(7.0, 3.0)).pvalue > 1e-3
    # the kept haloes are those with mask 1; n_kept is their count
    assert np.array_equal(np.asarray(info["subhalos"].n_kept)[:, 0],
                          np.asarray(params.subhalos["subhalos"].mask).sum(axis=1))

    # line of sight: the code's slab-integrated mass function (its quadrature rule per plane)
    # times S(m; m_hm) of the configured coefficients, summed over planes
    pop = sim.los_population
    rules = [pop.table.quadrature(i) for i in range(pop.n_planes)]
    assert LOS.wdm_coefficients == "lovell2020_field"
    a, b, c = 2.3, 0.8, -1.0  # Lovell (2020) field haloes (PHYSICS.md §14.2)

    def los_mean(m_hm):
        return sum(float(np.sum(w * (1.0 + (a * m_hm / m) ** b) ** c)) for m, w in rules)

    checks = {
        "subhalos": (np.asarray(info["subhalos"].n_kept)[:, 0], np.array([_subhalo_mean(m) for m in m_sub])),
        "line_of_sight": (np.asarray(info["line_of_sight"].n_kept).sum(axis=1),
                          np.array([los_mean(m) for m in m_los])),
    }
    for name, (n, lam) in checks.items():
        assert lam.max() / lam.min() > 3.0, (name, lam.min(), lam.max())  # m_hm matters over the prior
        keep = lam > 5.0  # z is near-Gaussian there
        z = (n[keep] - lam[keep]) / np.sqrt(lam[keep])
        m = int(keep.sum())
        assert m > 200, (name, m)
        # mean of z ~ N(0, 1/m); var(z) ~ 1 +- sqrt(2/m): 4 sigma bounds (+0.05 for Poisson kurtosis)
        assert abs(z.mean()) < 4.0 / math.sqrt(m), (name, z.mean())
        assert abs(z.var() - 1.0) < 4.0 * math.sqrt(2.0 / m) + 0.05, (name, z.var())
        slope, intercept = np.polyfit(lam, n, 1)
        resid = n - (slope * lam + intercept)
        se = math.sqrt(resid.var() / (n.size * lam.var()))
        assert abs(slope - 1.0) < 5.0 * se, (name, slope, se)


def test_a_larger_half_mode_mass_keeps_a_subset_of_the_same_draw():
    """Same key: S(m; m_hm) falls with m_hm, so the haloes kept at a larger m_hm are a subset
    of those kept at a smaller one, and the counts before thinning do not change."""
    pop = SubhaloPopulation(SUB, m_hm_range=(1e7, 1e10))
    masks = []
    for m_hm in (1e7, 1e8, 1e9, 1e10):
        batches, info = pop.sample(3, m_hm=np.float64(m_hm))
        masks.append(np.asarray(batches["subhalos"].mask, dtype=bool))
        assert int(info.n_drawn[0]) == int(pop.sample(3)[1].n_drawn[0])
    for small, large in zip(masks[:-1], masks[1:], strict=True):
        assert np.all(large <= small) and large.sum() < small.sum()


def test_the_configured_half_mode_mass_gives_the_static_draw():
    pop = SubhaloPopulation(SUB, m_hm_range=(1e7, 1e10))
    static, _ = pop.sample(8)
    traced, _ = pop.sample(8, m_hm=np.float64(SUB.m_hm))
    for a, b in zip(tree_leaves(static), tree_leaves(traced), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_sheet_tables_interpolate_the_direct_integrals():
    """Between the nodes (the worst place for linear interpolation) the tabulated sheets are
    within 5e-4 of the sheets integrated at that m_hm; at the configured m_hm they are the
    populations' static sheets."""
    los = LineOfSightPopulation(LOS, m_hm_range=(1e7, 1e10))
    sub = SubhaloPopulation(dataclasses.replace(SUB, sheet=True), m_hm_range=(1e7, 1e10))
    nodes = los.sheet_table.ln_m_hm
    assert np.allclose(np.diff(nodes), np.log(10.0) * 0.05)
    for x in 0.5 * (nodes[1:] + nodes[:-1])[::7]:
        m = float(np.exp(x))
        np.testing.assert_allclose(los.sheet_table(m, np), los._sheet_kappa(family_at(los._family, m)), rtol=5e-4)
        np.testing.assert_allclose(sub.sheet_table(m, np)[0], sub._sheet_kappa(family_at(sub._families[0], m)),
                                   rtol=5e-4)
    np.testing.assert_allclose(los.sheet_table(LOS.m_hm, np), los.sheet_kappa, rtol=1e-12)
    np.testing.assert_allclose(sub.sheet_table(SUB.m_hm, np)[0], sub.sheet_kappa, rtol=1e-12)
    # a point range is one node
    assert SheetTable.nodes((1e8, 1e8)).shape == (1,)
    with pytest.raises(ValueError, match="m_hm_range"):
        SheetTable.nodes((0.0, 1e8))


def test_the_line_of_sight_sheets_follow_the_drawn_half_mode_mass():
    sim = Simulator(_config({"line_of_sight": M_HM["line_of_sight"]}, subhalos=None), engine="numpy")
    params, _ = sim.sample_params(4)
    m = float(params.hyper["line_of_sight"]["m_hm"])
    tracer = sim.tracer_from(params)
    sheets = [g.profiles["los_sheet"] for g in tracer.galaxies if "los_sheet" in g.profiles]
    want = sim.los_population._sheet_kappa(family_at(sim.los_population._family, m))
    np.testing.assert_allclose([float(s.kappa) for s in sheets], want, rtol=5e-4)
    assert not np.allclose(want, sim.los_population.sheet_kappa, rtol=1e-2)  # not the reference's


def test_labels_and_a_fixed_half_mode_mass():
    cols = parameter_columns(_config(M_HM))
    assert cols[-2:] == (("subhalos.m_hm", "M_sun"), ("line_of_sight.m_hm", "M_sun"))
    fixed = Simulator(_config({"subhalos": {"m_hm": Fixed(3e8)}}), engine="numpy")
    assert fixed.subhalo_population.config.m_hm == 3e8 and fixed.population_priors == {}
    drawn = Simulator(_config(M_HM), engine="numpy")
    assert drawn.subhalo_population.m_hm_range == (1e7, 1e10)


@pytest.mark.parametrize(
    ("priors", "kwargs", "message"),
    [
        ({"subhalos": {"m_hm": (1e7, 1e9)}}, {"subhalos": dataclasses.replace(SUB, dark_matter="cdm", m_hm=None)},
         r"m_hm is used only with dark_matter = 'wdm'.*'cdm'"),
        ({"line_of_sight": {"m_hm": (1e7, 1e9)}},
         {"line_of_sight": dataclasses.replace(LOS, dark_matter="cdm", m_hm=None)}, r"dark_matter = 'wdm'"),
        ({"subhalos": {"m_hm": (1e7, 1e9)}}, {"subhalos": dataclasses.replace(SUB, wdm_sampling="direct")},
         r"wdm_sampling = 'thinning'; got 'direct'"),
        ({"subhalos": {"m_hm": (0.0, 1e9)}}, {}, r"reaches 0.0; m_hm must lie in \(0, inf\)"),
        ({"line_of_sight": {"m_hm": {"log_uniform": (1e7, math.inf)}}}, {}, r"log_uniform|unbounded|finite"),
    ],
)
def test_bad_half_mode_mass_priors(priors, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _config(priors, **kwargs)


def test_populations_refuse_m_hm_they_were_not_built_for():
    with pytest.raises(ValueError, match="m_hm_range"):
        SubhaloPopulation(SUB).sample(0, m_hm=np.float64(1e8))
    with pytest.raises(ValueError, match="dark_matter='wdm'"):
        SubhaloPopulation(dataclasses.replace(SUB, dark_matter="cdm", m_hm=None), m_hm_range=(1e7, 1e9))
    with pytest.raises(ValueError, match="m_hm_range"):
        LineOfSightPopulation(LOS).plane_profiles(LineOfSightPopulation(LOS).sample(0)[0], m_hm=np.float64(1e8))


def test_toml_half_mode_mass_priors_round_trip(tmp_path):
    from xlens.config import dumps, load_config

    text = ("[subhalos]\ndark_matter = 'wdm'\nm_hm = 1.0e+08\n"
            "[line_of_sight]\ndark_matter = 'wdm'\nm_hm = 1.0e+08\n"
            "[priors.subhalos]\nm_hm = { log_uniform = [1.0e+07, 1.0e+10] }\n"
            "[priors.line_of_sight]\nm_hm = { normal = [1.0e+09, 5.0e+08], bounds = [1.0e+08, 3.0e+09] }\n")
    path = tmp_path / "wdm.toml"
    path.write_text(text)
    cfg = load_config(path)
    assert cfg.priors["subhalos"]["m_hm"] == LogUniform(1e7, 1e10)
    assert cfg.priors["line_of_sight"]["m_hm"].support == (1e8, 3e9)
    again = tmp_path / "again.toml"
    again.write_text(dumps(cfg))
    assert load_config(again) == cfg
    sim = Simulator(cfg, engine="numpy")
    assert sim.los_population.m_hm_range == (1e8, 3e9) and sim.los_population.config.m_hm == 3e9
