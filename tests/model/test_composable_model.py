"""The model as galaxies of named profiles (issue 15, item 1): priors on any field, ties, lens
light, clumps drawn with a probability, catalogue sources, extra galaxies, labels, errors.

Independent renders: the lens light (and a second source plane) are compared with the profiles
evaluated directly on the padded over-sampled grid, block-averaged and convolved with
scipy.signal (not the simulator's light assembly or FFT).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib

import numpy as np
import pytest
import scipy.signal

import xlens
from xlens.cli import main
from xlens.config import ConfigError, config_from_dict, config_to_dict, default_toml, dumps, load_config
from xlens.dataset import DatasetError, DatasetSpec, open_dataset
from xlens.model import Component, Fixed, Model, SimulatorConfig, Uniform, parameter_columns, parameter_table
from xlens.model.galaxies import DEFAULT_MODEL

#: The issue's example model (a multipole tied to the power law, lens light, the default source)
#: with a clump of probability 1/2, on a tiny grid with a few subhaloes and no line of sight.
EXAMPLE = """
shape_native = [16, 16]
pixel_scale = 0.2
sub_size = 2
psf_shape = [3, 3]
psf_sigma = 0.1

[subhalos]
sigma_sub = 0.01
m_min = 1.0e+09

[line_of_sight]
enabled = false

[model.lens.mass]
profile = "PowerLaw"
centre_y = [-0.05, 0.05]
centre_x = [-0.05, 0.05]
einstein_radius = [0.9, 1.4]
slope = { normal = [2.0, 0.08], bounds = [1.8, 2.2] }
ell_comps_1 = [-0.2, 0.2]
ell_comps_2 = [-0.2, 0.2]

[model.lens.shear]
profile = "ExternalShear"
gamma_1 = [-0.05, 0.05]
gamma_2 = [-0.05, 0.05]

[model.lens.multipole]
profile = "PowerLawMultipole"
m = 4
einstein_radius = "lens.mass.einstein_radius"
slope = "lens.mass.slope"
centre_y = "lens.mass.centre_y"
centre_x = "lens.mass.centre_x"
multipole_comps_1 = [-0.02, 0.02]
multipole_comps_2 = [-0.02, 0.02]

[model.lens.light]
profile = "Sersic"
centre_y = "lens.mass.centre_y"
centre_x = "lens.mass.centre_x"
ell_comps_1 = [-0.1, 0.1]
ell_comps_2 = [-0.1, 0.1]
intensity = [0.2, 0.6]
effective_radius = [0.6, 1.0]
sersic_index = [3.0, 5.0]

[model.source.light]
profile = "SersicCore"
centre_y = [-0.15, 0.15]
centre_x = [-0.15, 0.15]
ell_comps_1 = [-0.25, 0.25]
ell_comps_2 = [-0.25, 0.25]
intensity = [0.5, 2.0]
effective_radius = [0.1, 0.4]
sersic_index = [1.0, 3.0]
radius_break = 0.025
gamma = 0.0
alpha = 2.0

[model.source.clump]
profile = "Gaussian"
probability = 0.5
centre_y = [-0.3, 0.3]
centre_x = [-0.3, 0.3]
intensity = [1.0, 3.0]
sigma = [0.03, 0.08]
"""
TIED = ("lens.multipole.einstein_radius", "lens.multipole.slope", "lens.multipole.centre_y",
        "lens.multipole.centre_x", "lens.light.centre_y", "lens.light.centre_x")
SMALL = dict(shape_native=(16, 16), pixel_scale=0.2, sub_size=2, psf_shape=(5, 5), psf_sigma=0.1,
             subhalos=None, line_of_sight=None)


def _model(**changes) -> dict:
    """The default model's tables with changes ``{"galaxy.profile": table or None}``."""
    model = {g: {c: dict(comp) for c, comp in gal.items()} for g, gal in DEFAULT_MODEL.items()}
    for where, table in changes.items():
        g, c = where.split(".")
        if table is None:
            del model[g][c]
        else:
            model.setdefault(g, {})[c] = table
    return model


