"""The simulators: :class:`Simulator` (the whole model, compiled once) and the
PyAutoLens-style :class:`SimulatorImaging` for a user's own :class:`~xlens.Tracer`."""

from .imaging import Imaging, SimulatorImaging
from .simulator import QUICK_COMPILE, Example, Simulator

__all__ = ["QUICK_COMPILE", "Example", "Imaging", "Simulator", "SimulatorImaging"]
