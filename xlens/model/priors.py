"""Priors of one scalar: fixed, uniform, log-uniform and truncated normal.

Why this module exists: every prior of xlens (the macro parameters today, the
populations and redshifts later) is written the same way in Python and in the TOML
file, is checked once with errors that name the rule and the value, and is used in
three places that must agree: the simulator maps a uniform draw ``u`` in [0, 1) to a
value (:meth:`Prior.from_unit`, the inverse CDF), :class:`~xlens.ParameterSpace` needs
its density and its CDF (:meth:`Prior.log_density`, :meth:`Prior.to_unit`), and the
configuration checks its support against the profiles' ranges (:attr:`Prior.support`).

The forms, in Python and TOML (:meth:`Prior.from_spec`, :meth:`Prior.to_toml`):

========================================  ===========================================
``2.0``                                    :class:`Fixed` (the field is not drawn)
``[lo, hi]`` (a tuple in Python)           :class:`Uniform`, ``lo <= hi``
``{ log_uniform = [lo, hi] }``             :class:`LogUniform`, ``0 < lo <= hi``
``{ normal = [mean, sd], bounds = [lo, hi] }``  :class:`TruncatedNormal`, ``sd > 0``, ``lo < hi``
========================================  ===========================================

:class:`Tabulated` (a log density tabulated on nodes, log-linear between them) has no
TOML form: :class:`~xlens.ParameterSpace` builds it from a population's mass function.

The parameters of a prior are Python floats (static configuration); only ``u`` and
``x`` are arrays, of either engine, possibly traced. The maps are pure functions of
them (``jit``, ``grad``, ``vmap``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

from ..engine import ndtr, ndtri
from ..errors import ParameterError

__all__ = ["Fixed", "LogUniform", "Prior", "PriorError", "Tabulated", "TruncatedNormal", "Uniform"]

#: A truncated normal's bounds must reach within this many sd of its mean: farther out
#: its mass Phi(-a) underflows float64 (at ~37.5 sd) and the draws lose their meaning.
MAX_BOUND_SIGMAS = 30.0
_FORMS = ("a number (fixed), [low, high] (uniform), { log_uniform = [low, high] } or "
          "{ normal = [mean, sd], bounds = [low, high] }")


class PriorError(ParameterError):
    """A prior specification that breaks its rule.

    Attributes
    ----------
    reason : str
        The rule and the value, without the owner (``"sd must be > 0; got -0.1"``):
        callers prefix it with the key of the prior (``priors.lens.slope = ...: reason``).
    """

    def __init__(self, owner: str, field: str, reason: str, *, value: Any, low: float = -math.inf,
                 high: float = math.inf):
        super().__init__(f"{owner}: {reason}", name=f"{owner}.{field}", value=value, low=low, high=high)
        self.reason = reason


def _real(owner: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise PriorError(owner, field, f"{field} must be a finite number; got {value!r}", value=value)
    return float(value)


def _phi(x: float) -> float:
    """Phi(x) in Python floats, accurate in the lower tail (erfc)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