def _render(sim, light_on_plane, kernel):
    """Independent image: light (a function of the padded over-sampled (y, x) grid) block-averaged
    with NumPy, convolved by scipy.signal ('valid' on the padded image = the simulator's crop)."""
    grid = np.asarray(sim.padded_grid.over_sampled, dtype=np.float64)
    fine = np.asarray(light_on_plane(grid))
    s = sim.config.sub_size
    ny, nx = fine.shape[0] // s, fine.shape[1] // s
    coarse = fine.reshape(ny, s, nx, s).mean(axis=(1, 3))
    return scipy.signal.convolve2d(coarse, np.asarray(kernel)[::-1, ::-1], mode="valid")


# ------------------------------------------------------------------ the issue's example, end to end


@pytest.mark.jax
def test_issue_example_runs_through_simulate_show_and_the_likelihood_compiled_once(tmp_path, capsys):
    jax = pytest.importorskip("jax")
    from xlens.dataset import writer

    path = tmp_path / "model.toml"
    path.write_text(EXAMPLE)
    cfg = load_config(path)
    labels = [s.label for s in cfg.model.columns]
    assert not set(TIED) & set(labels), "tied fields have no column"
    assert labels[8:10] == ["lens.multipole.multipole_comps_1", "lens.multipole.multipole_comps_2"]
    assert labels[-1] == "source.clump.present" and len(labels) == 30
    store = tmp_path / "example.zarr"
    assert main(["simulate", str(store), "-n", "8", "--config", str(path), "--batch-size", "4", "--seed", "2",
                 "--no-progress"]) == 0
    ds = open_dataset(store)
    assert ds.parameter_names == [n for n, _ in parameter_columns(cfg)]
    assert ds.parameter_units["lens.light.intensity"] == "e-/s"
    assert ds.parameter_units["lens.multipole.multipole_comps_1"] == "dimensionless"
    table = ds.labels()
    assert np.all(np.abs(table["lens.multipole.multipole_comps_1"]) <= 0.02)
    assert np.all((table["lens.mass.slope"] >= 1.8) & (table["lens.mass.slope"] <= 2.2))
    assert set(np.unique(table["source.clump.present"])) <= {0.0, 1.0}
    # the ties are resolved in the stored profiles: the multipole has the power law's values
    root = ds.root
    np.testing.assert_array_equal(root["params/galaxies/lens/multipole/einstein_radius"][:],
                                  table["lens.mass.einstein_radius"])
    np.testing.assert_array_equal(root["params/galaxies/lens/light/centre"][:],
                                  root["params/galaxies/lens/mass/centre"][:])
    sims = [s for s in writer._SIMULATORS.values() if "multipole" in s.config.model.galaxies["lens"].components]
    assert len(sims) == 1 and sims[0]._jit_cache["sample_batch"]._cache_size() == 1  # two chunks, one program

    # xlens show: the lens-light panel (a 2 x 4 figure) and every label listed
    pytest.importorskip("matplotlib")
    capsys.readouterr()
    assert main(["show", str(store), "-i", "1", "-o", str(tmp_path / "one.png")]) == 0
    out = capsys.readouterr().out
    assert "(1800 x 840 px)" in out, out  # 4 columns: lens light and lensed source added
    for name in ("lens.multipole.multipole_comps_2", "lens.light.sersic_index", "source.clump.present"):
        assert re.search(rf"{re.escape(name)} += ", out), name

    # ParameterSpace and the likelihood on the same model: one program, every new field free
    sim = xlens.Simulator(cfg, engine="jax")
    truth = sim.to_engine(jax.tree.map(np.asarray, ds.params(1)))
    truth = dataclasses.replace(truth, galaxies={**truth.galaxies, "source": {
        **truth.galaxies["source"], "clump": {**truth.galaxies["source"]["clump"], "present": np.asarray(1.0)}}})
    out = sim.diagnostics(truth, jax.random.key(0))
    assert float(np.max(np.asarray(out["lens_light"]))) > 0.1
    new = ["lens.multipole.multipole_comps_1", "lens.multipole.multipole_comps_2", "lens.light.intensity",
           "lens.light.effective_radius", "lens.light.sersic_index", "lens.light.ell_comps_1",
           "source.clump.intensity", "source.clump.sigma", "source.clump.centre_x", "lens.mass.einstein_radius",
           "lens.mass.slope"]
    space = xlens.ParameterSpace(sim, truth, free=new)
    like = xlens.likelihood(sim, out["data"], out["noise_map"], space)
    point = np.asarray(space.to_vector(space.reference)) + 0.01 * (space.high - space.low)
    value, grad = like.value_and_grad(point)
    grad = np.asarray(grad)
    assert np.all(np.isfinite(grad)) and np.all(grad != 0), dict(zip(space.names, grad, strict=True))
    # fourth-order central differences, steps of 1e-4 of each prior width: truncation and
    # roundoff both below 1e-7 relative of these gradients (float64 throughout)
    h = 1e-4 * (space.high - space.low)
    stencil = np.array([-2.0, -1.0, 1.0, 2.0])
    points = (point + (stencil[None, :, None] * np.diag(h)[:, None, :])).reshape(-1, space.size)
    f = np.asarray(like.batch(points)).reshape(space.size, 4)
    fd = (f[:, 0] - 8 * f[:, 1] + 8 * f[:, 2] - f[:, 3]) / (12 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(fd)), err_msg=str(space.names))
    # the tie moves with its target: the multipole follows the power law's einstein_radius
    moved = space.to_params(jax.numpy.asarray(point))
    theta_e = float(point[space.index("lens.mass.einstein_radius")])
    assert float(moved.value("lens.multipole.einstein_radius")) == theta_e
    for shift in (0.001, 0.002):
        like.value_and_grad(point + shift * (space.high - space.low))
    # one program each (a private JAX counter, as tests/inference/test_inference.py reads it)
    assert like._program("value_and_grad")._cache_size() == 1 and like._program("batch")._cache_size() == 1


