"""The version of xlens (read by ``pyproject.toml`` and recorded in every dataset)."""

__version__ = "0.1.0.dev0"