class Prior:
    """Base class of the priors (frozen dataclasses of Python floats)."""

    @property
    def support(self) -> tuple[float, float]:
        """``(low, high)``: the smallest and largest value a draw can take (units of the field)."""
        raise NotImplementedError

    @staticmethod
    def from_spec(spec: Any) -> Prior:
        """The prior of a Python or TOML specification (see the module table).

        Parameters
        ----------
        spec : Prior, number, (low, high) or mapping
            A prior (returned as is), a number (:class:`Fixed`), a pair of numbers
            (:class:`Uniform`), ``{"log_uniform": (low, high)}`` or
            ``{"normal": (mean, sd), "bounds": (low, high)}``.

        Raises
        ------
        PriorError
            For another form or a broken rule; ``reason`` names the rule and the value.
        """
        if isinstance(spec, Prior):
            return spec
        if isinstance(spec, Real) and not isinstance(spec, bool):
            return Fixed(spec)
        if isinstance(spec, list | tuple) and len(spec) == 2:
            lo, hi = (_real("Uniform", n, v) for n, v in zip(("low", "high"), spec, strict=True))
            return Uniform(lo, hi)
        if isinstance(spec, Mapping):
            keys = set(spec)
            if keys == {"log_uniform"}:
                return LogUniform(*_pair("LogUniform", "log_uniform", spec["log_uniform"], ("low", "high")))
            if keys == {"normal", "bounds"}:
                mean, sd = _pair("TruncatedNormal", "normal", spec["normal"], ("mean", "sd"))
                lo, hi = _pair("TruncatedNormal", "bounds", spec["bounds"], ("low", "high"))
                return TruncatedNormal(mean, sd, lo, hi)
            if keys == {"normal"}:
                raise PriorError("TruncatedNormal", "bounds", "a normal prior needs bounds = [low, high] "
                                 "(every prior has a finite support)", value=dict(spec))
        raise PriorError("Prior", "spec", f"a prior must be {_FORMS}; got {spec!r}", value=spec)

    def to_toml(self) -> Any:
        """The TOML/JSON form: a float, ``[low, high]`` or a table (see the module table)."""
        raise NotImplementedError

    def from_unit(self, u, *, xp):
        """The inverse CDF: ``u`` in [0, 1) (array of ``xp``) -> values of the prior, same shape."""
        raise NotImplementedError

    def to_unit(self, x, *, xp):
        """The CDF, the inverse of :meth:`from_unit`: values -> [0, 1] (array of ``xp``)."""
        raise NotImplementedError

    def log_density(self, x, *, xp):
        """The log probability density at ``x`` [log(1 / units)]; -inf outside :attr:`support`."""
        raise NotImplementedError


def _pair(owner: str, key: str, value: Any, names: tuple[str, str]) -> tuple[float, float]:
    if not (isinstance(value, list | tuple) and len(value) == 2):
        raise PriorError(owner, key, f"{key} must be [{names[0]}, {names[1]}] (two numbers); got {value!r}",
                         value=value)
    return _real(owner, names[0], value[0]), _real(owner, names[1], value[1])


@dataclasses.dataclass(frozen=True)
class Fixed(Prior):
    """A fixed value: the field is not drawn.

    Parameters
    ----------
    value : float
        The value, finite, in the units of the field.
    """

    value: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _real("Fixed", "value", self.value))

    @property
    def support(self) -> tuple[float, float]:
        return (self.value, self.value)

    def to_toml(self) -> float:
        return self.value

    def from_unit(self, u, *, xp):
        # value + (value - value) u, as a uniform prior of zero width: an array of u's namespace
        return self.value + (self.value - self.value) * u

    def to_unit(self, x, *, xp):
        return xp.zeros_like(x)

    def log_density(self, x, *, xp):
        """log P(x): 0 at the value and -inf elsewhere (a point mass has no density)."""
        return xp.where(x == self.value, 0.0, -math.inf)