# ------------------------------------------------------------------ lens light, ties, presence


@pytest.mark.parametrize("engine", ["numpy", pytest.param("jax", marks=pytest.mark.jax)])
def test_an_image_of_lens_light_alone_equals_an_independent_render(engine):
    """Source intensity 0: the noiseless model is the lens's Sersic, unlensed by the lens,
    over-sampled, binned and convolved; equal to 1e-6 of the peak (float64; the difference is
    FFT roundoff, ~1e-15 of the peak)."""
    if engine == "jax":
        pytest.importorskip("jax")
    light = {"profile": "Sersic", "centre_y": 0.05, "centre_x": -0.1, "ell_comps_1": 0.1, "ell_comps_2": -0.05,
             "intensity": 0.8, "effective_radius": 0.7, "sersic_index": 4.0}
    model = _model(**{"lens.light": light})
    model["source"]["light"]["intensity"] = 0.0
    sim = xlens.Simulator(SimulatorConfig(**SMALL, model=model), engine=engine)
    params, _ = sim.sample_params(0)
    out = sim.diagnostics(params)
    prof = xlens.lp.Sersic(centre=(0.05, -0.1), ell_comps=(0.1, -0.05), intensity=0.8, effective_radius=0.7,
                           sersic_index=4.0)
    want = _render(sim, prof.image_2d_from, sim.kernel.values)
    got = np.asarray(out["model_image"])
    assert got.shape == want.shape == (16, 16)
    assert np.max(np.abs(got - want)) <= 1e-6 * np.max(want), np.max(np.abs(got - want)) / np.max(want)
    np.testing.assert_array_equal(np.asarray(out["lensed_source"]), 0.0)
    assert np.max(np.asarray(out["lens_light"])) > 0.5


