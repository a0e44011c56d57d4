"""Galaxies: profiles grouped at one redshift (PyAutoLens ``ag.Galaxy``)."""

from __future__ import annotations

from typing import Any

from ..engine import ArrayLike, namespace, pytree_dataclass
from ..profiles.base import LightProfile, MassProfile

__all__ = ["Galaxy", "sum_fields"]


@pytree_dataclass(meta=("redshift",))
class Galaxy:
    """Profiles at one redshift (PyAutoLens ``ag.Galaxy``).

    Parameters
    ----------
    redshift : float
        Redshift of the galaxy (>= 0; a static value: changing it recompiles).
    **profiles : MassProfile or LightProfile
        Named profiles, e.g. ``mass=mp.PowerLaw(...)``, ``shear=mp.ExternalShear(...)``,
        ``light=lp.SersicCore(...)``, ``subhalos=HaloBatch(...)``.

    Examples
    --------
    >>> import xlens
    >>> g = xlens.Galaxy(0.5, mass=xlens.mp.IsothermalSph(einstein_radius=1.0))
    >>> sorted(g.profiles)
    ['mass']
    """

    redshift: float
    profiles: dict[str, Any]

    def __init__(self, redshift: float, **profiles: Any):
        z = float(redshift)
        if not z >= 0 or z != z or z == float("inf"):
            raise ValueError(f"Galaxy.redshift must be in [0, inf); got {redshift!r}")
        for name, prof in profiles.items():
            if not isinstance(prof, MassProfile | LightProfile):
                raise TypeError(
                    f"Galaxy profile {name!r} must be a mass or light profile; got {type(prof).__name__}"
                )
        object.__setattr__(self, "redshift", z)
        object.__setattr__(self, "profiles", dict(profiles))

    @property
    def mass_profiles(self) -> list[MassProfile]:
        """The mass profiles, in the order given."""
        return [p for p in self.profiles.values() if isinstance(p, MassProfile)]

    @property
    def light_profiles(self) -> list[LightProfile]:
        """The light profiles, in the order given."""
        return [p for p in self.profiles.values() if isinstance(p, LightProfile)]

    def deflections_yx_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the deflections ``(alpha_y, alpha_x)`` [arcsec] of the mass profiles."""
        return sum_fields([p.deflections_yx_2d_from for p in self.mass_profiles], grid, vector=True)

    def convergence_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the convergences (dimensionless) of the mass profiles."""
        return sum_fields([p.convergence_2d_from for p in self.mass_profiles], grid)

    def image_2d_from(self, grid: ArrayLike) -> ArrayLike:
        """Sum of the surface brightnesses of the light profiles."""
        return sum_fields([p.image_2d_from for p in self.light_profiles], grid)


def sum_fields(fns, grid, vector: bool = False):
    """Sum of ``fn(grid)`` over ``fns``: vectors (..., 2) when ``vector``, else scalars (...)."""
    xp = namespace(grid)
    grid = xp.asarray(grid)
    shape = grid.shape if vector else grid.shape[:-1]
    dtype = grid.dtype if xp.isdtype(grid.dtype, "real floating") else xp.float64
    total = xp.zeros(shape, dtype=dtype)
    for fn in fns:
        total = total + fn(grid)
    return total
