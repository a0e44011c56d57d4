"""SIDM fields drawn per image: priors.subhalos.f_c, p_cc (one value) and b_c.

With ``p_cc`` drawn, the cored and the collapsed haloes are two independent Poisson
populations with means ``(1 - p_cc) N`` and ``p_cc N``, where N is the whole subhalo mass
function's mean, computed here analytically (docs/populations.md):
``N = Sigma_sub A int_{m_min}^{m_max} (m/m0)^alpha dm/m0`` with ``A = pi (R kpc_per_arcsec)^2``.
Given the total count n, the collapsed count is then Binomial(n, p_cc).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import counting, poisson_z_checks

from xlens.cosmology import Planck15
from xlens.engine import tree_leaves
from xlens.halos import SubhaloConfig, SubhaloPopulation
from xlens.halos.sampling import capacity_for_mean
from xlens.model import Fixed, LogUniform, SimulatorConfig, Uniform, parameter_columns
from xlens.simulator import Simulator

BASE = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1)
SUB = SubhaloConfig(sigma_sub=0.025, m_min=1e7, m_max=1e10, radius=2.0, dark_matter="sidm", f_c=0.5, p_cc=0.3,
                    b_c=2.0)
SIDM = {"subhalos": {"f_c": Uniform(0.1, 1.0), "p_cc": Uniform(0.0, 1.0), "b_c": LogUniform(1.0, 10.0)}}


def _config(priors=None, **kwargs):
    return SimulatorConfig(**{**BASE, "subhalos": SUB, "line_of_sight": None, **kwargs},
                           priors=dict(priors or {}))


def _total_mean(cfg: SubhaloConfig = SUB) -> float:
    area = math.pi * (cfg.radius * float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2  # [kpc^2]
    b = cfg.alpha + 1.0
    return cfg.sigma_sub * area * ((cfg.m_max / 1e8) ** b - (cfg.m_min / 1e8) ** b) / b


@pytest.mark.jax
def test_collapsed_fraction_and_fields_follow_the_drawn_values_in_one_compile():
    jax = pytest.importorskip("jax")
    from xlens.engine import jit

    sim = Simulator(_config(SIDM), engine="jax")
    fn, traces = counting(sim.sample_params)
    draw = jit(jax.vmap(fn), "jax")
    n_draws = 400
    params, info = draw(jax.random.split(jax.random.key(31), n_draws))
    draw(jax.random.split(jax.random.key(32), n_draws))
    assert len(traces) == 1
    assert not np.any(np.asarray(info["subhalos"].overflow))
    hyper = {k: np.asarray(v) for k, v in params.hyper["subhalos"].items()}
    assert np.all((hyper["f_c"] >= 0.1) & (hyper["f_c"] <= 1.0))
    assert np.all((hyper["p_cc"] >= 0.0) & (hyper["p_cc"] <= 1.0))
    assert np.all((hyper["b_c"] >= 1.0) & (hyper["b_c"] <= 10.0))
    # every slot of an image carries the image's drawn f_c (cored) and b_c (collapsed)
    cored, collapsed = params.subhalos["cored"].profile, params.subhalos["collapsed"].profile
    np.testing.assert_array_equal(np.asarray(cored.f_c), np.broadcast_to(hyper["f_c"][:, None], cored.f_c.shape))
    np.testing.assert_array_equal(np.asarray(collapsed.concentration_factor),
                                  np.broadcast_to(hyper["b_c"][:, None], collapsed.concentration_factor.shape))

    n = np.asarray(info["subhalos"].n_kept)  # (draws, 2): cored, collapsed
    p, total = hyper["p_cc"], _total_mean()
    assert total > 50.0
    for k, (name, lam) in enumerate((("cored", (1.0 - p) * total), ("collapsed", p * total))):
        keep = lam > 5.0
        poisson_z_checks(name, n[keep, k].astype(float), lam[keep], np.sqrt(lam[keep]))
    # the collapsed fraction given the total count: Binomial(n, p_cc)
    n_all = n.sum(axis=1).astype(float)
    keep = (p > 0.05) & (p < 0.95)
    poisson_z_checks("collapsed | total", n[keep, 1].astype(float), n_all[keep] * p[keep],
              np.sqrt(n_all[keep] * p[keep] * (1.0 - p[keep])))


def test_capacities_hold_each_family_at_its_largest_mean():
    priors = {"subhalos": {"p_cc": Uniform(0.2, 0.6)}}
    sim = Simulator(_config(priors), engine="numpy")
    pop = sim.subhalo_population
    assert pop.p_cc_range == (0.2, 0.6) and pop.config.p_cc == (0.6,)
    total = _total_mean()
    assert pop.capacities == {"cored": capacity_for_mean(0.8 * total),
                              "collapsed": capacity_for_mean(0.6 * total)}
    np.testing.assert_allclose(pop.expected_counts["collapsed"], 0.6 * total, rtol=1e-9)
    np.testing.assert_allclose(pop.expected_counts["cored"], 0.4 * total, rtol=1e-9)
    for seed in range(5):
        params, _ = sim.sample_params(seed)
        assert 0.2 <= float(params.hyper["subhalos"]["p_cc"]) <= 0.6


def test_p_cc_at_the_ends_gives_one_family():
    pop = SubhaloPopulation(SUB, p_cc_range=(0.0, 1.0))
    _, none = pop.sample(4, p_cc=np.float64(0.0))
    _, all_ = pop.sample(4, p_cc=np.float64(1.0))
    assert int(none.n_drawn[1]) == 0 and int(none.n_drawn[0]) > 0
    assert int(all_.n_drawn[0]) == 0 and int(all_.n_drawn[1]) > 0


def test_fixed_sidm_priors_are_the_configuration_without_them():
    plain = Simulator(_config(), engine="numpy")
    fixed = Simulator(_config({"subhalos": {"f_c": Fixed(0.5), "p_cc": 0.3, "b_c": 2.0}}), engine="numpy")
    assert fixed.population_priors == {}
    for seed in (1, 2):
        a, b = plain.sample(seed), fixed.sample(seed)
        assert all(np.array_equal(np.asarray(x), np.asarray(y))
                   for x, y in zip(tree_leaves(a.params), tree_leaves(b.params), strict=True))
        assert np.array_equal(np.asarray(a.data), np.asarray(b.data))


def test_labels_of_the_sidm_fields():
    cols = parameter_columns(_config(SIDM))
    assert [c for c, _ in cols[-3:]] == ["subhalos.f_c", "subhalos.p_cc", "subhalos.b_c"]


@pytest.mark.parametrize(
    ("priors", "kwargs", "message"),
    [
        ({"subhalos": {"p_cc": (0.0, 1.0)}}, {"subhalos": SubhaloConfig()},
         r"p_cc is used only with dark_matter = 'sidm'"),
        ({"subhalos": {"p_cc": (0.0, 1.0)}},
         {"subhalos": dataclasses.replace(SUB, p_cc=(0.1, 0.5), p_cc_log10_breaks=(8.5,))},
         r"p_cc_log10_breaks must be empty"),
        ({"subhalos": {"f_c": (0.0, 1.0)}}, {}, r"f_c must lie in \(0, 10\]"),
        ({"subhalos": {"b_c": (0.5, 2.0)}}, {}, r"reaches 0.5, outside the allowed range \[1, 100\]"),
        ({"subhalos": {"p_cc": (0.5, 1.5)}}, {}, r"reaches 1.5, outside the allowed range \[0, 1\]"),
    ],
)
def test_bad_sidm_priors(priors, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _config(priors, **kwargs)


def test_populations_refuse_sidm_values_they_were_not_built_for():
    with pytest.raises(ValueError, match="p_cc_range"):
        SubhaloPopulation(SUB).sample(0, p_cc=np.float64(0.5))
    with pytest.raises(ValueError, match="SIDM field"):
        SubhaloPopulation(SubhaloConfig()).sample(0, f_c=np.float64(0.5))
    with pytest.raises(ValueError, match="one p_cc value"):
        SubhaloPopulation(dataclasses.replace(SUB, p_cc=(0.1, 0.5), p_cc_log10_breaks=(8.5,)), p_cc_range=(0, 1))


def test_sidm_simulator_corrects_more_haloes_on_the_fast_path(monkeypatch):
    """Collapsed SIDM haloes are dense: the fast path corrects 128 per batch (docs/performance.md)."""
    from xlens.simulator.simulator import SIDM_FAST_PATH_CORRECTED
    from xlens.tracer import Tracer

    seen = []
    original = Tracer.traced_grid_2d_list_over_sampled_from

    def spy(self, grid, sub_size, exact=False, n_corrected=None, **options):
        seen.append(n_corrected)
        return original(self, grid, sub_size, exact=exact, n_corrected=n_corrected, **options)

    monkeypatch.setattr(Tracer, "traced_grid_2d_list_over_sampled_from", spy)
    sidm = Simulator(_config(sub_size=2), engine="numpy")
    cdm = Simulator(_config(subhalos=SubhaloConfig(sigma_sub=0.025, m_min=1e7, m_max=1e10, radius=2.0), sub_size=2),
                    engine="numpy")
    assert sidm.fast_path_corrected == SIDM_FAST_PATH_CORRECTED == 128
    assert cdm.fast_path_corrected is None  # the tracer's default (FAST_PATH_CORRECTED)
    sidm.sample(0)
    cdm.sample(0)
    assert seen == [128, None]
