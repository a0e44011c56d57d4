"""Instrument presets: pixel scale, Gaussian PSF, exposure, sky and read noise of real cameras.

``SimulatorConfig(instrument="euclid_vis")`` takes every image setting it is not given from
the preset; ``docs/model.md`` ("Instrument presets") lists each number with its source and
the conversions below. The numbers describe *one* representative exposure (or visit); a stack
of N of them is ``exposure_time * N`` and ``read_noise * sqrt(N)``. The sky level depends on the
pointing (zodiacal light, moon, airmass): the presets take a dark, typical value.

Units: pixel scale and FWHM [arcsec], exposure [s], sky [e-/s per pixel], read noise [e- per
pixel, per exposure]. A Gaussian of full width at half maximum FWHM has
``sigma = FWHM / (2 sqrt(2 ln 2))``; a sky of ``m`` mag/arcsec^2 with a zero point ``ZP`` (the
AB magnitude giving 1 e-/s) gives ``10^(-0.4 (m - ZP)) * pixel_scale^2`` e-/s per pixel.
"""

from __future__ import annotations

import math
from types import MappingProxyType

__all__ = ["INSTRUMENTS", "instrument_preset", "sigma_from_fwhm", "sky_per_pixel"]

#: sigma / FWHM of a Gaussian.
_SIGMA_PER_FWHM = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))


def sigma_from_fwhm(fwhm: float) -> float:
    """Gaussian standard deviation [arcsec] of a full width at half maximum ``fwhm`` [arcsec]."""
    return fwhm * _SIGMA_PER_FWHM


def sky_per_pixel(mag_per_arcsec2: float, zero_point: float, pixel_scale: float) -> float:
    """Sky [e-/s per pixel] from a surface brightness [AB mag/arcsec^2], the zero point [AB mag
    giving 1 e-/s] and the pixel scale [arcsec]."""
    return 10.0 ** (-0.4 * (mag_per_arcsec2 - zero_point)) * pixel_scale**2


def _kernel_shape(sigma: float, pixel_scale: float) -> tuple[int, int]:
    """Odd kernel side spanning +-5 sigma, at least 11 pixels (the default model's)."""
    half = max(5, math.ceil(5.0 * sigma / pixel_scale))
    return (2 * half + 1, 2 * half + 1)


def _preset(pixel_scale: float, fwhm: float, exposure_time: float, sky: float, read_noise: float):
    sigma = sigma_from_fwhm(fwhm)
    return MappingProxyType({
        "pixel_scale": pixel_scale,
        "psf_sigma": sigma,
        "psf_shape": _kernel_shape(sigma, pixel_scale),
        "exposure_time": exposure_time,
        "background_sky_level": sky,
        "read_noise": read_noise,
    })


#: The presets by name: ``{name: {field: value}}`` for the SimulatorConfig fields ``pixel_scale``,
#: ``psf_sigma``, ``psf_shape``, ``exposure_time``, ``background_sky_level`` and ``read_noise``.
#: Sources and conversions: docs/model.md, "Instrument presets".
INSTRUMENTS = MappingProxyType({
    # WFC3 Instrument Handbook: Table 5.1 (plate scale 0.13''/pix; read noise 20.2-21.4 e- for a pair of
    # reads), Table 7.5 (FWHM 0.151'' at 1600 nm, before pixelation), Sect. 5.7 (zodiacal light
    # 0.3-1.0 e-/s/pix in broad filters: 0.5 taken); 2700 s ~ the science time of one orbit.
    "hst_wfc3_f160w": _preset(pixel_scale=0.13, fwhm=0.151, exposure_time=2700.0, sky=0.5, read_noise=20.2),
    # JDox NIRCam: SW pixels 0.031''; F150W FWHM 0.050'' (~lambda/D); 10 ks, the JDox sensitivity
    # benchmark; read noise 15.77 e- (lenstronomy's NIRCam SW value); sky 0.15 e-/s/pix: our estimate
    # of the low-zodiacal 1.5 um background (docs/model.md), to be checked against the ETC.
    "jwst_nircam_f150w": _preset(pixel_scale=0.031, fwhm=0.050, exposure_time=10000.0, sky=0.15,
                                 read_noise=15.77),
    # Euclid VIS (euclid-ec.org VIS page; Euclid Q1 VIS paper): 0.1'' pixels, FWHM 0.16'', one nominal
    # 565 s exposure of the reference sequence, read noise < 4.4 e-; sky 22.35 mag/arcsec^2 with the
    # zero point 24.0 of lenstronomy's Euclid VIS configuration.
    "euclid_vis": _preset(pixel_scale=0.1, fwhm=0.16, exposure_time=565.0,
                          sky=sky_per_pixel(22.35, 24.0, 0.1), read_noise=4.4),
    # Roman WFI (roman.gsfc.nasa.gov WFI technical page, via lenstronomy's Roman configuration):
    # 0.11'' pixels, F106 FWHM 0.087'', read noise 15.5 e-, sky 22.99 mag/arcsec^2 with ZP 26.44 (the
    # minimum-zodiacal count rate); one 146 s exposure of the High Latitude Wide Area Survey.
    "roman_f106": _preset(pixel_scale=0.11, fwhm=0.087, exposure_time=146.0,
                          sky=sky_per_pixel(22.99, 26.44, 0.11), read_noise=15.5),
    # Rubin/LSST SMTN-002 (v1.9 throughputs): 0.2'' pixels; FWHM_geom = 0.822 FWHM_eff + 0.052 with
    # FWHM_eff(i) = 0.80''; dark zenith sky i = 20.46 mag/arcsec^2, zero point (1 e-/s) 28.17; one
    # 30 s visit (2 x 15 s) with 12.7 e- of instrumental noise.
    "lsst_i": _preset(pixel_scale=0.2, fwhm=0.822 * 0.80 + 0.052, exposure_time=30.0,
                      sky=sky_per_pixel(20.46, 28.17, 0.2), read_noise=12.7),
})


def instrument_preset(name: str):
    """The preset ``{field: value}`` of an instrument name (a read-only mapping).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if not isinstance(name, str) or name not in INSTRUMENTS:
        raise ValueError(f"SimulatorConfig.instrument must be one of {', '.join(map(repr, INSTRUMENTS))} "
                         f"(or None for the default model); got {name!r}")
    return INSTRUMENTS[name]
