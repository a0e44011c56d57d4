"""The simulator's static configuration: image, PSF, exposure, redshifts, populations, priors.

Changing any field of :class:`SimulatorConfig` changes the compiled program (shapes, static
constants); everything drawn per image is data (:class:`~xlens.model.SimParams`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..halos.config import LineOfSightConfig, SubhaloConfig
from ..imaging.grid import Grid2D
from ..imaging.noise import check_exposure
from ..imaging.psf import Kernel2D, binned_psf_values
from .galaxies import Model, ModelError, default_model
from .instruments import instrument_preset
from .parameters import POPULATION_PARAMETERS, redshift_range
from .priors import Fixed, Prior, PriorError

__all__ = ["SimulatorConfig"]


#: The image settings of the default model: what the fields left unset (None) take without an
#: instrument preset.
_MODEL_DEFAULTS = {"pixel_scale": 0.05, "psf_sigma": 0.05, "psf_shape": (11, 11), "exposure_time": 1000.0,
                   "background_sky_level": 0.1, "read_noise": 0.0}


def read_psf_file(path) -> np.ndarray:
    """The array of a .npy file (no pickles), for ``SimulatorConfig.psf_file``.

    Raises
    ------
    ValueError
        If the file cannot be read or holds no single array; the message names the path.
    """
    try:
        with open(path, "rb") as fh:
            values = np.load(fh, allow_pickle=False)
            values = values if isinstance(values, np.ndarray) else None
    except (OSError, ValueError, EOFError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ValueError(f"SimulatorConfig.psf_file = {str(path)!r}: cannot read it as an npy array "
                         f"({reason})") from None
    if values is None:
        raise ValueError(f"SimulatorConfig.psf_file = {str(path)!r} must be a .npy file holding one array "
                         "(an .npz archive holds several)")
    return values


def _default_subhalos() -> SubhaloConfig:
    # ~21 subhaloes on average: Sigma_sub = 0.025 kpc^-2, 1e8-1e10 M_sun, within 2.5''
    return SubhaloConfig(sigma_sub=0.025, m_min=1e8, m_max=1e10, radius=2.5)


def _default_los() -> LineOfSightConfig:
    # ~1000 haloes on 8 planes: 1.5e6-1e10 M_sun in a 3'' double cone
    return LineOfSightConfig(n_planes=8, cone_radius=3.0, m_min=1.5e6, m_max=1e10)


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Static configuration of the simulator (changing any field recompiles).

    Parameters
    ----------
    instrument : str or None
        Instrument preset: one of "hst_wfc3_f160w", "jwst_nircam_f150w", "euclid_vis",
        "roman_f106", "lsst_i"; it sets pixel_scale, psf_sigma, psf_shape, exposure_time,
        background_sky_level and read_noise, and a key given explicitly overrides it
        (docs/model.md lists the numbers and their sources). None (default): the default model.
    shape_native : (int, int)
        Image shape in pixels (default (100, 100)).
    pixel_scale : float
        Pixel size [arcsec] (default 0.05, or the instrument's).
    sub_size : int
        Over-sampling: sub_size x sub_size rays per pixel (default 4).
    psf_sigma : float
        Gaussian PSF standard deviation [arcsec] (default 0.05, or the instrument's); unset
        (None) with a pixelised psf.
    psf_shape : (int, int)
        Odd PSF kernel shape in pixels (default (11, 11), or the instrument's); with a
        pixelised psf, the binned array's shape.
    psf : array, path or None
        Pixelised PSF: a 2D array, or the path of an npy file (numpy.save; read once, as
        psf_file); None (default) for the Gaussian. Finite with a positive sum (negative wings
        allowed), normalised to sum 1; sampled at pixel_scale / psf_sub_size and centred on the
        array's centre. Stored as its values (nested tuples, as given), so a configuration, a
        TOML file and a dataset record the PSF they used.
    psf_file : str or None
        Path of the npy file the psf is read from (relative: from the working directory, or in
        a TOML file from the file's folder; recorded resolved). Read only when psf holds no
        values: with both, the values are the record and the path a note of their origin.
    psf_sub_size : int
        Samples of the psf per pixel side (default 1: at the pixel scale, used as is); each
        psf_sub_size x psf_sub_size block is summed into one pixel, so the sides must be odd
        multiples of it. Only with a psf.
    exposure_time : float
        Exposure [s], > 0 (default 1000, or the instrument's).
    background_sky_level : float
        Sky [e-/s per pixel], >= 0 (default 0.1, or the instrument's).
    read_noise : float
        Read noise [e- per pixel], >= 0 (default 0: none, or the instrument's), added as
        Gaussian electrons to the Poisson counts; the noise map includes it.
    z_lens, z_source : float
        Main-lens and source redshifts (defaults 0.5 and 1.0).
    subhalos : SubhaloConfig or None
        Subhalo population (default: CDM, ~21 haloes of 1e8-1e10 M_sun); None for none.
    line_of_sight : LineOfSightConfig or None
        Line-of-sight population (default: ~1000 haloes of 1.5e6-1e10 M_sun on 8 planes).
    model : Model or mapping
        The galaxies, their profiles and the priors of every field (default: the default
        model, :func:`~xlens.model.default_model`: ``lens.mass`` PowerLaw, ``lens.shear``
        ExternalShear, ``source.light`` SersicCore). A :class:`~xlens.model.Model` or its
        tables ``{galaxy: {profile: {"profile": "PowerLaw", field: prior or tie}}}``
        (docs/model.md). Stored as a :class:`~xlens.model.Model`.
    priors : mapping
        Priors of the populations and the redshifts, ``{group: {name: prior}}``. A prior is a
        :class:`~xlens.model.priors.Prior` or its Python form (:meth:`Prior.from_spec`): a
        number (fixed), ``(low, high)`` (uniform), ``{"log_uniform": (low, high)}`` or
        ``{"normal": (mean, sd), "bounds": (low, high)}`` (truncated normal). Stored as
        :class:`Prior` objects, in the canonical order.

        Groups ``"subhalos"`` and ``"line_of_sight"`` draw population fields per
        image (:data:`~xlens.model.POPULATION_PARAMETERS`: ``sigma_sub`` [kpc^-2] and
        ``delta_los`` (dimensionless), supports in [0, inf); the subhaloes' ``alpha``
        (dimensionless), support in [-3, 0]; ``m_hm`` [M_sun] of either
        population, support in (0, inf), with ``dark_matter="wdm"``; the SIDM ``f_c`` in
        (0, 10], ``p_cc`` in [0, 1] (one value, no breaks) and ``b_c`` in [1, 100] of the
        subhaloes, with ``dark_matter="sidm"``). The group ``"redshifts"`` draws ``z_lens`` and
        ``z_source`` (supports in (0, 10], the source's low above the lens's high); the planes
        and tables are then laid out at the midpoints of the supports (``z_lens`` and
        ``z_source`` of the config are not used); e.g.
        ``{"subhalos": {"sigma_sub": (0.0, 0.1)}}``. A prior replaces the population's
        configured value (a fixed number simply sets it); an absent group or key keeps it.
        Empty groups are dropped.
    """

    instrument: str | None = None
    shape_native: tuple[int, int] = (100, 100)
    pixel_scale: float | None = None
    sub_size: int = 4
    psf_sigma: float | None = None
    psf_shape: tuple[int, int] | None = None
    psf: Any = None
    psf_file: str | None = None
    psf_sub_size: int = 1
    exposure_time: float | None = None
    background_sky_level: float | None = None
    read_noise: float | None = None
    z_lens: float = 0.5
    z_source: float = 1.0
    subhalos: SubhaloConfig | None = dataclasses.field(default_factory=_default_subhalos)
    line_of_sight: LineOfSightConfig | None = dataclasses.field(default_factory=_default_los)
    model: Any = dataclasses.field(default_factory=default_model)
    priors: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self._resolve_instrument_and_psf()
        Grid2D(tuple(self.shape_native), self.pixel_scale, self.sub_size)  # validates
        self.psf_kernel()  # validates
        check_exposure(self.exposure_time, self.background_sky_level, self.read_noise)
        if not 0 < self.z_lens < self.z_source:
            raise ValueError(
                f"SimulatorConfig.z_source must be > z_lens = {self.z_lens!r} > 0; got {self.z_source!r}"
            )
        ny, nx = self.shape_native
        ky, kx = self.psf_shape
        if ky > ny or kx > nx:
            what = "psf_shape" if self.psf is None else "psf (binned to pixels)"
            raise ValueError(
                f"SimulatorConfig: the PSF {tuple(self.psf_shape)} is larger than the image "
                f"{tuple(self.shape_native)}; use a smaller {what} or a larger grid"
            )
        for name, pop in (("subhalos", self.subhalos), ("line_of_sight", self.line_of_sight)):
            if pop is not None and (pop.z_lens != self.z_lens or pop.z_source != self.z_source):
                raise ValueError(
                    f"SimulatorConfig.{name} has z_lens={pop.z_lens}, z_source={pop.z_source}; "
                    f"the simulator has z_lens={self.z_lens}, z_source={self.z_source}"
                )
        object.__setattr__(self, "priors", _normalised_priors(self.priors))
        model = self.model
        if not isinstance(model, Model):
            try:
                model = Model(model)
            except ModelError as err:
                raise ValueError(f"SimulatorConfig.{err}") from None
        object.__setattr__(self, "model", model)
        try:
            model.check_supports()
        except ModelError as err:
            raise ValueError(f"SimulatorConfig.{err}") from None
        _check_population_priors(self)
        others = [g for g in model.galaxies if g not in ("lens", "source")]
        if others and self.priors.get("redshifts"):
            raise ValueError(f"SimulatorConfig.model.{others[0]}: a galaxy at a fixed redshift cannot be combined "
                             "with redshifts drawn per image (priors.redshifts); remove one of them")


    def psf_kernel(self) -> Kernel2D:
        """The PSF as a :class:`Kernel2D` at the pixel scale: the Gaussian of ``psf_sigma`` on
        ``psf_shape`` pixels, or the pixelised ``psf`` binned by ``psf_sub_size``; sum 1."""
        if self.psf is None:
            return Kernel2D.from_gaussian(self.psf_shape, self.pixel_scale, self.psf_sigma)
        return Kernel2D.no_mask(self._binned_psf(), self.pixel_scale)

    @classmethod
    def model_defaults(cls) -> dict[str, Any]:
        """The values the image settings take without an instrument (the default model)."""
        return dict(_MODEL_DEFAULTS)

    def _binned_psf(self):
        where = "SimulatorConfig.psf" if self.psf_file is None else \
            f"SimulatorConfig.psf (from psf_file = {self.psf_file!r})"
        return binned_psf_values(self.psf, self.psf_sub_size, name=where)

    def _resolve_instrument_and_psf(self) -> None:
        """Fill the unset image settings from the instrument preset (or the default model) and
        read and record the pixelised PSF (concrete Python values; runs once, at construction)."""
        preset = _MODEL_DEFAULTS if self.instrument is None else instrument_preset(self.instrument)
        psf, psf_file = self.psf, self.psf_file
        if isinstance(psf, str | os.PathLike):  # psf = "path.npy"
            if psf_file is not None:
                raise ValueError(f"SimulatorConfig: psf = {str(psf)!r} is a path and psf_file = {psf_file!r} "
                                 "another; give the file once (psf_file)")
            psf, psf_file = None, psf
        if psf_file is not None:
            if not isinstance(psf_file, str | os.PathLike):
                raise ValueError(f"SimulatorConfig.psf_file must be the path of a .npy file; got {psf_file!r}")
            psf_file = str(psf_file)
            if psf is None:
                psf = read_psf_file(psf_file)
        if isinstance(self.psf_sub_size, bool) or not isinstance(self.psf_sub_size, int | np.integer) \
                or not 1 <= self.psf_sub_size <= 100:
            raise ValueError(f"SimulatorConfig.psf_sub_size must be an integer in [1, 100]; got {self.psf_sub_size!r}")
        object.__setattr__(self, "psf_sub_size", int(self.psf_sub_size))
        values = dict.fromkeys(_MODEL_DEFAULTS)
        for name in _MODEL_DEFAULTS:
            given = getattr(self, name)
            values[name] = preset[name] if given is None else given
        if psf is None:
            if self.psf_sub_size != 1:
                raise ValueError(f"SimulatorConfig.psf_sub_size = {self.psf_sub_size!r} applies to a pixelised psf, "
                                 "and none is given (psf / psf_file); remove it or give the psf")
        else:
            if self.psf_sigma is not None:
                raise ValueError(f"SimulatorConfig.psf_sigma = {self.psf_sigma!r} sets the Gaussian PSF, but a "
                                 "pixelised psf is given; leave psf_sigma unset (None)")
            object.__setattr__(self, "psf", psf)
            object.__setattr__(self, "psf_file", psf_file)
            binned = self._binned_psf()
            shape = tuple(int(n) for n in binned.shape)
            if self.psf_shape is not None and tuple(self.psf_shape) != shape:
                raise ValueError(f"SimulatorConfig.psf_shape = {tuple(self.psf_shape)!r} differs from the pixelised "
                                 f"psf's {shape} (binned by psf_sub_size = {self.psf_sub_size}); leave psf_shape unset")
            values["psf_sigma"], values["psf_shape"] = None, shape
            psf = tuple(tuple(float(v) for v in row) for row in np.asarray(psf, dtype=np.float64))
        values["psf_shape"] = None if values["psf_shape"] is None else tuple(values["psf_shape"])
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "psf", psf)
        object.__setattr__(self, "psf_file", psf_file)


