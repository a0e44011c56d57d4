"""TOML configuration files of the simulator: read, validate, write.

A configuration file holds every field of :class:`~xlens.SimulatorConfig`: the
image, PSF and noise settings at the top level, the populations in the tables
``[subhalos]`` and ``[line_of_sight]`` (``enabled = false`` for none), the model in
``[model.<galaxy>.<profile>]`` tables (:class:`~xlens.model.Model`: ``profile = "PowerLaw"``
and a prior, a tie or a value per field; a number keeps the field fixed, ``[low, high]`` is
uniform, ``{log_uniform = [low, high]}`` is uniform in the logarithm (``0 < low <= high``),
``{normal = [mean, sd], bounds = [low, high]}`` a truncated normal (``sd > 0``,
``low < high``; see :class:`~xlens.model.Prior`), and a string ties the field to another's
label), and the population priors: ``[priors.subhalos]`` (``sigma_sub``, ...),
``[priors.line_of_sight]`` (``delta_los``, ...) and ``[priors.redshifts]`` draw those fields
per image with the same forms; absent, the population's value is used. A missing key takes
its default (a missing ``[model]`` is the default model), so an empty file is the default
model; ``xlens config --default`` prints the default file with the units and allowed ranges
of every key.

Unknown keys and out-of-range values are errors that name the file, the key,
the value and the allowed range (:class:`ConfigError`).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .halos.config import LineOfSightConfig, SubhaloConfig
from .model import POPULATION_PARAMETERS, Model, ModelError, Prior, PriorError, SimulatorConfig

__all__ = ["ConfigError", "config_from_dict", "config_to_dict", "default_toml", "dumps", "load_config"]

_POPULATIONS = {"subhalos": SubhaloConfig, "line_of_sight": LineOfSightConfig}
#: The type each top-level key is checked against (the image settings default to None: unset,
#: taken from the instrument preset or the default model).
_TYPED_DEFAULTS = SimulatorConfig.model_defaults()
#: Example values of the optional keys, shown commented out by ``xlens config --default``.
_OPTIONAL_EXAMPLES = {"instrument": '"euclid_vis"', "psf": '"psf.npy"', "psf_file": '"psf.npy"',
                      "psf_sub_size": "4"}
#: Parameter names in the errors of the objects SimulatorConfig builds -> its own keys.
_ALIASES = {"Grid2D.pixel_scales": "pixel_scale", "Kernel2D.sigma": "psf_sigma", "Grid2D.over_sample_size": "sub_size",
            "Kernel2D.shape_native": "psf_shape", "Kernel2D.pixel_scales": "pixel_scale"}


class ConfigError(ValueError):
    """A configuration file or mapping that does not describe a valid simulator.

    Attributes
    ----------
    key : str
        Dotted key of the offending entry (``"subhalos.m_min"``), or ``""``.
    """

    def __init__(self, message: str, *, key: str = ""):
        super().__init__(message)
        self.key = key


# --------------------------------------------------------------------------- to dict


def _plain(value: Any) -> Any:
    """A TOML/JSON-representable copy: tuples -> lists, NumPy scalars -> Python."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def config_to_dict(config: SimulatorConfig) -> dict[str, Any]:
    """The configuration as a plain nested dict (the TOML layout; ``None`` values omitted).

    ``config_from_dict(config_to_dict(c)) == c`` for every valid configuration. A pixelised
    PSF is written as its values (``psf``, nested lists as given) with ``psf_file`` (where they
    were read from) and ``psf_sub_size``: the dict, a TOML file or a dataset store rebuilds the
    same kernel without the file.
    """
    out: dict[str, Any] = {}
    for f in dataclasses.fields(SimulatorConfig):
        value = getattr(config, f.name)
        if f.name in _POPULATIONS:
            table: dict[str, Any] = {"enabled": value is not None}
            if value is not None:
                for g in dataclasses.fields(type(value)):
                    if g.name in ("z_lens", "z_source"):
                        continue  # the simulator's redshifts (top level) apply
                    v = getattr(value, g.name)
                    if v is not None:
                        table[g.name] = _plain(v)
            out[f.name] = table
        elif f.name == "model":
            out["model"] = value.to_dict()
        elif f.name == "priors":
            groups = [g for g in POPULATION_PARAMETERS if g in value]
            if groups:
                out["priors"] = {group: {n: p.to_toml() for n, p in value[group].items()} for group in groups}
        elif value is None or (f.name == "psf_sub_size" and config.psf is None):
            continue  # unset: an instrument, a pixelised PSF and its options are written only when used
        else:
            out[f.name] = _plain(value)
    return out