def test_a_second_source_plane_is_lensed_by_the_first_source_as_an_independent_tracer_says():
    """A galaxy 'far' at z = 2 behind a massive source at z = 1: the simulator's image equals the
    Tracer of the same galaxies rendered and convolved independently (1e-10 of the peak)."""
    far = {"redshift": 2.0, "light": {"profile": "Sersic", "centre_y": 0.2, "centre_x": 0.1, "intensity": 1.0,
                                      "effective_radius": 0.3, "sersic_index": 1.0}}
    model = _model()
    model["source"]["mass"] = {"profile": "IsothermalSph", "centre_y": 0.0, "centre_x": 0.05,
                               "einstein_radius": 0.3}
    model["far"] = far
    cfg = SimulatorConfig(**SMALL, model=model)
    assert [s.label for s in cfg.model.columns][-5:] == ["far.light.centre_y", "far.light.centre_x",
                                                         "far.light.intensity", "far.light.effective_radius",
                                                         "far.light.sersic_index"]
    sim = xlens.Simulator(cfg, engine="numpy")
    params, _ = sim.sample_params(3)
    got = np.asarray(sim.model_image(params))
    profiles = sim.profiles_from(params)
    tracer = xlens.Tracer([xlens.Galaxy(0.5, **profiles["lens"]), xlens.Galaxy(1.0, **profiles["source"]),
                           xlens.Galaxy(2.0, **profiles["far"])])
    want = _render(sim, tracer.image_2d_from, sim.kernel.values)
    assert np.max(np.abs(got - want)) <= 1e-10 * np.max(want)
    # the far galaxy is on its own plane, behind the source
    assert sim.tracer_from(params).redshifts == (0.5, 1.0, 2.0)


def test_ties_follow_their_target_and_presence_is_drawn_with_its_probability():
    clump = {"profile": "Gaussian", "probability": 0.3, "centre_y": "source.light.centre_y",
             "centre_x": "source.light.centre_x", "intensity": 2.0, "sigma": 0.05}
    sim = xlens.Simulator(SimulatorConfig(**SMALL, model=_model(**{"source.clump": clump})), engine="numpy")
    flags = []
    for seed in range(400):
        params, _ = sim.sample_params(seed)
        src = params.galaxies["source"]
        np.testing.assert_array_equal(src["clump"]["centre"], src["light"]["centre"])
        flags.append(float(src["clump"]["present"]))
    n = len(flags)
    # binomial(400, 0.3): mean 120, sd 9.2; a 4-sigma band
    assert abs(sum(flags) - 0.3 * n) < 4 * math.sqrt(n * 0.3 * 0.7), sum(flags)
    # an absent clump adds nothing: the image equals the model without it
    params = next(p for p in (sim.sample_params(s)[0] for s in range(20))
                  if float(p.galaxies["source"]["clump"]["present"]) == 0.0)
    bare = xlens.Simulator(SimulatorConfig(**SMALL), engine="numpy")
    without = dataclasses.replace(params, galaxies={"lens": params.galaxies["lens"],
                                                    "source": {"light": params.galaxies["source"]["light"]}})
    np.testing.assert_array_equal(sim.model_image(params), bare.model_image(without))


