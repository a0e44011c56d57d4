"""xlens: strong-lens images with dark-matter substructure, fast, on NumPy and JAX."""

from . import engine
from .dataset import open_dataset, simulate
from .errors import ParameterError
from .imaging import Grid2D, Kernel2D
from .inference import Likelihood, ParameterSpace, likelihood
from .model import SimulatorConfig
from .profiles import light as lp
from .profiles import mass as mp
from .simulator import Simulator, SimulatorImaging
from .tracer import Galaxy, Tracer
from .version import __version__

__all__ = [
    "Galaxy",
    "Grid2D",
    "Kernel2D",
    "Likelihood",
    "ParameterError",
    "ParameterSpace",
    "Simulator",
    "SimulatorConfig",
    "SimulatorImaging",
    "Tracer",
    "__version__",
    "engine",
    "likelihood",
    "open_dataset",
    "simulate",
    "lp",
    "mp",
]