# --------------------------------------------------------------------------- from dict


def _where(source: str, key: str) -> str:
    return f"{source}: {key}" if key else source


def _convert(value: Any, default: Any) -> Any:
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(_convert(v, None) for v in value)
    if isinstance(value, list):
        return tuple(_convert(v, None) for v in value)
    return value


def _check_type(source: str, key: str, value: Any, default: Any) -> None:
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ConfigError(f"{_where(source, key)} must be true or false; got {value!r}", key=key)
    if isinstance(default, float) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{_where(source, key)} must be a number; got {value!r}", key=key)
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(source, key)} must be an integer; got {value!r}", key=key)


def _unknown(source: str, prefix: str, keys, allowed) -> None:
    extra = [k for k in keys if k not in allowed]
    if extra:
        key = f"{prefix}{extra[0]}"
        raise ConfigError(
            f"{_where(source, key)}: unknown key {extra[0]!r}; the keys allowed "
            f"{'in [' + prefix[:-1] + ']' if prefix else 'at the top level'} are: {', '.join(sorted(allowed))}",
            key=key,
        )


def _build(source: str, prefix: str, cls, values: dict[str, Any]):
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:
        msg = str(err)
        prior = re.search(r"priors\['(\w+)'\]\['(\w+)'", msg)
        model = re.search(r"SimulatorConfig\.(model\.\w+(?:\.\w+){0,2})", msg)
        if model:
            key = model.group(1)
        elif prior:
            key = f"priors.{prior.group(1)}.{prior.group(2)}"
        else:
            named = [_ALIASES.get(f"{o}.{n}", n) for o, n in re.findall(r"\b([A-Z]\w*)\.(\w+)", msg)]
            named += [n for n in sorted(values, key=len, reverse=True) if re.search(rf"\b{n}\b", msg)]
            field = next((n for n in named if n in values), "")
            key = f"{prefix}{field}" if field else prefix.rstrip(".")
        raise ConfigError(f"{_where(source, key)}: {msg}", key=key) from err


