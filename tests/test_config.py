"""TOML configuration: the default file round-trips, bad files fail with the key, value and range."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from xlens import SimulatorConfig
from xlens.cli import main
from xlens.config import ConfigError, config_from_dict, config_to_dict, default_toml, dumps, load_config
from xlens.halos import SubhaloConfig
from xlens.model import Fixed, LogUniform, Model, TruncatedNormal, Uniform
from xlens.model.galaxies import DEFAULT_MODEL


def test_default_file_is_the_default_model_and_every_key_is_documented():
    text = default_toml()
    assert config_from_dict(tomllib.loads(text)) == SimulatorConfig()
    assert config_from_dict({}) == SimulatorConfig()  # every key optional
    for key in ("pixel_scale", "sub_size", "psf_sigma", "exposure_time", "sigma_sub", "m_min", "n_planes"):
        line = text.splitlines().index(next(ln for ln in text.splitlines() if ln.startswith(f"{key} =")))
        assert text.splitlines()[line - 1].startswith("#"), f"{key} has no comment above it"
    assert "[arcsec]" in text and "[M_sun]" in text


def test_config_default_command_prints_the_default_file(capsys):
    assert main(["config", "--default"]) == 0
    assert capsys.readouterr().out == default_toml()


def test_round_trip_of_a_modified_configuration(tmp_path):
    cfg = SimulatorConfig(
        shape_native=(32, 40), pixel_scale=0.1, sub_size=2, psf_shape=(5, 5), z_lens=0.4, z_source=1.5,
        subhalos=SubhaloConfig(z_lens=0.4, z_source=1.5, dark_matter="wdm", m_hm=10**8.3, sigma_sub=0.05),
        line_of_sight=None,
        model=_model(("lens", "shear", "gamma_1", 0.01), ("lens", "shear", "gamma_2", (-0.02, 0.02))),
    )
    path = tmp_path / "model.toml"
    path.write_text(dumps(cfg))
    back = load_config(path)
    assert back == cfg
    shear = back.model.galaxies["lens"].components["shear"].fields
    assert shear == {"gamma_1": Fixed(0.01), "gamma_2": Uniform(-0.02, 0.02)}
    assert config_to_dict(back) == config_to_dict(cfg)


def _model(*changes) -> dict:
    """The default model's tables with ``(galaxy, profile, field, spec)`` changes."""
    model = {g: {c: dict(comp) for c, comp in gal.items()} for g, gal in DEFAULT_MODEL.items()}
    for g, c, name, spec in changes:
        model[g][c][name] = spec
    return model


def _model_toml(*changes) -> str:
    """The TOML [model] tables of the default model with changes (spec as TOML text)."""
    model = _model()
    lines = []
    for g, gal in model.items():
        for c, comp in gal.items():
            lines.append(f"[model.{g}.{c}]")
            for name, spec in comp.items():
                override = [t for gg, cc, n, t in changes if (gg, cc, n) == (g, c, name)]
                lines.append(f"{name} = {override[0] if override else _toml(spec)}")
            lines += [f"{n} = {t}" for gg, cc, n, t in changes if (gg, cc) == (g, c) and n not in comp]
    return "\n".join(lines) + "\n"


def _toml(spec) -> str:
    from xlens.config import _toml_value

    return _toml_value(spec)


def test_round_trip_of_log_uniform_and_truncated_normal_priors(tmp_path):
    text = _model_toml(("lens", "mass", "einstein_radius", "{normal = [1.1, 0.1], bounds = [0.9, 1.4]}"),
                       ("source", "light", "intensity", "{ log_uniform = [0.3, 3.0] }"))
    (tmp_path / "model.toml").write_text(text)
    cfg = load_config(tmp_path / "model.toml")
    assert cfg.model.galaxies["lens"].components["mass"].fields["einstein_radius"] == \
        TruncatedNormal(1.1, 0.1, 0.9, 1.4)
    assert cfg.model.galaxies["source"].components["light"].fields["intensity"] == LogUniform(0.3, 3.0)
    written = dumps(cfg)
    assert "einstein_radius = {normal = [1.1, 0.1], bounds = [0.9, 1.4]}\n" in written
    assert "intensity = {log_uniform = [0.3, 3.0]}\n" in written
    (tmp_path / "back.toml").write_text(written)
    back = load_config(tmp_path / "back.toml")
    assert back == cfg and config_to_dict(back) == config_to_dict(cfg)
    # the Python forms give the same configuration
    model = _model(("lens", "mass", "einstein_radius", {"normal": (1.1, 0.1), "bounds": (0.9, 1.4)}),
                   ("source", "light", "intensity", LogUniform(0.3, 3.0)))
    assert SimulatorConfig(model=model) == cfg


