"""Population configurations: validation messages and attributes."""

from __future__ import annotations

import pytest

from xlens import ParameterError
from xlens.halos import (
    LineOfSightConfig,
    SubhaloConfig,
    SubhaloPopulation,
)

_S, _L = SubhaloConfig, LineOfSightConfig
_SIDM = dict(dark_matter="sidm", f_c=0.1, b_c=2.0)


BAD_CONFIGS = [
    (_S, dict(m_min=1e10, m_max=1e9),
     r"SubhaloConfig\.m_max must be in \(1e\+10, 1e\+16\] \[M_sun\]; got 1000000000\.0"),
    (_S, dict(m_min=0.0), r"SubhaloConfig\.m_min must be in \[1000, 1e\+16\) \[M_sun\]; got 0\.0"),
    (_S, dict(sigma_sub=-0.01),
     r"SubhaloConfig\.sigma_sub must be in \[0, inf\) \[kpc\^-2\]; got -0\.01"),
    (_S, dict(z_lens=0.5, z_source=0.4), r"SubhaloConfig\.z_source must be in \(0\.5, 10\]"),
    (_S, dict(radius=0.0), r"SubhaloConfig\.radius must be in \(0, inf\) \[arcsec\]; got 0\.0"),
    (_S, dict(alpha=-3.5), r"SubhaloConfig\.alpha must be in \(-3, 0\)"),
    (_S, dict(dark_matter="wdm"), r"SubhaloConfig\.m_hm .* is required when dark_matter='wdm'"),
    (_S, dict(dark_matter="wdm", m_hm=-1e8), r"SubhaloConfig\.m_hm must be in \(0, inf\)"),
    (_S, dict(m_hm=1e8), r"m_hm is used only when dark_matter='wdm'"),
    (_S, dict(dark_matter="fuzzy"), r"SubhaloConfig\.dark_matter must be one of"),
    (_S, dict(dark_matter="sidm", p_cc=0.1, b_c=2.0), r"SubhaloConfig\.f_c is required"),
    (_S, dict(_SIDM, p_cc=1.5),
     r"SubhaloConfig\.p_cc must be in \[0, 1\] \(probability\); got 1\.5"),
    (_S, dict(_SIDM, p_cc=(0.1, 0.2)),
     r"p_cc_log10_breaks must hold len\(p_cc\) - 1 = 1 bin edges; got 0"),
    (_S, dict(_SIDM, p_cc=0.1, sheet=True), r"sheet=True needs haloes of finite mass"),
    (_S, dict(wdm_coefficients="lovell2099"), r"wdm_coefficients must be \(a, b, c\) or one of"),
    # fields that CDM does not use are still type-checked
    (_S, dict(p_cc_log10_breaks="x"), r"SubhaloConfig\.p_cc_log10_breaks must be a number or a sequence of numbers"),
    (_S, dict(p_cc_log10_breaks=(9.0, 8.0)), r"SubhaloConfig\.p_cc_log10_breaks must increase; got \(9\.0, 8\.0\)"),
    (_S, dict(wdm_concentration="yes"), r"SubhaloConfig\.wdm_concentration must be True or False; got 'yes'"),
    (_S, dict(wdm_coefficients=(1.0, "a", 2.0)), r"SubhaloConfig\.wdm_coefficients must be a number or a seq"),
    (_S, dict(sheet=1), r"SubhaloConfig\.sheet must be True or False; got 1"),
    (_S, dict(f_c="x"), r"SubhaloConfig\.f_c must be a number \(dimensionless\); got 'x'"),
    (_S, dict(_SIDM, b_c="x", p_cc=0.1), r"SubhaloConfig\.b_c must be a number"),
    (_S, dict(host_mass="x"), r"SubhaloConfig\.host_mass must be a number \[M_sun\]; got 'x'"),
    (_L, dict(sheets="no"), r"LineOfSightConfig\.sheets must be True or False; got 'no'"),
    (_L, dict(m_hm="x"), r"LineOfSightConfig\.m_hm must be a number \[M_sun\]; got 'x'"),
    (_L, dict(n_planes=0), r"LineOfSightConfig\.n_planes must be in \[1, 200\]; got 0\.0"),
    (_L, dict(z_lens=1.0, z_source=1.0), r"LineOfSightConfig\.z_source must be in \(1, 10\]"),
    (_L, dict(m_min=1e9, m_max=1e8), r"LineOfSightConfig\.m_max must be in \(1e\+09, 1e\+16\]"),
    (_L, dict(delta_los=-1.0), r"LineOfSightConfig\.delta_los must be in \[0, inf\)"),
    (_L, dict(dark_matter="sidm"), r"'sidm' is not supported for the line of sight"),
    (_L, dict(cone_radius=-3.0),
     r"LineOfSightConfig\.cone_radius must be in \(0, inf\) \[arcsec\]"),
]


@pytest.mark.parametrize(("cls", "kwargs", "match"), BAD_CONFIGS,
                         ids=[f"{c.__name__}-{'-'.join(k)}" for c, k, _ in BAD_CONFIGS])
def test_validation_messages(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_validation_error_attributes_and_capacity():
    with pytest.raises(ParameterError) as err:
        SubhaloConfig(m_min=1e9, m_max=1e8)
    assert (err.value.name, err.value.value, err.value.low) == ("SubhaloConfig.m_max", 1e8, 1e9)
    with pytest.raises(ValueError, match="capacity must be a positive integer; got 0"):
        SubhaloPopulation(SubhaloConfig(), capacity=0)
    with pytest.raises(ValueError, match="unknown families"):
        SubhaloPopulation(SubhaloConfig(), capacity={"cored": 8})
    with pytest.raises(TypeError, match="takes a SubhaloConfig"):
        SubhaloPopulation(LineOfSightConfig())
