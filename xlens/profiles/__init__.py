"""Mass and light profiles written once against the array namespace of their inputs."""

from . import light, mass

__all__ = ["light", "mass"]
