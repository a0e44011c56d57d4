"""The user's model: galaxies of named profiles, with a prior, a tie or a value on every field.

Why this module exists: a network trained on images that lack what real images hold
(multipoles, the lens's own light, clumpy or real-galaxy sources) fails on real data, so
the model is not hard-coded: it is a table of galaxies, each a table of named profiles
(any registered mass or light profile), each field a prior, a tie to another field, or a
fixed value. The simulator, :class:`~xlens.ParameterSpace`, the dataset's labels and the
TOML file all read the model through :class:`Model`, so they cannot drift apart.

The structure, in TOML (``[model.<galaxy>.<profile>]``) and in Python::

    [model.lens.mass]                        Component("PowerLaw", einstein_radius=(0.9, 1.4),
    profile = "PowerLaw"                                slope={"normal": (2.0, 0.08),
    einstein_radius = [0.9, 1.4]                               "bounds": (1.8, 2.2)})
    slope = { normal = [2.0, 0.08], bounds = [1.8, 2.2] }

    [model.lens.multipole]                   Component("PowerLawMultipole", m=4,
    profile = "PowerLawMultipole"                      einstein_radius="lens.mass.einstein_radius",
    m = 4                                              multipole_comps_1=(-0.02, 0.02))
    einstein_radius = "lens.mass.einstein_radius"
    multipole_comps_1 = [-0.02, 0.02]

A field's value is a prior (:meth:`~xlens.model.Prior.from_spec`: a number fixes it,
``[lo, hi]`` is uniform, ...), a tie (the label of another field, a string), or for a
static field (``m`` of a multipole, the catalogue of a :class:`~xlens.lp.SourceImage`)
its value. Vector fields are given by component: ``centre_y``/``centre_x`` of
``centre`` (y, x), ``ell_comps_1``/``ell_comps_2``, ``multipole_comps_1``/``_2``. A field
left out keeps the profile's default. The galaxy ``lens`` sits at ``z_lens`` and carries
the subhaloes; ``source`` sits at ``z_source``; any other galaxy gives its ``redshift``.
``probability = p`` on a light profile makes it present in a fraction p of the images
(e.g. 0-5 clumps of a source: five clump profiles with p = 0.5 each).

The labels are ``<galaxy>.<profile>.<field>`` (``lens.mass.einstein_radius``,
``lens.multipole.multipole_comps_1``); every declared field that is not tied has a
column (a fixed one too), in the order of the galaxies, their profiles and the profile
class's fields.

Per image the model is drawn from one uniform per column (:meth:`Model.draw`), and its
values are ``{galaxy: {profile: {field: array}}}`` (ties resolved, vector fields
stacked): the ``galaxies`` of :class:`~xlens.model.SimParams`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import pytrees
from ..profiles import light as _light
from ..profiles import mass as _mass
from ..profiles.base import LightProfile, MassProfile, unchecked
from .priors import Fixed, Prior, PriorError

__all__ = ["PROFILES", "Component", "GalaxyModel", "Model", "ModelError", "Slot", "default_model"]


def _registry() -> dict[str, type]:
    out = {}
    for module in (_mass, _light):
        for name in module.__all__:
            cls = getattr(module, name)
            if isinstance(cls, type) and issubclass(cls, MassProfile | LightProfile):
                out[name] = cls
    return out


#: Every profile a model may use, by class name (``xlens.mp`` and ``xlens.lp``).
PROFILES: dict[str, type] = _registry()

#: Components (y, x) or (1, 2) of the vector fields, as suffixes of their labels.
_COMPONENTS = {"centre": ("centre_y", "centre_x"), "ell_comps": ("ell_comps_1", "ell_comps_2"),
               "multipole_comps": ("multipole_comps_1", "multipole_comps_2")}
#: SourceImage's catalogue fields: static arrays read from the catalogue, not drawn.
_CATALOGUE_FIELDS = ("images", "pixel_scales")
#: Keys of a profile table that are not fields.
_OPTIONS = ("profile", "probability", "catalogue", "catalogue_sha256")
#: Names a galaxy's profiles may not take: the simulator adds these to the lens galaxy.
RESERVED_PROFILE_NAMES = ("cdm", "wdm", "sidm", "subhalos", "sheet", "subhalo_sheet", "redshift")


class ModelError(ValueError):
    """A model that breaks a rule; ``key`` is its dotted key (``"lens.mass.slope"``)."""

    def __init__(self, message: str, *, key: str = ""):
        super().__init__(message)
        self.key = key


def _units(cls: type, field: str) -> str:
    rng = getattr(cls, "ranges", {}).get(field)
    text = "" if rng is None else rng.units.strip("[]()")
    return {"data units": "e-/s", "": "dimensionless"}.get(text, text)


@dataclasses.dataclass(frozen=True)
class Tie:
    """A field that takes the value of another field, named by its label."""

    target: str


@dataclasses.dataclass(frozen=True)
class Slot:
    """One scalar of the model: a component of a profile's field.

    Attributes
    ----------
    galaxy, component : str
        The galaxy and the profile's name in it.
    name : str
        The key (``"einstein_radius"``, ``"centre_y"``, ``"present"``).
    field : str
        The profile's field (``"centre"`` for ``centre_y``; ``"present"``: a presence flag).
    index : int or None
        Index into a vector field, None for a scalar.
    units : str
        ``"arcsec"``, ``"e-/s"``, ``"dimensionless"``, ...
    prior : Prior or None
        Its prior (None for a tie and for a catalogue index).
    tie : str or None
        The label it is tied to.
    kind : str
        ``"value"`` (a prior or a tie), ``"index"`` (a catalogue index, drawn uniformly over
        its ``size`` cut-outs unless fixed) or ``"presence"`` (1 with ``probability``, else 0).
    size : int
        The catalogue's length for an index (0 otherwise).
    probability : float
        The presence probability for a presence flag (1 otherwise).
    """

    galaxy: str
    component: str
    name: str
    field: str
    index: int | None
    units: str
    prior: Prior | None = None
    tie: str | None = None
    kind: str = "value"
    size: int = 0
    probability: float = 1.0

    @property
    def label(self) -> str:
        """``<galaxy>.<profile>.<name>``: the dataset column and the ParameterSpace name."""
        return f"{self.galaxy}.{self.component}.{self.name}"

    @property
    def drawn(self) -> bool:
        """True if the slot takes a uniform of the main draw (every untied value and index)."""
        return self.tie is None and self.kind in ("value", "index")


class Component:
    """One profile of a galaxy, with a prior, a tie or a value on its fields.

    Parameters
    ----------
    profile : str or profile class
        A registered mass or light profile (:data:`PROFILES`: ``"PowerLaw"``, ``"SersicCore"``,
        ``xlens.mp.PowerLawMultipole``, ...).
    probability : float
        Chance in (0, 1] that the profile is in an image (default 1); light profiles only.
        Below 1 the presence (0 or 1) is drawn per image and recorded as the label
        ``<galaxy>.<profile>.present``.
    **fields
        By field or component name (``einstein_radius``, ``centre_y``, ``ell_comps_1``): a
        prior in any form of :meth:`~xlens.model.Prior.from_spec`, or a tie (the label of
        another field, e.g. ``"lens.mass.slope"``). Static fields (``m`` of
        :class:`~xlens.mp.PowerLawMultipole`) take their value. A
        :class:`~xlens.lp.SourceImage` takes ``catalogue`` (the path of a ``.npy`` stack
        of cut-outs (K, ny, nx) with ``pixel_scales`` [arcsec] given here, or of an ``.npz``
        holding ``images`` and ``pixel_scales``), and ``index``: absent (each image draws a
        cut-out uniformly) or a fixed integer. A field left out keeps the profile's default.

    Raises
    ------
    ModelError
        Naming the field, its value and the rule, when the model is built.
    """

    def __init__(self, profile: str | type, *, probability: float = 1.0, **fields: Any):
        name = profile.__name__ if isinstance(profile, type) else profile
        self.profile = name
        self.probability = probability
        self.fields = dict(fields)

    def to_dict(self) -> dict[str, Any]:
        """The table form: ``{"profile": ..., "probability"?: ..., field: spec}``."""
        out: dict[str, Any] = {"profile": self.profile}
        if self.probability != 1.0:
            out["probability"] = self.probability
        out.update(self.fields)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Component) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "profile")
        return f"Component({self.profile!r}{', ' if args else ''}{args})"


@dataclasses.dataclass(frozen=True)
class GalaxyModel:
    """The profiles of one galaxy, by name, and its redshift.

    Parameters
    ----------
    components : mapping
        ``{name: Component}`` in order (the order of the labels and of the sums).
    redshift : float or None
        None for ``lens`` (at ``z_lens``) and ``source`` (at ``z_source``); any other galaxy
        gives its redshift in (0, 10].
    """

    components: Mapping[str, Component]
    redshift: float | None = None


class Model:
    """The model: galaxies of named profiles (see the module docstring).

    Parameters
    ----------
    galaxies : mapping
        ``{galaxy: GalaxyModel or {profile_name: Component or table, "redshift"?: z}}``:
        the Python objects or the TOML tables (``{"profile": "PowerLaw", "slope": [1.9, 2.2]}``).
        Must hold ``lens`` and ``source``.
    base_dir : str or Path, optional
        Folder a relative catalogue path is read from (a TOML file's folder).

    Attributes
    ----------
    galaxies : dict of GalaxyModel
        Normalised: fields as :class:`Prior`, ties and static values.
    slots : tuple of Slot
        Every scalar, in label order (galaxies, their profiles, the class's fields).
    """

    def __init__(self, galaxies: Mapping[str, Any], *, base_dir: str | Path | None = None):
        if isinstance(galaxies, Model):
            galaxies = galaxies.to_dict()
        if not isinstance(galaxies, Mapping) or not galaxies:
            raise ModelError(f"model must be a table of galaxies {{name: {{profile: ...}}}}; got {galaxies!r}",
                             key="model")
        for required in ("lens", "source"):
            if required not in galaxies:
                raise ModelError(f"model: the galaxy {required!r} is required (the main deflector 'lens' at "
                                 f"z_lens, the 'source' at z_source); the model has {list(galaxies)}",
                                 key=f"model.{required}")
        self.galaxies: dict[str, GalaxyModel] = {}
        self._classes: dict[tuple[str, str], type] = {}
        self._statics: dict[tuple[str, str], dict[str, Any]] = {}
        self._catalogues: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for gname, gal in galaxies.items():
            self.galaxies[gname] = self._galaxy(gname, gal, base_dir)
        self.slots = self._slots()
        self._check_ties()

    # ---------------------------------------------------------------- build
    def _galaxy(self, gname: str, gal: Any, base_dir) -> GalaxyModel:
        if not isinstance(gname, str) or not gname.isidentifier():
            raise ModelError(f"model: galaxy names must be identifiers; got {gname!r}", key=f"model.{gname}")
        if isinstance(gal, GalaxyModel):
            comps, redshift = dict(gal.components), gal.redshift
        elif isinstance(gal, Mapping):
            comps = {k: v for k, v in gal.items() if k != "redshift"}
            redshift = gal.get("redshift")
        else:
            raise ModelError(f"model.{gname} must be a table of profiles; got {gal!r}", key=f"model.{gname}")
        if gname in ("lens", "source"):
            if redshift is not None:
                raise ModelError(f"model.{gname}.redshift = {redshift!r}: the {gname} galaxy sits at z_{gname} "
                                 f"(set z_{gname}, or draw it in [priors.redshifts])", key=f"model.{gname}.redshift")
        else:
            if isinstance(redshift, bool) or not isinstance(redshift, int | float) or not 0.0 < redshift <= 10.0:
                raise ModelError(f"model.{gname}.redshift must be a number in (0, 10] (a galaxy other than lens and "
                                 f"source gives its redshift); got {redshift!r}", key=f"model.{gname}.redshift")
            redshift = float(redshift)
        if not comps:
            raise ModelError(f"model.{gname} has no profile; add a table [model.{gname}.<name>] with a profile",
                             key=f"model.{gname}")
        out = {}
        for cname, comp in comps.items():
            out[cname] = self._component(gname, cname, comp, base_dir)
        return GalaxyModel(out, redshift)

    def _component(self, gname: str, cname: str, comp: Any, base_dir) -> Component:
        key = f"model.{gname}.{cname}"
        if not isinstance(cname, str) or not cname.isidentifier() or cname in RESERVED_PROFILE_NAMES:
            raise ModelError(f"{key}: a profile's name must be an identifier and not one of "
                             f"{RESERVED_PROFILE_NAMES}; got {cname!r}", key=key)
        if isinstance(comp, Mapping):
            table = dict(comp)
            if "profile" not in table:
                raise ModelError(f"{key} needs profile = \"<class>\" (one of {', '.join(sorted(PROFILES))})",
                                 key=f"{key}.profile")
            profile = table.pop("profile")
            probability = table.pop("probability", 1.0)
            comp = Component(profile, probability=probability, **table)
        if not isinstance(comp, Component):
            raise ModelError(f"{key} must be a Component or a table with a profile; got {comp!r}", key=key)
        cls = PROFILES.get(comp.profile)
        if cls is None:
            raise ModelError(f"{key}.profile = {comp.profile!r} is not a registered profile; the profiles are "
                             f"{', '.join(sorted(PROFILES))}", key=f"{key}.profile")
        p = comp.probability
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 < p <= 1.0:
            raise ModelError(f"{key}.probability must be in (0, 1]; got {p!r}", key=f"{key}.probability")
        if p < 1.0 and not issubclass(cls, LightProfile):
            raise ModelError(f"{key}.probability = {p!r}: only light profiles may be absent from an image; "
                             f"{comp.profile} is a mass profile", key=f"{key}.probability")
        self._classes[gname, cname] = cls
        fields = dict(comp.fields)
        statics: dict[str, Any] = {}
        meta = pytrees.meta_fields(cls)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        for name in meta:
            value = fields.get(name, defaults[name])
            default = defaults[name]
            if type(value) is not type(default) or (isinstance(value, int) and isinstance(value, bool)):
                raise ModelError(f"{key}.{name} is a static field of {comp.profile} and must be a "
                                 f"{type(default).__name__} like {default!r}; got {value!r}", key=f"{key}.{name}")
            try:  # the class validates it (e.g. m >= 1)
                _probe(cls, {name: value})
            except (ValueError, TypeError) as err:
                raise ModelError(f"{key}.{name} = {value!r}: {err}", key=f"{key}.{name}") from None
            statics[name] = value
        normal: dict[str, Any] = {n: statics[n] for n in meta if n in fields}
        if cls is _light.SourceImage:
            normal.update(self._catalogue(key, gname, cname, fields, base_dir))
        allowed = self._keys(cls)
        for name, spec in fields.items():
            if name in meta or name in ("catalogue", "catalogue_sha256", "pixel_scales") and cls is _light.SourceImage:
                continue
            if name not in allowed:
                raise ModelError(f"{key}: unknown field {name!r} of {comp.profile}; its fields are "
                                 f"{', '.join(allowed)}", key=f"{key}.{name}")
            if cls is _light.SourceImage and name == "index":
                normal[name] = self._index(key, spec, self._catalogues[gname, cname][0].shape[0])
                continue
            if isinstance(spec, str):
                normal[name] = Tie(spec)
                continue
            try:
                normal[name] = Prior.from_spec(spec)
            except PriorError as err:
                raise ModelError(f"{key}.{name} = {_shown(spec)}: {err.reason}", key=f"{key}.{name}") from None
        self._statics[gname, cname] = statics
        # canonical order: the class's field order, then the options
        ordered = {k: normal[k] for k in [*meta, "catalogue", "catalogue_sha256", "pixel_scales", *allowed]
                   if k in normal}
        return Component(comp.profile, probability=float(p), **ordered)

    def _catalogue(self, key: str, gname: str, cname: str, fields: dict, base_dir) -> dict[str, Any]:
        path = fields.get("catalogue")
        if not isinstance(path, str | os.PathLike):
            raise ModelError(f"{key}.catalogue must be the path of the cut-outs (.npy with pixel_scales, or .npz "
                             f"with images and pixel_scales); got {path!r}", key=f"{key}.catalogue")
        resolved = Path(path).expanduser()
        if base_dir is not None and not resolved.is_absolute():
            resolved = Path(base_dir) / resolved
        resolved = resolved.resolve()
        images, scales, digest = read_catalogue(resolved, fields.get("pixel_scales"), key=key)
        want = fields.get("catalogue_sha256")
        if want is not None and want != digest:
            raise ModelError(f"{key}.catalogue = {str(resolved)!r} has changed since it was recorded (SHA-256 "
                             f"{digest[:12]}..., recorded {str(want)[:12]}...): a run cannot resume or be "
                             "reproduced on other cut-outs", key=f"{key}.catalogue")
        self._catalogues[gname, cname] = (images, scales)
        out: dict[str, Any] = {"catalogue": str(resolved), "catalogue_sha256": digest}
        if "pixel_scales" in fields:
            out["pixel_scales"] = fields["pixel_scales"]
        return out

    @staticmethod
    def _index(key: str, spec: Any, size: int) -> Any:
        if spec == "uniform":
            return "uniform"
        if isinstance(spec, bool) or not isinstance(spec, int | np.integer) or not 0 <= int(spec) < size:
            raise ModelError(f"{key}.index must be an integer in [0, {size - 1}] (one of the catalogue's {size} "
                             f"cut-outs) or absent (drawn per image); got {spec!r}", key=f"{key}.index")
        return int(spec)

    @staticmethod
    def _keys(cls: type) -> tuple[str, ...]:
        """The field keys of a profile class: components of vector fields, scalars, in order."""
        out: list[str] = []
        for f in pytrees.data_fields(cls):
            if cls is _light.SourceImage and f.name in _CATALOGUE_FIELDS:
                continue
            out.extend(_COMPONENTS.get(f.name, (f.name,)))
        return tuple(out)

    def _slots(self) -> tuple[Slot, ...]:
        slots: list[Slot] = []
        for gname, gal in self.galaxies.items():
            for cname, comp in gal.components.items():
                cls = self._classes[gname, cname]
                for name in self._keys(cls):
                    if name not in comp.fields:
                        continue
                    spec = comp.fields[name]
                    field, index = _field_of(name)
                    units = {"angle": "degrees", "flux": "e-/s arcsec^2"}.get(name) if cls is _light.SourceImage \
                        else None
                    units = units or _units(cls, field)
                    if cls is _light.SourceImage and name == "index":
                        fixed = None if spec == "uniform" else Fixed(float(spec))
                        size = self._catalogues[gname, cname][0].shape[0]
                        slots.append(Slot(gname, cname, name, field, None, "dimensionless", fixed, None, "index",
                                          size))
                    elif isinstance(spec, Tie):
                        slots.append(Slot(gname, cname, name, field, index, units, None, spec.target))
                    else:
                        slots.append(Slot(gname, cname, name, field, index, units, spec))
                if cls is _light.SourceImage and "index" not in comp.fields:
                    size = self._catalogues[gname, cname][0].shape[0]
                    slots.append(Slot(gname, cname, "index", "index", None, "dimensionless", None, None, "index",
                                      size))
                if comp.probability < 1.0:
                    slots.append(Slot(gname, cname, "present", "present", None, "dimensionless", None, None,
                                      "presence", 0, comp.probability))
        return tuple(slots)

    def _check_ties(self) -> None:
        by_label = {s.label: s for s in self.slots}
        for s in self.slots:
            if s.tie is None:
                continue
            key = f"model.{s.galaxy}.{s.component}.{s.name}"
            target = by_label.get(s.tie)
            if target is None:
                raise ModelError(f"{key} = {s.tie!r} is a tie to a field that the model does not declare; a tie "
                                 f"names a declared field as <galaxy>.<profile>.<field>, one of "
                                 f"{', '.join(t.label for t in self.slots if t.tie is None and t.kind == 'value')}",
                                 key=key)
            if target.tie is not None or target.kind != "value":
                raise ModelError(f"{key} = {s.tie!r}: a tie must name a field with a prior or a value, not "
                                 f"{'another tie' if target.tie else 'a ' + target.kind}", key=key)

    # ------------------------------------------------------------- queries
    def to_dict(self) -> dict[str, Any]:
        """The TOML layout: ``{galaxy: {"redshift"?: z, profile: {"profile": ..., field: spec}}}``."""
        out: dict[str, Any] = {}
        for gname, gal in self.galaxies.items():
            table: dict[str, Any] = {} if gal.redshift is None else {"redshift": gal.redshift}
            for cname, comp in gal.components.items():
                entry: dict[str, Any] = {"profile": comp.profile}
                if comp.probability != 1.0:
                    entry["probability"] = comp.probability
                for name, spec in comp.fields.items():
                    entry[name] = spec.target if isinstance(spec, Tie) else \
                        spec.to_toml() if isinstance(spec, Prior) else spec
                table[cname] = entry
            out[gname] = table
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Model({self.to_dict()!r})"

    @property
    def columns(self) -> tuple[Slot, ...]:
        """The slots with a label column: every slot but the tied ones."""
        return tuple(s for s in self.slots if s.tie is None)

    @property
    def n_drawn(self) -> int:
        """Uniforms of the main draw (one per untied value and per catalogue index)."""
        return sum(s.drawn for s in self.slots)

    @property
    def n_presence(self) -> int:
        """Presence flags (light profiles with ``probability`` < 1)."""
        return sum(s.kind == "presence" for s in self.slots)

    def profile_class(self, galaxy: str, component: str) -> type:
        """The profile class of ``model.<galaxy>.<component>``."""
        return self._classes[galaxy, component]

    def is_light(self, galaxy: str, component: str) -> bool:
        """True if ``model.<galaxy>.<component>`` is a light profile."""
        return issubclass(self._classes[galaxy, component], LightProfile)

    def catalogue(self, galaxy: str, component: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images (K, ny, nx), pixel_scales (K,))`` of a SourceImage component (float64)."""
        return self._catalogues[galaxy, component]

    def redshift_of(self, galaxy: str, z_lens: float, z_source: float) -> float:
        """The galaxy's redshift: ``z_lens`` for ``lens``, ``z_source`` for ``source``."""
        if galaxy == "lens":
            return z_lens
        if galaxy == "source":
            return z_source
        return self.galaxies[galaxy].redshift

    def lens_centre_label(self) -> tuple[str, str] | None:
        """``(profile, field)`` whose centre the subhaloes follow: the first profile of ``lens``
        that has a ``centre`` (the mass profiles first); None for the origin."""
        comps = self.galaxies["lens"].components
        order = [c for c in comps if issubclass(self._classes["lens", c], MassProfile)] + \
            [c for c in comps if not issubclass(self._classes["lens", c], MassProfile)]
        for cname in order:
            if "centre" in {f.name for f in pytrees.data_fields(self._classes["lens", cname])}:
                return cname, "centre"
        return None

    # ------------------------------------------------------------- values
    def draw(self, u, presence, *, xp) -> dict[str, dict[str, dict[str, Any]]]:
        """The values of one image from uniforms.

        Parameters
        ----------
        u : array, shape (n_drawn,)
            One uniform in [0, 1) per drawn slot (:attr:`n_drawn`), in slot order.
        presence : array, shape (n_presence,) or None
            One uniform per presence flag (None when there is none).
        xp : namespace

        Returns
        -------
        dict
            ``{galaxy: {profile: {field: array}}}`` (see :meth:`assemble`).
        """
        scalars: dict[str, Any] = {}
        i = j = 0
        for s in self.slots:
            if s.kind == "presence":
                scalars[s.label] = xp.where(presence[j] < s.probability, 1.0, 0.0)
                j += 1
            elif s.kind == "index":
                if s.prior is not None:  # a fixed index still takes its uniform (as a fixed value does)
                    scalars[s.label] = xp.asarray(int(s.prior.value), dtype=xp.int32)
                else:
                    scalars[s.label] = xp.clip(xp.astype(xp.floor(u[i] * s.size), xp.int32), 0, s.size - 1)
                i += 1
            elif s.tie is None:
                scalars[s.label] = s.prior.from_unit(u[i], xp=xp)
                i += 1
        return self.assemble(scalars, xp=xp)

    def assemble(self, scalars: Mapping[str, Any], *, xp) -> dict[str, dict[str, dict[str, Any]]]:
        """The values ``{galaxy: {profile: {field: array}}}`` from one scalar per untied label.

        Ties take their target's scalar; undeclared fields the profile's default (float64);
        vector fields are stacked (y, x) / (1, 2); a SourceImage's catalogue is not included
        (it is static: :meth:`profiles` adds it). Extra entries for tied labels are ignored.
        """
        out: dict[str, dict[str, dict[str, Any]]] = {}
        by_label = {s.label: s for s in self.slots}
        for gname, gal in self.galaxies.items():
            out[gname] = {}
            for cname in gal.components:
                cls = self._classes[gname, cname]
                defaults = {f.name: f.default for f in dataclasses.fields(cls)}
                values: dict[str, Any] = {}
                for f in pytrees.data_fields(cls):
                    if cls is _light.SourceImage and f.name in _CATALOGUE_FIELDS:
                        continue
                    names = _COMPONENTS.get(f.name)
                    if names is None:
                        values[f.name] = self._scalar(gname, cname, f.name, None, defaults[f.name], scalars,
                                                      by_label, xp)
                    else:
                        values[f.name] = xp.stack([
                            self._scalar(gname, cname, n, k, defaults[f.name], scalars, by_label, xp)
                            for k, n in enumerate(names)])
                present = f"{gname}.{cname}.present"
                if present in by_label:
                    values["present"] = xp.asarray(scalars[present], dtype=xp.float64)
                out[gname][cname] = values
        return out

    @staticmethod
    def _scalar(gname, cname, name, k, default, scalars, by_label, xp):
        label = f"{gname}.{cname}.{name}"
        slot = by_label.get(label)
        if slot is None:  # not declared: the class default
            value = default if k is None else default[k]
            if name == "index":
                return xp.asarray(int(value), dtype=xp.int32)
            return xp.asarray(float(value), dtype=xp.float64)
        if slot.tie is not None:
            label = slot.tie
        value = scalars[label]
        if slot.kind == "index":
            return xp.asarray(value, dtype=xp.int32)
        return xp.asarray(value, dtype=xp.float64)

    def scalars(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{label: scalar}`` of every untied slot, read from values (the inverse of :meth:`assemble`)."""
        out = {}
        for s in self.columns:
            v = values[s.galaxy][s.component][s.field if s.kind != "presence" else "present"]
            out[s.label] = v if s.index is None else v[..., s.index]
        return out

    def profiles(self, values: Mapping[str, Any], *, xp) -> dict[str, dict[str, Any]]:
        """``{galaxy: {profile: Profile}}`` built without validation (values may be traced).

        A presence flag is not applied here (the simulator multiplies the light by it).
        """
        out: dict[str, dict[str, Any]] = {}
        for gname, gal in self.galaxies.items():
            out[gname] = {}
            for cname in gal.components:
                cls = self._classes[gname, cname]
                fields = {k: v for k, v in values[gname][cname].items() if k != "present"}
                fields.update(self._statics[gname, cname])
                if cls is _light.SourceImage:
                    images, scales = self._catalogues[gname, cname]
                    fields["images"], fields["pixel_scales"] = xp.asarray(images), xp.asarray(scales)
                out[gname][cname] = unchecked(cls, fields)
        return out

    def check_supports(self) -> None:
        """Every corner of the prior box must be a valid profile (errors name the key and the range)."""
        for gname, gal in self.galaxies.items():
            for cname in gal.components:
                cls = self._classes[gname, cname]
                ranges = getattr(cls, "ranges", {})
                key = f"model.{gname}.{cname}"
                spans: dict[str, tuple[float, float]] = {}
                for s in self.slots:
                    if (s.galaxy, s.component) != (gname, cname) or s.kind != "value":
                        continue
                    prior = s.prior if s.tie is None else next(
                        t.prior for t in self.slots if t.label == s.tie)
                    spans[s.name] = prior.support
                    rng = ranges.get(s.field)
                    if rng is None:
                        continue
                    for value in prior.support:
                        below = value < rng.low or (value == rng.low and not rng.low_inclusive)
                        above = value > rng.high or (value == rng.high and not rng.high_inclusive)
                        if below or above:
                            lb, hb = "[" if rng.low_inclusive else "(", "]" if rng.high_inclusive else ")"
                            shown = s.tie if s.tie is not None else prior.to_toml()
                            raise ModelError(f"{key}.{s.name} = {shown!r} reaches {value!r}, outside the allowed "
                                             f"range {lb}{rng.low:g}, {rng.high:g}{hb} {rng.units} of "
                                             f"{cls.__name__}.{s.field}", key=f"{key}.{s.name}")
                self._check_corners(key, cls, gname, cname, spans)

    def _check_corners(self, key, cls, gname, cname, spans) -> None:
        """The corners of the box that the class validates jointly (ell_comps, the multipole's order)."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        if "ell_comps" in defaults:
            e = []
            for k, n in enumerate(("ell_comps_1", "ell_comps_2")):
                lo, hi = spans.get(n, (defaults["ell_comps"][k],) * 2)
                e.append(max(abs(lo), abs(hi)))
            try:
                _probe(cls, {"ell_comps": np.asarray(e, dtype=np.float64)})
            except ValueError as err:
                raise ModelError(f"{key}.ell_comps_1/ell_comps_2 reach ({e[0]!r}, {e[1]!r}): {err}",
                                 key=f"{key}.ell_comps_1") from None
        if cls is _mass.PowerLawMultipole:
            lo, hi = spans.get("slope", (defaults["slope"],) * 2)
            m = self._statics[gname, cname].get("m", defaults["m"])
            for slope in (lo, hi):
                try:
                    _probe(cls, {"m": m, "slope": np.asarray(slope, dtype=np.float64)})
                except ValueError as err:
                    raise ModelError(f"{key}.slope reaches {slope!r} with m = {m}: {err}", key=f"{key}.slope") \
                        from None


def _shown(spec: Any) -> str:
    """A field's specification as the TOML text a user wrote (``{normal = [1.1, 0.1], ...}``)."""
    if isinstance(spec, Mapping):
        return "{" + ", ".join(f"{k} = {_shown(v)}" for k, v in spec.items()) + "}"
    if isinstance(spec, list | tuple):
        return "[" + ", ".join(_shown(v) for v in spec) + "]"
    return repr(spec)


def _field_of(name: str) -> tuple[str, int | None]:
    for field, names in _COMPONENTS.items():
        if name in names:
            return field, names.index(name)
    return name, None


def _probe(cls: type, values: dict[str, Any]) -> None:
    """Run the class's joint validation (``_validate``) on a few values; raise ValueError."""
    probe = unchecked(cls, {f.name: f.default for f in dataclasses.fields(cls)} | values)
    validate = getattr(probe, "_validate", None)
    if validate is not None:
        validate()


def read_catalogue(path: Path, pixel_scales: Any = None, *, key: str = "catalogue"):
    """``(images (K, ny, nx), pixel_scales (K,), sha256)`` of a catalogue file, validated.

    A ``.npy`` holds the images and ``pixel_scales`` [arcsec] is given (a number or K
    numbers); an ``.npz`` holds ``images`` and ``pixel_scales`` (then not given). The
    digest covers the images and the scales, so a changed file is detected.

    Raises
    ------
    ModelError
        If the file cannot be read or breaks a rule (finite, positive sums, scales > 0).
    """
    try:
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if isinstance(data, np.lib.npyio.NpzFile):
                missing = [k for k in ("images", "pixel_scales") if k not in data.files]
                if missing:
                    raise ModelError(f"{key}.catalogue = {str(path)!r}: an .npz catalogue holds images and "
                                     f"pixel_scales; missing {missing}", key=f"{key}.catalogue")
                if pixel_scales is not None:
                    raise ModelError(f"{key}.pixel_scales: the .npz catalogue holds its pixel_scales; remove the "
                                     "key", key=f"{key}.pixel_scales")
                images, scales = np.asarray(data["images"]), np.asarray(data["pixel_scales"])
            else:
                images, scales = np.asarray(data), pixel_scales
    except ModelError:
        raise
    except (OSError, ValueError, EOFError) as err:
        raise ModelError(f"{key}.catalogue = {str(path)!r}: cannot read it ({getattr(err, 'strerror', None) or err})",
                         key=f"{key}.catalogue") from None
    if scales is None:
        raise ModelError(f"{key}.pixel_scales [arcsec] is required with an .npy catalogue (a number, or one per "
                         "cut-out)", key=f"{key}.pixel_scales")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 2:
        images = images[None]
    try:
        _light.SourceImage(images=images, pixel_scales=np.asarray(scales, dtype=np.float64))
    except (ValueError, TypeError) as err:
        raise ModelError(f"{key}.catalogue = {str(path)!r}: {err}", key=f"{key}.catalogue") from None
    scales = np.broadcast_to(np.asarray(scales, dtype=np.float64), (images.shape[0],)).copy()
    digest = hashlib.sha256(images.tobytes() + scales.tobytes() + str(images.shape).encode()).hexdigest()
    return images, scales, digest


def default_model() -> Model:
    """The default model: ``lens.mass`` a PowerLaw, ``lens.shear`` an ExternalShear, ``source.light``
    a SersicCore, with uniform priors giving galaxy-scale lenses with a ring inside 5'' x 5''."""
    return Model(DEFAULT_MODEL)


#: The default model as tables (the TOML layout).
DEFAULT_MODEL: dict[str, Any] = {
    "lens": {
        "mass": {"profile": "PowerLaw", "centre_y": [-0.05, 0.05], "centre_x": [-0.05, 0.05],
                 "ell_comps_1": [-0.2, 0.2], "ell_comps_2": [-0.2, 0.2], "einstein_radius": [0.9, 1.4],
                 "slope": [1.9, 2.2]},
        "shear": {"profile": "ExternalShear", "gamma_1": [-0.05, 0.05], "gamma_2": [-0.05, 0.05]},
    },
    "source": {
        "light": {"profile": "SersicCore", "centre_y": [-0.15, 0.15], "centre_x": [-0.15, 0.15],
                  "ell_comps_1": [-0.25, 0.25], "ell_comps_2": [-0.25, 0.25], "intensity": [0.5, 2.0],
                  "effective_radius": [0.1, 0.4], "sersic_index": [1.0, 3.0], "radius_break": 0.025,
                  "gamma": 0.0, "alpha": 2.0},
    },
}
