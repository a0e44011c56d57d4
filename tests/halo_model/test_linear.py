"""Linear theory: EH98 transfer, sigma(M) and D(z) tables against their direct evaluation."""

from __future__ import annotations

import math

import numpy as np
import scipy.integrate
import scipy.special
from helpers import assert_close

from xlens.halo_model import linear


def test_sigma_and_growth_tables_match_direct_evaluation(backend):
    rng = np.random.default_rng(3)
    log_m = rng.uniform(*linear.LOG10_MASS_RANGE, size=200)
    z = rng.uniform(*linear.REDSHIFT_RANGE, size=200)
    lin = linear.PLANCK15_LINEAR
    got = backend.jit(linear.sigma_of_mass)(backend.asarray(10.0**log_m), backend.asarray(z))
    want = linear.sigma_of_mass_direct(10.0**log_m, lin, "eh98") * linear.growth_factor_direct(z, lin)
    assert_close(
        got, want, rtol=1e-6, atol=0.0, why="cubic splines in ln M and ln(1+z), 1e-7", xp=backend.xp
    )
    # the 2F1 growth against the Heath (1977) integral by quadrature
    for zz in (0.0, 0.5, 3.0, 9.0):

        def heath(t):
            return (1 + t) / (lin.Om0 * (1 + t) ** 3 + 1 - lin.Om0) ** 1.5

        def integral(a):
            return scipy.integrate.quad(heath, a, np.inf, epsrel=1e-12)[0] * math.sqrt(
                lin.Om0 * (1 + a) ** 3 + 1 - lin.Om0
            )

        np.testing.assert_allclose(
            linear.linear_growth_factor(zz),
            integral(zz) / integral(0.0),
            rtol=1e-7,
            err_msg=f"D({zz}) vs Heath integral",
        )


def test_sigma8_normalisation():
    """sigma(R = 8 h^-1 Mpc) = sigma_8: the mass of that sphere gives sigma_8 at z = 0."""
    lin = linear.PLANCK15_LINEAR
    mass = 4.0 / 3.0 * math.pi * 8.0**3 * linear._rho_mean0_h(lin) / lin.h  # [M_sun]
    np.testing.assert_allclose(
        linear.sigma_of_mass_direct(mass, lin, "eh98"), lin.sigma8, rtol=1e-12, err_msg="normalisation"
    )
