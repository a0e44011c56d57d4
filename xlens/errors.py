"""Parameter validation outside jit: errors that name the parameter, its value and the range.

Validation runs where user input enters xlens (profile constructors, configuration
objects, the public API). It looks only at Python numbers and NumPy arrays and
returns at once for anything else, because JAX rebuilds pytrees with tracers and
placeholders, and no Python check may run on a traced value.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["CapacityOverflowError", "ParameterError", "check_finite", "check_range", "common_length",
           "concrete"]


class ParameterError(ValueError):
    """A parameter outside its allowed range.

    Attributes
    ----------
    name : str
        ``Owner.parameter`` of the offending value.
    value : float
        The offending value.
    low, high : float
        The allowed range.
    """

    def __init__(self, message: str, *, name: str, value: Any, low: float, high: float):
        super().__init__(message)
        self.name, self.value, self.low, self.high = name, value, low, high


class CapacityOverflowError(RuntimeError):
    """More haloes were drawn than a padded batch's capacity holds (reported outside jit)."""


def concrete(value) -> np.ndarray | None:
    """The value as a float64 NumPy array if it is concrete, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Real):
        return np.asarray(float(value))
    if isinstance(value, np.ndarray | np.generic):
        return np.asarray(value, dtype=np.float64)
    if isinstance(value, tuple | list) and all(isinstance(v, Real) for v in value):
        return np.asarray(value, dtype=np.float64)
    return None


def _where(arr: np.ndarray, index: int) -> str:
    if arr.ndim == 0:
        return ""
    flat = np.unravel_index(index, arr.shape)
    if arr.ndim == 1:
        return f" (halo {flat[0]} of {arr.shape[0]})"
    return f" (entry {tuple(int(i) for i in flat)} of shape {arr.shape})"


def check_range(
    owner: str,
    name: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_inclusive: bool = False,
    high_inclusive: bool = False,
    units: str = "",
    hint: str = "",
) -> None:
    """Raise :class:`ParameterError` unless every entry of ``value`` lies in the range.

    Non-finite values always fail. Values that are not Python numbers or NumPy
    arrays (JAX arrays, tracers, placeholders) are not inspected.
    """
    arr = concrete(value)
    if arr is None:
        return
    ok = np.isfinite(arr)
    ok &= (arr >= low) if low_inclusive else (arr > low)
    ok &= (arr <= high) if high_inclusive else (arr < high)
    if np.all(ok):
        return
    index = int(np.argmin(ok.ravel()))
    bad = arr.ravel()[index]
    lo = "[" if low_inclusive else "("
    hi = "]" if high_inclusive else ")"
    unit = f" {units}" if units else ""
    msg = f"{owner}.{name} must be in {lo}{low:g}, {high:g}{hi}{unit}; got {float(bad)!r}{_where(arr, index)}"
    if hint:
        msg += f". {hint}"
    raise ParameterError(msg, name=f"{owner}.{name}", value=float(bad), low=low, high=high)


def check_finite(owner: str, name: str, value: Any, *, units: str = "") -> None:
    """Raise :class:`ParameterError` if a concrete value is NaN or infinite."""
    check_range(owner, name, value, units=units)


def common_length(owner: str, shapes: dict[str, tuple]) -> int | None:
    """Return the common halo count H of parameters with shapes ``()`` or ``(H,)``.

    ``shapes`` maps a parameter name to its *per-halo* shape (the trailing
    vector axis of ``centre`` and ``ell_comps`` already removed). Raises
    ``ValueError`` naming the parameters whose lengths differ; returns None when
    every parameter is a scalar.
    """
    lengths: dict[str, int] = {}
    for name, shape in shapes.items():
        if len(shape) > 1:
            raise ValueError(
                f"{owner}.{name} must be a scalar or have shape (H,); got shape {shape}"
            )
        if len(shape) == 1:
            lengths[name] = shape[0]
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise ValueError(f"{owner}: per-halo parameters must share one length H; got {detail}")
    return next(iter(lengths.values()), None)
