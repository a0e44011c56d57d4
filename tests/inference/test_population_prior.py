"""ParameterSpace(subhalo_prior="population"): the mass function and the disc as priors (NumPy).

Checked against independent computations: the density against scipy quad of the mass
function (m^(alpha+1) S(m) in log10 m), the CDF at the inverse-CDF draws against quad,
draws against the density (Kolmogorov-Smirnov), the disc's radius and angle against
uniform laws, and the WDM shape against S(m) itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from xlens import engine
from xlens.halo_model.wdm import wdm_suppression
from xlens.halos import SubhaloConfig
from xlens.inference import ParameterSpace
from xlens.model import PriorError, SimulatorConfig
from xlens.model.priors import Tabulated
from xlens.simulator import Simulator

NP = engine.get_xp("numpy")
M_HM = 3e8
COEFFS = (4.2, 2.5, -0.2)  # lovell2020_subhalo, the SubhaloConfig default


def _space(dark_matter="cdm", **kw):
    extra = {"m_hm": M_HM} if dark_matter == "wdm" else {}
    cfg = SimulatorConfig(shape_native=(24, 24), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.15,
                          exposure_time=5000.0, line_of_sight=None,
                          subhalos=SubhaloConfig(sigma_sub=0.02, m_min=1e8, m_max=1e10, radius=2.0,
                                                 dark_matter=dark_matter, **extra))
    sim = Simulator(cfg, engine="numpy")
    ref, _ = sim.sample_params(3)
    return ParameterSpace(sim, ref, subhalos=True, subhalo_prior="population", **kw), cfg.subhalos


def _first(space, field):
    """The first free subhalo parameter of ``field`` (log10_mass, centre_y, centre_x)."""
    return next(n for n in space.names if f".{field}[" in n)


def _mass_function(x, cfg, wdm):
    """Unnormalised density in x = log10 m: m^(alpha+1) S(m) (independent of the prior's code)."""
    m = 10.0**x
    s = wdm_suppression(np.asarray(m), M_HM, COEFFS) if wdm else 1.0
    return m ** (cfg.alpha + 1.0) * s


@pytest.mark.parametrize("dark_matter, rtol", [("cdm", 1e-10), ("wdm", 1e-4)])
def test_mass_prior_density_matches_quadrature(dark_matter, rtol):
    """CDM: two nodes are exact (a power law is log-linear), so rtol 1e-10 (rounding of the
    exponentials); WDM: 0.01-dex nodes, interpolation error h^2 |(log S)''| / 8 < 3e-5."""
    space, cfg = _space(dark_matter)
    prior = space.parameters[space.index(_first(space, "log10_mass"))].prior
    assert isinstance(prior, Tabulated)
    lo, hi = math.log10(cfg.m_min), math.log10(cfg.m_max)
    assert prior.support == (lo, hi)
    wdm = dark_matter == "wdm"
    norm = scipy.integrate.quad(_mass_function, lo, hi, args=(cfg, wdm), epsabs=0, epsrel=1e-12, limit=200)[0]
    x = np.linspace(lo, hi, 37)
    np.testing.assert_allclose(np.exp(prior.log_density(x, xp=NP)), _mass_function(x, cfg, wdm) / norm, rtol=rtol)
    # the CDF at the inverse-CDF draws, by quadrature
    u = np.array([0.0, 0.01, 0.2, 0.5, 0.77, 0.99, 1.0])
    xs = prior.from_unit(u, xp=NP)
    cdf = [scipy.integrate.quad(_mass_function, lo, v, args=(cfg, wdm), epsabs=0, epsrel=1e-12)[0] / norm for v in xs]
    np.testing.assert_allclose(cdf, u, atol=rtol)
    np.testing.assert_allclose(prior.to_unit(xs, xp=NP), u, atol=1e-13)  # the round trip
    assert np.exp(prior.log_density(np.array([lo - 0.1, hi + 0.1]), xp=NP)).tolist() == [0.0, 0.0]


def test_wdm_shape_is_the_suppression():
    """p_WDM / p_CDM = S(m) / <S>: their log ratio minus log S is constant over the range."""
    (wdm, _), (cdm, _) = _space("wdm"), _space("cdm")
    pw, pc = (s.parameters[s.index(_first(s, "log10_mass"))].prior for s in (wdm, cdm))
    x = np.linspace(8.0, 10.0, 31)
    rest = pw.log_density(x, xp=NP) - pc.log_density(x, xp=NP) - np.log(wdm_suppression(10.0**x, M_HM, COEFFS))
    np.testing.assert_allclose(rest, rest[0], atol=1e-4)  # the interpolation bound of the WDM table
    # S(1e8) = 0.28 at m_hm = 3e8 and <S> ~ 0.5: the light end is suppressed relative to CDM
    assert np.exp(pw.log_density(np.array([8.0]), xp=NP)) < 0.7 * np.exp(pc.log_density(np.array([8.0]), xp=NP))


def test_draws_follow_the_mass_function_and_the_disc():
    space, cfg = _space("wdm")
    draws = np.asarray(space.sample(np.random.default_rng(0), (4000,)))
    i = space.index(_first(space, "log10_mass"))
    lo, hi = math.log10(cfg.m_min), math.log10(cfg.m_max)
    norm = scipy.integrate.quad(_mass_function, lo, hi, args=(cfg, True), epsrel=1e-12)[0]

    def cdf(v):
        return np.array([scipy.integrate.quad(_mass_function, lo, t, args=(cfg, True), epsrel=1e-10)[0]
                         for t in np.atleast_1d(v)]) / norm

    assert scipy.stats.kstest(draws[:, i], cdf).pvalue > 0.01
    assert space.discs, "both coordinates of every slot are free: one disc per slot"
    iy, ix, cy, cx, radius = space.discs[0]
    assert radius == cfg.radius
    dy, dx = draws[:, iy] - cy, draws[:, ix] - cx
    assert np.all(dy**2 + dx**2 <= radius**2 * (1 + 1e-12))
    assert scipy.stats.kstest((dy**2 + dx**2) / radius**2, "uniform").pvalue > 0.01  # uniform in area
    assert scipy.stats.kstest(np.arctan2(dy, dx) / (2 * np.pi) % 1.0, "uniform").pvalue > 0.01
    np.testing.assert_allclose(space.from_unit_cube(space.to_unit_cube(draws)), draws, atol=1e-12)
    assert np.all(space.contains(draws))


def test_log_prior_is_the_mass_function_times_the_disc():
    space, cfg = _space("cdm")
    theta = np.asarray(space.to_vector(space.reference), dtype=np.float64)
    (iy, ix, cy, cx, radius), *_ = space.discs
    i = space.index(_first(space, "log10_mass"))
    base = space.log_prior(theta)
    moved = theta.copy()
    moved[i] = theta[i] + 0.3 if theta[i] + 0.3 < 10 else theta[i] - 0.3
    # only the mass term changes: by (alpha + 1) ln(10) dx
    np.testing.assert_allclose(space.log_prior(moved) - base, (cfg.alpha + 1) * math.log(10) * (moved[i] - theta[i]),
                               rtol=1e-12)
    # inside the box but outside the disc: -inf; the disc's density is 1 / (pi R^2), not 1 / (2R)^2
    corner = theta.copy()
    corner[iy], corner[ix] = cy + 0.95 * radius, cx + 0.95 * radius
    assert not space.contains(corner) and space.log_prior(corner) == -math.inf
    box = ParameterSpace(space.sim, space.reference, subhalos=True)
    n_discs = len(space.discs)
    mass_box = sum(math.log(p.high - p.low) for p in box.parameters if "log10_mass" in p.name)
    mass_pop = sum(float(p.prior.log_density(np.asarray(theta[k]), xp=NP)) for k, p in enumerate(space.parameters)
                   if "log10_mass" in p.name)
    expected = box.log_prior(theta) + n_discs * math.log(4 * radius**2 / (math.pi * radius**2)) + mass_box + mass_pop
    np.testing.assert_allclose(space.log_prior(theta), expected, rtol=1e-12)


def test_population_prior_errors():
    sim = Simulator(SimulatorConfig(shape_native=(24, 24), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3),
                                    line_of_sight=None), engine="numpy")
    with pytest.raises(ValueError, match=r"subhalo_prior must be one of \('box', 'population'\); got 'disc'"):
        ParameterSpace(sim, subhalo_prior="disc")
    with pytest.raises(PriorError, match=r"nodes must not decrease; got nodes\[1\] = 8.0 > nodes\[2\] = 7.5"):
        Tabulated((7.0, 8.0, 7.5), (0.0, 0.0, 0.0))
    with pytest.raises(PriorError, match=r"need the same length >= 2; got 2 and 3"):
        Tabulated((7.0, 8.0), (0.0, 0.0, 0.0))
    with pytest.raises(PriorError, match=r"log_values must be a finite number; got -inf"):
        Tabulated((7.0, 8.0), (0.0, -math.inf))
    space, _ = _space("cdm")
    name = _first(space, "centre_y")
    slot = int(name.split("[")[1][:-1])
    ref = space.reference
    with pytest.raises(ValueError, match=r"lies outside the population's disc"):
        # with centre_x fixed at the reference, centre_y is uniform on the chord; a far x leaves none
        far = type(ref)(ref.galaxies, {k: v for k, v in ref.subhalos.items()}, ref.line_of_sight,
                        ref.hyper)
        prof = far.subhalos["subhalos"].profile
        centre = np.asarray(prof.centre).copy()
        centre[slot, 1] = 5.0
        object.__setattr__(prof, "centre", centre)
        ParameterSpace(space.sim, far, free=[name], subhalo_prior="population")


def test_a_lone_coordinate_gets_the_chord():
    space, cfg = _space("cdm")
    name = _first(space, "centre_y")
    slot = int(name.split("[")[1][:-1])
    lone = ParameterSpace(space.sim, space.reference, free=[name, _first(space, "log10_mass")],
                          subhalo_prior="population")
    assert lone.discs == ()
    x0 = float(np.asarray(space.reference.subhalos["subhalos"].profile.centre)[slot, 1])
    cy, cx = (float(v) for v in np.asarray(space.reference.galaxies["lens"]["mass"]["centre"]).reshape(2))
    half = math.sqrt(cfg.radius**2 - (x0 - cx) ** 2)
    np.testing.assert_allclose(lone.bounds[lone.index(name)], [cy - half, cy + half], rtol=1e-12)
