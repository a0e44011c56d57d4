"""Galaxies, planes and multi-plane ray tracing, with the fast path for halo batches."""

from .fast_path import FAST_PATH_CORRECTED, FAST_PATH_WINDOW
from .galaxy import Galaxy
from .tracer import Tracer, plane_segments

__all__ = ["FAST_PATH_CORRECTED", "FAST_PATH_WINDOW", "Galaxy", "Tracer", "plane_segments"]
