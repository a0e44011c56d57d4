"""xlens: strong-lens images with dark-matter substructure, fast, on NumPy and JAX."""

from . import engine
from .errors import ParameterError
from .profiles import light as lp
from .profiles import mass as mp

__version__ = "0.1.0.dev0"

__all__ = ["ParameterError", "engine", "lp", "mp", "__version__"]
