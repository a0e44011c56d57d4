"""Galaxies, planes and multi-plane ray tracing, with the fast path for halo batches."""

from .fast_path import FAST_PATH_CORRECTED, FAST_PATH_WINDOW
from .galaxy import Galaxy
from .tracer import Tracer, uniform_planes

__all__ = ["FAST_PATH_CORRECTED", "FAST_PATH_WINDOW", "Galaxy", "Tracer", "uniform_planes"]