#: The groups of the priors that the model's tables replaced (xlens 0.1 format 1 configurations).
_OLD_GROUPS = {"lens": "[model.lens.mass] (PowerLaw)", "shear": "[model.lens.shear] (ExternalShear)",
               "source": "[model.source.light] (SersicCore)"}


def _normalised_priors(priors) -> dict[str, dict[str, Prior]]:
    """The population priors as :class:`Prior` objects by group, in canonical order: the one place where
    the Python forms are read (errors name the group, the name, the value and the rule)."""
    if not isinstance(priors, Mapping):
        raise ValueError(f"SimulatorConfig.priors must be a mapping {{group: {{name: prior}}}}; got {priors!r}")
    old = [g for g in priors if g in _OLD_GROUPS]
    if old:
        raise ValueError(
            f"SimulatorConfig.priors[{old[0]!r}]: the macro priors moved into the model; write them as "
            f"{_OLD_GROUPS[old[0]]} with the same fields and prior forms (SimulatorConfig(model=...), "
            "docs/model.md)")
    unknown = [g for g in priors if g not in POPULATION_PARAMETERS]
    if unknown:
        raise ValueError(
            f"SimulatorConfig.priors: unknown group {unknown[0]!r}; the groups are {tuple(POPULATION_PARAMETERS)} "
            "(the model's priors are in SimulatorConfig.model)"
        )
    out: dict[str, dict[str, Prior]] = {}
    for group, allowed in POPULATION_PARAMETERS.items():
        given = priors.get(group, {})
        if not isinstance(given, Mapping):
            raise ValueError(f"SimulatorConfig.priors[{group!r}] must be a mapping {{name: prior}}; got {given!r}")
        unknown = [n for n in given if n not in allowed]
        if unknown:
            raise ValueError(
                f"SimulatorConfig.priors[{group!r}]: unknown key {unknown[0]!r}; the population fields that "
                f"can be drawn are {tuple(allowed)}"
            )
        if given:
            out[group] = {}
        for n in allowed:  # canonical order
            if n not in given:
                continue
            try:
                out[group][n] = Prior.from_spec(given[n])
            except PriorError as err:
                raise ValueError(f"SimulatorConfig.priors[{group!r}][{n!r}] = {given[n]!r}: {err.reason}") from None
    return out