def test_default_model_is_normalised_to_prior_objects():
    cfg = SimulatorConfig()
    assert cfg.model.galaxies["lens"].components["mass"].fields["slope"] == Uniform(1.9, 2.2)
    assert cfg.model.galaxies["source"].components["light"].fields["alpha"] == Fixed(2.0)
    assert SimulatorConfig(model=DEFAULT_MODEL) == cfg and SimulatorConfig(model=Model(DEFAULT_MODEL)) == cfg
    bad = r"model.lens.mass.slope = \[2.2, 2.0\]: \[low, high\] must be low <= high"
    with pytest.raises(ValueError, match=bad):
        SimulatorConfig(model=_model(("lens", "mass", "slope", (2.2, 2.0))))
    with pytest.raises(ValueError, match="unknown group 'halo'"):
        SimulatorConfig(priors={"halo": {}})
    with pytest.raises(ValueError, match=r"priors\['lens'\]: the macro priors moved into the model; write them as "
                       r"\[model.lens.mass\]"):
        SimulatorConfig(priors={"lens": {"slope": (1.9, 2.1)}})


def test_enabled_false_removes_a_population_and_missing_tables_keep_the_default():
    cfg = config_from_dict({"line_of_sight": {"enabled": False}, "z_lens": 0.6})
    assert cfg.line_of_sight is None
    assert cfg.subhalos == dataclasses.replace(SimulatorConfig().subhalos, z_lens=0.6)


@pytest.mark.parametrize(
    ("text", "key", "fragments"),
    [
        ("colour = 1", "colour", ["unknown key 'colour'", "pixel_scale"]),
        ("[subhalos]\nsigma = 1.0", "subhalos.sigma", ["unknown key 'sigma'", "sigma_sub"]),
        (_model_toml(("lens", "mass", "radius", "[1.0, 2.0]")), "model.lens.mass.radius",
         ["unknown field 'radius'", "einstein_radius"]),
        ("[priors.lens]\nslope = [1.9, 2.1]", "priors.lens", ["[model.lens.mass]", "PowerLaw", "docs/model.md"]),
        ("[model.lens.mass]\nprofile = 'PowerLaw'", "model.source", ["'source' is required"]),
        (_model_toml(("lens", "mass", "profile", "'PowerLow'")), "model.lens.mass.profile",
         ["'PowerLow' is not a registered profile", "PowerLaw"]),
        (_model_toml(("lens", "mass", "slope", "'lens.mass.slop'")), "model.lens.mass.slope",
         ["tie to a field that the model does not declare", "lens.mass.einstein_radius"]),
        ("pixel_scale = -0.05", "pixel_scale", ["-0.05", "(0, inf)"]),
        ("sub_size = 2.5", "sub_size", ["integer", "2.5"]),
        ("psf_shape = [4, 4]", "psf_shape", ["odd", "(4, 4)"]),
        ("exposure_time = 0.0", "exposure_time", ["(0, inf)", "0.0"]),
        ("z_lens = 2.0", "z_lens", ["0 < z_lens < z_source", "2.0"]),
        ("[subhalos]\nm_min = 1.0", "subhalos.m_min", ["1.0", "[1000, 1e+16)"]),
        ("[subhalos]\nalpha = -4.0", "subhalos.alpha", ["-4.0", "(-3, 0)"]),
        ("[line_of_sight]\nn_planes = 0", "line_of_sight.n_planes", ["[1, 200]", "0"]),
        ("[line_of_sight]\nenabled = false\nm_min = 1e7", "line_of_sight.m_min", ["enabled = false"]),
        ("[subhalos]\ndark_matter = 'wdm'", "subhalos.m_hm", ["required", "wdm"]),
        (_model_toml(("lens", "mass", "einstein_radius", "[-0.5, 1.0]")), "model.lens.mass.einstein_radius",
         ["-0.5", "(0, inf)"]),
        (_model_toml(("lens", "mass", "slope", "[2.0, 3.5]")), "model.lens.mass.slope", ["3.5", "(1, 3)"]),
        (_model_toml(("lens", "mass", "slope", "[2.2, 2.0]")), "model.lens.mass.slope", ["low <= high"]),
        (_model_toml(("source", "light", "sersic_index", "'two'")), "model.source.light.sersic_index",
         ["'two'", "tie"]),
        (_model_toml(("lens", "mass", "ell_comps_1", "[-0.6, 0.6]"), ("lens", "mass", "ell_comps_2", "[-0.6, 0.6]")),
         "model.lens.mass.ell_comps_1", ["q = ", "0.2"]),
        (_model_toml(("lens", "mass", "einstein_radius", "{normal = [1.1, -0.1], bounds = [0.9, 1.4]}")),
         "model.lens.mass.einstein_radius",
         ["model.lens.mass.einstein_radius = {normal = [1.1, -0.1], bounds = [0.9, 1.4]}: sd must be > 0; got -0.1"]),
        (_model_toml(("lens", "mass", "slope", "{normal = [2.0, 0.1], bounds = [2.1, 2.0]}")), "model.lens.mass.slope",
         ["low < high", "[2.1, 2.0]"]),
        (_model_toml(("lens", "mass", "slope", "{normal = [2.0, 0.1]}")), "model.lens.mass.slope",
         ["needs bounds = [low, high]"]),
        (_model_toml(("lens", "mass", "slope", "{normal = [2.0, 0.2], bounds = [1.5, 3.5]}")), "model.lens.mass.slope",
         ["3.5", "(1, 3)"]),
        (_model_toml(("source", "light", "intensity", "{log_uniform = [-1.0, 2.0]}")), "model.source.light.intensity",
         ["= {log_uniform = [-1.0, 2.0]}", "0 < low <= high", "[-1.0, 2.0]"]),
        (_model_toml(("source", "light", "intensity", "{uniform = [1.0, 2.0]}")), "model.source.light.intensity",
         ["a prior must be", "log_uniform", "normal"]),
        # fields the chosen dark matter does not use are still type-checked
        ('[subhalos]\np_cc_log10_breaks = "x"', "subhalos.p_cc_log10_breaks", ["number", "'x'"]),
        ("[subhalos]\np_cc_log10_breaks = [9.0, 8.0]", "subhalos.p_cc_log10_breaks", ["increase", "(9.0, 8.0)"]),
        ('[subhalos]\nwdm_coefficients = [1.0, "a", 2.0]', "subhalos.wdm_coefficients", ["number", "'a'"]),
        ('[subhalos]\ndark_matter = "sidm"\nf_c = "x"\np_cc = 0.1\nb_c = 2.0', "subhalos.f_c", ["number", "'x'"]),
        ('[subhalos]\nf_c = "x"', "subhalos.f_c", ["number", "'x'"]),
        ("[line_of_sight]\nwdm_concentration = 1", "line_of_sight.wdm_concentration", ["true or false"]),
    ],
)
def test_bad_configuration_names_the_key_the_value_and_the_range(tmp_path, text, key, fragments):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key.startswith(key)
    msg = str(info.value)
    assert str(path) in msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


