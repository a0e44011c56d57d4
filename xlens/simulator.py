"""The forward simulator: parameters and a key -> a noisy lensed image.

:class:`Simulator` is one pure function of a parameter pytree and a random key,
jitted once per configuration on JAX and run eagerly (the same code) on NumPy:

    params (macro lens, shear, source, padded halo batches)
      -> multi-plane ray tracing of an over-sampled grid, padded by the PSF border
      -> source light at the source-plane positions, binned to pixels
      -> FFT convolution with the PSF, crop
      -> Poisson noise from the key (PyAutoLens semantics).

Shapes (grid, over-sampling, PSF, planes, halo capacities, dtype) are the static
:class:`SimulatorConfig`; everything else is data and never recompiles.
:class:`SimulatorImaging` is the PyAutoLens-style building block for users who
bring their own :class:`~xlens.Tracer`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from . import engine
from .engine import ArrayLike, pytree_dataclass
from .halos import (
    LineOfSightConfig,
    LineOfSightPopulation,
    SubhaloConfig,
    SubhaloPopulation,
)
from .imaging.grid import Grid2D, bin_over_sampled
from .imaging.noise import add_poisson_noise, check_exposure
from .imaging.psf import Kernel2D, convolve_fft
from .profiles.light.sersic import SersicCore
from .profiles.mass.power_law import PowerLaw
from .profiles.mass.sheets import ExternalShear
from .tracer import Galaxy, Tracer

__all__ = [
    "DEFAULT_PRIORS",
    "Example",
    "SimParams",
    "Simulator",
    "SimulatorConfig",
    "SimulatorImaging",
    "SimulatedImaging",
]

#: Uniform priors (low, high) of the default model, or a fixed value. Units: arcsec for
#: positions and radii, e-/s for intensities, dimensionless otherwise. Chosen to give
#: galaxy-scale lenses with an Einstein ring inside the 5'' x 5'' field.
DEFAULT_PRIORS: dict[str, dict[str, Any]] = {
    "lens": {
        "centre_y": (-0.05, 0.05),
        "centre_x": (-0.05, 0.05),
        "ell_comps_1": (-0.2, 0.2),
        "ell_comps_2": (-0.2, 0.2),
        "einstein_radius": (0.9, 1.4),
        "slope": (1.9, 2.2),
    },
    "shear": {"gamma_1": (-0.05, 0.05), "gamma_2": (-0.05, 0.05)},
    "source": {
        "centre_y": (-0.15, 0.15),
        "centre_x": (-0.15, 0.15),
        "ell_comps_1": (-0.25, 0.25),
        "ell_comps_2": (-0.25, 0.25),
        "intensity": (0.5, 2.0),
        "effective_radius": (0.1, 0.4),
        "sersic_index": (1.0, 3.0),
        "radius_break": 0.025,
        "gamma": 0.0,
        "alpha": 2.0,
    },
}


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
    shape_native : (int, int)
        Image shape in pixels (default (100, 100)).
    pixel_scale : float
        Pixel size [arcsec] (default 0.05).
    sub_size : int
        Over-sampling: sub_size x sub_size rays per pixel (default 4).
    psf_sigma : float
        Gaussian PSF standard deviation [arcsec] (default 0.05).
    psf_shape : (int, int)
        Odd PSF kernel shape in pixels (default (11, 11)).
    exposure_time : float
        Exposure [s], > 0 (default 1000).
    background_sky_level : float
        Sky [e-/s], >= 0 (default 0.1).
    z_lens, z_source : float
        Main-lens and source redshifts (defaults 0.5 and 1.0).
    subhalos : SubhaloConfig or None
        Subhalo population (default: CDM, ~21 haloes of 1e8-1e10 M_sun); None for none.
    line_of_sight : LineOfSightConfig or None
        Line-of-sight population (default: ~1000 haloes of 1.5e6-1e10 M_sun on 8 planes).
    priors : mapping
        Priors of the macro parameters (see :data:`DEFAULT_PRIORS`).
    """

    shape_native: tuple[int, int] = (100, 100)
    pixel_scale: float = 0.05
    sub_size: int = 4
    psf_sigma: float = 0.05
    psf_shape: tuple[int, int] = (11, 11)
    exposure_time: float = 1000.0
    background_sky_level: float = 0.1
    z_lens: float = 0.5
    z_source: float = 1.0
    subhalos: SubhaloConfig | None = dataclasses.field(default_factory=_default_subhalos)
    line_of_sight: LineOfSightConfig | None = dataclasses.field(default_factory=_default_los)
    priors: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=lambda: DEFAULT_PRIORS)

    def __post_init__(self) -> None:
        Grid2D(tuple(self.shape_native), self.pixel_scale, self.sub_size)  # validates
        Kernel2D.from_gaussian(self.psf_shape, self.pixel_scale, self.psf_sigma)
        check_exposure(self.exposure_time, self.background_sky_level)
        if not 0 < self.z_lens < self.z_source:
            raise ValueError(
                f"SimulatorConfig.z_source must be > z_lens = {self.z_lens!r} > 0; got {self.z_source!r}"
            )
        ny, nx = self.shape_native
        ky, kx = self.psf_shape
        if ky > ny or kx > nx:
            raise ValueError(
                f"SimulatorConfig: the PSF {tuple(self.psf_shape)} is larger than the image "
                f"{tuple(self.shape_native)}; use a smaller psf_shape or a larger grid"
            )
        for name, pop in (("subhalos", self.subhalos), ("line_of_sight", self.line_of_sight)):
            if pop is not None and (pop.z_lens != self.z_lens or pop.z_source != self.z_source):
                raise ValueError(
                    f"SimulatorConfig.{name} has z_lens={pop.z_lens}, z_source={pop.z_source}; "
                    f"the simulator has z_lens={self.z_lens}, z_source={self.z_source}"
                )
        for group, names in (("lens", _LENS_KEYS), ("shear", ("gamma_1", "gamma_2")), ("source", _SOURCE_KEYS)):
            given = self.priors.get(group, {})
            missing = [n for n in names if n not in given]
            unknown = [n for n in given if n not in names]
            if missing or unknown:
                raise ValueError(f"SimulatorConfig.priors[{group!r}]: missing {missing}, unknown {unknown}")
            for n, v in given.items():
                lo, hi = (v, v) if np.isscalar(v) else v
                if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                    raise ValueError(f"SimulatorConfig.priors[{group!r}][{n!r}] must be low <= high; got {v!r}")
        _check_prior_support(self.priors)


