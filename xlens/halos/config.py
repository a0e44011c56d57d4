"""Configurations of the dark-matter populations, validated outside jit (PHYSICS.md §13-§14).

Why this module exists: a configuration is the static, frozen description of a
population that a user writes (in Python or in the TOML model file). It is
checked once, on construction, with messages that name the field, the rule and
the value; :class:`~xlens.halos.SubhaloPopulation` and
:class:`~xlens.halos.LineOfSightPopulation` turn it into sampling tables.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Real
from typing import Any

import numpy as np

from ..cosmology import Planck15
from ..errors import ParameterError, check_range
from ..halo_model.concentration import MODELS
from ..halo_model.linear import LOG10_MASS_RANGE, REDSHIFT_RANGE, TRANSFERS
from ..halo_model.wdm import WDM_COEFFICIENTS

__all__ = ["LineOfSightConfig", "SubhaloConfig"]

_MASS_RANGE = (10.0 ** LOG10_MASS_RANGE[0], 10.0 ** LOG10_MASS_RANGE[1])  # the halo-model tables
_Z_RANGE = REDSHIFT_RANGE
_DARK_MATTER = ("cdm", "wdm", "sidm")
_PLACEMENTS = ("inside", "outside")
_WDM_SAMPLING = ("thinning", "direct")


def _choice(owner: str, name: str, value, options) -> None:
    if value not in options:
        raise ValueError(f"{owner}.{name} must be one of {options}; got {value!r}")


def _check_flag(owner: str, name: str, value) -> None:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{owner}.{name} must be True or False; got {value!r}")


def _check_number(owner: str, name: str, value, units: str) -> None:
    """A field given as something other than a real number (checked whatever the dark matter)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, Real):
        raise ValueError(f"{owner}.{name} must be a number {units}; got {value!r}")


def _numbers(owner: str, name: str, value, units: str) -> tuple[float, ...]:
    """A number or a sequence of finite numbers, as a tuple of floats."""
    items = list(value) if isinstance(value, list | tuple | np.ndarray) else [value]
    if not all(isinstance(v, Real) and not isinstance(v, bool | np.bool_) for v in items):
        raise ValueError(f"{owner}.{name} must be a number or a sequence of numbers {units}; got {value!r}")
    out = tuple(float(v) for v in items)
    check_range(owner, name, np.asarray(out, dtype=np.float64), units=units)
    return out


def _check_masses(owner: str, m_min, m_max) -> None:
    check_range(owner, "m_min", m_min, _MASS_RANGE[0], _MASS_RANGE[1], low_inclusive=True,
                units="[M_sun]",
                hint="the concentration and sigma(M) tables cover 1e3 to 1e16 M_sun")
    check_range(owner, "m_max", m_max, float(m_min), _MASS_RANGE[1], high_inclusive=True,
                units="[M_sun]", hint="m_max must exceed m_min")


def _check_redshifts(owner: str, z_lens, z_source) -> None:
    check_range(owner, "z_lens", z_lens, _Z_RANGE[0], _Z_RANGE[1], units="(dimensionless)")
    check_range(owner, "z_source", z_source, float(z_lens), _Z_RANGE[1], high_inclusive=True,
                units="(dimensionless)",
                hint="the source must lie behind the lens (z_source > z_lens)")


def _check_centre(owner: str, centre) -> tuple[float, float]:
    arr = np.asarray(centre, dtype=np.float64)
    if arr.shape != (2,):
        raise ValueError(f"{owner}.centre must be a (y, x) pair [arcsec]; got shape {arr.shape}")
    check_range(owner, "centre", arr, units="[arcsec]")
    return (float(arr[0]), float(arr[1]))


