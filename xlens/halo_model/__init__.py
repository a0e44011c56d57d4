"""The halo model: linear theory, concentrations, mass functions, WDM, M200 -> lensing parameters.

Physics of dark-matter haloes that the profiles and the populations share
(PHYSICS.md §11, §14). It imports only the engine, the errors and the cosmology:
the profiles (:mod:`xlens.profiles.mass.mcr`) and the populations
(:mod:`xlens.halos`) build on it.
"""

from .concentration import ludlow16_concentration
from .conversions import (
    CoredNFWParameters,
    NFWParameters,
    cored_nfw_mass_factor,
    cored_nfw_parameters_from_m200,
    nfw_mass_factor,
    nfw_parameters_from_m200,
    rendered_mass_ratio,
    rendered_mass_ratio_of_concentration,
    truncated_nfw_mass_ratio,
)
from .linear import PLANCK15_LINEAR, LinearCosmology, linear_growth_factor, sigma_of_mass
from .mass_function import DoubleCone, sheth_tormen_dndlnm, subhalo_host_scaling
from .wdm import WDM_COEFFICIENTS, WDMModel, wdm_concentration_factor, wdm_suppression

__all__ = [
    "PLANCK15_LINEAR",
    "WDM_COEFFICIENTS",
    "CoredNFWParameters",
    "DoubleCone",
    "LinearCosmology",
    "NFWParameters",
    "WDMModel",
    "cored_nfw_mass_factor",
    "cored_nfw_parameters_from_m200",
    "linear_growth_factor",
    "ludlow16_concentration",
    "nfw_mass_factor",
    "nfw_parameters_from_m200",
    "rendered_mass_ratio",
    "rendered_mass_ratio_of_concentration",
    "sheth_tormen_dndlnm",
    "sigma_of_mass",
    "subhalo_host_scaling",
    "truncated_nfw_mass_ratio",
    "wdm_concentration_factor",
    "wdm_suppression",
]