def test_unreadable_and_invalid_toml_files_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text("pixel_scale = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path / "broken.toml")


def test_config_command_checks_a_file(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text("sub_size = 2\n")
    assert main(["config", str(good)]) == 0
    assert "sub_size = 2\n" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text("sub_size = 0\n")
    assert main(["config", str(bad)]) == 2
    assert "sub_size" in capsys.readouterr().err


def test_round_trip_of_population_priors(tmp_path):
    path = tmp_path / "hyper.toml"
    path.write_text("[priors.subhalos]\nsigma_sub = [0.0, 0.1]\n"
                    "[priors.line_of_sight]\ndelta_los = {normal = [1.0, 0.3], bounds = [0.5, 2.0]}\n")
    config = load_config(path)
    assert config.priors["subhalos"] == {"sigma_sub": Uniform(0.0, 0.1)}
    assert config.priors["line_of_sight"] == {"delta_los": TruncatedNormal(1.0, 0.3, 0.5, 2.0)}
    text = dumps(config)
    assert "[priors.subhalos]\nsigma_sub = [0.0, 0.1]" in text
    again = tmp_path / "again.toml"
    again.write_text(text)
    assert load_config(again) == config
    assert "\n[priors.subhalos]" not in dumps(None)  # the default model draws no population field


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("[priors.subhalos]\nslope = -1.9\n", "priors.subhalos.slope",
         "allowed in \\[priors.subhalos\\] are: alpha, b_c, f_c, m_hm, p_cc, sigma_sub"),
        ("[priors.subhalos]\nalpha = [-2.0, 0.2]\n", "priors.subhalos.alpha",
         r"reaches 0.2, outside the allowed range \[-3, 0\]"),
        ("[priors.line_of_sight]\ndelta_los = [-0.5, 2.0]\n", "priors.line_of_sight.delta_los",
         r"reaches -0.5, outside the allowed range \[0, inf\)"),
        ("[subhalos]\nenabled = false\n[priors.subhalos]\nsigma_sub = [0.0, 0.1]\n", "priors.subhalos.sigma_sub",
         "SimulatorConfig.subhalos is None"),
        ("[priors.subhalos]\nsigma_sub = {normal = [0.02, 0.01]}\n", "priors.subhalos.sigma_sub", "needs bounds"),
    ],
)
def test_population_prior_errors_name_the_key(tmp_path, text, key, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert err.value.key == key
