"""Population benchmarks: many realisations of subhaloes + line-of-sight haloes in one call.

One call draws ``n_realisations`` independent realisations of the default subhalo
population (Sigma_sub = 0.025 kpc^-2, 1e7-1e10 M_sun, 3'' disc; 246 haloes on average,
capacity 512) and of the default line of sight (8 planes, 3'' double cone, 180 haloes on
average, capacity 128 per plane): on JAX, ``jax.jit(jax.vmap(...))`` over keys; on NumPy,
a Python loop over integer keys. ``dark_matter`` switches the subhaloes (and, for WDM
with m_hm = 1e8 M_sun, the line of sight) between CDM, WDM (thinning) and SIDM.
"""

from __future__ import annotations

import numpy as np

from xlens import engine
from xlens.halos import (
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
)

from .common import EngineBenchmark

_SUBHALOS = {
    "cdm": {},
    "wdm": {"dark_matter": "wdm", "m_hm": 1e8},
    "sidm": {"dark_matter": "sidm", "f_c": 0.1, "p_cc": (0.1, 0.5), "p_cc_log10_breaks": (8.5,),
             "b_c": 3.0},
}


def _populations(dark_matter: str):
    sub = SubhaloPopulation(SubhaloConfig(**_SUBHALOS[dark_matter]))
    los_kwargs = {"dark_matter": "wdm", "m_hm": 1e8} if dark_matter == "wdm" else {}
    return sub, LineOfSightPopulation(LineOfSightConfig(**los_kwargs))


def _sampler(eng: str, n: int, dark_matter: str):
    sub, los = _populations(dark_matter)

    def one(key):
        k_sub, k_los = engine.split_key(key, 2)
        return sub.sample(k_sub), los.sample(k_los)

    if eng == "jax":
        jax = engine.import_jax()
        return jax.vmap(one), (jax.random.split(jax.random.key(0), n),)
    return engine.vmap(one, "numpy"), (np.arange(n, dtype=np.int64),)


class PopulationSampling(EngineBenchmark):
    """Subhaloes + line of sight for ``n_realisations`` keys in one (jitted, vmapped) call."""

    params = (["numpy", "jax"], [1024], ["cdm", "wdm", "sidm"])
    param_names = ("engine", "n_realisations", "dark_matter")

    def build(self, eng, n, dark_matter):
        return _sampler(eng, n, dark_matter)

    def time_steady(self, eng, n, dark_matter):
        self.call()

    def time_compile(self, eng, n, dark_matter):
        self.compile_once()


class PopulationSetup:
    """Set-up of the default populations (NumPy tables, distances, sheets), tables cached."""

    params = (["cdm", "wdm", "sidm"],)
    param_names = ("dark_matter",)
    timeout = 600

    def setup(self, dark_matter):
        _populations(dark_matter)  # fills the process-wide sigma(M) and concentration tables

    def time_build_populations(self, dark_matter):
        _populations(dark_matter)
