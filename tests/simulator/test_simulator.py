"""The forward simulator: shapes, determinism, one compile, engines agree, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.stats
from helpers import count_diagnostics_traces, load

from xlens import Galaxy, Tracer, lp, mp
from xlens.engine import random_ops
from xlens.halos import LineOfSightConfig, SubhaloConfig
from xlens.imaging import Grid2D, Kernel2D
from xlens.model import LogUniform, SimulatorConfig, parameter_table
from xlens.model.galaxies import DEFAULT_MODEL
from xlens.simulator import Simulator, SimulatorImaging

# a small configuration: every stage, few rays and haloes (the default model belongs in benchmarks)
SMALL = SimulatorConfig(
    shape_native=(24, 24),
    pixel_scale=0.1,
    sub_size=2,
    psf_shape=(5, 5),
    psf_sigma=0.08,
    subhalos=SubhaloConfig(m_min=1e8, radius=1.5),
    line_of_sight=LineOfSightConfig(n_planes=3, m_min=3e8, cone_radius=1.5),
)


def _key(engine, seed):
    if engine == "jax":
        import jax

        return jax.random.key(seed)
    return seed


@pytest.fixture(scope="module")
def sims():
    """One simulator per engine for the module; the JAX one counts its traces of the
    diagnostics path, so the compile-count test can reuse its compiled functions."""
    out = {"numpy": Simulator(SMALL, engine="numpy")}
    try:
        sim = Simulator(SMALL, engine="jax")
    except ImportError:  # pragma: no cover - JAX missing
        return out
    out["jax"] = count_diagnostics_traces(sim)
    return out


@pytest.mark.parametrize("engine", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_sample_is_deterministic_and_finite(sims, engine):
    if engine not in sims:
        pytest.skip("JAX is not installed")
    sim = sims[engine]
    a, b, c = sim.sample(_key(engine, 1)), sim.sample(_key(engine, 1)), sim.sample(_key(engine, 2))
    assert a.data.shape == (24, 24) and a.noise_map.shape == (24, 24)
    assert np.all(np.isfinite(np.asarray(a.data))) and np.all(np.asarray(a.noise_map) > 0)
    np.testing.assert_array_equal(np.asarray(a.data), np.asarray(b.data))
    assert not np.array_equal(np.asarray(a.data), np.asarray(c.data))


def test_same_params_different_noise_keys(sims):
    sim = sims["numpy"]
    params, _ = sim.sample_params(3)
    a, b = sim(params, 10), sim(params, 11)
    model = sim.model_image(params)
    assert not np.array_equal(a, b)
    # the noise is unbiased: the mean residual of two draws is small against sigma
    sigma = np.sqrt((model + SMALL.background_sky_level) / SMALL.exposure_time)
    assert abs(np.mean((a - model) / sigma)) < 5 / np.sqrt(a.size)


def test_engines_agree_on_the_noiseless_image(sims):
    """NumPy and JAX give the same model image for the same parameters (float64, 1e-10 relative)."""
    if "jax" not in sims:
        pytest.skip("JAX is not installed")
    params, _ = sims["numpy"].sample_params(4)
    a = np.asarray(sims["numpy"].model_image(params))
    b = np.asarray(sims["jax"].model_image(params))
    np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-10 * np.abs(a).max())


def test_one_compile_for_simulation_and_diagnostics(sims):
    jax = pytest.importorskip("jax")
    sim = sims["jax"]
    for seed in range(3):  # different parameters and halo counts, same capacities
        params, _ = sims_params(sim, seed)
        sim(params, jax.random.key(seed))
        d = sim.diagnostics(params)
    assert len(sim.traces) == 1, f"sim(params, key) and diagnostics traced {len(sim.traces)} times"
    assert set(d) == {"data", "noise_map", "model_image", "lensed_source", "lens_light", "traced_grids", "convergence"}
    assert d["traced_grids"].shape == (SMALL.line_of_sight.n_planes + 1, 24, 24, 2)


def sims_params(sim, seed):
    import jax

    return sim.sample_params(jax.random.key(seed))


def test_batch_matches_single_images():
    jax = pytest.importorskip("jax")
    sim = Simulator(SMALL, engine="jax")
    keys = jax.random.split(jax.random.key(0), 3)
    ex = sim.sample_batch(keys)
    assert ex.data.shape == (3, 24, 24)
    params_0 = jax.tree_util.tree_map(lambda x: x[0], ex.params)
    model = np.asarray(sim.model_image(params_0))
    assert np.all(np.isfinite(np.asarray(ex.data)))
    # the batch's first image is noise around the single-image model
    sigma = np.sqrt((model + SMALL.background_sky_level) / SMALL.exposure_time)
    assert np.abs(np.mean((np.asarray(ex.data[0]) - model) / sigma)) < 5 / 24


def test_gradients_of_the_model_image_are_finite():
    jax = pytest.importorskip("jax")
    # subhaloes only: the line-of-sight planes repeat the same code and only add compile time
    sim = Simulator(dataclasses.replace(SMALL, line_of_sight=None), engine="jax")
    params, _ = sim.sample_params(jax.random.key(5))
    grads = jax.grad(lambda p: jax.numpy.sum(sim.forward(p, jax.random.key(0), False)["model_image"]))(
        sim.to_engine(params))
    for leaf in jax.tree_util.tree_leaves(grads):
        assert np.all(np.isfinite(np.asarray(leaf)))


def test_compiler_options_reach_the_compiled_programs():
    """QUICK_COMPILE (XLA's older CPU emitters) gives the same model image as XLA's defaults
    (float64; elementwise code may round differently: 1e-9 relative), and the options are
    those of the compiled program (an unknown name fails at the first call, as XLA says)."""
    jax = pytest.importorskip("jax")
    from xlens.simulator import QUICK_COMPILE

    cfg = dataclasses.replace(SMALL, line_of_sight=None)
    ref = Simulator(cfg, engine="jax")
    quick = Simulator(cfg, engine="jax", compiler_options=QUICK_COMPILE)
    params, _ = ref.sample_params(jax.random.key(2))
    np.testing.assert_allclose(np.asarray(quick.model_image(params)), np.asarray(ref.model_image(params)),
                               rtol=1e-9, atol=1e-12)
    assert quick.compiler_options == QUICK_COMPILE and quick.compiler_options is not QUICK_COMPILE
    bogus = Simulator(cfg, engine="jax", compiler_options={"xla_no_such_option": True})
    with pytest.raises(Exception, match="xla_no_such_option"):
        bogus.model_image(params)
    with pytest.raises(ValueError, match="need engine='jax'; got engine='numpy'"):
        Simulator(cfg, engine="numpy", compiler_options=QUICK_COMPILE)
    with pytest.raises(TypeError, match="must be a dict of XLA option names"):
        Simulator(cfg, engine="jax", compiler_options={"xla_cpu_use_fusion_emitters": None})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"psf_shape": (4, 5)}, "odd on both sides"),
        ({"exposure_time": 0.0}, r"exposure_time must be in \(0, inf\) \[s\]; got 0.0"),
        ({"background_sky_level": -1.0}, r"background_sky_level must be in \[0, inf\)"),
        ({"shape_native": (4, 4), "psf_shape": (5, 5)}, "larger than the image"),
        ({"z_source": 0.4}, "z_source must be > z_lens"),
    ],
)
def test_bad_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SimulatorConfig(**{**{"subhalos": None, "line_of_sight": None}, **kwargs})


def test_simulator_imaging_matches_the_imaging_reference():
    """SimulatorImaging without noise = over-sampled image, padded, blurred, cropped."""
    ref = load("imaging.json")
    src = ref["source"]
    tracer = Tracer([Galaxy(0.5), Galaxy(1.0, light=lp.Sersic(
        centre=src["centre"], ell_comps=(0.0, 0.0), intensity=src["intensity"],
        effective_radius=src["effective_radius"], sersic_index=src["sersic_index"]))])
    grid = Grid2D.uniform(ref["shape_native"], ref["pixel_scale_arcsec"], ref["sub_size"])
    psf = Kernel2D.from_gaussian(ref["psf"]["shape"], ref["pixel_scale_arcsec"], ref["psf"]["sigma_arcsec"])
    sim = SimulatorImaging(exposure_time=100.0, psf=psf, background_sky_level=0.1,
                           add_poisson_noise_to_data=False)
    out = sim.via_tracer_from(tracer, grid)
    np.testing.assert_allclose(out.data, ref["blurred_with_border"], rtol=1e-12)
    noisy = SimulatorImaging(100.0, psf, 0.1).via_tracer_from(tracer, grid, key=3)
    assert noisy.data.shape == (9, 9) and np.all(noisy.noise_map > 0)
    with pytest.raises(ValueError, match="a key is needed"):
        SimulatorImaging(100.0, psf, 0.1).via_tracer_from(tracer, grid)


def test_default_model_configuration():
    cfg = SimulatorConfig()
    assert cfg.shape_native == (100, 100) and cfg.sub_size == 4 and cfg.psf_shape == (11, 11)
    assert cfg.line_of_sight.n_planes == 8
    _ = mp  # the default lens is a PowerLaw + ExternalShear (documented in docs/simulator.md)


def test_padded_tracer_runs_the_fast_path_and_matches():
    """A realisation built halo by halo, padded into batches, gives the same image (fast path
    within 1% of sigma of brute force; padding itself changes nothing)."""
    rng = np.random.default_rng(0)
    # haloes like the default model's 1e9 M_sun subhaloes (PHYSICS.md §11.3: kappa_s ~ 0.007, r_s ~ 0.24'')
    haloes = {f"h{k}": mp.NFWTruncatedSph(centre=rng.uniform(-0.6, 0.6, 2), kappa_s=0.007, scale_radius=0.24,
                                          truncation_radius=5.6) for k in range(6)}
    lens = Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=1.0), **haloes)
    source = Galaxy(1.0, light=lp.Sersic(centre=(0.05, 0.0), ell_comps=(0.0, 0.1), intensity=1.0,
                                         effective_radius=0.2, sersic_index=1.5))
    tracer = Tracer([lens, source])
    padded = tracer.padded()
    assert len(padded.galaxies[0].profiles) == 2  # the isothermal and one batch of 6 (capacity 8)
    grid = Grid2D.uniform((32, 32), 0.05, 4)
    psf = Kernel2D.from_gaussian((5, 5), 0.05, 0.05)
    sim = SimulatorImaging(1000.0, psf, 0.1, add_poisson_noise_to_data=False)
    brute = sim.via_tracer_from(tracer, grid).data
    np.testing.assert_allclose(sim.via_tracer_from(padded, grid).data, brute, rtol=1e-12, atol=1e-14)
    fast = sim.via_tracer_from(padded, grid, exact=False).data
    sigma = np.sqrt((brute + 0.1) / 1000.0)
    assert np.max(np.abs(fast - brute) / sigma) < 0.01


def test_subhalo_sheet_reaches_the_lens_plane():
    """SubhaloConfig(sheet=True) lowers the convergence of the image by the population's sheet.

    The expected sheet is computed here from its definition (PHYSICS.md §13.2), by quadrature
    independent of the population's tables: kappa = -int m_ren dN / (Sigma_cr A), with
    dN/dm = A (Sigma_sub / m0) (m / m0)^alpha and m_ren = M200 m_inf(2c) / mu(c).
    """
    import math

    import scipy.integrate

    from xlens.cosmology import Planck15
    from xlens.halo_model import ludlow16_concentration, nfw_mass_factor, truncated_nfw_mass_ratio

    sub = SubhaloConfig()  # the default subhalo population: sheet kappa -9.2e-3
    base = dict(shape_native=(8, 8), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), line_of_sight=None)
    on = Simulator(SimulatorConfig(**base, subhalos=dataclasses.replace(sub, sheet=True)), engine="numpy")
    off = Simulator(SimulatorConfig(**base, subhalos=sub), engine="numpy")
    params, _ = on.sample_params(3)  # the sheet does not change the draw: same params for both
    diff = np.asarray(on.diagnostics(params, 0)["convergence"]) - np.asarray(
        off.diagnostics(params, 0)["convergence"])

    def dn_dlnm_times_m_ren(lnm):
        m = math.exp(lnm)
        c = float(ludlow16_concentration(m, sub.z_lens))
        ratio = float(truncated_nfw_mass_ratio(2.0 * c)) / float(nfw_mass_factor(c))
        return sub.sigma_sub * (m / 1e8) ** (sub.alpha + 1.0) * m * ratio  # per kpc^2

    mass_per_area = scipy.integrate.quad(dn_dlnm_times_m_ren, math.log(sub.m_min),
                                         math.log(sub.m_max), epsrel=1e-11)[0]
    sigma_cr = float(Planck15.critical_surface_density_msun_per_kpc2(sub.z_lens, sub.z_source))
    want = -mass_per_area / sigma_cr
    assert -1e-2 < want < -8e-3, want  # the sanity of the quadrature itself
    np.testing.assert_allclose(diff, want, rtol=1e-7, atol=0.0,
                               err_msg="the lens plane's convergence must include the subhalo sheet")


@pytest.mark.jax
def test_user_tracer_runs_the_fast_path_in_float32():
    """SimulatorImaging.via_tracer_from(dtype="float32") on a JAX tracer: float32 images within
    the fast path's bound (1% of sigma) of the float64 brute force, and noise in float32."""
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(1)
    centres = rng.uniform(-0.6, 0.6, (6, 2))
    haloes = {f"h{k}": mp.NFWTruncatedSph(centre=jnp.asarray(c), kappa_s=jnp.asarray(0.007),
                                          scale_radius=jnp.asarray(0.24), truncation_radius=jnp.asarray(5.6))
              for k, c in enumerate(centres)}
    lens = Galaxy(0.5, mass=mp.IsothermalSph(einstein_radius=jnp.asarray(1.0)), **haloes)
    source = Galaxy(1.0, light=lp.Sersic(centre=jnp.asarray([0.05, 0.0]), ell_comps=jnp.asarray([0.0, 0.1]),
                                         intensity=jnp.asarray(1.0), effective_radius=jnp.asarray(0.2),
                                         sersic_index=jnp.asarray(1.5)))
    tracer = Tracer([lens, source]).padded()
    grid = Grid2D.uniform((32, 32), 0.05, 4)
    psf = Kernel2D.from_gaussian((5, 5), 0.05, 0.05)
    sim = SimulatorImaging(1000.0, psf, 0.1, add_poisson_noise_to_data=False)
    brute = np.asarray(sim.via_tracer_from(tracer, grid, exact=True, dtype="float64").data)
    fast32 = sim.via_tracer_from(tracer, grid, exact=False, dtype="float32")
    assert fast32.data.dtype == jnp.float32 and fast32.noise_map.dtype == jnp.float32
    sigma = np.sqrt((brute + 0.1) / 1000.0)
    err = np.max(np.abs(np.asarray(fast32.data, dtype=np.float64) - brute) / sigma)
    assert err < 0.01, f"max |fast32 - brute64| / sigma = {err:.2e}"
    noisy = SimulatorImaging(1000.0, psf, 0.1).via_tracer_from(tracer, grid, key=jax_key(3), exact=False,
                                                             dtype="float32")
    assert noisy.data.dtype == jnp.float32 and np.all(np.isfinite(np.asarray(noisy.data)))
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
        sim.via_tracer_from(tracer, grid, dtype="float16")


def jax_key(seed: int):
    """A JAX key (this module also runs without JAX, so JAX is imported here)."""
    import jax

    return jax.random.key(seed)


# ---------------------------------------------------------------- priors


@pytest.mark.parametrize("engine", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_default_model_draws_one_uniform_per_parameter_mapped_as_lo_plus_width_u(engine):
    """The default model's macro draws are lo + (hi - lo) u, bit for bit, with u the same uniforms
    (one per parameter, in table order) that sample_params drew before the priors were objects."""
    if engine == "jax":
        pytest.importorskip("jax")
    sim = Simulator(dataclasses.replace(SMALL, subhalos=None, line_of_sight=None), engine=engine)
    for seed in (0, 5):
        key = _key(engine, seed)
        params, _ = sim.sample_params(key)
        ops = random_ops(key)
        u = np.asarray(ops.uniform(ops.split(key, 3)[0], (18,)))
        drawn = parameter_table(params, sim.config)
        specs = [(f"{g}.{c}.{n}", spec) for g, gal in DEFAULT_MODEL.items() for c, comp in gal.items()
                 for n, spec in comp.items() if n != "profile"]
        assert [label for label, _ in specs] == [s.label for s in sim.config.model.columns]
        for i, (label, spec) in enumerate(specs):
            lo, hi = (spec, spec) if np.isscalar(spec) else spec
            assert drawn[i] == lo + (hi - lo) * u[i], (engine, seed, label)


@pytest.mark.parametrize("engine", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_log_uniform_and_truncated_normal_priors_run_and_stay_in_their_bounds(engine):
    if engine == "jax":
        pytest.importorskip("jax")
    model = {g: {c: dict(comp) for c, comp in gal.items()} for g, gal in DEFAULT_MODEL.items()}
    model["lens"]["mass"]["einstein_radius"] = {"normal": (1.1, 0.1), "bounds": (0.9, 1.4)}
    model["source"]["light"]["intensity"] = LogUniform(0.3, 3.0)
    cfg = SimulatorConfig(shape_native=(16, 16), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1,
                          subhalos=None, line_of_sight=None, model=model)
    sim = Simulator(cfg, engine=engine)
    radius, intensity = [], []
    for seed in range(4):
        example = sim.sample(_key(engine, seed))
        assert np.all(np.isfinite(np.asarray(example.data)))
        radius.append(float(example.params.value("lens.mass.einstein_radius")))
        intensity.append(float(example.params.value("source.light.intensity")))
    assert all(0.9 <= r <= 1.4 for r in radius) and all(0.3 <= i <= 3.0 for i in intensity), (radius, intensity)
    assert len(set(radius)) == 4 and len(set(intensity)) == 4
    # the draws are the priors' inverse CDFs of the simulator's uniforms (indices 4 and 12 of the table)
    params, _ = sim.sample_params(_key(engine, 0))
    ops = random_ops(_key(engine, 0))
    u = np.asarray(ops.uniform(ops.split(_key(engine, 0), 3)[0], (18,)))
    np.testing.assert_allclose([float(params.value("lens.mass.einstein_radius")),
                                float(params.value("source.light.intensity"))],
                               [scipy.stats.truncnorm(-2.0, 3.0, 1.1, 0.1).ppf(u[4]),
                                scipy.stats.loguniform(0.3, 3.0).ppf(u[12])], rtol=1e-12)


@pytest.mark.parametrize("engine_name", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_expected_counts_beyond_the_noise_limit_are_an_error_not_an_image(engine_name):
    """1e12 s of exposure puts ~1e12 e- in a pixel: sample refuses (NumPy: at the draw; JAX: the
    compiled draw marks the pixels NaN and sample raises), so no such image is used or written."""
    from xlens.model import SimulatorConfig as Config

    cfg = Config(shape_native=(12, 12), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1,
                 subhalos=None, line_of_sight=None, exposure_time=1e12)
    sim = Simulator(cfg, engine=engine_name)
    key = 0
    if engine_name == "jax":
        key = pytest.importorskip("jax").random.key(0)
    with pytest.raises(ValueError, match=r"e- per pixel"):
        sim.sample(key)
