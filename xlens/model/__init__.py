"""The model: galaxies of named profiles with priors, the priors themselves, the static
configuration and the parameter pytree of one image."""

from .config import SimulatorConfig
from .galaxies import PROFILES, Component, GalaxyModel, Model, ModelError, Slot, default_model
from .instruments import INSTRUMENTS
from .parameters import (
    POPULATION_PARAMETERS,
    SimParams,
    drawn_population_priors,
    parameter_columns,
    parameter_table,
    redshift_range,
    reference_redshifts,
)
from .priors import Fixed, LogUniform, Prior, PriorError, TruncatedNormal, Uniform

__all__ = [
    "INSTRUMENTS",
    "PROFILES",
    "Component",
    "Fixed",
    "GalaxyModel",
    "LogUniform",
    "Model",
    "ModelError",
    "POPULATION_PARAMETERS",
    "Prior",
    "PriorError",
    "SimParams",
    "SimulatorConfig",
    "Slot",
    "TruncatedNormal",
    "Uniform",
    "default_model",
    "drawn_population_priors",
    "parameter_columns",
    "parameter_table",
    "redshift_range",
    "reference_redshifts",
]
