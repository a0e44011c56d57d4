"""Mass profiles (``xlens.mp``), named and parameterised as in PyAutoLens."""

from . import isothermal, mcr, multipole, nfw, point, power_law, sheets
from .isothermal import *  # noqa: F403
from .mcr import *  # noqa: F403
from .multipole import *  # noqa: F403
from .nfw import *  # noqa: F403
from .point import *  # noqa: F403
from .power_law import *  # noqa: F403
from .sheets import *  # noqa: F403

__all__ = [
    *power_law.__all__,
    *multipole.__all__,
    *isothermal.__all__,
    *sheets.__all__,
    *point.__all__,
    *nfw.__all__,
    *mcr.__all__,
]