def config_from_dict(data: Mapping[str, Any], source: str = "configuration",
                     base_dir: str | Path | None = None) -> SimulatorConfig:
    """Build and validate a :class:`SimulatorConfig` from a nested mapping (the TOML layout).

    Parameters
    ----------
    data : mapping
        Top-level keys are :class:`SimulatorConfig` fields; ``subhalos`` and
        ``line_of_sight`` are tables of :class:`SubhaloConfig` /
        :class:`LineOfSightConfig` fields plus ``enabled``; ``priors`` holds the
        tables ``lens``, ``shear`` and ``source``. Missing keys take the defaults.
    source : str
        Name used in error messages (the file name).
    base_dir : str or Path, optional
        Folder that a relative ``psf_file`` (or ``psf = "path.npy"``) is read from (a TOML
        file's folder; default: the working directory). The path is recorded resolved.

    Raises
    ------
    ConfigError
        For an unknown key, a value of the wrong type or out of its allowed range;
        the message names the key, the value and the range.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a configuration must be a table; got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(SimulatorConfig)}
    _unknown(source, "", data, fields)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        f = fields[name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        default = _TYPED_DEFAULTS.get(name, default)
        if name in _POPULATIONS:
            kwargs[name] = _population(source, name, value, _POPULATIONS[name], data)
        elif name == "priors":
            kwargs[name] = _priors(source, value)
        elif name == "model":
            try:
                kwargs[name] = Model(value, base_dir=base_dir)
            except ModelError as err:
                raise ConfigError(f"{source}: {err}", key=err.key) from None
        else:
            if name in ("instrument", "psf_file") and not isinstance(value, str):
                raise ConfigError(f"{_where(source, name)} must be a string; got {value!r}", key=name)
            _check_type(source, name, value, default)
            kwargs[name] = _convert(value, default)
    _resolve_psf_path(source, data, kwargs, base_dir)
    z = {k: kwargs.get(k, fields[k].default) for k in ("z_lens", "z_source")}
    if not 0 < z["z_lens"] < z["z_source"] <= 10:
        key = "z_lens" if "z_lens" in data else "z_source"
        raise ConfigError(f"{_where(source, key)}: the redshifts must satisfy 0 < z_lens < z_source <= 10; "
                          f"got z_lens = {z['z_lens']!r}, z_source = {z['z_source']!r}", key=key)
    for name, cls in _POPULATIONS.items():
        if name not in kwargs:  # the default population, at the simulator's redshifts
            default = fields[name].default_factory()
            kwargs[name] = _build(source, "", cls, {**dataclasses.asdict(default), **z})
    return _build(source, "", SimulatorConfig, kwargs)


def _resolve_psf_path(source: str, data: Mapping[str, Any], kwargs: dict[str, Any], base_dir) -> None:
    """A PSF given as a path (``psf_file``, or ``psf = "path.npy"``) and not as values is read
    relative to ``base_dir``; the resolved path is what the configuration records."""
    key = "psf" if isinstance(data.get("psf"), str) else "psf_file"
    path = data.get(key)
    if not isinstance(path, str) or (key == "psf_file" and "psf" in data):
        return  # values given (e.g. a store's record): the path is only a note
    if key == "psf" and "psf_file" in data:
        raise ConfigError(f"{_where(source, 'psf')}: psf = {path!r} is a path and psf_file = {data['psf_file']!r} "
                          "another; give the file once (psf_file)", key="psf")
    resolved = Path(path).expanduser()
    if base_dir is not None and not resolved.is_absolute():
        resolved = Path(base_dir) / resolved
    kwargs.pop("psf", None)
    kwargs["psf_file"] = str(resolved.resolve())


def _population(source: str, name: str, table: Any, cls, top: Mapping[str, Any]):
    if not isinstance(table, Mapping):
        raise ConfigError(f"{_where(source, name)} must be a table [{name}]; got {table!r}", key=name)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("z_lens", "z_source")}
    _unknown(source, f"{name}.", table, set(fields) | {"enabled"})
    enabled = table.get("enabled", True)
    _check_type(source, f"{name}.enabled", enabled, True)
    if not enabled:
        others = [k for k in table if k != "enabled"]
        if others:
            raise ConfigError(
                f"{_where(source, name + '.' + others[0])}: [{name}] has enabled = false, so its other keys "
                f"would be ignored; remove them or set enabled = true",
                key=f"{name}.{others[0]}",
            )
        return None
    sim_fields = {f.name: f.default for f in dataclasses.fields(SimulatorConfig)}
    base = dataclasses.asdict(_default_population(name))  # the default model's population
    values: dict[str, Any] = {}
    for k, v in table.items():
        if k == "enabled":
            continue
        default = base.get(k, fields[k].default)
        if default is not None:
            _check_type(source, f"{name}.{k}", v, default)
        values[k] = _convert(v, default)
    merged = {**{k: v for k, v in base.items() if k in fields}, **values}
    merged["z_lens"] = top.get("z_lens", sim_fields["z_lens"])
    merged["z_source"] = top.get("z_source", sim_fields["z_source"])
    return _build(source, f"{name}.", cls, merged)


def _default_population(name: str):
    return next(f for f in dataclasses.fields(SimulatorConfig) if f.name == name).default_factory()


def _priors(source: str, table: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{_where(source, 'priors')} must be a table; got {table!r}", key="priors")
    old = {"lens": "[model.lens.mass]", "shear": "[model.lens.shear]", "source": "[model.source.light]"}
    for group, new in old.items():
        if group in table:
            raise ConfigError(f"{_where(source, 'priors.' + group)}: [priors.{group}] was replaced by the model's "
                              f"tables; write its keys under {new} with profile = "
                              f"\"{ {'lens': 'PowerLaw', 'shear': 'ExternalShear', 'source': 'SersicCore'}[group]}\" "
                              "(docs/model.md; `xlens config --default` prints the default model)",
                              key=f"priors.{group}")
    _unknown(source, "priors.", table, [*POPULATION_PARAMETERS])
    out: dict[str, dict[str, Any]] = {}
    for group, allowed in POPULATION_PARAMETERS.items():
        if group not in table:
            continue
        given = table[group]
        if not isinstance(given, Mapping):
            raise ConfigError(f"{_where(source, 'priors.' + group)} must be a table; got {given!r}",
                              key=f"priors.{group}")
        _unknown(source, f"priors.{group}.", given, allowed)
        out[group] = {name: _prior(source, f"priors.{group}.{name}", spec) for name, spec in given.items()}
    return out


def _prior(source: str, key: str, spec: Any) -> Prior:
    try:
        return Prior.from_spec(spec)
    except PriorError as err:
        raise ConfigError(f"{_where(source, key)} = {_shown(spec)}: {err.reason}", key=key) from None


def _shown(value: Any) -> str:
    """A value as the TOML text a user wrote (repr where TOML has no form for it)."""
    try:
        return _toml_value(value)
    except TypeError:
        return repr(value)


def load_config(path: str | Path) -> SimulatorConfig:
    """Read and validate a TOML configuration file (see the module docstring); a relative
    ``psf_file`` is read from the file's folder."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"cannot read the configuration file {str(path)!r}: {err.strerror}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return config_from_dict(data, source=str(path), base_dir=path.parent)


