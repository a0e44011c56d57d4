"""Vector fields given as tuples: ``centre=(y, x)`` of numbers, arrays or JAX tracers.

Building a profile the PyAutoLens way inside ``jax.jit``/``grad``/``vmap`` -- ``centre=(y, x)``,
``ell_comps=(e1, e2)`` with traced scalars -- must work on every profile with a vector field
and give the same fields as building it from one array (xlens.profiles.base.vector_from_sequence).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import needs_jax
from helpers import AD, NUMPY, assert_close

from xlens import lp, mp
from xlens.profiles.base import VECTOR_FIELDS, MassProfile

#: One valid parameter set per profile with a vector field (scalars; vectors as (y, x) pairs).
CASES = {
    "PowerLaw": (mp.PowerLaw, dict(centre=(0.02, -0.03), ell_comps=(0.1, -0.05), einstein_radius=1.2, slope=2.1)),
    "Isothermal": (mp.Isothermal, dict(centre=(0.02, -0.03), ell_comps=(0.1, -0.05), einstein_radius=1.1)),
    "IsothermalSph": (mp.IsothermalSph, dict(centre=(0.02, -0.03), einstein_radius=1.1)),
    "NFWSph": (mp.NFWSph, dict(centre=(0.3, -0.2), kappa_s=0.01, scale_radius=0.24)),
    "NFWTruncatedSph": (mp.NFWTruncatedSph, dict(centre=(0.3, -0.2), kappa_s=0.01, scale_radius=0.24,
                                                 truncation_radius=5.0)),
    "cNFWSph": (mp.cNFWSph, dict(centre=(0.3, -0.2), kappa_s=0.01, scale_radius=0.24, core_radius=0.05)),
    "PointMass": (mp.PointMass, dict(centre=(0.3, -0.2), einstein_radius=0.1)),
    "MassSheet": (mp.MassSheet, dict(centre=(0.3, -0.2), kappa=0.05)),
    "NFWTruncatedMCRLudlowSph": (mp.NFWTruncatedMCRLudlowSph, dict(centre=(0.3, -0.2), mass_at_200=1e9,
                                                                   redshift_object=0.5, redshift_source=1.0)),
    "cNFWMCRLudlowSph": (mp.cNFWMCRLudlowSph, dict(centre=(0.3, -0.2), mass_at_200=1e9, f_c=0.1,
                                                   redshift_object=0.5, redshift_source=1.0)),
    "Gaussian": (lp.Gaussian, dict(centre=(0.02, -0.03), ell_comps=(0.1, -0.05), intensity=1.0, sigma=0.3)),
    "Sersic": (lp.Sersic, dict(centre=(0.02, -0.03), ell_comps=(0.1, -0.05), intensity=1.0,
                               effective_radius=0.3, sersic_index=2.0)),
    "SersicCore": (lp.SersicCore, dict(centre=(0.02, -0.03), ell_comps=(0.1, -0.05), intensity=1.0,
                                       effective_radius=0.3, sersic_index=2.0, radius_break=0.02, gamma=0.0,
                                       alpha=2.0)),
}
GRID = np.array([[0.31, 0.44], [1.0, -0.52], [-0.7, 0.25], [0.05, 1.3]])


def _field(profile, grid):
    """The profile's main output summed to one number (deflections for mass, light for light)."""
    if isinstance(profile, MassProfile):
        return profile.deflections_yx_2d_from(grid)
    return profile.image_2d_from(grid)


def _split(values):
    """Scalars of the case: vector fields as their two components (``centre.0``), others as they are."""
    flat = {}
    for name, v in values.items():
        if name in VECTOR_FIELDS:
            flat[name + ".0"], flat[name + ".1"] = v
        else:
            flat[name] = v
    return flat


def _build(cls, flat, *, as_tuple: bool, xp):
    """The profile from scalars: vector fields as a (y, x) tuple, or stacked into one array first."""
    values = {}
    for key, v in flat.items():
        name, _, comp = key.partition(".")
        if comp:
            values.setdefault(name, [None, None])[int(comp)] = v
        else:
            values[name] = v
    for name in VECTOR_FIELDS:
        if name in values:
            pair = tuple(values[name])
            values[name] = pair if as_tuple else xp.stack([xp.asarray(v) for v in pair])
    return cls(**values)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_pair_of_arrays_is_one_vector_on_numpy(case):
    """(y, x) of NumPy scalars or per-halo columns gives the (2,) or (H, 2) array of the pair."""
    cls, values = CASES[case]
    flat = _split(values)
    np_flat = {k: np.asarray(v) for k, v in flat.items()}
    ref = _build(cls, flat, as_tuple=False, xp=np)
    got = _build(cls, np_flat, as_tuple=True, xp=np)
    for name in VECTOR_FIELDS:
        if hasattr(ref, name):
            assert_close(getattr(got, name), getattr(ref, name), rtol=0, atol=0, xp=NUMPY,
                         why="a (y, x) pair of NumPy scalars is the vector itself")
    columns = {k: np.full(3, v) for k, v in flat.items()}
    halos = _build(cls, columns, as_tuple=True, xp=np)
    for name in VECTOR_FIELDS:
        if hasattr(ref, name):
            assert np.shape(getattr(halos, name)) == (3, 2), "per-halo (y, x) columns give (H, 2)"
            assert_close(getattr(halos, name)[1], getattr(ref, name), rtol=0, atol=0, xp=NUMPY,
                         why="each row of (H, 2) is one halo's (y, x)")


@needs_jax
@pytest.mark.jax
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_pair_of_tracers_works_under_jit_grad_and_vmap(case):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    cls, values = CASES[case]
    flat = {k: float(v) for k, v in _split(values).items()}
    names = sorted(flat)

    def total(as_tuple, *args):
        profile = _build(cls, dict(zip(names, args, strict=True)), as_tuple=as_tuple, xp=jnp)
        return jnp.sum(_field(profile, jnp.asarray(GRID)))

    args = tuple(jnp.asarray(flat[k]) for k in names)
    expect = total(False, *args)
    assert_close(jax.jit(lambda *a: total(True, *a))(*args), expect, rtol=AD.float64, atol=0, xp=jnp,
                 why="a traced (y, x) tuple under jit is the same profile as the stacked array")
    argnums = tuple(range(len(names)))
    g_tuple = jax.grad(lambda *a: total(True, *a), argnums=argnums)(*args)
    g_array = jax.grad(lambda *a: total(False, *a), argnums=argnums)(*args)
    for k, a, b in zip(names, g_tuple, g_array, strict=True):
        assert np.isfinite(float(a)), f"d/d{k} is not finite"
        assert_close(a, b, rtol=AD.float64, atol=1e-14, xp=jnp, why=f"d/d{k}: tuple and array agree")
    batch = tuple(jnp.stack([a, a * 1.01]) for a in args)
    mapped = jax.vmap(lambda *a: total(True, *a))(*batch)
    assert_close(mapped[0], expect, rtol=AD.float64, atol=0, xp=jnp, why="vmap over tuples, first row")


def test_a_sequence_of_three_arrays_is_an_error():
    with pytest.raises(ValueError, match=r"must be a pair \(y, x\); got 3 entries"):
        mp.IsothermalSph(centre=(np.asarray(0.1), np.asarray(0.2), np.asarray(0.3)), einstein_radius=1.0)