def _check_population_priors(config: SimulatorConfig) -> None:
    """A population prior needs its population and a support inside the field's range."""
    _check_redshift_priors(config)
    for group, allowed in POPULATION_PARAMETERS.items():
        if group == "redshifts":
            continue
        for n, prior in config.priors.get(group, {}).items():
            if getattr(config, group) is None:
                raise ValueError(
                    f"SimulatorConfig.priors[{group!r}][{n!r}] = {prior.to_toml()!r} draws a field of the "
                    f"{group} population, but SimulatorConfig.{group} is None; enable the population or "
                    "remove the prior"
                )
            units, low, high = allowed[n]
            lo, hi = prior.support
            if n == "m_hm":
                _check_m_hm_prior(config, group, prior)
            if n in ("f_c", "p_cc", "b_c"):
                _check_sidm_prior(config, n, prior)
            if n == "alpha":
                _check_alpha_prior(config, prior)
            if not math.isfinite(hi):
                raise ValueError(
                    f"SimulatorConfig.priors[{group!r}][{n!r}] = {prior.to_toml()!r} is unbounded above; the "
                    "population's capacity is sized for the largest value a draw can take, so the prior "
                    "needs a finite upper bound"
                )
            if lo < low or hi > high:
                raise ValueError(
                    f"SimulatorConfig.priors[{group!r}][{n!r}] = {prior.to_toml()!r} reaches "
                    f"{lo if lo < low else hi!r}, outside the allowed range "
                    f"[{low:g}, {high:g}{')' if math.isinf(high) else ']'} {units} of "
                    f"{type(getattr(config, group)).__name__}.{n}"
                )