# --------------------------------------------------------------------------- to TOML


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)
        if "e" not in text and value != 0 and not 1e-4 <= abs(value) < 1e5:
            digits = next(p for p in range(1, 18) if float(f"{value:.{p}e}") == value)  # shortest exact form
            text = f"{value:.{digits}e}"
        return text
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping) and all(isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_-]+", k) for k in value):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"  # an inline table
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) to TOML")


def _doc_lines(cls) -> dict[str, str]:
    """First sentence of each parameter's description in a numpy-style docstring."""
    out: dict[str, str] = {}
    lines = (cls.__doc__ or "").splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^    ([A-Za-z_][\w, ]*?)(?: : .*)?$", lines[i])
        if m and i + 1 < len(lines) and lines[i + 1].startswith("        "):
            text = []
            j = i + 1
            while j < len(lines) and lines[j].startswith("        "):
                text.append(lines[j].strip())
                j += 1
            sentence = " ".join(text)
            for name in m.group(1).split(","):
                out[name.strip()] = sentence
            i = j
        else:
            i += 1
    return out


def _clean(text: str) -> str:
    """A docstring sentence as a file comment: no class defaults (the file shows the
    default model's values), no reST markup."""
    text = re.sub(r"\(defaults? [^();]*(\([^()]*\)[^();]*)*\)", "", text)
    text = re.sub(r"\(defaults? [^;)]*; ", "(", text)
    text = re.sub(r"[;,] defaults? [^;.)]*", "", text)
    text = text.replace("``", "`").replace(":data:", "").replace(":func:", "").replace(":class:", "")
    return re.sub(r"\s+([.,;])", r"\1", re.sub(r"\s+", " ", text)).strip()


def _comment(text: str, width: int = 100) -> list[str]:
    words, lines, line = _clean(text).split(), [], "#"
    for w in words:
        if len(line) + 1 + len(w) > width:
            lines.append(line)
            line = "#"
        line += " " + w
    if line != "#":
        lines.append(line)
    return lines


