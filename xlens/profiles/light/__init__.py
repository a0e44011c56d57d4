"""Light profiles (``xlens.lp``), named and parameterised as in PyAutoLens."""

from . import gaussian, sersic
from .gaussian import *  # noqa: F403
from .sersic import *  # noqa: F403

__all__ = [*sersic.__all__, *gaussian.__all__]
