"""Shared by the population tests: the populations (built once), their draws on either engine
and the statistical assertions (4 standard errors, KS p > 1e-3).

Statistical tests use fixed seeds, so they are deterministic; each states the probability
that a *correct* sampler would fail it for a fresh seed (its false-alarm rate). Counts are
compared with their expectation within 4 standard errors (two-sided normal tail 6.3e-5 per
comparison); Kolmogorov-Smirnov tests require p > 1e-3 (false alarm 1e-3 each).

NumPy draws realisations in a Python loop (a few hundred); JAX draws thousands in one
jitted, vmapped call. Both engines run the same assertions.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from conftest import needs_jax
from helpers import counting, load

from xlens import engine
from xlens.halo_model import ludlow16_concentration, nfw_mass_factor, truncated_nfw_mass_ratio
from xlens.halos import (
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
)

MF = load("massfunction.json")


ENGINES = [pytest.param("numpy", id="numpy"),
           pytest.param("jax", id="jax", marks=[pytest.mark.jax, needs_jax])]


#: realisations per statistical test: a Python loop on NumPy, one vmapped call on JAX
N_DRAWS = {"numpy": 300, "jax": 2000}


SIGMAS = 4.0  # 4 standard errors: two-sided false-alarm rate 6.3e-5 per comparison


KS_P = 1e-3  # KS tests: false-alarm rate 1e-3 each


KS_MAX = 50_000  # at most this many values per KS test (power enough, fast)


# ------------------------------------------------------------------ populations (built once)
@functools.cache
def population(name: str):
    if name == "cdm":
        return SubhaloPopulation(SubhaloConfig())
    if name == "wdm":
        return SubhaloPopulation(SubhaloConfig(dark_matter="wdm", m_hm=1e8))
    if name == "sidm":
        return SubhaloPopulation(SubhaloConfig(dark_matter="sidm", f_c=0.2, p_cc=(0.1, 0.6),
                                               p_cc_log10_breaks=(8.5,), b_c=3.0))
    if name == "los":
        return LineOfSightPopulation(LineOfSightConfig())
    if name == "tiny":
        return SubhaloPopulation(SubhaloConfig(), capacity=8)
    raise KeyError(name)


# ------------------------------------------------------------------ drawing on either engine
TRACES: dict[str, list] = {}


@functools.cache
def vmapped_sample(name: str):
    """``jax.jit(jax.vmap(pop.sample))`` with a trace counter in ``TRACES[name]``."""
    jax = engine.import_jax()
    sample, TRACES[name] = counting(population(name).sample)
    return jax.jit(jax.vmap(sample))


@functools.cache
def jitted_sample(name: str):
    """``jax.jit(pop.sample)`` with a trace counter in ``TRACES["jit-" + name]``."""
    jax = engine.import_jax()
    sample, TRACES["jit-" + name] = counting(population(name).sample)
    return jax.jit(sample)


def sample_arrays(out) -> dict:
    """NumPy arrays of a sample() result (one draw or a vmapped batch)."""
    batches, info = out
    if not isinstance(batches, dict):
        batches = {"los": batches}
    res = {k: np.asarray(v) for k, v in info._asdict().items()}
    for fam, b in batches.items():
        res[f"{fam}/mass"] = np.asarray(b.profile.mass_at_200)
        res[f"{fam}/centre"] = np.asarray(b.profile.centre)
        res[f"{fam}/mask"] = np.asarray(b.mask)
        res[f"{fam}/cfactor"] = np.asarray(b.profile.concentration_factor)
    return res


@functools.cache
def draw_many(name: str, eng: str, n: int | None = None, seed: int = 0) -> dict:
    """``n`` realisations of population ``name``, stacked along a leading axis."""
    n = N_DRAWS[eng] if n is None else n
    if eng == "jax":
        jax = engine.import_jax()
        keys = jax.random.split(jax.random.key(seed), n)
        return sample_arrays(vmapped_sample(name)(keys))
    outs = [sample_arrays(population(name).sample(seed * 1_000_003 + i)) for i in range(n)]
    return {k: np.stack([o[k] for o in outs]) for k in outs[0]}


@functools.cache
def _m_ren_table(z: float):
    """ln(m_ren / M200) on a 0.0015-dex grid: interpolation error < 1e-8, fast for 1e6 masses."""
    lnm = np.linspace(math.log(1e7), math.log(1e10), 2001)
    c = np.asarray(ludlow16_concentration(np.exp(lnm), z))
    return lnm, np.log(truncated_nfw_mass_ratio(2 * c) / np.asarray(nfw_mass_factor(c)))


def rendered_mass(m, z):
    """Mass carried by an NFWTruncatedMCRLudlowSph of M200 = m at z: m m_inf(2c) / mu(c)."""
    lnm, ratio = _m_ren_table(float(z))
    return m * np.exp(np.interp(np.log(m), lnm, ratio))


def real_values(d: dict, fam: str, field: str):
    """Values of the real (unmasked) haloes, flattened."""
    return d[f"{fam}/{field}"][d[f"{fam}/mask"] > 0.5]


def assert_mean(samples, expected, variance, what):
    samples = np.asarray(samples, dtype=float)
    se = math.sqrt(variance / samples.size)
    dev = (samples.mean() - expected) / se
    assert abs(dev) < SIGMAS, (
        f"{what}: mean {samples.mean():.4f}, expected {expected:.4f} ({dev:+.1f} SE)")


def ks_test(values, cdf, what):
    values = np.asarray(values)[:KS_MAX]
    p = scipy.stats.kstest(values, cdf).pvalue
    assert p > KS_P, f"{what}: KS p = {p:.2e} for {values.size} values"