def _check_prior_support(priors) -> None:
    """Every corner of the prior box must be a valid profile (errors name the prior and the range)."""
    classes = {"lens": PowerLaw, "shear": ExternalShear, "source": SersicCore}
    for group, cls in classes.items():
        spec = {n: (v, v) if np.isscalar(v) else tuple(v) for n, v in priors[group].items()}
        for n, (lo, hi) in spec.items():
            field = _VECTOR_COMPONENTS.get(n, (n, None))[0]
            rng = cls.ranges.get(field)
            if rng is None:
                continue
            for value in (lo, hi):
                below = value < rng.low or (value == rng.low and not rng.low_inclusive)
                above = value > rng.high or (value == rng.high and not rng.high_inclusive)
                if below or above:
                    lb = "[" if rng.low_inclusive else "("
                    hb = "]" if rng.high_inclusive else ")"
                    raise ValueError(
                        f"SimulatorConfig.priors[{group!r}][{n!r}] = {priors[group][n]!r} reaches {value!r}, "
                        f"outside the allowed range {lb}{rng.low:g}, {rng.high:g}{hb} {rng.units} of "
                        f"{cls.__name__}.{field}"
                    )
        if "ell_comps_1" in spec:  # the most elliptical corner must keep q above the profile's minimum
            e1 = max(abs(spec["ell_comps_1"][0]), abs(spec["ell_comps_1"][1]))
            e2 = max(abs(spec["ell_comps_2"][0]), abs(spec["ell_comps_2"][1]))
            try:
                _validated_ell_comps(cls, (e1, e2))
            except ValueError as err:
                raise ValueError(
                    f"SimulatorConfig.priors[{group!r}]['ell_comps_1'/'ell_comps_2'] reach ({e1!r}, {e2!r}): {err}"
                ) from None