def _wdm_fields(owner: str, cfg) -> None:
    """Validate the WDM fields shared by both configurations (types whatever the dark matter)."""
    _choice(owner, "wdm_a_placement", cfg.wdm_a_placement, _PLACEMENTS)
    _check_flag(owner, "wdm_concentration", cfg.wdm_concentration)
    if cfg.m_hm is not None:
        _check_number(owner, "m_hm", cfg.m_hm, "[M_sun]")
    coeffs = cfg.wdm_coefficients
    if isinstance(coeffs, str):
        if coeffs not in WDM_COEFFICIENTS:
            raise ValueError(
                f"{owner}.wdm_coefficients must be (a, b, c) or one of {tuple(WDM_COEFFICIENTS)}; "
                f"got {coeffs!r}"
            )
    else:
        values = _numbers(owner, "wdm_coefficients", coeffs, "(a, b, c)")
        if len(values) != 3:
            raise ValueError(f"{owner}.wdm_coefficients must be (a, b, c); got {coeffs!r}")
        check_range(owner, "wdm_coefficients[0] (a)", values[0], 0.0)
        check_range(owner, "wdm_coefficients[1] (b)", values[1], 0.0)
        check_range(owner, "wdm_coefficients[2] (c)", values[2], high=0.0,
                    hint="c < 0 makes S(m) <= 1 (a suppression)")
        object.__setattr__(cfg, "wdm_coefficients", values)
    if cfg.dark_matter == "wdm":
        if cfg.m_hm is None:
            raise ParameterError(
                f"{owner}.m_hm (half-mode mass [M_sun], in (0, inf)) is required when "
                "dark_matter='wdm'; got None",
                name=f"{owner}.m_hm", value=None, low=0.0, high=math.inf,
            )
        check_range(owner, "m_hm", cfg.m_hm, 0.0, units="[M_sun]")
    elif cfg.m_hm is not None:
        raise ValueError(
            f"{owner}.m_hm is used only when dark_matter='wdm'; got m_hm={cfg.m_hm!r} with "
            f"dark_matter={cfg.dark_matter!r}"
        )