def dumps(config: SimulatorConfig | None = None, comments: bool = True) -> str:
    """The configuration as TOML text (the default model if ``config`` is None).

    With ``comments``, every key is preceded by its description, units and allowed
    range, and optional keys without a value are listed commented out.
    """
    config = SimulatorConfig() if config is None else config
    data = config_to_dict(config)
    out: list[str] = []
    if comments:
        out += [
            "# xlens simulator configuration (TOML). Every key is optional: a missing key takes the",
            "# default shown here, so an empty file is the default model. Units: arcsec for angles,",
            "# M_sun for masses, e-/s for fluxes. `xlens config --default` prints this file.",
            "",
        ]
    docs = _doc_lines(SimulatorConfig)
    for f in dataclasses.fields(SimulatorConfig):
        if f.name in _POPULATIONS or f.name in ("priors", "model"):
            continue
        if f.name not in data and not comments:
            continue
        if comments:
            key = "z_lens, z_source" if f.name in ("z_lens", "z_source") else f.name
            if f.name != "z_source":
                out += _comment(docs.get(key, docs.get(f.name, "")))
        if f.name in data:
            out.append(f"{f.name} = {_toml_value(data[f.name])}")
        else:
            out.append(f"# {f.name} = {_OPTIONAL_EXAMPLES.get(f.name, '(unset)')}")
    for name, cls in _POPULATIONS.items():
        out += ["", f"[{name}]"]
        table = data[name]
        if comments:
            title = (cls.__doc__ or "").splitlines()[0].split(";")[0]
            out += _comment(f"{title}. enabled = false removes the population.")
        out.append(f"enabled = {_toml_value(table['enabled'])}")
        docs = _doc_lines(cls)
        previous = ""
        for g in dataclasses.fields(cls):
            if g.name in ("z_lens", "z_source"):
                continue
            if comments:
                doc = docs.get(g.name, "")
                if doc != previous:
                    out += _comment(doc)
                previous = doc
            if g.name in table:
                out.append(f"{g.name} = {_toml_value(table[g.name])}")
            elif comments:
                out.append(f"# {g.name} = (unset)")
    if comments:
        out += [""] + _comment(
            "The model: [model.<galaxy>.<profile>] tables, one per profile of a galaxy. The galaxy 'lens' sits at "
            "z_lens and carries the subhaloes, 'source' at z_source; any other galaxy sets redshift = z. Each "
            "table names its profile (any of xlens.mp and xlens.lp) and gives its fields, vector fields by "
            "component (centre_y, centre_x [arcsec]; ell_comps_1, ell_comps_2; multipole_comps_1, _2): a "
            "number keeps the field fixed; [low, high] is uniform; {log_uniform = [low, high]} is uniform in log "
            "(0 < low <= high); {normal = [mean, sd], bounds = [low, high]} is a truncated normal (sd > 0, low "
            "< high); a string ties the field to another's label (\"lens.mass.slope\"). A field left out keeps "
            "the profile's default; probability = p (light profiles) draws the profile's presence per image. "
            "Labels: <galaxy>.<profile>.<field>. PowerLaw: centre, ell_comps, einstein_radius [arcsec], slope; "
            "ExternalShear: gamma_1, gamma_2; SersicCore: centre, ell_comps, intensity [e-/s], "
            "effective_radius and radius_break [arcsec], sersic_index, gamma, alpha (docs/model.md).")
    for gname, table in data["model"].items():
        if "redshift" in table:
            out += ["", f"[model.{gname}]", f"redshift = {_toml_value(table['redshift'])}"]
        for cname, entry in table.items():
            if cname == "redshift":
                continue
            out += ["", f"[model.{gname}.{cname}]"]
            for name, spec in entry.items():
                out.append(f"{name} = {_toml_value(spec)}")
    for group in data.get("priors", {}):
        out += ["", f"[priors.{group}]"]
        for name, spec in data["priors"][group].items():
            out.append(f"{name} = {_toml_value(spec)}")
    if comments and not data.get("priors"):
        out += [""] + _comment(
            "Population priors (optional): [priors.subhalos] sigma_sub [kpc^-2], alpha, m_hm [M_sun] (wdm), f_c, "
            "p_cc, b_c (sidm), [priors.line_of_sight] delta_los and m_hm (wdm), and [priors.redshifts] z_lens and "
            "z_source draw those fields per image (same prior forms), stored as the labels subhalos.sigma_sub, "
            "...; e.g.")
        out += ["# [priors.subhalos]", "# sigma_sub = [0.0, 0.1]"]
    return "\n".join(out) + "\n"


def default_toml() -> str:
    """The default configuration file, with comments (what ``xlens config --default`` prints)."""
    return dumps(None, comments=True)
