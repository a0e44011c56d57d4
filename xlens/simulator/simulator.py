"""The forward simulator: parameters and a key -> a noisy lensed image.

:class:`Simulator` is one pure function of a parameter pytree and a random key,
jitted once per configuration on JAX and run eagerly (the same code) on NumPy:

    params (the model's galaxies, padded halo batches)
      -> multi-plane ray tracing of an over-sampled grid, padded by the PSF border
      -> every galaxy's light at its plane's positions (lens light and sources), binned to pixels
      -> FFT convolution with the PSF, crop
      -> Poisson noise from the key (PyAutoLens semantics).

Shapes (grid, over-sampling, PSF, planes, halo capacities, dtype) are the static
:class:`~xlens.SimulatorConfig`; everything else is data and never recompiles.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from ..cosmology import Planck15
from ..engine import (
    ENGINES,
    ArrayLike,
    default_key,
    get_xp,
    is_concrete,
    jit,
    map_batch,
    namespace,
    random_ops,
    scoped_methods,
    tree_leaves,
    tree_map,
)
from ..halos import LineOfSightPopulation, SubhaloPopulation
from ..imaging.grid import Grid2D, bin_over_sampled
from ..imaging.noise import MAX_EXPECTED_COUNTS, add_poisson_noise
from ..imaging.psf import Kernel2D, convolve_fft  # noqa: F401  (Kernel2D: the type of .kernel)
from ..model.config import SimulatorConfig
from ..model.parameters import SimParams, drawn_population_priors, redshift_range, reference_redshifts
from ..model.priors import Fixed
from ..tracer import Galaxy, Tracer

__all__ = ["QUICK_COMPILE", "Example", "Simulator"]

#: XLA options (``jax.jit``'s ``compiler_options``) that trade steady speed for compile time on
#: the CPU: the older elemental emitters instead of XLA's fusion emitters. On the default model
#: (2-core CPU, docs/performance.md) the cold first call of ``sample`` drops by ~1 s (XLA
#: compile 3.3 -> 2.3 s) while each image costs ~12% more. For interactive work and short runs:
#: ``Simulator(..., compiler_options=QUICK_COMPILE)``; not for long dataset jobs.
QUICK_COMPILE = {"xla_cpu_use_fusion_emitters": False}

#: Haloes per batch that the fast path corrects on their windows when the subhaloes are SIDM:
#: core-collapsed haloes with a concentration boost are dense enough that the default count
#: leaves errors above 0.01 sigma (docs/performance.md, "At the corners of the dark-matter priors").
SIDM_FAST_PATH_CORRECTED = 128


def xp_cast(flag, like):
    """A 0/1 presence flag in the dtype of ``like`` (the light it multiplies)."""
    xp = namespace(like)
    return xp.astype(xp.asarray(flag), like.dtype)


def _population_config(config: SimulatorConfig, group: str):
    """The population's configuration as the simulator builds it: a fixed prior sets the field;
    a drawn one sets it to the prior's upper end, the reference whose tables the draws scale
    and whose capacity (``mean + 6 sqrt(mean)`` at the largest mean) they fit."""
    pop = getattr(config, group)
    values = {}
    for name, prior in config.priors.get(group, {}).items():
        values[name] = prior.value if isinstance(prior, Fixed) else prior.support[1]
    if pop is not None and config.priors.get("redshifts"):  # laid out at the reference redshifts
        values["z_lens"], values["z_source"] = reference_redshifts(config)
    return dataclasses.replace(pop, **values) if values else pop


class Example(NamedTuple):
    """One training example drawn by :meth:`Simulator.sample`."""

    params: SimParams
    data: ArrayLike  # (ny, nx) [e-/s]
    noise_map: ArrayLike  # (ny, nx) [e-/s]
    info: Any  # population info (drawn counts, overflow flags)


@scoped_methods
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
        every sub-pixel ray (the brute-force reference). With SIDM subhaloes the fast
        path corrects the :data:`SIDM_FAST_PATH_CORRECTED` strongest haloes per batch
        (``fast_path_corrected``) instead of the default 32.
    compiler_options : dict, optional
        XLA options for every program the simulator compiles (``jax.jit``'s
        ``compiler_options``; JAX engine only), e.g. :data:`QUICK_COMPILE`, which cuts the
        cold first call of the default model by ~1 s on the CPU and costs ~12% per image.
        The process's ``XLA_FLAGS`` are not touched. An unknown option name raises
        ``JaxRuntimeError`` ("No such compile option") at the first call.

    Attributes
    ----------
    grid : Grid2D
        The image grid.
    padded_grid : Grid2D
        The image grid with a border of the PSF's half-size on every side: the rays that
        are traced (flux from just outside the field is blurred in, then cropped).
    kernel : Kernel2D
        The PSF.

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
        compiler_options: dict[str, Any] | None = None,
    ):
        self.config = SimulatorConfig() if config is None else config
        if engine not in ENGINES:
            raise ValueError(f"Simulator.engine must be one of {ENGINES}; got {engine!r}")
        if dtype not in ("float64", "float32"):
            raise ValueError(f"Simulator.dtype must be 'float64' or 'float32'; got {dtype!r}")
        if dtype == "float32" and engine == "numpy":
            raise ValueError("Simulator: float32 is the JAX production precision; the NumPy engine runs float64")
        self.engine, self.dtype, self.exact = engine, dtype, bool(exact)
        if compiler_options is not None:
            if engine != "jax":
                raise ValueError("Simulator.compiler_options are XLA options: they need engine='jax'; "
                                 f"got engine={engine!r}")
            scalar = bool | int | float | str
            if not isinstance(compiler_options, dict) or not all(
                    isinstance(k, str) and isinstance(v, scalar) for k, v in compiler_options.items()):
                raise TypeError("Simulator.compiler_options must be a dict of XLA option names (str) to "
                                f"bool, int, float or str values; got {compiler_options!r}")
        #: XLA options of every program this simulator compiles (None: XLA's defaults)
        self.compiler_options = None if compiler_options is None else dict(compiler_options)
        self.xp = get_xp(engine)
        cfg = self.config
        self.kernel = cfg.psf_kernel()  # the Gaussian, or the pixelised psf binned and normalised
        self.grid = Grid2D(tuple(cfg.shape_native), cfg.pixel_scale, cfg.sub_size)
        self._border = self.kernel.border
        self.padded_grid = Grid2D(
            (cfg.shape_native[0] + 2 * self._border[0], cfg.shape_native[1] + 2 * self._border[1]),
            cfg.pixel_scale, cfg.sub_size,
        )
        #: population priors drawn per image, {group: {name: Prior}} (fixed ones only set the value)
        self.population_priors = drawn_population_priors(cfg.priors)
        m_hm = {g: p["m_hm"].support for g, p in self.population_priors.items() if "m_hm" in p}
        p_cc = self.population_priors.get("subhalos", {}).get("p_cc")
        alpha = self.population_priors.get("subhalos", {}).get("alpha")
        #: (z_lens, z_source) of the planes' order and the tables: the config's, or with
        #: priors.redshifts the reference of :func:`~xlens.model.reference_redshifts`
        self.z_reference = reference_redshifts(cfg)
        z_range = redshift_range(cfg) if "redshifts" in self.population_priors else None
        self.subhalo_population = (None if cfg.subhalos is None else SubhaloPopulation(
            _population_config(cfg, "subhalos"), m_hm_range=m_hm.get("subhalos"),
            p_cc_range=None if p_cc is None else p_cc.support,
            alpha_range=None if alpha is None else alpha.support, z_range=z_range))
        self.los_population = (None if cfg.line_of_sight is None else LineOfSightPopulation(
            _population_config(cfg, "line_of_sight"), m_hm_range=m_hm.get("line_of_sight"), z_range=z_range))
        #: haloes per batch corrected by the fast path: None is the tracer's default
        #: (:data:`xlens.tracer.fast_path.FAST_PATH_CORRECTED`); SIDM subhaloes take
        #: :data:`SIDM_FAST_PATH_CORRECTED`
        self.fast_path_corrected = (SIDM_FAST_PATH_CORRECTED if cfg.subhalos is not None
                                    and cfg.subhalos.dark_matter == "sidm" else None)
        #: the fast path's coarsening (halo batches evaluated on c x c pixel blocks): None is
        #: the tracer's default (:data:`xlens.tracer.fast_path.FAST_PATH_COARSENING`, 1); 2 has
        #: a larger error, which breaks the 0.01 sigma bound at the concentrated SIDM corner of the
        #: priors, and is now no faster on the CPU (docs/performance.md). Set it before the first call
        #: (it is read when a program is compiled).
        self.fast_path_coarsening = None
        self._jit_cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ params
    def to_engine(self, tree):
        """Every leaf of ``tree`` as an array of the simulator's engine, floats as float64
        (so Python floats, NumPy and float32 inputs all reach the same compiled program)."""
        xp = self.xp

        def conv(leaf):
            arr = xp.asarray(leaf)
            return arr if not xp.isdtype(arr.dtype, "real floating") else xp.astype(arr, xp.float64)

        return tree_map(conv, tree)

    def sample_params(self, key) -> tuple[SimParams, Any]:
        """Draw the model's fields from their priors and a dark-matter realisation.

        One uniform per drawn field of the model (:attr:`~xlens.model.Model.n_drawn`, in
        label order) is mapped through its prior's inverse CDF
        (:meth:`~xlens.model.Prior.from_unit`); ties take their target's value. Presence
        flags (light profiles with a ``probability``) are drawn from a key of their own, and
        population priors (:data:`~xlens.model.POPULATION_PARAMETERS`, e.g.
        ``priors.subhalos.sigma_sub``) from another, each split off only when there is one
        to draw (so the other draws are unchanged), and held in ``params.hyper``.

        Returns ``(params, info)`` where ``info`` holds the populations' drawn counts
        and overflow flags (check them with :meth:`check`).
        """
        ops = random_ops(key)
        k_macro, k_sub, k_los = ops.split(key, 3)
        model = self.config.model
        u = ops.uniform(k_macro, (model.n_drawn,))
        presence = ops.uniform(ops.split(key, 5)[4], (model.n_presence,)) if model.n_presence else None
        values = model.draw(u, presence, xp=ops.xp)
        hyper = self._draw_population_priors(ops, key)
        sub, los_hyper = hyper.get("subhalos", {}), hyper.get("line_of_sight", {})
        z = self._redshifts(hyper, ops.xp)
        subhalos, los, info = {}, None, {}
        if self.subhalo_population is not None:
            subhalos, info["subhalos"] = self.subhalo_population.sample(
                k_sub, centre=self._lens_centre(values, ops.xp), **sub, **z)
        if self.los_population is not None:
            los, info["line_of_sight"] = self.los_population.sample(
                k_los, delta_los=los_hyper.get("delta_los"), m_hm=los_hyper.get("m_hm"), **z)
        return SimParams(values, subhalos, los, hyper), info

    def lens_centre(self, params: SimParams):
        """The centre (y, x) [arcsec] the subhaloes follow: that of the lens galaxy's first
        profile with a centre (:meth:`~xlens.model.Model.lens_centre_label`), else the origin."""
        return self._lens_centre(params.galaxies, namespace(*tree_leaves(params.galaxies)))

    def _lens_centre(self, values, xp):
        where = self.config.model.lens_centre_label()
        if where is None:
            return xp.zeros((2,), dtype=xp.float64)
        return values["lens"][where[0]][where[1]]

    def profiles_from(self, params: SimParams) -> dict[str, dict[str, Any]]:
        """The model's profiles of one parameter set, ``{galaxy: {profile: Profile}}`` (e.g.
        ``sim.profiles_from(params)["lens"]["mass"]``, a :class:`~xlens.mp.PowerLaw`)."""
        xp = namespace(*tree_leaves(params.galaxies))
        return self.config.model.profiles(params.galaxies, xp=xp)

    def _redshifts(self, hyper, xp) -> dict[str, Any]:
        """``{"z_lens": ..., "z_source": ...}`` of a realisation when redshifts are drawn (the
        drawn value, or the fixed reference for the other one); ``{}`` otherwise."""
        if "redshifts" not in self.population_priors:
            return {}
        drawn = hyper.get("redshifts", {})
        return {name: drawn.get(name, xp.asarray(ref, dtype=xp.float64))
                for name, ref in zip(("z_lens", "z_source"), self.z_reference, strict=True)}

    def _draw_population_priors(self, ops, key) -> dict[str, dict[str, Any]]:
        """``{group: {name: scalar}}`` drawn from the population priors (empty without them)."""
        names = [(g, n) for g, priors in self.population_priors.items() for n in priors]
        if not names:
            return {}
        k_hyper = ops.split(key, 4)[3]  # a key of its own: the three keys above are unchanged
        u = ops.uniform(k_hyper, (len(names),))
        hyper: dict[str, dict[str, Any]] = {}
        for i, (g, n) in enumerate(names):
            hyper.setdefault(g, {})[n] = self.population_priors[g][n].from_unit(u[i], xp=ops.xp)
        return hyper

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
        """The :class:`Tracer` of one parameter set: the model's galaxies (the subhaloes join
        ``lens``) and the line-of-sight planes. Light profiles drawn with a ``probability``
        are in it whatever their ``present`` flag (the simulator's image applies the flag)."""
        return self._tracer_and_galaxies(params)[0]

    def _tracer_and_galaxies(self, params: SimParams):
        """``(tracer, {galaxy name: index in tracer.galaxies})``."""
        subhalos = params.subhalos
        hyper = params.hyper
        self._check_hyper(hyper)
        sub, los_hyper = hyper.get("subhalos", {}), hyper.get("line_of_sight", {})
        xp = namespace(*tree_leaves(params))
        z = self._redshifts(hyper, xp)
        z_lens, z_source = self.z_reference  # static: they order the planes
        model = self.config.model
        profiles = model.profiles(params.galaxies, xp=xp)
        if self.subhalo_population is not None:  # the subhaloes and their sheet join the lens plane
            [(_, subhalos)] = self.subhalo_population.plane_profiles(
                subhalos, centre=self._lens_centre(params.galaxies, xp), sigma_sub=sub.get("sigma_sub"),
                m_hm=sub.get("m_hm"), alpha=sub.get("alpha"), **z)
        galaxies = [Galaxy(z_lens, **profiles["lens"], **subhalos)]
        index = {"lens": 0}
        if params.line_of_sight is not None:
            planes = self.los_population.plane_profiles(
                params.line_of_sight, delta_los=los_hyper.get("delta_los"), m_hm=los_hyper.get("m_hm"), **z)
            galaxies += [Galaxy(zp, **p) for zp, p in planes]
        for name in model.galaxies:
            if name not in ("lens", "source"):
                index[name] = len(galaxies)
                galaxies.append(Galaxy(model.redshift_of(name, z_lens, z_source), **profiles[name]))
        index["source"] = len(galaxies)
        galaxies.append(Galaxy(z_source, **profiles["source"]))
        if not z:
            return Tracer(galaxies), index
        # the drawn redshifts move the planes: their distances are data (Tracer(plane_distances=...))
        if params.line_of_sight is not None:
            plane_z = self.los_population.at_redshifts(z["z_lens"], z["z_source"], xp)["redshifts"]
        else:
            plane_z = xp.reshape(xp.asarray(z["z_lens"], dtype=xp.float64), (1,))
        plane_z = xp.concat([plane_z, xp.reshape(xp.asarray(z["z_source"], dtype=xp.float64), (1,))])
        return Tracer(galaxies, plane_distances=Planck15.comoving_distance_mpc(plane_z)), index

    def _light(self, params: SimParams, tracer: Tracer, index, traced):
        """``(lens_light, source_light)`` on the over-sampled rays: each light profile at its
        galaxy's plane, times its presence flag; the lens light is that of the galaxies on or in
        front of the lens plane (unlensed by the lens), the source light the rest. None where
        there is none."""
        model = self.config.model
        profiles = model.profiles(params.galaxies, xp=namespace(*tree_leaves(params.galaxies)))
        lens_plane = tracer.plane_of_galaxy[index["lens"]]
        out: list[Any] = [None, None]
        for name, gal in model.galaxies.items():
            plane = tracer.plane_of_galaxy[index[name]]
            for cname in gal.components:
                prof = profiles[name][cname]
                if not hasattr(prof, "image_2d_from") or not model.is_light(name, cname):
                    continue
                img = prof.image_2d_from(traced[plane])
                if "present" in params.galaxies[name][cname]:
                    img = img * xp_cast(params.galaxies[name][cname]["present"], img)
                k = 0 if plane <= lens_plane else 1
                out[k] = img if out[k] is None else out[k] + img
        return out[0], out[1]

    def _check_hyper(self, hyper) -> None:
        """``params.hyper`` must hold exactly the drawn population fields (shapes are static)."""
        want = {g: sorted(p) for g, p in self.population_priors.items()}
        got = {g: sorted(v) for g, v in hyper.items()}
        if got != want:
            raise ValueError(
                f"Simulator: params.hyper holds {got}, but this configuration draws {want} "
                "(SimulatorConfig.priors of the populations); pass the hyper of sample_params"
            )

    def forward(self, params: SimParams, key, diagnostics: bool = False) -> dict[str, ArrayLike]:
        """The pure forward model (not jitted): what every compiled method of the simulator runs.

        For composing your own jitted programs (the likelihood does). ``params`` must hold
        arrays of the simulator's engine (:meth:`to_engine`); ``key`` draws the noise.
        Returns ``data``, ``noise_map`` and ``model_image`` [e-/s], (ny, nx), plus with
        ``diagnostics`` the entries listed in :meth:`diagnostics`.
        """
        xp = namespace(*tree_leaves(params))
        dtype = getattr(xp, self.dtype)
        tracer, index = self._tracer_and_galaxies(params)
        grid = xp.asarray(self.padded_grid.over_sampled, dtype=dtype)
        traced = tracer.traced_grid_2d_list_over_sampled_from(grid, self.config.sub_size, exact=self.exact,
                                                              n_corrected=self.fast_path_corrected,
                                                              coarsening=self.fast_path_coarsening)
        lens_sub, source_sub = self._light(params, tracer, index, traced)
        s = self.config.sub_size
        zeros = xp.zeros(traced[0].shape[:-1], dtype=dtype)
        lensed = bin_over_sampled(zeros if source_sub is None else source_sub, s)
        lens_light = None if lens_sub is None else bin_over_sampled(lens_sub, s)
        total = lensed if lens_light is None else lensed + lens_light
        by, bx = self._border
        blurred = convolve_fft(total, xp.asarray(self.kernel.values, dtype=dtype))
        model = blurred[by : blurred.shape[0] - by, bx : blurred.shape[1] - bx]
        noisy = add_poisson_noise(model, key, self.config.exposure_time, self.config.background_sky_level,
                                  self.config.read_noise)
        out = {"data": noisy.data, "noise_map": noisy.noise_map, "model_image": model}
        if diagnostics:
            crop = (slice(by, lensed.shape[0] - by), slice(bx, lensed.shape[1] - bx))
            out["lensed_source"] = lensed[crop]
            out["lens_light"] = (xp.zeros_like(lensed) if lens_light is None else lens_light)[crop]
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
            options = {} if self.compiler_options is None else {"compiler_options": dict(self.compiler_options)}
            self._jit_cache[name] = jit(fn, "jax", **options)
        return self._jit_cache[name]

    def _full(self, params, key):
        return self._compiled("full", lambda p, k: self.forward(p, k, True))(self.to_engine(params), key)

    def __call__(self, params: SimParams, key) -> ArrayLike:
        """The noisy image [e-/s], shape ``shape_native``, from ``params`` and a key."""
        return self._full(params, key)["data"]

    def diagnostics(self, params: SimParams, key=None) -> dict[str, ArrayLike]:
        """Every intermediate product from the *same* compiled computation as ``sim(params, key)``.

        Returns a dict with ``data``, ``noise_map``, ``model_image`` (noiseless,
        PSF-convolved), ``lensed_source`` (the light behind the lens plane, before the PSF),
        ``lens_light`` (the light on and in front of the lens plane, before the PSF; zeros
        when the model has none), ``traced_grids``
        (planes, ny, nx, 2) (y, x) [arcsec] (sub-pixel positions averaged per
        pixel) and ``convergence`` (ny, nx) at the pixel centres.
        """
        if key is None:
            key = default_key(self.engine)
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
        fn = self._batched(lambda p, k: self.forward(p, k, False)["data"])
        return self._compiled("batch", fn)(self.to_engine(params), keys)

    def _draw(self, key) -> Example:
        k_params, k_noise = random_ops(key).split(key, 2)
        params, info = self.sample_params(k_params)
        out = self.forward(params, k_noise, False)
        return Example(params, out["data"], out["noise_map"], info)

    def _batched(self, fn):
        return map_batch(fn, self.engine)

    def sample(self, key) -> Example:
        """A whole training example from one key: priors, dark matter, image and noise.

        Raises ``ValueError`` if the image is not finite (e.g. an expected count above
        :data:`xlens.imaging.noise.MAX_EXPECTED_COUNTS` per pixel), so none is used or written silently.
        """
        ex = self._compiled("sample", self._draw)(key)
        if self.engine == "numpy" or is_concrete(ex.data):
            self.check(ex.info)
            self._check_finite(ex.data)
        return ex

    def _check_finite(self, data) -> None:
        """Outside jit: a non-finite image is an error naming its likely cause (the reduction runs
        where the data are, so only a flag crosses to the host)."""
        xp = namespace(data)
        finite = xp.isfinite(data)
        if not bool(xp.all(finite)):
            bad = int(xp.sum(xp.astype(~finite, xp.int64)))
            raise ValueError(
                f"Simulator: {bad} pixels of the image are not finite. The noise is drawn for expected counts "
                f"(image + background_sky_level) * exposure_time up to {MAX_EXPECTED_COUNTS:.0e} e- per pixel "
                f"(exposure_time = {self.config.exposure_time!r} s): lower the source intensity prior or the "
                "exposure time"
            )

    def sample_batch(self, keys, overflow: str = "raise") -> Example:
        """``sample`` mapped over a batch of keys (one compile per batch size), split across
        all local JAX devices when there are several (as :meth:`batch`).

        ``overflow`` is what a population capacity overflow does: ``"raise"``
        (default), ``"warn"`` or ``"ignore"`` (see :meth:`check`; the flags are in
        ``example.info`` either way).
        """
        ex = self._compiled("sample_batch", self._batched(self._draw))(keys)
        self.check(ex.info, overflow)
        self._check_finite(ex.data)
        return ex
