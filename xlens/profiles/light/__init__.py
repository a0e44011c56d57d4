"""Light profiles (``xlens.lp``), named and parameterised as in PyAutoLens."""

from . import gaussian, sersic, source_image
from .gaussian import *  # noqa: F403
from .sersic import *  # noqa: F403
from .source_image import *  # noqa: F403

__all__ = [*sersic.__all__, *gaussian.__all__, *source_image.__all__]
