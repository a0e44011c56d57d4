"""Dark-matter haloes: padded batches, mass-concentration relations and populations."""

from . import mass_concentration as mass_concentration
from .batch import CAPACITY_BUCKETS, SAFE_VALUES, HaloBatch, bucket_capacity
from .populations import (
    LineOfSightConfig,
    LineOfSightPopulation,
    PopulationInfo,
    SubhaloConfig,
    SubhaloPopulation,
)

__all__ = [
    "CAPACITY_BUCKETS",
    "SAFE_VALUES",
    "HaloBatch",
    "LineOfSightConfig",
    "LineOfSightPopulation",
    "PopulationInfo",
    "SubhaloConfig",
    "SubhaloPopulation",
    "bucket_capacity",
    "mass_concentration",
]