@dataclasses.dataclass(frozen=True)
class SubhaloConfig:
    """Subhaloes of the main lens (PHYSICS.md §14.1-§14.3); validated on construction.

    Parameters
    ----------
    sigma_sub : float
        Projected number density normalisation Sigma_sub [kpc^-2], >= 0 (default
        0.025; typical 0.01-0.1). ``d^2N/dm dA = (Sigma_sub/m0) (m/m0)^alpha F S(m)``,
        ``m0 = 1e8 M_sun``.
    alpha : float
        Logarithmic slope of the mass function (default -1.9), in (-3, 0).
    m_min, m_max : float
        Mass range of M200c [M_sun] (default 1e7, 1e10), ``1e3 <= m_min < m_max <= 1e16``.
    radius : float
        Radius of the disc in which subhaloes are placed, about ``centre`` [arcsec]
        (default 3), > 0.
    z_lens, z_source : float
        Lens and source (last plane) redshifts (defaults 0.5, 1), ``0 < z_lens < z_source <= 10``.
    centre : (y, x)
        Centre of the disc [arcsec] (default (0, 0)); ``sample(key, centre=...)`` overrides it.
    host_mass : float or None
        Host halo mass [M_sun] for pyHalo's scaling F (**unverified**); None (default): F = 1.
    dark_matter : {"cdm", "wdm", "sidm"}
        CDM: ``NFWTruncatedMCRLudlowSph`` haloes. WDM: the same with the mass function
        suppressed by S(m) and the concentration by the Bose et al. (2016) factor.
        SIDM: cored ``cNFWMCRLudlowSph`` haloes plus a core-collapsed fraction drawn
        as ``NFWTruncatedMCRLudlowSph`` with concentration times ``b_c``.
    m_hm : float or None
        WDM half-mode mass [M_sun], > 0; required for (and only for) WDM.
    wdm_coefficients : (a, b, c) or str
        S(m) coefficients or a key of :data:`WDM_COEFFICIENTS` (default
        ``"lovell2020_subhalo"`` = (4.2, 2.5, -0.2)).
    wdm_a_placement : {"inside", "outside"}
        Where ``a`` sits in S(m) (see :func:`wdm_suppression`); default "inside".
    wdm_concentration : bool
        Apply the Bose et al. (2016) concentration factor (default True).
    wdm_sampling : {"thinning", "direct"}
        "thinning" (default, PHYSICS.md §14.5): draw the CDM population and keep each
        halo with probability S(m); the capacity is the CDM one and, with the same key,
        the WDM haloes are a subset of the CDM ones. "direct": draw from the suppressed
        function itself (tabulated), with a capacity sized to the WDM mean (smaller
        arrays, faster rendering).
    f_c : float or None
        SIDM core fraction r_c / r_s of the cored haloes, in (0, 10]; required for SIDM.
    p_cc : float or tuple of float or None
        SIDM probability that a halo is core-collapsed, in [0, 1]: one value, or one per
        mass bin delimited by ``p_cc_log10_breaks``. Required for SIDM.
    p_cc_log10_breaks : tuple of float
        Interior bin edges in log10(m / M_sun), increasing; ``len(p_cc) - 1`` of them.
    b_c : float or None
        Concentration boost of collapsed haloes, >= 1; required for SIDM.
    sheet : bool
        Add a uniform negative sheet that cancels the mean subhalo convergence (PHYSICS.md
        §13.2, optional; default False). Not available for SIDM (untruncated cored haloes
        have no finite mass).
    concentration_model : {"full", "fit"}
        Ludlow et al. (2016) model of the rendered profiles (default "full").

    Notes
    -----
    The SIDM numbers are a stand-in, not derived from a cross-section (PHYSICS.md §14.3).
    """

    sigma_sub: float = 0.025
    alpha: float = -1.9
    m_min: float = 1e7
    m_max: float = 1e10
    radius: float = 3.0
    z_lens: float = 0.5
    z_source: float = 1.0
    centre: tuple[float, float] = (0.0, 0.0)
    host_mass: float | None = None
    dark_matter: str = "cdm"
    m_hm: float | None = None
    wdm_coefficients: Any = "lovell2020_subhalo"
    wdm_a_placement: str = "inside"
    wdm_concentration: bool = True
    wdm_sampling: str = "thinning"
    f_c: float | None = None
    p_cc: Any = None
    p_cc_log10_breaks: tuple[float, ...] = ()
    b_c: float | None = None
    sheet: bool = False
    concentration_model: str = "full"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_range(owner, "sigma_sub", self.sigma_sub, 0.0, low_inclusive=True, units="[kpc^-2]",
                    hint="a negative number density has no meaning")
        check_range(owner, "alpha", self.alpha, -3.0, 0.0, units="(dimensionless)")
        _check_masses(owner, self.m_min, self.m_max)
        check_range(owner, "radius", self.radius, 0.0, units="[arcsec]")
        _check_redshifts(owner, self.z_lens, self.z_source)
        object.__setattr__(self, "centre", _check_centre(owner, self.centre))
        if self.host_mass is not None:
            _check_number(owner, "host_mass", self.host_mass, "[M_sun]")
            check_range(owner, "host_mass", self.host_mass, 0.0, units="[M_sun]")
        _check_flag(owner, "sheet", self.sheet)
        _choice(owner, "dark_matter", self.dark_matter, _DARK_MATTER)
        _choice(owner, "wdm_sampling", self.wdm_sampling, _WDM_SAMPLING)
        _choice(owner, "concentration_model", self.concentration_model, MODELS)
        _wdm_fields(owner, self)
        # the SIDM fields are type-checked whatever the dark matter (a typo must not pass as CDM)
        for name in ("f_c", "b_c"):
            if getattr(self, name) is not None:
                _check_number(owner, name, getattr(self, name), "(dimensionless)")
        if self.p_cc is not None:
            _numbers(owner, "p_cc", self.p_cc, "(probability)")
        breaks = _numbers(owner, "p_cc_log10_breaks", self.p_cc_log10_breaks, "[log10 M_sun]")
        if any(b2 <= b1 for b1, b2 in zip(breaks[:-1], breaks[1:], strict=True)):
            raise ValueError(f"{owner}.p_cc_log10_breaks must increase; got {breaks}")
        object.__setattr__(self, "p_cc_log10_breaks", breaks)
        sidm = {"f_c": self.f_c, "p_cc": self.p_cc, "b_c": self.b_c}
        if self.dark_matter == "sidm":
            for name, value in sidm.items():
                if value is None:
                    raise ValueError(
                        f"{owner}.{name} is required when dark_matter='sidm'; got None")
            check_range(owner, "f_c", self.f_c, 0.0, 10.0, high_inclusive=True,
                        units="(dimensionless)")
            check_range(owner, "b_c", self.b_c, 1.0, 100.0, low_inclusive=True,
                        units="(dimensionless)")
            p = tuple(float(v) for v in np.atleast_1d(np.asarray(self.p_cc, dtype=np.float64)))
            check_range(owner, "p_cc", np.asarray(p), 0.0, 1.0, low_inclusive=True,
                        high_inclusive=True, units="(probability)")
            if len(breaks) != len(p) - 1:
                raise ValueError(
                    f"{owner}.p_cc_log10_breaks must hold len(p_cc) - 1 = {len(p) - 1} bin edges; "
                    f"got {len(breaks)}"
                )
            object.__setattr__(self, "p_cc", p)
            if self.sheet:
                raise ValueError(
                    f"{owner}.sheet=True needs haloes of finite mass; the cored SIDM haloes "
                    "(untruncated cNFW) have none. Use sheet=False with dark_matter='sidm'"
                )
        else:
            given = [k for k, v in sidm.items() if v is not None]
            if given:
                raise ValueError(
                    f"{owner}.{given[0]} is used only when dark_matter='sidm'; got "
                    f"dark_matter={self.dark_matter!r}"
                )

    @property
    def area_kpc2(self) -> float:
        """Physical area of the disc at z_lens [kpc^2]: ``pi (radius kpc_per_arcsec)^2``."""
        return math.pi * (self.radius * float(Planck15.kpc_per_arcsec(self.z_lens))) ** 2


