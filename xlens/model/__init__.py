"""The model: the macro parameters' table, the priors, the static configuration and the
parameter pytree of one image."""

from .config import SimulatorConfig
from .instruments import INSTRUMENTS
from .parameters import (
    DEFAULT_PRIORS,
    MACRO_PARAMETERS,
    MACRO_PROFILES,
    POPULATION_PARAMETERS,
    MacroParameter,
    SimParams,
    drawn_population_priors,
    macro_profiles,
    parameter_columns,
    parameter_names,
    parameter_table,
    redshift_range,
    reference_redshifts,
)
from .priors import Fixed, LogUniform, Prior, PriorError, TruncatedNormal, Uniform

__all__ = [
    "DEFAULT_PRIORS",
    "INSTRUMENTS",
    "MACRO_PARAMETERS",
    "MACRO_PROFILES",
    "Fixed",
    "LogUniform",
    "MacroParameter",
    "POPULATION_PARAMETERS",
    "Prior",
    "PriorError",
    "SimParams",
    "SimulatorConfig",
    "TruncatedNormal",
    "Uniform",
    "drawn_population_priors",
    "macro_profiles",
    "parameter_columns",
    "parameter_names",
    "parameter_table",
    "redshift_range",
    "reference_redshifts",
]
