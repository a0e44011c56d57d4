"""Dark-matter haloes: padded batches and the subhalo and line-of-sight populations.

The halo physics the populations sample (concentrations, mass functions, WDM)
lives one layer down, in :mod:`xlens.halo_model`.
"""

from .batch import CAPACITY_BUCKETS, SAFE_VALUES, HaloBatch, bucket_capacity
from .config import LineOfSightConfig, SubhaloConfig
from .line_of_sight import LineOfSightPopulation, plane_layout
from .sampling import PopulationInfo
from .subhalos import SubhaloPopulation
from .tables import CellTable, poisson_cdf_table

__all__ = [
    "CAPACITY_BUCKETS",
    "SAFE_VALUES",
    "CellTable",
    "HaloBatch",
    "LineOfSightConfig",
    "LineOfSightPopulation",
    "PopulationInfo",
    "SubhaloConfig",
    "SubhaloPopulation",
    "bucket_capacity",
    "plane_layout",
    "poisson_cdf_table",
]