def _validated_ell_comps(cls, ell_comps) -> None:
    values = {"ell_comps": np.asarray(ell_comps, dtype=np.float64)}
    probe = _make(cls, **values)
    validate = getattr(probe, "_validate", None)
    if validate is not None:
        validate()


#: Prior names that are one component of a vector field: name -> (field, index).
_VECTOR_COMPONENTS = {
    "centre_y": ("centre", 0),
    "centre_x": ("centre", 1),
    "ell_comps_1": ("ell_comps", 0),
    "ell_comps_2": ("ell_comps", 1),
}
_LENS_KEYS = ("centre_y", "centre_x", "ell_comps_1", "ell_comps_2", "einstein_radius", "slope")
_SOURCE_KEYS = ("centre_y", "centre_x", "ell_comps_1", "ell_comps_2", "intensity", "effective_radius",
                "sersic_index", "radius_break", "gamma", "alpha")


@pytree_dataclass
class SimParams:
    """The data of one image: macro lens, shear, source and the padded halo batches.

    Attributes
    ----------
    lens : PowerLaw
    shear : ExternalShear
    source : SersicCore
    subhalos : dict of HaloBatch
        Subhalo batches by family (e.g. ``{"cdm": ...}``), at ``z_lens``.
    line_of_sight : HaloBatch or None
        A ``(planes, capacity)`` batch of line-of-sight haloes.
    """

    lens: PowerLaw
    shear: ExternalShear
    source: SersicCore
    subhalos: dict
    line_of_sight: Any


class Example(NamedTuple):
    """One training example drawn by :meth:`Simulator.sample`."""

    params: SimParams
    data: ArrayLike  # (ny, nx) [e-/s]
    noise_map: ArrayLike  # (ny, nx) [e-/s]
    info: Any  # population info (drawn counts, overflow flags)


