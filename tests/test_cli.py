"""The ``xlens`` console script."""

from __future__ import annotations

import pytest

from xlens.cli import main


def test_demo_runs_on_both_engines_and_reports_agreement(capsys):
    pytest.importorskip("jax")
    assert main(["demo", "--n-subhalos", "3"]) == 0  # non-zero if the engines disagree by > 1e-9
    out = capsys.readouterr().out
    assert "3 Ludlow-16 tNFW subhaloes (capacity 32)" in out
    assert "numpy :" in out and "jax   :" in out and "max |alpha_numpy - alpha_jax|" in out


def test_demo_rejects_too_many_subhaloes(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--n-subhalos", "33"])
    assert "--n-subhalos must be in [0, 32]; got 33" in capsys.readouterr().err
