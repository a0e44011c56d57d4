"""Population fields drawn per image (priors.subhalos.sigma_sub, priors.line_of_sight.delta_los).

The statistical tests compare the drawn counts with an expectation computed here: for the
subhaloes from the mass function of docs/populations.md integrated analytically,
``N = Sigma_sub A int_{m_min}^{m_max} (m/m0)^alpha dm/m0`` with ``A = pi (R kpc_per_arcsec)^2``
(``xlens.cosmology``, tested on its own); for the line of sight from the expected count of a
population built with delta_los = 1 (its own slab integrals), times the drawn delta_los.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from helpers import counting, poisson_z_checks

from xlens.cosmology import Planck15
from xlens.engine import tree_leaves
from xlens.halos import LineOfSightConfig, LineOfSightPopulation, SubhaloConfig, SubhaloPopulation
from xlens.model import Fixed, LogUniform, SimulatorConfig, TruncatedNormal, Uniform
from xlens.simulator import Simulator

BASE = dict(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1)
SUB = SubhaloConfig(sigma_sub=0.025, m_min=1e8, m_max=1e10, radius=2.0)
LOS = LineOfSightConfig(n_planes=3, m_min=1e8, m_max=1e10, cone_radius=2.0)
HYPER = {"subhalos": {"sigma_sub": Uniform(0.0, 0.1)}, "line_of_sight": {"delta_los": Uniform(0.5, 2.0)}}


def _config(priors=None, **kwargs):
    return SimulatorConfig(**{**BASE, "subhalos": SUB, "line_of_sight": LOS, **kwargs},
                           priors=dict(priors or {}))


def _subhalo_mean(sigma_sub, cfg: SubhaloConfig):
    """sigma_sub A int (m/m0)^alpha dm/m0 over [m_min, m_max], analytically (F = 1, CDM)."""
    area = math.pi * (cfg.radius * float(Planck15.kpc_per_arcsec(cfg.z_lens))) ** 2  # [kpc^2]
    b = cfg.alpha + 1.0
    integral = ((cfg.m_max / 1e8) ** b - (cfg.m_min / 1e8) ** b) / b
    return np.asarray(sigma_sub) * area * integral


@pytest.mark.jax
def test_counts_follow_poisson_of_the_drawn_normalisations_in_one_compile():
    jax = pytest.importorskip("jax")
    from xlens.engine import jit

    sim = Simulator(_config(HYPER), engine="jax")
    fn, traces = counting(sim.sample_params)
    draw = jit(jax.vmap(fn), "jax")
    n_draws = 400
    params, info = draw(jax.random.split(jax.random.key(11), n_draws))
    params2, _ = draw(jax.random.split(jax.random.key(12), n_draws))  # other keys, same program
    assert len(traces) == 1
    assert not np.any(np.asarray(info["subhalos"].overflow))
    assert not np.any(np.asarray(info["line_of_sight"].overflow))

    sigma = np.asarray(params.hyper["subhalos"]["sigma_sub"])
    delta = np.asarray(params.hyper["line_of_sight"]["delta_los"])
    assert sigma.shape == delta.shape == (n_draws,)
    assert np.all((sigma >= 0.0) & (sigma <= 0.1)) and np.all((delta >= 0.5) & (delta <= 2.0))
    assert not np.array_equal(sigma, np.asarray(params2.hyper["subhalos"]["sigma_sub"]))

    checks = {
        "subhalos": (np.asarray(info["subhalos"].n_drawn)[:, 0], _subhalo_mean(sigma, SUB)),
        "line_of_sight": (np.asarray(info["line_of_sight"].n_drawn).sum(axis=1),
                          delta * float(LineOfSightPopulation(dataclasses.replace(LOS, delta_los=1.0))
                                        .expected_counts.sum())),
    }
    for name, (n, lam) in checks.items():
        keep = lam > 1.0  # z is near-Gaussian there; sigma_sub ~ 0 gives lam ~ 0
        poisson_z_checks(name, n[keep], lam[keep])


def test_drawn_values_lie_in_their_supports_and_capacity_comes_from_the_upper_end():
    priors = {"subhalos": {"sigma_sub": LogUniform(0.01, 0.08)},
              "line_of_sight": {"delta_los": TruncatedNormal(1.0, 0.5, 0.2, 1.7)}}
    sim = Simulator(_config(priors), engine="numpy")
    at_top = SubhaloPopulation(dataclasses.replace(SUB, sigma_sub=0.08))
    assert sim.subhalo_population.capacities == at_top.capacities
    assert sim.subhalo_population.capacities != SubhaloPopulation(SUB).capacities
    assert sim.los_population.capacity == LineOfSightPopulation(dataclasses.replace(LOS, delta_los=1.7)).capacity
    for seed in range(20):
        params, _ = sim.sample_params(seed)
        s = float(params.hyper["subhalos"]["sigma_sub"])
        d = float(params.hyper["line_of_sight"]["delta_los"])
        assert 0.01 <= s <= 0.08 and 0.2 <= d <= 1.7


def test_the_sheet_follows_the_drawn_sigma_sub():
    """The lens plane's subhalo sheet is -sigma_sub int m_ren dN / (Sigma_cr A) at the *drawn*
    sigma_sub: the convergence with sheet=True minus without, for the same params, equals the
    sheet of a population built at the drawn value."""
    priors = {"subhalos": {"sigma_sub": Uniform(0.0, 0.1)}}
    on = Simulator(_config(priors, line_of_sight=None, subhalos=dataclasses.replace(SUB, sheet=True)),
                   engine="numpy")
    off = Simulator(_config(priors, line_of_sight=None), engine="numpy")
    for seed in (3, 4):
        params, _ = on.sample_params(seed)
        value = float(params.hyper["subhalos"]["sigma_sub"])
        diff = np.asarray(on.diagnostics(params, 0)["convergence"]) - np.asarray(
            off.diagnostics(params, 0)["convergence"])
        want = SubhaloPopulation(dataclasses.replace(SUB, sigma_sub=value, sheet=True)).sheet_kappa
        assert want < -1e-4
        np.testing.assert_allclose(diff, want, rtol=1e-9, atol=0.0, err_msg="sheet at the drawn sigma_sub")


@pytest.mark.parametrize("engine", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_a_fixed_population_prior_is_the_configuration_without_it(engine):
    """Bit-identity: [priors.subhalos] sigma_sub = 0.025 (a number) is the same program and the
    same draws as no population prior; nothing is drawn, params.hyper is empty."""
    if engine == "jax":
        jax = pytest.importorskip("jax")
        keys = [jax.random.key(5), jax.random.key(6)]
    else:
        keys = [5, 6]
    plain = Simulator(_config(), engine=engine)
    fixed = Simulator(_config({"subhalos": {"sigma_sub": 0.025}, "line_of_sight": {"delta_los": Fixed(1.0)}}),
                      engine=engine)
    for key in keys:
        a, b = plain.sample(key), fixed.sample(key)
        assert a.params.hyper == {} and b.params.hyper == {}
        la, lb = tree_leaves(a.params), tree_leaves(b.params)
        assert len(la) == len(lb)
        assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True))
        assert np.array_equal(np.asarray(a.data), np.asarray(b.data))


def test_a_fixed_prior_sets_the_population_value():
    sim = Simulator(_config({"subhalos": {"sigma_sub": 0.05}}), engine="numpy")
    assert sim.subhalo_population.config.sigma_sub == 0.05
    assert sim.population_priors == {}


def test_params_without_the_drawn_hyper_are_refused():
    sim = Simulator(_config(HYPER), engine="numpy")
    params, _ = sim.sample_params(0)
    with pytest.raises(ValueError, match="params.hyper"):
        sim.tracer_from(dataclasses.replace(params, hyper={}))


@pytest.mark.parametrize(
    ("priors", "kwargs", "message"),
    [
        ({"subhalos": {"delta_los": (0.5, 1.8)}}, {},
         r"unknown key 'delta_los'.*\('sigma_sub', 'alpha', 'm_hm', 'f_c', 'p_cc', 'b_c'\)"),
        ({"line_of_sight": {"sigma_sub": (0.0, 1.0)}}, {}, r"unknown key 'sigma_sub'.*\('delta_los', 'm_hm'\)"),
        ({"subhalos": {"sigma_sub": (-0.01, 0.1)}}, {}, r"reaches -0.01, outside the allowed range \[0, inf\)"),
        ({"line_of_sight": {"delta_los": {"normal": (1.0, 1.0), "bounds": (-1.0, 2.0)}}}, {},
         r"reaches -1.0.*LineOfSightConfig.delta_los"),
        ({"subhalos": {"sigma_sub": (0.0, 0.1)}}, {"subhalos": None}, r"SimulatorConfig.subhalos is None"),
        ({"line_of_sight": {"delta_los": (0.5, 2.0)}}, {"line_of_sight": None},
         r"SimulatorConfig.line_of_sight is None"),
        ({"halos": {"sigma_sub": 0.1}}, {}, r"unknown group 'halos'"),
    ],
)
def test_bad_population_priors(priors, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _config(priors, **kwargs)