class Simulator:
    """``theta -> noisy image`` as one jitted function (JAX) or the same code on NumPy.

    Parameters
    ----------
    config : SimulatorConfig, optional
        The static configuration (default: the default model).
    engine : {"jax", "numpy"}
        ``"jax"`` (default) jits and vmaps; ``"numpy"`` runs eagerly for debugging.
    dtype : {"float64", "float32"}
        Ray-tracing precision (float32 on JAX only; distances and halo conversions
        stay float64).
    exact : bool
        False (default): the fast path, where halo batches are evaluated at pixel
        centres and their deflection fields interpolated to the sub-pixel rays
        (:meth:`Tracer.traced_grid_2d_list_over_sampled_from`); True: every halo on
        every sub-pixel ray (the brute-force reference).

    Examples
    --------
    >>> import xlens
    >>> sim = xlens.Simulator(engine="numpy")            # doctest: +SKIP
    >>> example = sim.sample(0)                          # doctest: +SKIP
    >>> example.data.shape                               # doctest: +SKIP
    (100, 100)
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        engine: str = "jax",
        dtype: str = "float64",
        exact: bool = False,
    ):
        from . import engine as eng

        self.config = SimulatorConfig() if config is None else config
        eng._check_engine(engine)
        if dtype not in ("float64", "float32"):
            raise ValueError(f"Simulator.dtype must be 'float64' or 'float32'; got {dtype!r}")
        if dtype == "float32" and engine == "numpy":
            raise ValueError("Simulator: float32 is the JAX production precision; the NumPy engine runs float64")
        self.engine, self.dtype, self.exact = engine, dtype, bool(exact)
        self.xp = eng.get_xp(engine)
        cfg = self.config
        self.kernel = Kernel2D.from_gaussian(cfg.psf_shape, cfg.pixel_scale, cfg.psf_sigma)
        self.grid = Grid2D(tuple(cfg.shape_native), cfg.pixel_scale, cfg.sub_size)
        self._border = self.kernel.border
        self._padded_grid = Grid2D(
            (cfg.shape_native[0] + 2 * self._border[0], cfg.shape_native[1] + 2 * self._border[1]),
            cfg.pixel_scale, cfg.sub_size,
        )
        self.subhalo_population = None if cfg.subhalos is None else SubhaloPopulation(cfg.subhalos)
        self.los_population = None if cfg.line_of_sight is None else LineOfSightPopulation(cfg.line_of_sight)
        self._jit_cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ params
    def _to_device(self, tree):
        """Every leaf as an array of the engine (Python floats never retrace)."""
        xp = self.xp

        def conv(leaf):
            arr = xp.asarray(leaf)
            return arr if not xp.isdtype(arr.dtype, "real floating") else xp.astype(arr, xp.float64)

        return engine.tree_map(conv, tree)

    def sample_params(self, key) -> tuple[SimParams, Any]:
        """Draw macro parameters from the priors and a dark-matter realisation.

        Returns ``(params, info)`` where ``info`` holds the populations' drawn counts
        and overflow flags (check them with :meth:`check`).
        """
        ops = engine.random_ops(key)
        xp = ops.xp
        k_macro, k_sub, k_los = ops.split(key, 3)
        pri = self.config.priors
        groups = (("lens", _LENS_KEYS), ("shear", ("gamma_1", "gamma_2")), ("source", _SOURCE_KEYS))
        n_draw = sum(len(names) for _, names in groups)
        u = ops.uniform(k_macro, (n_draw,))
        values, i = {}, 0
        for group, names in groups:
            values[group] = {}
            for n in names:
                spec = pri[group][n]
                lo, hi = (spec, spec) if np.isscalar(spec) else spec
                values[group][n] = lo + (hi - lo) * u[i]
                i += 1
        lens, src, sh = values["lens"], values["source"], values["shear"]
        lens_p = _make(PowerLaw, centre=xp.stack([lens["centre_y"], lens["centre_x"]]),
                       ell_comps=xp.stack([lens["ell_comps_1"], lens["ell_comps_2"]]),
                       einstein_radius=lens["einstein_radius"], slope=lens["slope"])
        shear_p = _make(ExternalShear, gamma_1=sh["gamma_1"], gamma_2=sh["gamma_2"])
        source_p = _make(SersicCore, centre=xp.stack([src["centre_y"], src["centre_x"]]),
                         ell_comps=xp.stack([src["ell_comps_1"], src["ell_comps_2"]]),
                         **{n: src[n] for n in _SOURCE_KEYS[4:]})
        subhalos, los, info = {}, None, {}
        if self.subhalo_population is not None:
            subhalos, info["subhalos"] = self.subhalo_population.sample(k_sub, centre=lens_p.centre)
        if self.los_population is not None:
            los, info["line_of_sight"] = self.los_population.sample(k_los)
        return SimParams(lens_p, shear_p, source_p, subhalos, los), info

    def check(self, info, action: str = "raise") -> None:
        """Outside jit: raise (``action="raise"``) or warn (``"warn"``) if a population
        overflowed its capacity; ``"ignore"`` does nothing (the flags stay in ``info``)."""
        if action not in ("raise", "warn", "ignore"):
            raise ValueError(f"Simulator.check: action must be 'raise', 'warn' or 'ignore'; got {action!r}")
        if action == "ignore":
            return
        if "subhalos" in info and self.subhalo_population is not None:
            self.subhalo_population.check(info["subhalos"], action=action)
        if "line_of_sight" in info and self.los_population is not None:
            self.los_population.check(info["line_of_sight"], action=action)

    # ----------------------------------------------------------------- forward
    def tracer_from(self, params: SimParams) -> Tracer:
        """The :class:`Tracer` of one parameter set (macro lens, subhaloes, line of sight, source)."""
        cfg = self.config
        subhalos = params.subhalos
        if self.subhalo_population is not None:  # the subhaloes and their sheet join the lens plane
            [(_, subhalos)] = self.subhalo_population.plane_profiles(subhalos, centre=params.lens.centre)
        galaxies = [Galaxy(cfg.z_lens, mass=params.lens, shear=params.shear, **subhalos)]
        if params.line_of_sight is not None:
            galaxies += [Galaxy(z, **p) for z, p in self.los_population.plane_profiles(params.line_of_sight)]
        galaxies.append(Galaxy(cfg.z_source, light=params.source))
        return Tracer(galaxies)

    def _forward(self, params: SimParams, key, diagnostics: bool):
        xp = engine.namespace(*engine.tree_leaves(params))
        dtype = getattr(xp, self.dtype)
        tracer = self.tracer_from(params)
        grid = xp.asarray(self._padded_grid.over_sampled, dtype=dtype)
        traced = tracer.traced_grid_2d_list_over_sampled_from(grid, self.config.sub_size, exact=self.exact)
        lensed_sub = params.source.image_2d_from(traced[-1])
        s = self.config.sub_size
        lensed = bin_over_sampled(lensed_sub, s)
        by, bx = self._border
        blurred = convolve_fft(lensed, xp.asarray(self.kernel.values, dtype=dtype))
        model = blurred[by : blurred.shape[0] - by, bx : blurred.shape[1] - bx]
        noisy = add_poisson_noise(model, key, self.config.exposure_time, self.config.background_sky_level)
        out = {"data": noisy.data, "noise_map": noisy.noise_map, "model_image": model}
        if diagnostics:
            crop = (slice(by, lensed.shape[0] - by), slice(bx, lensed.shape[1] - bx))
            out["lensed_source"] = lensed[crop]
            out["traced_grids"] = xp.stack(
                [xp.stack([bin_over_sampled(t[..., k], s) for k in range(2)], axis=-1)[crop] for t in traced]
            )
            pix = xp.asarray(self.grid.native, dtype=dtype)
            out["convergence"] = tracer.convergence_2d_from(pix)
        return out

    def _compiled(self, name: str, fn):
        if self.engine == "numpy":
            return fn
        if name not in self._jit_cache:
            self._jit_cache[name] = engine.jit(fn, "jax")
        return self._jit_cache[name]

    def _full(self, params, key):
        return self._compiled("full", lambda p, k: self._forward(p, k, True))(self._to_device(params), key)

    def __call__(self, params: SimParams, key) -> ArrayLike:
        """The noisy image [e-/s], shape ``shape_native``, from ``params`` and a key."""
        return self._full(params, key)["data"]

    def diagnostics(self, params: SimParams, key=None) -> dict[str, ArrayLike]:
        """Every intermediate product from the *same* compiled computation as ``sim(params, key)``.

        Returns a dict with ``data``, ``noise_map``, ``model_image`` (noiseless,
        PSF-convolved), ``lensed_source`` (before the PSF), ``traced_grids``
        (planes, ny, nx, 2) (y, x) [arcsec] (sub-pixel positions averaged per
        pixel) and ``convergence`` (ny, nx) at the pixel centres.
        """
        if key is None:
            key = engine.default_key(self.engine)
        return self._full(params, key)

    def model_image(self, params: SimParams) -> ArrayLike:
        """The noiseless PSF-convolved image [e-/s] (shares the compiled computation)."""
        return self.diagnostics(params)["model_image"]

    def batch(self, params: SimParams, keys) -> ArrayLike:
        """Noisy images for a batch: every leaf of ``params`` and ``keys`` has a leading batch axis.

        With several JAX devices (e.g. the GPUs of one host) the batch is split across all of
        them (:func:`xlens.engine.map_batch`; padded to a multiple of the device count), and the
        images come back sharded over the devices; with one device it is mapped on that device.
        """
        fn = self._batched(lambda p, k: self._forward(p, k, False)["data"])
        return self._compiled("batch", fn)(self._to_device(params), keys)

    def _batched(self, fn):
        return engine.map_batch(fn, self.engine)

    def sample(self, key) -> Example:
        """A whole training example from one key: priors, dark matter, image and noise."""

        def draw(key):
            k_params, k_noise = engine.random_ops(key).split(key, 2)
            params, info = self.sample_params(k_params)
            out = self._forward(params, k_noise, False)
            return Example(params, out["data"], out["noise_map"], info)

        ex = self._compiled("sample", draw)(key)
        if self.engine == "numpy" or not _is_traced(ex.data):
            self.check(ex.info)
        return ex

    def sample_batch(self, keys, overflow: str = "raise") -> Example:
        """``sample`` mapped over a batch of keys (one compile per batch size), split across
        all local JAX devices when there are several (as :meth:`batch`).

        ``overflow`` is what a population capacity overflow does: ``"raise"``
        (default), ``"warn"`` or ``"ignore"`` (see :meth:`check`; the flags are in
        ``example.info`` either way).
        """

        def draw(key):
            k_params, k_noise = engine.random_ops(key).split(key, 2)
            params, info = self.sample_params(k_params)
            out = self._forward(params, k_noise, False)
            return Example(params, out["data"], out["noise_map"], info)

        ex = self._compiled("sample_batch", self._batched(draw))(keys)
        self.check(ex.info, overflow)
        return ex


def _is_traced(x) -> bool:
    return not isinstance(x, np.ndarray) and type(x).__name__.endswith("Tracer")


def _make(cls, **values):
    from .profiles.base import unchecked

    return unchecked(cls, values)


# ----------------------------------------------------------------- PyAutoLens-style


class SimulatedImaging(NamedTuple):
    """What :meth:`SimulatorImaging.via_tracer_from` returns (PyAutoLens ``Imaging``)."""

    data: ArrayLike  # (ny, nx) [e-/s]
    noise_map: ArrayLike  # (ny, nx) [e-/s]
    psf: Kernel2D


@dataclasses.dataclass(frozen=True)
class SimulatorImaging:
    """PyAutoLens-style simulator of an imaging dataset from any :class:`Tracer`.

    Parameters
    ----------
    exposure_time : float
        [s], > 0.
    psf : Kernel2D
        Odd-sided PSF kernel.
    background_sky_level : float
        [e-/s], >= 0.
    add_poisson_noise_to_data : bool
        If False, ``data`` is the noiseless PSF-convolved image and the noise map
        is that of the expected counts.
    """

    exposure_time: float
    psf: Kernel2D
    background_sky_level: float
    add_poisson_noise_to_data: bool = True

    def __post_init__(self) -> None:
        check_exposure(self.exposure_time, self.background_sky_level)

    def via_tracer_from(self, tracer: Tracer, grid: Grid2D, key=None, exact: bool = True) -> SimulatedImaging:
        """Image a tracer on ``grid`` (with its over-sampling), blur, and add noise.

        The grid is padded by the PSF half-size before imaging and cropped after
        convolution, so flux from just outside the field is blurred in (PHYSICS.md §15).
        ``key`` (JAX or NumPy key) is needed when ``add_poisson_noise_to_data``.
        ``exact=False`` takes the fast path for the tracer's halo batches (use
        ``tracer.padded()`` to gather single haloes into batches first).
        """
        border = self.psf.border
        if border[0] != border[1]:
            raise ValueError(f"SimulatorImaging: the PSF must be square; got {self.psf.shape_native}")
        padded = grid.padded(border[0])
        xp = engine.namespace(*engine.tree_leaves(tracer))
        traced = tracer.traced_grid_2d_list_over_sampled_from(
            xp.asarray(padded.over_sampled), grid.over_sample_size, exact=exact
        )
        light = xp.zeros(traced[0].shape[:-1], dtype=traced[0].dtype)
        for g, i in zip(tracer.galaxies, tracer.plane_of_galaxy, strict=True):
            if g.light_profiles:
                light = light + g.image_2d_from(traced[i])
        image = bin_over_sampled(light, grid.over_sample_size)
        blurred = convolve_fft(image, xp.asarray(self.psf.values))
        b = border[0]
        model = blurred[b : blurred.shape[0] - b, b : blurred.shape[1] - b] if b else blurred
        if not self.add_poisson_noise_to_data:
            noise = xp.sqrt(xp.abs(model + self.background_sky_level) * self.exposure_time) / self.exposure_time
            return SimulatedImaging(model, noise, self.psf)
        if key is None:
            raise ValueError("SimulatorImaging.via_tracer_from: a key is needed to draw Poisson noise")
        noisy = add_poisson_noise(model, key, self.exposure_time, self.background_sky_level)
        return SimulatedImaging(noisy.data, noisy.noise_map, self.psf)
