"""Piecewise power-law tables: the inverse CDF inverts the CDF."""

from __future__ import annotations

import numpy as np
import pytest

from xlens import engine
from xlens.halos import (
    CellTable,
)


def test_cell_table_inverse_cdf():
    # a two-cell table with a jump and a flat cell: sample_ln_mass inverts cdf exactly
    table = CellTable(left=np.array([[0.0, 1.0]]), width=np.array([[1.0, 2.0]]),
                      slope=np.array([[0.0, -1.5]]), weight=np.array([[3.0, 1.0]]))
    u = np.linspace(0.0, 0.999, 37)[None]
    x = table.sample_ln_mass(u, xp=engine.get_xp("numpy"))
    np.testing.assert_allclose(table.cdf(x[0]), u[0], rtol=1e-12, atol=1e-14)
    assert table.integrate(lambda m: np.ones_like(m)) == pytest.approx(4.0, rel=1e-12)
