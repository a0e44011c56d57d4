"""Padded halo batches: a variable number of haloes in arrays of fixed capacity.

A realisation of dark-matter haloes has a different number of haloes every
draw; a jitted function sees only shapes. A :class:`HaloBatch` therefore holds
the parameters of up to ``capacity`` haloes of one profile kind as arrays of
shape ``(capacity,)`` (or ``(planes, capacity)`` for the line of sight) plus a
``mask``. Slots where ``mask`` is False hold *safe* values (:data:`SAFE_VALUES`:
zero mass, unit radii) that are substituted once more with ``where`` at
evaluation, so a padded slot contributes exactly zero to every field and to
every gradient, whatever the slot happens to contain.

Capacities come from a small set of buckets (:func:`bucket_capacity`), so a
campaign compiles a handful of times at most. More haloes than capacity is an
error naming both numbers, never a silent truncation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import engine
from ..engine import ArrayLike, pytree_dataclass
from ..profiles.base import VECTOR_FIELDS, MassProfile, unchecked

__all__ = ["CAPACITY_BUCKETS", "SAFE_VALUES", "HaloBatch", "bucket_capacity", "concatenate_batches", "group_batches"]

#: Capacity buckets: powers of two from 8 to 2**16. A batch of n haloes gets the
#: smallest bucket >= n, so the capacity (and the compiled function) changes only
#: when the halo count crosses a power of two.
CAPACITY_BUCKETS = tuple(2**k for k in range(3, 17))

#: Parameter values of a padded slot (PHYSICS.md §16): zero mass or amplitude and
#: unit-ish radii, finite for every per-halo constant (ln tau, e_n, ...).
SAFE_VALUES: dict[str, Any] = {
    "centre": (0.0, 0.0),
    "kappa_s": 0.0,
    "scale_radius": 1.0,
    "truncation_radius": 2.0,
    "core_radius": 0.1,
    "einstein_radius": 0.0,
    "kappa": 0.0,
    "mass_at_200": 1.0e9,
    "f_c": 0.1,
    "redshift_object": 0.5,
    "redshift_source": 1.0,
    "concentration_factor": 1.0,
    "multipole_comps": (0.0, 0.0),
}


def bucket_capacity(n: int, minimum: int = 0) -> int:
    """Smallest capacity bucket that holds ``max(n, minimum)`` haloes.

    Parameters
    ----------
    n : int
        Number of haloes (>= 0).
    minimum : int, optional
        A lower bound on the capacity.

    Raises
    ------
    ValueError
        If ``n`` exceeds the largest bucket.
    """
    need = max(int(n), int(minimum), 1)
    for cap in CAPACITY_BUCKETS:
        if cap >= need:
            return cap
    raise ValueError(
        f"{need} haloes exceed the largest capacity bucket {CAPACITY_BUCKETS[-1]}; "
        "split them over several batches"
    )


def _safe_value(cls, name: str):
    if name not in SAFE_VALUES:
        raise TypeError(
            f"HaloBatch: no safe padding value is known for {cls.__name__}.{name}; "
            f"add one to xlens.halos.batch.SAFE_VALUES"
        )
    return SAFE_VALUES[name]


@pytree_dataclass
class HaloBatch(MassProfile):
    """Up to ``capacity`` haloes of one profile kind, padded and masked.

    Parameters
    ----------
    profile : MassProfile
        A profile whose parameters have shape ``(capacity,)`` (or
        ``(planes, capacity)``; ``centre`` with a trailing axis of 2).
    mask : array, shape (capacity,) or (planes, capacity)
        1.0 for real haloes, 0.0 for padded slots. It is a float array (not
        bool) so that ``jax.grad`` can differentiate a whole batch pytree; the
        gradient with respect to the mask itself is zero.

    Notes
    -----
    Build batches with :meth:`from_profiles` or :meth:`from_arrays`. The fields
    of a batch are those of :meth:`masked_profile`: the wrapped profile with
    every masked slot replaced by :data:`SAFE_VALUES`.
    """

    profile: MassProfile
    mask: ArrayLike

    def __post_init__(self) -> None:
        mshape = tuple(np.shape(self.mask))
        for f in engine.data_fields(self.profile):
            shape = tuple(np.shape(getattr(self.profile, f.name)))
            if f.name in VECTOR_FIELDS:
                shape = shape[:-1]
            if shape != mshape:
                raise ValueError(
                    f"HaloBatch: {type(self.profile).__name__}.{f.name} has per-halo shape "
                    f"{shape} but mask has shape {mshape}"
                )

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        profile_cls: type,
        capacity: int | None = None,
        **params: ArrayLike,
    ) -> HaloBatch:
        """Pad per-halo parameter arrays of length n to ``capacity``.

        Parameters
        ----------
        profile_cls : type
            A mass-profile class, e.g. ``xlens.mp.NFWTruncatedSph``.
        capacity : int, optional
            Number of slots; default :func:`bucket_capacity` of n.
        **params : array, shape (n,) (``centre``: (n, 2))
            Parameters of the n real haloes, validated by ``profile_cls``.

        Raises
        ------
        ValueError
            If n exceeds ``capacity`` or the parameters are out of range.
        """
        meta = {k: v for k, v in params.items() if k in engine.meta_fields(profile_cls)}
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in params.items() if k not in meta}
        profile_cls(**arrays, **meta)  # validates values and lengths outside jit
        lengths = {
            k: (a.shape[0] if a.ndim else 1) for k, a in arrays.items()
        }
        n = max(lengths.values(), default=0)
        arrays = {
            k: (np.broadcast_to(a, (n, 2)) if k in VECTOR_FIELDS and a.ndim == 1
                else np.broadcast_to(a, (n,)) if a.ndim == 0 else a)
            for k, a in arrays.items()
        }
        capacity = bucket_capacity(n) if capacity is None else int(capacity)
        if n > capacity:
            raise ValueError(
                f"HaloBatch: {n} haloes of {profile_cls.__name__} exceed the capacity {capacity}; "
                f"use capacity >= {n} (bucket {bucket_capacity(n)})"
            )
        padded = dict(meta)
        for f in engine.data_fields(profile_cls):
            safe = np.asarray(_safe_value(profile_cls, f.name), dtype=np.float64)
            shape = (capacity, 2) if f.name in VECTOR_FIELDS else (capacity,)
            out = np.broadcast_to(safe, shape).copy()
            if f.name in arrays:
                out[:n] = arrays[f.name]
            elif n:
                default = f.default
                if default is dataclasses.MISSING:
                    raise TypeError(f"HaloBatch.from_arrays: missing parameter {f.name!r}")
                out[:n] = np.asarray(default, dtype=np.float64)
            padded[f.name] = out
        mask = (np.arange(capacity) < n).astype(np.float64)
        return cls(profile=unchecked(profile_cls, padded), mask=mask)

    @classmethod
    def from_profiles(cls, profiles: Sequence[MassProfile], capacity: int | None = None) -> HaloBatch:
        """Pad a list of single-halo profiles of one class into a batch.

        Parameters
        ----------
        profiles : sequence of MassProfile
            Profiles of one class, each with scalar parameters.
        capacity : int, optional
            Number of slots; default :func:`bucket_capacity` of ``len(profiles)``.
        """
        if not profiles:
            raise ValueError("HaloBatch.from_profiles needs at least one profile (or use from_arrays)")
        kinds = {type(p) for p in profiles}
        if len(kinds) != 1:
            names = sorted(k.__name__ for k in kinds)
            raise ValueError(f"HaloBatch holds one profile kind; got {names}")
        (kind,) = kinds
        params = {
            f.name: np.stack([np.asarray(getattr(p, f.name), dtype=np.float64) for p in profiles])
            for f in engine.data_fields(kind)
        }
        for name in engine.meta_fields(kind):
            values = {getattr(p, name) for p in profiles}
            if len(values) != 1:
                raise ValueError(f"HaloBatch: the static field {kind.__name__}.{name} differs: {values}")
            params[name] = values.pop()
        return cls.from_arrays(kind, capacity=capacity, **params)

    # -------------------------------------------------------------- properties
    @property
    def capacity(self) -> int:
        """Number of slots (the last axis of ``mask``)."""
        return int(np.shape(self.mask)[-1])

    def count(self):
        """Number of real haloes (an array: works inside jit)."""
        xp = engine.namespace(self.mask)
        return xp.sum(xp.astype(xp.asarray(self.mask) > 0.5, xp.int32), axis=-1)

    def plane(self, index: int) -> HaloBatch:
        """The batch of one plane of a ``(planes, capacity)`` batch."""
        return _tree_index(self, index)

    def masked_profile(self) -> MassProfile:
        """The wrapped profile with every masked slot set to its safe values."""
        prof = self.profile
        if hasattr(prof, "lensing_profile"):
            prof = _apply_mask(prof, self.mask).lensing_profile()
        return _apply_mask(prof, self.mask)

    @property
    def n_halos(self) -> int | None:
        return self.capacity

    def _evaluate(self, method: str, grid: ArrayLike, n_out: int, active=None):
        # real haloes come first, so chunks of padding at the end are skipped
        return self.masked_profile()._evaluate(method, grid, n_out, active=self.mask)


def group_batches(batches: Sequence[HaloBatch]) -> list[list[HaloBatch]]:
    """``batches`` grouped by the kind of profile they wrap (class and static fields), in
    order of first appearance: each group can be :func:`concatenate_batches`-ed."""
    groups: dict[tuple, list[HaloBatch]] = {}
    for b in batches:
        groups.setdefault(engine.static_kind(b.profile), []).append(b)
    return list(groups.values())


def concatenate_batches(batches: Sequence[HaloBatch]) -> HaloBatch:
    """One batch holding the slots of ``batches`` in turn (capacity: the sum of theirs).

    The batches must wrap one profile class with the same static fields and have
    1-d masks (one plane). Fields are unchanged: a padded slot adds exactly zero
    wherever it sits, and halo reductions skip chunks of padding anywhere.
    Evaluating a plane's batches as one puts one copy of the profile's code in a
    compiled program instead of one per batch. A single batch is returned as it is.

    Raises
    ------
    ValueError
        If the batches wrap different profile classes or static fields.
    """
    if len(batches) == 1:
        return batches[0]
    first = batches[0].profile
    kind = engine.static_kind(first)
    for b in batches[1:]:
        other = engine.static_kind(b.profile)
        if other != kind:
            raise ValueError(f"concatenate_batches: {other[0].__name__} batch differs from {kind[0].__name__}")
    leaves = [b.mask for b in batches]
    xp = engine.namespace(*leaves, *(getattr(b.profile, f.name) for b in batches
                                     for f in engine.data_fields(first)))
    values = {n: getattr(first, n) for n in engine.meta_fields(first)}
    for f in engine.data_fields(first):
        values[f.name] = xp.concatenate([xp.asarray(getattr(b.profile, f.name)) for b in batches], axis=0)
    mask = xp.concatenate([xp.asarray(b.mask) for b in batches], axis=0)
    return HaloBatch(profile=unchecked(type(first), values), mask=mask)


def _apply_mask(profile: MassProfile, mask) -> MassProfile:
    """Substitute safe values where ``mask`` is False (a double where for the gradients)."""
    leaves = [getattr(profile, f.name) for f in engine.data_fields(profile)]
    xp = engine.namespace(mask, *leaves)
    m = xp.asarray(mask) > 0.5
    values = {n: getattr(profile, n) for n in engine.meta_fields(profile)}
    for f in engine.data_fields(profile):
        v = xp.asarray(getattr(profile, f.name))
        safe = xp.asarray(_safe_value(type(profile), f.name), dtype=v.dtype)
        mm = m[..., None] if f.name in VECTOR_FIELDS else m
        values[f.name] = xp.where(mm, v, safe)
    return unchecked(type(profile), values)


def _tree_index(batch: HaloBatch, index: int) -> HaloBatch:
    prof = batch.profile
    values = {f.name: getattr(prof, f.name)[index] for f in engine.data_fields(prof)}
    values.update({n: getattr(prof, n) for n in engine.meta_fields(prof)})
    return HaloBatch(profile=unchecked(type(prof), values), mask=batch.mask[index])