def test_the_default_model_draws_are_unchanged_and_its_labels_are_galaxy_profile_field():
    cfg = SimulatorConfig()
    assert [s.label for s in cfg.model.columns][:7] == [
        "lens.mass.centre_y", "lens.mass.centre_x", "lens.mass.ell_comps_1", "lens.mass.ell_comps_2",
        "lens.mass.einstein_radius", "lens.mass.slope", "lens.shear.gamma_1"]
    assert cfg.model.n_drawn == 18 and cfg.model.n_presence == 0
    # `xlens config --default` writes the model in the new form, and it reads back as the default
    text = default_toml()
    assert "[model.lens.mass]\nprofile = \"PowerLaw\"" in text and "[priors.lens]" not in text
    assert config_from_dict(tomllib.loads(text)) == cfg
    # the structure as objects is the same model
    objects = Model({"lens": {"mass": Component("PowerLaw", **{k: v for k, v in DEFAULT_MODEL["lens"]["mass"].items()
                                                                if k != "profile"}),
                              "shear": Component(xlens.mp.ExternalShear, gamma_1=(-0.05, 0.05),
                                                 gamma_2=(-0.05, 0.05))},
                     "source": DEFAULT_MODEL["source"]})
    assert SimulatorConfig(model=objects) == cfg
    assert objects.galaxies["lens"].components["shear"].fields["gamma_1"] == Uniform(-0.05, 0.05)
    assert cfg.model.galaxies["source"].components["light"].fields["alpha"] == Fixed(2.0)


def test_parameter_table_reads_the_model_labels_from_the_values():
    cfg = SimulatorConfig(**SMALL)
    sim = xlens.Simulator(cfg, engine="numpy")
    params, _ = sim.sample_params(7)
    row = parameter_table(params, cfg)
    names = [n for n, _ in parameter_columns(cfg)]
    assert row[names.index("lens.mass.centre_x")] == float(params.galaxies["lens"]["mass"]["centre"][1])
    assert row[names.index("source.light.intensity")] == float(params.value("source.light.intensity"))
    with pytest.raises(KeyError, match="no label 'lens.theta'"):
        params.value("lens.theta")


# ------------------------------------------------------------------ catalogue sources in the model


def _catalogue(tmp_path, n=3):
    y, x = np.mgrid[-10:11, -10:11] * 0.04
    images = np.stack([np.exp(-(x**2 + (y * (1 + 0.3 * k)) ** 2) / 0.05) for k in range(n)])
    np.save(tmp_path / "cutouts.npy", images)
    np.savez(tmp_path / "cutouts.npz", images=images, pixel_scales=np.full(n, 0.04))
    return images


@pytest.mark.jax
def test_a_catalogue_source_draws_its_cut_out_per_image_inside_one_program(tmp_path):
    jax = pytest.importorskip("jax")
    _catalogue(tmp_path)
    text = dumps(SimulatorConfig(**SMALL)).replace(
        '[model.source.light]\nprofile = "SersicCore"',
        '[model.source.light]\nprofile = "SourceImage"\ncatalogue = "cutouts.npz"\nflux = [1.0, 2.0]\n'
        'angle = [0.0, 360.0]\nscale = [0.8, 1.2]\n[model.source.unused]\nprofile = "SersicCore"')
    (tmp_path / "cat.toml").write_text(text)
    cfg = load_config(tmp_path / "cat.toml")
    comp = cfg.model.galaxies["source"].components["light"]
    assert comp.fields["catalogue"] == str((tmp_path / "cutouts.npz").resolve())
    assert len(comp.fields["catalogue_sha256"]) == 64
    names = [s.label for s in cfg.model.columns]
    assert "source.light.index" in names and "source.light.flux" in names
    sim = xlens.Simulator(cfg, engine="jax")
    ex = sim.sample_batch(jax.random.split(jax.random.key(0), 16))
    index = np.asarray(ex.params.galaxies["source"]["light"]["index"])
    assert set(np.unique(index)) == {0, 1, 2} and np.all(np.isfinite(np.asarray(ex.data)))
    assert sim._jit_cache["sample_batch"]._cache_size() == 1
    # the record rebuilds the same model, and a changed file refuses
    back = config_from_dict(config_to_dict(cfg))
    assert back == cfg
    np.savez(tmp_path / "cutouts.npz", images=np.ones((3, 21, 21)), pixel_scales=np.full(3, 0.04))
    with pytest.raises(ConfigError, match="has changed since it was recorded"):
        config_from_dict(config_to_dict(cfg))