def _check_redshift_priors(config: SimulatorConfig) -> None:
    """Redshift priors: supports in (0, 10], and every source behind every lens."""
    priors = config.priors.get("redshifts", {})
    for name, prior in priors.items():
        lo, hi = prior.support
        if not (0.0 < lo and hi <= 10.0 and math.isfinite(hi)):
            raise ValueError(f"SimulatorConfig.priors['redshifts'][{name!r}] = {prior.to_toml()!r} reaches "
                             f"{lo if lo <= 0.0 else hi!r}, outside the allowed range (0, 10]")
    if not priors:
        return
    (l_lo, l_hi), (s_lo, s_hi) = redshift_range(config)
    if not s_lo > l_hi:
        raise ValueError(
            f"SimulatorConfig.priors['redshifts']: z_source must exceed z_lens for every draw, i.e. the "
            f"z_source low ({s_lo!r}) must be > the z_lens high ({l_hi!r}); "
            f"z_lens = {priors['z_lens'].to_toml() if 'z_lens' in priors else config.z_lens!r}, "
            f"z_source = {priors['z_source'].to_toml() if 'z_source' in priors else config.z_source!r}")


def _check_m_hm_prior(config: SimulatorConfig, group: str, prior: Prior) -> None:
    """A half-mode mass needs warm dark matter (thinned, for subhaloes) and a support above 0."""
    pop = getattr(config, group)
    where = f"SimulatorConfig.priors[{group!r}]['m_hm'] = {prior.to_toml()!r}"
    if pop.dark_matter != "wdm":
        raise ValueError(f"{where}: m_hm is used only with dark_matter = 'wdm'; "
                         f"SimulatorConfig.{group}.dark_matter is {pop.dark_matter!r}")
    if group == "subhalos" and pop.wdm_sampling != "thinning" and not isinstance(prior, Fixed):
        raise ValueError(f"{where}: a half-mode mass drawn per image thins the CDM draws, which needs "
                         f"SimulatorConfig.subhalos.wdm_sampling = 'thinning'; got {pop.wdm_sampling!r}")
    if prior.support[0] <= 0.0:
        raise ValueError(f"{where} reaches {prior.support[0]!r}; m_hm must lie in (0, inf) [M_sun]")