@dataclasses.dataclass(frozen=True)
class LineOfSightConfig:
    """Line-of-sight haloes in the pyHalo double cone (PHYSICS.md §13.2, §14.4); validated.

    Parameters
    ----------
    n_planes : int
        Number of lens planes between observer and source, including one at
        ``z_lens`` exactly (default 8), in [1, 200].
    cone_radius : float
        Angular radius theta_c of the double cone [arcsec] (default 3), > 0.
    m_min, m_max : float
        Mass range [M_sun] (default 1e7, 1e10), ``1e3 <= m_min < m_max <= 1e16``.
    z_lens, z_source : float
        Main-lens and source redshifts (defaults 0.5, 1), ``0 < z_lens < z_source <= 10``.
    delta_los : float
        Overall normalisation of the mass function (default 1), >= 0 (**modelling choice**).
    sheets : bool
        One negative convergence sheet per plane cancelling the mean halo convergence
        (default True, PHYSICS.md §13.2).
    centre : (y, x)
        Cone axis [arcsec] (default (0, 0)); ``sample(key, centre=...)`` overrides it.
    dark_matter : {"cdm", "wdm"}
        WDM suppresses the mass function and the concentrations as for subhaloes.
    m_hm, wdm_coefficients, wdm_a_placement, wdm_concentration
        As :class:`SubhaloConfig`; ``wdm_coefficients`` defaults to
        ``"lovell2020_field"`` = (2.3, 0.8, -1.0). WDM always uses thinning here.
    transfer : {"eh98", "eh98_nowiggle"}
        Transfer function of sigma(M) in the mass function (default "eh98", as colossus).
    concentration_model : {"full", "fit"}
        Ludlow et al. (2016) model of the rendered profiles (default "full").

    Notes
    -----
    No two-halo term (PHYSICS.md §14.4, optional and unverified) is included.
    """

    n_planes: int = 8
    cone_radius: float = 3.0
    m_min: float = 1e7
    m_max: float = 1e10
    z_lens: float = 0.5
    z_source: float = 1.0
    delta_los: float = 1.0
    sheets: bool = True
    centre: tuple[float, float] = (0.0, 0.0)
    dark_matter: str = "cdm"
    m_hm: float | None = None
    wdm_coefficients: Any = "lovell2020_field"
    wdm_a_placement: str = "inside"
    wdm_concentration: bool = True
    transfer: str = "eh98"
    concentration_model: str = "full"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if isinstance(self.n_planes, bool) or int(self.n_planes) != self.n_planes:
            raise ValueError(f"{owner}.n_planes must be an integer; got {self.n_planes!r}")
        check_range(owner, "n_planes", self.n_planes, 1, 200, low_inclusive=True,
                    high_inclusive=True)
        object.__setattr__(self, "n_planes", int(self.n_planes))
        check_range(owner, "cone_radius", self.cone_radius, 0.0, units="[arcsec]")
        _check_masses(owner, self.m_min, self.m_max)
        _check_redshifts(owner, self.z_lens, self.z_source)
        check_range(owner, "delta_los", self.delta_los, 0.0, low_inclusive=True,
                    units="(dimensionless)")
        _check_flag(owner, "sheets", self.sheets)
        object.__setattr__(self, "centre", _check_centre(owner, self.centre))
        if self.dark_matter == "sidm":
            raise ValueError(
                f"{owner}.dark_matter='sidm' is not supported for the line of sight: "
                "the cored haloes have no finite mass for the negative sheets; use 'cdm' or 'wdm'"
            )
        _choice(owner, "dark_matter", self.dark_matter, ("cdm", "wdm"))
        _choice(owner, "transfer", self.transfer, TRANSFERS)
        _choice(owner, "concentration_model", self.concentration_model, MODELS)
        _wdm_fields(owner, self)
