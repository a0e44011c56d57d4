"""Haloes parameterised by mass: the Ludlow et al. (2016) mass-concentration profiles (PHYSICS.md §11).

``NFWTruncatedMCRLudlowSph`` and ``cNFWMCRLudlowSph`` take a halo mass M200c
and redshifts, and turn them into the lensing parameters of
:class:`~xlens.mp.NFWTruncatedSph` / :class:`~xlens.mp.cNFWSph` inside the
traced code (the concentration is interpolated from a table built once in
NumPy), so masses drawn inside ``jit`` need no host round trip.

Two errors of established packages are avoided (PHYSICS.md §11.1, §11.3): the
truncation radius ``r_t = 2 r200`` is converted from kpc to arcsec *before*
``tau = r_t / r_s`` is formed (so ``tau = 2c`` exactly), and the cored
normalisation uses the ``(1 - f_c)^2`` denominator.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ...engine import ArrayLike, namespace, pytree_dataclass
from ...errors import ParameterError, concrete
from ...halo_model import (
    cored_nfw_parameters_from_m200,
    ludlow16_concentration,
    nfw_parameters_from_m200,
)
from ..base import ANY_ARCSEC, MassProfile, Range, unchecked
from .nfw import NFWTruncatedSph, cNFWSph

__all__ = ["NFWTruncatedMCRLudlowSph", "cNFWMCRLudlowSph"]

_MASS = Range(1e3, 1e16, low_inclusive=True, high_inclusive=True, units="[M_sun]",
              hint="the concentration table of Ludlow et al. (2016) covers 1e3 to 1e16 M_sun")
_REDSHIFT = Range(0.0, 10.0, high_inclusive=True, units="(dimensionless)")
_CFACTOR = Range(0.0, math.inf, units="(dimensionless)")


def _float64(p: dict, xp) -> dict:
    return {k: (tuple(xp.astype(v, xp.float64) for v in a) if isinstance(a, tuple)
                else xp.astype(a, xp.float64)) for k, a in p.items()}


def _with_centre(profile, p: dict, xp) -> dict:
    """Lensing parameters of ``profile`` with its (..., 2) centre passed through as (y, x)."""
    centre = xp.asarray(profile.centre, dtype=xp.float64)
    p["centre"] = (centre[..., 0], centre[..., 1])
    out = profile._lensing_params(p, xp)
    out["centre"] = xp.stack(out["centre"], axis=-1)
    return out


class _MassConcentration(MassProfile):
    """Shared machinery: mass -> (kappa_s, r_s, ...) through the Ludlow concentration."""

    def _validate(self) -> None:
        z, zs = concrete(self.redshift_object), concrete(self.redshift_source)
        if z is None or zs is None:
            return
        bad = np.broadcast_to(zs <= z, np.broadcast_shapes(z.shape, zs.shape))
        if np.any(bad):
            i = int(np.argmax(bad.ravel()))
            zz = float(np.broadcast_to(z, bad.shape).ravel()[i])
            zzs = float(np.broadcast_to(zs, bad.shape).ravel()[i])
            owner = type(self).__name__
            raise ParameterError(
                f"{owner}.redshift_source must be > redshift_object = {zz!r}; got {zzs!r}. "
                "A source in front of the halo is not lensed by it",
                name=f"{owner}.redshift_source", value=zzs, low=zz, high=math.inf,
            )

    def concentration(self):
        """The concentration c200c [dimensionless], including ``concentration_factor``."""
        c = ludlow16_concentration(self.mass_at_200, self.redshift_object, model=self.concentration_model)
        xp = namespace(c, self.concentration_factor)
        return xp.asarray(c) * self.concentration_factor

    def _lensing_params(self, p, xp) -> dict[str, Any]:
        """Lensing parameters (in the dtype of ``p``) from the mass-concentration fields ``p``."""
        dtype = p["mass_at_200"].dtype
        p = _float64(p, xp)  # the conversion chain runs in float64 (PHYSICS.md §16)
        c = ludlow16_concentration(p["mass_at_200"], p["redshift_object"], model=self.concentration_model)
        c = xp.asarray(c) * p["concentration_factor"]
        out = {"centre": tuple(xp.astype(v, dtype) for v in p["centre"])}
        out.update(self._halo_params(p, c, dtype, xp))
        return out

    def lensing_profile(self) -> MassProfile:
        """The equivalent lensing profile (``lensing_class``) [arcsec], without validation."""
        xp = namespace(*(getattr(self, n) for n in ("centre", *self._mass_fields)))
        p = {n: xp.asarray(getattr(self, n), dtype=xp.float64) for n in self._mass_fields}
        return unchecked(self.lensing_class, _with_centre(self, p, xp))

    def _evaluate(self, method: str, grid: ArrayLike, n_out: int, active=None):
        # convert once (in float64) and evaluate the lensing profile, which keeps its own
        # float64 policy (cNFW, potentials) whatever the grid dtype
        return self.lensing_profile()._evaluate(method, grid, n_out, active=active)


@pytree_dataclass(meta=("concentration_model",))
class NFWTruncatedMCRLudlowSph(_MassConcentration):
    """A truncated NFW halo of mass M200c with the Ludlow et al. (2016) concentration.

    Parameters
    ----------
    centre : (y, x) or array, shape (H, 2)
        Position [arcsec].
    mass_at_200 : float or array, shape (H,)
        M200c, the mass inside r200 where the mean density is 200 rho_crit(z)
        [M_sun], in [1e3, 1e16].
    redshift_object : float or array, shape (H,)
        Halo redshift (its plane) in (0, 10].
    redshift_source : float or array, shape (H,)
        Redshift of the *last* plane of the tracer, > ``redshift_object``:
        kappa_s is normalised to Sigma_cr(z, z_source) (PHYSICS.md §13.1).
    concentration_factor : float or array, shape (H,)
        Multiplies the Ludlow concentration (default 1; WDM suppression or the
        boost of core-collapsed SIDM haloes), > 0.
    concentration_model : {"full", "fit"}
        Ludlow et al. (2016) semi-analytic model (default) or its fitting formula (static).

    Notes
    -----
    ``r_s = r200 / c``, ``kappa_s = rho_s r_s / Sigma_cr`` (PHYSICS.md §11.1) and
    ``r_t = 2 r200`` converted to arcsec before ``tau = r_t / r_s = 2c`` (§11.3).
    The total mass of the truncated halo is ``M200 m_inf(2c) / mu(c)``.
    PyAutoLens ``mp.NFWTruncatedMCRLudlowSph`` has the same parameters but
    forms tau from r_t in kpc (6.3x too large at z = 0.5).
    """

    centre: ArrayLike = (0.0, 0.0)
    mass_at_200: ArrayLike = 1e9
    redshift_object: ArrayLike = 0.5
    redshift_source: ArrayLike = 1.0
    concentration_factor: ArrayLike = 1.0
    concentration_model: str = "full"

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "mass_at_200": _MASS,
        "redshift_object": _REDSHIFT,
        "redshift_source": _REDSHIFT,
        "concentration_factor": _CFACTOR,
    }

    lensing_class: ClassVar = NFWTruncatedSph
    _mass_fields: ClassVar = ("mass_at_200", "redshift_object", "redshift_source",
                              "concentration_factor")

    def _halo_params(self, p, c, dtype, xp) -> dict[str, Any]:
        par = nfw_parameters_from_m200(p["mass_at_200"], c, p["redshift_object"], p["redshift_source"])
        r_s = xp.astype(xp.asarray(par.scale_radius_arcsec), dtype)
        return {
            "kappa_s": xp.astype(xp.asarray(par.kappa_s), dtype),
            "scale_radius": r_s,
            "truncation_radius": 2.0 * xp.astype(c, dtype) * r_s,
        }


@pytree_dataclass(meta=("concentration_model",))
class cNFWMCRLudlowSph(_MassConcentration):  # noqa: N801 - PyAutoLens name
    """A cored NFW halo of mass M200c with the Ludlow et al. (2016) concentration.

    Parameters
    ----------
    centre : (y, x) or array, shape (H, 2)
        Position [arcsec].
    mass_at_200 : float or array, shape (H,)
        M200c [M_sun], in [1e3, 1e16].
    f_c : float or array, shape (H,)
        Core fraction r_c / r_s, in (0, 10].
    redshift_object, redshift_source : float or array, shape (H,)
        Halo redshift and the redshift of the last plane (> redshift_object).
    concentration_factor : float or array, shape (H,)
        Multiplies the Ludlow concentration (default 1), > 0.
    concentration_model : {"full", "fit"}
        Static choice of the concentration model.

    Notes
    -----
    The cored halo keeps the NFW r200 and r_s and is normalised so that
    M(<r200) = M200 with ``mu(c, f_c)`` and its ``(1 - f_c)^2`` denominator
    (PHYSICS.md §11.1); ``r_c = f_c r_s``. Not truncated.
    """

    centre: ArrayLike = (0.0, 0.0)
    mass_at_200: ArrayLike = 1e9
    f_c: ArrayLike = 0.1
    redshift_object: ArrayLike = 0.5
    redshift_source: ArrayLike = 1.0
    concentration_factor: ArrayLike = 1.0
    concentration_model: str = "full"

    ranges: ClassVar = {
        "centre": ANY_ARCSEC,
        "mass_at_200": _MASS,
        "f_c": Range(0.0, 10.0, high_inclusive=True, units="(dimensionless)"),
        "redshift_object": _REDSHIFT,
        "redshift_source": _REDSHIFT,
        "concentration_factor": _CFACTOR,
    }

    lensing_class: ClassVar = cNFWSph
    _mass_fields: ClassVar = ("mass_at_200", "f_c", "redshift_object", "redshift_source",
                              "concentration_factor")

    def _halo_params(self, p, c, dtype, xp) -> dict[str, Any]:
        par = cored_nfw_parameters_from_m200(p["mass_at_200"], c, p["f_c"], p["redshift_object"],
                                             p["redshift_source"])
        return {
            "kappa_s": xp.astype(xp.asarray(par.kappa_s), dtype),
            "scale_radius": xp.astype(xp.asarray(par.scale_radius_arcsec), dtype),
            "core_radius": xp.astype(xp.asarray(par.core_radius_arcsec), dtype),
        }