def _check_alpha_prior(config: SimulatorConfig, prior: Prior) -> None:
    """A slope drawn per image re-slopes a power law: not the tabulated 'direct' WDM function."""
    pop = config.subhalos
    if pop.dark_matter == "wdm" and pop.wdm_sampling != "thinning" and not isinstance(prior, Fixed):
        raise ValueError(f"SimulatorConfig.priors['subhalos']['alpha'] = {prior.to_toml()!r}: a slope drawn "
                         "per image re-slopes the power-law mass function, which needs "
                         "SimulatorConfig.subhalos.wdm_sampling = 'thinning' with dark_matter = 'wdm'; got "
                         f"{pop.wdm_sampling!r}")


def _check_sidm_prior(config: SimulatorConfig, name: str, prior: Prior) -> None:
    """SIDM fields need dark_matter = 'sidm'; p_cc one value; f_c a support above 0."""
    pop = config.subhalos
    where = f"SimulatorConfig.priors['subhalos'][{name!r}] = {prior.to_toml()!r}"
    if pop.dark_matter != "sidm":
        raise ValueError(f"{where}: {name} is used only with dark_matter = 'sidm'; "
                         f"SimulatorConfig.subhalos.dark_matter is {pop.dark_matter!r}")
    if name == "p_cc" and pop.p_cc_log10_breaks and not isinstance(prior, Fixed):
        raise ValueError(f"{where}: a p_cc drawn per image is one value for all masses, so "
                         "SimulatorConfig.subhalos.p_cc_log10_breaks must be empty; got "
                         f"{pop.p_cc_log10_breaks!r}")
    if name == "f_c" and prior.support[0] <= 0.0:
        raise ValueError(f"{where} reaches {prior.support[0]!r}; f_c must lie in (0, 10] (dimensionless)")