def test_catalogue_errors_name_the_key(tmp_path):
    _catalogue(tmp_path)
    base = {"profile": "SourceImage", "catalogue": str(tmp_path / "cutouts.npy")}
    with pytest.raises(ValueError, match=r"source.light.pixel_scales \[arcsec\] is required"):
        SimulatorConfig(**SMALL, model=_model(**{"source.light": base}))
    cfg = SimulatorConfig(**SMALL, model=_model(**{"source.light": {**base, "pixel_scales": 0.04, "index": 2}}))
    params, _ = xlens.Simulator(cfg, engine="numpy").sample_params(0)
    assert int(params.galaxies["source"]["light"]["index"]) == 2
    with pytest.raises(ValueError, match=r"index must be an integer in \[0, 2\]"):
        SimulatorConfig(**SMALL, model=_model(**{"source.light": {**base, "pixel_scales": 0.04, "index": 3}}))
    with pytest.raises(ValueError, match="cannot read it"):
        SimulatorConfig(**SMALL, model=_model(**{"source.light": {**base, "catalogue": str(tmp_path / "no.npy"),
                                                                   "pixel_scales": 0.04}}))


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(("change", "fragments"), [
    ({"lens.extra": {"profile": "PowerLaw", "slope": "lens.multipole.slope"}},
     ["model.lens.extra.slope = 'lens.multipole.slope'", "does not declare"]),
    ({"lens.extra": {"profile": "PowerLawMultipole", "slope": "lens.extra.einstein_radius",
                     "einstein_radius": "lens.mass.einstein_radius"}}, ["not another tie"]),
    ({"lens.extra": {"profile": "IsothermalSph", "probability": 0.5}}, ["only light profiles"]),
    ({"lens.extra": {"profile": "PowerLawMultipole", "m": 4.0}}, ["static field", "int"]),
    ({"lens.extra": {"profile": "PowerLawMultipole", "m": 0}}, ["model.lens.extra.m = 0", ">= 1"]),
    ({"lens.cdm": {"profile": "IsothermalSph"}}, ["must be an identifier and not one of"]),
    ({"lens.extra": {"einstein_radius": 1.0}}, ["needs profile"]),
    ({"lens.extra": {"profile": "Sersic", "probability": 1.5}}, ["probability must be in (0, 1]"]),
    ({"source.light": {"profile": "SersicCore", "intensity": [-1.0, 1.0]}}, ["reaches -1.0", "SersicCore.intensity"]),
])
def test_model_errors_name_the_key_the_value_and_the_rule(change, fragments):
    with pytest.raises(ValueError) as err:
        SimulatorConfig(**SMALL, model=_model(**change))
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


def test_galaxy_rules():
    with pytest.raises(ValueError, match=r"model.far.redshift must be a number in \(0, 10\]"):
        SimulatorConfig(**SMALL, model={**_model(), "far": {"light": {"profile": "Sersic"}}})
    with pytest.raises(ValueError, match="the lens galaxy sits at z_lens"):
        SimulatorConfig(**SMALL, model={**_model(), "lens": {"redshift": 0.4, **_model()["lens"]}})
    with pytest.raises(ValueError, match="cannot be combined with redshifts drawn per image"):
        SimulatorConfig(**SMALL, model={**_model(), "far": {"redshift": 2.0, "light": {"profile": "Sersic"}}},
                        priors={"redshifts": {"z_source": (1.0, 1.5)}})


def test_a_store_of_the_previous_format_says_what_changed():
    spec = DatasetSpec(n_images=2, config=SimulatorConfig(**SMALL))
    attrs = {**spec.to_attrs(), "format": 1, "versions": {"xlens": "0.1.0.dev0"}}
    with pytest.raises(DatasetError, match=r"format 1.*lens.einstein_radius -> lens.mass.einstein_radius"):
        DatasetSpec.from_attrs(attrs)
    assert DatasetSpec.from_attrs(spec.to_attrs()) == spec