@dataclasses.dataclass(frozen=True)
class Uniform(Prior):
    """Uniform between ``low`` and ``high`` (a point mass when they are equal).

    Parameters
    ----------
    low, high : float
        Finite bounds, ``low <= high``, in the units of the field.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = _real("Uniform", "low", self.low), _real("Uniform", "high", self.high)
        if not lo <= hi:
            raise PriorError("Uniform", "high", f"[low, high] must be low <= high; got [{lo!r}, {hi!r}]",
                             value=hi, low=lo)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @property
    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def to_toml(self) -> list[float]:
        return [self.low, self.high]

    def from_unit(self, u, *, xp):
        return self.low + (self.high - self.low) * u

    def to_unit(self, x, *, xp):
        if self.high == self.low:  # a point mass: its whole CDF jump at low (a static check)
            return xp.where(x >= self.low, 1.0, 0.0)
        return (x - self.low) / (self.high - self.low)

    def log_density(self, x, *, xp):
        inside = (x >= self.low) & (x <= self.high)
        if self.high == self.low:  # a point mass: no density, 0 at the point by convention (as Fixed)
            return xp.where(inside, 0.0, -math.inf)
        return xp.where(inside, -math.log(self.high - self.low), -math.inf)


@dataclasses.dataclass(frozen=True)
class LogUniform(Prior):
    """Uniform in ``log x`` between ``low`` and ``high`` (masses, scales).

    Parameters
    ----------
    low, high : float
        Finite bounds, ``0 < low <= high``, in the units of the field.
    """

    low: float
    high: float

    def __post_init__(self) -> None:
        lo, hi = _real("LogUniform", "low", self.low), _real("LogUniform", "high", self.high)
        if not 0.0 < lo <= hi:
            raise PriorError("LogUniform", "low", f"log_uniform = [low, high] must have 0 < low <= high; "
                             f"got [{lo!r}, {hi!r}]", value=lo, low=0.0, high=hi)
        object.__setattr__(self, "low", lo)
        object.__setattr__(self, "high", hi)

    @property
    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def to_toml(self) -> dict[str, list[float]]:
        return {"log_uniform": [self.low, self.high]}

    def from_unit(self, u, *, xp):
        log_lo, log_hi = math.log(self.low), math.log(self.high)
        # clip: exp(log(high)) may round one ulp past high, outside a range checked at its corners
        return xp.clip(xp.exp(log_lo + (log_hi - log_lo) * u), self.low, self.high)

    def to_unit(self, x, *, xp):
        log_lo, log_hi = math.log(self.low), math.log(self.high)
        safe = xp.where(x > 0, x, self.low)
        return (xp.log(safe) - log_lo) / (log_hi - log_lo)

    def log_density(self, x, *, xp):
        """``-log(x) - log(log(high / low))`` inside, -inf outside."""
        inside = (x >= self.low) & (x <= self.high)
        safe = xp.where(inside, x, self.low)  # double where: log never sees x <= 0
        width = math.log(self.high) - math.log(self.low)
        log_width = math.log(width) if width > 0 else -math.inf
        return xp.where(inside, -xp.log(safe) - log_width, -math.inf)


@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Prior):
    """A normal of ``mean`` and ``sd`` truncated to ``[low, high]``.

    Parameters
    ----------
    mean : float
        Mean of the untruncated normal, in the units of the field.
    sd : float
        Its standard deviation, > 0, same units.
    low, high : float
        Finite bounds, ``low < high``, that reach within ``MAX_BOUND_SIGMAS`` (30) sd of the mean.

    Notes
    -----
    With a = (low - mean) / sd and b = (high - mean) / sd, the inverse CDF is
    x = mean + sd ndtri(Phi(a) + u Z), Z = Phi(b) - Phi(a). Neither form of it loses
    digits to cancellation: ``Phi(a) + u Z`` is used where x <= mean and
    ``-ndtri(Phi(-b) + (1 - u) Z)`` where x > mean (sums of positive numbers; ``1 - u``
    is exact for u >= 1/2), and Phi(a), Phi(-b) and Z are computed once in Python with
    ``erfc``, accurate deep in either tail.
    """

    mean: float
    sd: float
    low: float
    high: float

    def __post_init__(self) -> None:
        owner = "TruncatedNormal"
        mean, sd = _real(owner, "mean", self.mean), _real(owner, "sd", self.sd)
        lo, hi = _real(owner, "low", self.low), _real(owner, "high", self.high)
        if not sd > 0:
            raise PriorError(owner, "sd", f"sd must be > 0; got {sd!r}", value=sd, low=0.0)
        if not lo < hi:
            raise PriorError(owner, "high", f"bounds = [low, high] must have low < high; got [{lo!r}, {hi!r}]",
                             value=hi, low=lo)
        a, b = (lo - mean) / sd, (hi - mean) / sd
        if a >= MAX_BOUND_SIGMAS or b <= -MAX_BOUND_SIGMAS:
            raise PriorError(owner, "bounds", f"bounds = [{lo!r}, {hi!r}] must reach within {MAX_BOUND_SIGMAS:g} "
                             f"sd of the mean {mean!r} (sd {sd!r}); they are {min(abs(a), abs(b)):.3g} sd away. "
                             "Use a uniform or log_uniform prior for so far a tail", value=(lo, hi))
        for name, v in (("mean", mean), ("sd", sd), ("low", lo), ("high", hi)):
            object.__setattr__(self, name, v)

    # constants of the standardised bounds (Python floats; cheap, so not cached on the frozen class)
    def _tails(self) -> tuple[float, float, float]:
        """``(Phi(a), Phi(-b), Z)``: the mass below ``low``, above ``high`` and between them."""
        a, b = (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd
        below, above = _phi(a), _phi(-b)
        if b <= 0:
            mass = _phi(b) - below
        elif a >= 0:
            mass = _phi(-a) - above
        else:
            mass = 1.0 - below - above
        return below, above, mass

    @property
    def support(self) -> tuple[float, float]:
        return (self.low, self.high)

    def to_toml(self) -> dict[str, list[float]]:
        return {"normal": [self.mean, self.sd], "bounds": [self.low, self.high]}

    def from_unit(self, u, *, xp):
        below, above, mass = self._tails()
        p = below + u * mass  # Phi(z), accurate where z <= 0
        q = above + (1.0 - u) * mass  # Phi(-z), accurate where z > 0
        left = p <= q
        z = xp.where(left, ndtri(xp.where(left, p, 0.5), xp=xp), -ndtri(xp.where(left, 0.5, q), xp=xp))
        return xp.clip(self.mean + self.sd * z, self.low, self.high)

    def to_unit(self, x, *, xp):
        below, above, mass = self._tails()
        z = (xp.clip(x, self.low, self.high) - self.mean) / self.sd
        left = z <= 0
        lower = (ndtr(xp.where(left, z, 0.0), xp=xp) - below) / mass
        upper = 1.0 - (ndtr(-xp.where(left, 0.0, z), xp=xp) - above) / mass
        return xp.clip(xp.where(left, lower, upper), 0.0, 1.0)

    def log_density(self, x, *, xp):
        _, _, mass = self._tails()
        z = (x - self.mean) / self.sd
        inside = (x >= self.low) & (x <= self.high)
        value = -0.5 * z * z - math.log(self.sd) - 0.5 * math.log(2.0 * math.pi) - math.log(mass)
        return xp.where(inside, value, -math.inf)


def _exprel(a, xp):
    """``expm1(a) / a``, 1 at a = 0 (a series below |a| = 1e-8, where expm1(a)/a loses digits)."""
    small = xp.abs(a) < 1e-8
    safe = xp.where(small, 1.0, a)
    return xp.where(small, 1.0 + 0.5 * a, xp.expm1(safe) / safe)


@dataclasses.dataclass(frozen=True)
class Tabulated(Prior):
    """A density tabulated on nodes, log-linear between them (exact for a power law in ``10**x``).

    Parameters
    ----------
    nodes : tuple of float
        x_0 <= x_1 <= ... <= x_K, K >= 1, finite, x_0 < x_K, in the units of the field. A
        node given twice is a jump of the density there (a zero-width segment, no mass).
    log_values : tuple of float
        ``log p`` at each node up to a constant (normalised on construction: the attribute
        holds the normalised values), finite; at a
        repeated node, the two values are the limits from the left and from the right.

    Notes
    -----
    On segment k, ``p(x) = exp(l_k + s_k (x - x_k))`` with ``s_k = (l_{k+1} - l_k) / h_k``.
    Its mass is ``exp(l_k) h_k exprel(s_k h_k)``, the CDF inside it
    ``C_k + exp(l_k) d exprel(s_k d)`` (``d = x - x_k``) and the inverse CDF
    ``d = log1p(s_k q) / s_k``, ``q = (u - C_k) exp(-l_k)`` (``q`` where ``s_k q`` -> 0):
    closed forms in ``xp``, differentiable in ``u`` and ``x``. A power law
    ``p ~ 10**(beta x)`` is log-linear, so two nodes represent it exactly; a smooth
    modulation (the WDM suppression) is represented to ``h^2 max|(log p)''| / 8``.
    """

    nodes: tuple
    log_values: tuple

    def __post_init__(self) -> None:
        owner = "Tabulated"
        x = tuple(_real(owner, "nodes", v) for v in self.nodes)
        lp = tuple(_real(owner, "log_values", v) for v in self.log_values)
        if len(x) < 2 or len(lp) != len(x):
            raise PriorError(owner, "nodes", f"nodes and log_values need the same length >= 2; got {len(x)} and "
                             f"{len(lp)}", value=len(x), low=2)
        for k in range(len(x) - 1):
            if not x[k] <= x[k + 1]:
                raise PriorError(owner, "nodes", f"nodes must not decrease; got nodes[{k}] = {x[k]!r} > "
                                 f"nodes[{k + 1}] = {x[k + 1]!r}", value=x[k + 1], low=x[k])
        if not x[0] < x[-1]:
            raise PriorError(owner, "nodes", f"nodes must span an interval; got [{x[0]!r}, {x[-1]!r}]",
                             value=x[-1], low=x[0])
        object.__setattr__(self, "nodes", x)
        h = [x[k + 1] - x[k] for k in range(len(x) - 1)]
        slopes = [(lp[k + 1] - lp[k]) / h[k] if h[k] > 0 else 0.0 for k in range(len(h))]
        top = max(lp)
        mass = [math.exp(lp[k] - top) * h[k] * (math.expm1(slopes[k] * h[k]) / (slopes[k] * h[k])
                                               if abs(slopes[k] * h[k]) > 1e-12 else 1.0) for k in range(len(h))]
        log_total = top + math.log(math.fsum(mass))
        object.__setattr__(self, "log_values", tuple(v - log_total for v in lp))
        cumulative = [0.0]
        for m in mass:
            cumulative.append(cumulative[-1] + m)
        object.__setattr__(self, "_slopes", tuple(slopes))
        object.__setattr__(self, "_cdf", tuple(c / cumulative[-1] for c in cumulative))

    @property
    def support(self) -> tuple[float, float]:
        return (self.nodes[0], self.nodes[-1])

    def to_toml(self):
        raise NotImplementedError("Tabulated priors have no TOML form (ParameterSpace builds them)")

    def _segment(self, x, xp):
        nodes = xp.asarray(self.nodes)
        k = xp.searchsorted(nodes, x, side="right") - 1
        k = xp.clip(k, 0, len(self.nodes) - 2)
        take = {name: xp.take(xp.asarray(v), k) for name, v in
                (("x", self.nodes[:-1]), ("h", [b - a for a, b in zip(self.nodes[:-1], self.nodes[1:],
                                                                       strict=True)]),
                 ("l", self.log_values[:-1]), ("s", self._slopes), ("c", self._cdf[:-1]))}
        return take

    def log_density(self, x, *, xp):
        """The normalised log density at ``x`` (log-linear between nodes), -inf outside the support."""
        seg = self._segment(x, xp)
        lo, hi = self.support
        inside = (x >= lo) & (x <= hi)
        return xp.where(inside, seg["l"] + seg["s"] * (x - seg["x"]), -math.inf)

    def to_unit(self, x, *, xp):
        lo, hi = self.support
        x = xp.clip(x, lo, hi)
        seg = self._segment(x, xp)
        d = xp.clip(x - seg["x"], 0.0, seg["h"])
        return xp.clip(seg["c"] + xp.exp(seg["l"]) * d * _exprel(seg["s"] * d, xp), 0.0, 1.0)

    def from_unit(self, u, *, xp):
        ends = xp.asarray(self._cdf[1:])
        k = xp.clip(xp.searchsorted(ends, u, side="left"), 0, len(self.nodes) - 2)
        x0, h = xp.take(xp.asarray(self.nodes[:-1]), k), xp.take(xp.asarray(
            [b - a for a, b in zip(self.nodes[:-1], self.nodes[1:], strict=True)]), k)
        lk, s = xp.take(xp.asarray(self.log_values[:-1]), k), xp.take(xp.asarray(self._slopes), k)
        q = (u - xp.take(xp.asarray(self._cdf[:-1]), k)) * xp.exp(-lk)
        a = s * q
        small = xp.abs(a) < 1e-8
        d = xp.where(small, q * (1.0 - 0.5 * a), xp.log1p(xp.where(small, 0.0, a)) / xp.where(small, 1.0, s))
        lo, hi = self.support
        return xp.clip(x0 + xp.clip(d, 0.0, h), lo, hi)
