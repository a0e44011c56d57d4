"""Mapping a function over a batch inside one compiled program, across devices.

How a batch is best mapped depends on the platform: on a CPU ``lax.map`` (a loop
inside the program) keeps the ``lax.cond`` skips of all-padding halo chunks, which
``vmap`` would turn into both branches; on accelerators ``vmap`` fills the device.
With several devices the batch axis is sharded over them with ``jax.shard_map``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .backend import check_engine, import_jax
from .pytrees import tree_leaves
from .transforms import vmap

__all__ = ["BATCH_AXIS", "batch_sharding", "map_batch"]

#: Name of the mesh axis the batch is sharded over (:func:`map_batch`).
BATCH_AXIS = "batch"


def map_batch(fn: Callable, engine: str, devices: Sequence | None = None) -> Callable:
    """Map ``fn`` over the leading axis of its arguments inside one program.

    On JAX with a CPU backend this is ``lax.map`` (a loop in the compiled program, which
    keeps ``lax.cond`` skips such as all-padding halo chunks: under ``vmap`` a ``cond``
    evaluates both branches); on accelerators ``vmap``; on NumPy a Python loop.

    With more than one JAX device (``devices``, default every local device of the default
    backend) the batch axis is sharded across them: the returned function pads the batch
    to a multiple of the device count (with copies of its last element, dropped from the
    result), splits it over a one-axis :class:`jax.sharding.Mesh` with ``jax.shard_map``,
    and maps ``fn`` over each device's slice as above. Every output leaf comes back with
    a leading batch axis, sharded over the same devices (a ``NamedSharding``). With one
    device the function is the plain map. Results do not depend on the number of devices.
    Call the returned function under ``jax.jit``.
    """
    if check_engine(engine) != "jax":
        return vmap(fn, engine)
    jax = import_jax()
    devices = list(jax.local_devices() if devices is None else devices)
    local = _local_map(fn, jax, devices[0].platform if devices else jax.default_backend())
    if len(devices) <= 1:
        return local
    return _sharded_map(local, jax, devices)


def _local_map(fn: Callable, jax, platform: str) -> Callable:
    if platform == "cpu":
        return lambda *args: jax.lax.map(lambda a: fn(*a), args)
    return jax.vmap(fn)


def batch_sharding(devices: Sequence | None = None):
    """The ``NamedSharding`` that splits a leading batch axis over ``devices`` (default: all local).

    ``jax.device_put(x, batch_sharding())`` places a batch the way :func:`map_batch` computes
    it, so no data moves between devices when the jitted batch function starts.
    """
    jax = import_jax()
    devices = list(jax.local_devices() if devices is None else devices)
    mesh = jax.sharding.Mesh(np.asarray(devices), (BATCH_AXIS,))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(BATCH_AXIS))


def _sharded_map(local: Callable, jax, devices: list) -> Callable:
    n_dev = len(devices)
    sharding = batch_sharding(devices)
    spec = sharding.spec

    def mapped(*args):
        leaves = tree_leaves(args)
        sizes = {int(np.shape(leaf)[0]) for leaf in leaves}
        if len(sizes) != 1:
            raise ValueError(f"map_batch: the arguments have different batch sizes {sorted(sizes)}")
        (n,) = sizes
        pad = -n % n_dev
        if pad:  # copies of the last element, computed and dropped
            args = jax.tree_util.tree_map(
                lambda a: jax.numpy.concatenate([a, jax.numpy.repeat(a[-1:], pad, axis=0)], axis=0), args)
        out = jax.shard_map(lambda *a: local(*a), mesh=sharding.mesh, in_specs=spec, out_specs=spec,
                            check_vma=False)(*args)
        out = jax.tree_util.tree_map(lambda o: jax.lax.with_sharding_constraint(o, sharding), out)
        if pad:
            out = jax.tree_util.tree_map(lambda o: o[:n], out)
        return out

    return mapped
