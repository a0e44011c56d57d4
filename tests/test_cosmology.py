"""Flat LCDM with neutrinos (xlens/cosmology.py) against astropy's numbers, on every engine.

``tests/data/cosmology.json`` holds astropy 8.0.2's Planck15 values, checked there
against an independent mpmath integral to ~2e-16. xlens re-implements astropy's
bookkeeping with its literal constants (PHYSICS.md §2.2), so the agreement is at
the level of rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
from helpers import AD, assert_close, load

from xlens.cosmology import FlatLambdaCDM, Planck15
from xlens.errors import ParameterError

TABLE = load("cosmology.json")
ASTROPY = TABLE["astropy"]

#: xlens vs astropy: both evaluate the same float64 formulae (24-node Gauss-Legendre
#: here, QUADPACK there, each ~1e-16); measured max 4.4e-16 (NumPy) and 7.8e-16 (JAX).
#: Tight on purpose: replacing astropy's literal constants by their exact values
#: (PHYSICS.md §2.2) moves the distances by 2.5e-14 and must fail this test.
COSMO_RTOL = 5e-15
COSMO_WHY = "astropy float64 vs xlens float64 (measured <= 7.8e-16)"

#: (table key, method name): every quantity of the astropy block.
METHODS = {
    "angular_diameter_distance_mpc": "angular_diameter_distance_mpc",
    "comoving_distance_mpc": "comoving_distance_mpc",
    "angular_diameter_distance_z1z2_mpc": "angular_diameter_distance_z1z2_mpc",
    "kpc_per_arcsec": "kpc_per_arcsec",
    "critical_density_msun_per_kpc3": "critical_density_msun_per_kpc3",
    "sigma_crit_msun_per_kpc2": "critical_surface_density_msun_per_kpc2",
    "sigma_crit_msun_per_arcsec2": "critical_surface_density_msun_per_arcsec2",
    "E_of_z": "efunc",
}


def _key_cases():
    out = []
    for key, method in METHODS.items():
        out.append(pytest.param(key, method, id=key))
    return out


def _redshift_columns(block):
    """Keys "z" or "z1,z2" -> tuple of redshift arrays and the expected values."""
    keys = list(block)
    cols = np.array([[float(v) for v in k.split(",")] for k in keys])
    return tuple(cols.T), np.array([block[k] for k in keys])


@pytest.mark.parametrize(("key", "method"), _key_cases())
def test_against_astropy_table(backend, key, method):
    """Every value of the astropy block, vectorised over the table's redshifts."""
    redshifts, expected = _redshift_columns(ASTROPY[key])
    args = [backend.asarray(z) for z in redshifts]
    got = backend.jit(getattr(Planck15, method))(*args)
    assert_close(got, expected, rtol=COSMO_RTOL, atol=0.0, why=f"{key}: {COSMO_WHY}", xp=backend.xp)


@pytest.mark.parametrize(("key", "method"), _key_cases())
def test_scalar_python_inputs_match_table(key, method):
    """Python floats give NumPy float64 results with the same values."""
    for zkey, value in ASTROPY[key].items():
        zs = [float(v) for v in zkey.split(",")]
        got = getattr(Planck15, method)(*zs)
        assert isinstance(got, np.ndarray | np.generic) and got.dtype == np.float64, key
        np.testing.assert_allclose(got, value, rtol=COSMO_RTOL, err_msg=f"{key}[{zkey}]")


def test_densities_today():
    today = ASTROPY["densities_today"]
    for name in ("Ogamma0", "Onu0", "Ode0"):
        np.testing.assert_allclose(
            getattr(Planck15, name), today[name], rtol=COSMO_RTOL, err_msg=f"{name}: {COSMO_WHY}"
        )
    # the neutrino temperature and y = m c^2 / (k_B T_nu0) of PHYSICS.md §2.2
    np.testing.assert_allclose(
        Planck15._densities(xp=Planck15._xp()).nu_y[2],
        TABLE["neutrino_nu_y_massive"][0],
        rtol=COSMO_RTOL,
        err_msg="massive-neutrino y",
    )


def test_physics_reference_numbers():
    """PHYSICS.md §2.4's reference numbers (z_l = 0.5, z_s = 1), to their printed digits."""
    checks = [
        (Planck15.angular_diameter_distance_kpc(0.5), 1297040.841, 1e-9),
        (Planck15.angular_diameter_distance_kpc(1.0), 1697952.656, 1e-9),
        (Planck15.angular_diameter_distance_z1z2_kpc(0.5, 1.0), 725172.025, 1e-9),
        (Planck15.kpc_per_arcsec(0.5), 6.2882314, 1e-8),
        (Planck15.critical_surface_density_msun_per_kpc2(0.5, 1.0), 3.0019354e9, 1e-7),
        (Planck15.critical_surface_density_msun_per_arcsec2(0.5, 1.0), 1.1870209e11, 1e-7),
        (Planck15.critical_density_msun_per_kpc3(0.5), 220.82896, 1e-7),
        (Planck15.critical_density_msun_per_kpc3(0.0), 127.35344, 1e-7),
    ]
    for got, want, rtol in checks:
        np.testing.assert_allclose(got, want, rtol=rtol, err_msg="PHYSICS.md §2.4 (printed digits)")


def test_jit_with_cosmology_as_argument():
    """A cosmology is a pytree: traced fields give the same numbers as Python floats."""
    jax = pytest.importorskip("jax")
    z = jax.numpy.asarray([0.2, 0.5, 2.0])
    jitted = jax.jit(lambda cosmo, z: cosmo.critical_surface_density_msun_per_kpc2(z, 3.0))
    eager = Planck15.critical_surface_density_msun_per_kpc2(np.asarray(z), 3.0)
    np.testing.assert_allclose(jitted(Planck15, z), eager, rtol=COSMO_RTOL, err_msg="jit vs eager")
    leaves = jax.tree_util.tree_leaves(Planck15)
    assert len(leaves) == 8, "H0, Om0, Ob0, Tcmb0, Neff and three m_nu are the leaves"


def test_vectorised_and_broadcast(backend):
    z1 = backend.asarray([[0.1], [0.5]])  # (2, 1)
    z2 = backend.asarray([[1.0, 2.0, 3.0]])  # (1, 3)
    got = backend.jit(Planck15.angular_diameter_distance_z1z2_mpc)(z1, z2)
    assert got.shape == (2, 3)
    want = [
        [Planck15.angular_diameter_distance_z1z2_mpc(a, b) for b in (1.0, 2.0, 3.0)]
        for a in (0.1, 0.5)
    ]
    assert_close(
        got,
        np.array(want, dtype=np.float64),
        rtol=COSMO_RTOL,
        atol=0.0,
        why="broadcast vs one at a time",
        xp=backend.xp,
    )
    grid = backend.asarray(np.linspace(0.0, 4.0, 12).reshape(3, 4))
    assert backend.jit(Planck15.comoving_distance_mpc)(grid).shape == (3, 4)


def test_always_float64(backend):
    z = backend.asarray([0.5, 1.0], dtype="float32")
    for method in ("efunc", "comoving_distance_mpc", "kpc_per_arcsec"):
        out = backend.jit(getattr(Planck15, method))(z)
        assert str(out.dtype) == "float64", f"{method} must compute in float64 (PHYSICS.md §16)"


def test_distance_identities():
    """D(z, z) = 0; (1+z2) D(z1, z2) = chi(z2) - chi(z1); chi by adaptive quadrature to z = 6."""
    np.testing.assert_equal(Planck15.angular_diameter_distance_z1z2_mpc(0.7, 0.7), 0.0)
    z1, z2 = np.array([0.0, 0.3, 1.0, 2.5]), np.array([0.3, 1.1, 4.0, 6.0])
    lhs = (1.0 + z2) * Planck15.angular_diameter_distance_z1z2_mpc(z1, z2)
    rhs = Planck15.comoving_distance_mpc(z2) - Planck15.comoving_distance_mpc(z1)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-13, err_msg="direct integral vs difference")
    dh = 299792.458 / 67.74
    for z in (0.5, 3.0, 6.0):  # PHYSICS.md §2.3: 24 nodes reach machine precision up to z = 6
        quad, _ = scipy.integrate.quad(
            lambda x: 1.0 / float(Planck15.efunc(x)), 0.0, z, epsabs=0.0, epsrel=1e-13
        )
        np.testing.assert_allclose(
            Planck15.comoving_distance_mpc(z),
            dh * quad,
            rtol=1e-13,
            err_msg=f"Gauss-Legendre vs QUADPACK at z = {z}",
        )


def test_gradient_of_distance_matches_derivative():
    """d D_A/dz = (c/H0) / (E (1+z)) - chi / (1+z)^2, by autodiff."""
    jax = pytest.importorskip("jax")
    z = 0.8
    grad = jax.jit(jax.grad(lambda z: Planck15.angular_diameter_distance_mpc(z)))(z)
    chi = float(Planck15.comoving_distance_mpc(z))
    want = 299792.458 / 67.74 / (float(Planck15.efunc(z)) * (1 + z)) - chi / (1 + z) ** 2
    np.testing.assert_allclose(grad, want, rtol=AD.float64, err_msg=AD.why)


# --- tabulated distances (many redshifts at once) -------------------------------------

#: The table's cubic Hermite interpolation against the quadrature: the bound of
#: TABLE_INTERVALS' comment (measured 1.98e-10 for 1e-4 <= z <= 10, 1.7e-12 above z = 0.1,
#: float64); a table with half the intervals errs ~16x more and fails the second bound.
TABLE_RTOL = {1e-4: 2.5e-10, 0.1: 2.5e-12}


@pytest.mark.parametrize("method", ["comoving_distance_mpc", "kpc_per_arcsec"])
def test_tabulated_distances_match_quadrature(backend, method):
    z = np.geomspace(1e-4, 10.0, 2001)
    want = np.asarray(getattr(Planck15, method)(z))
    got = np.asarray(backend.jit(lambda z: getattr(Planck15, method)(z, tabulated=True))(backend.asarray(z)))
    rel = np.abs(got / want - 1.0)
    for low, bound in TABLE_RTOL.items():
        assert rel[z >= low].max() <= bound, (method, low, rel[z >= low].max())


def test_tabulated_critical_surface_density(backend):
    """Sigma_cr from the table (D_ls = (chi_s - chi_l)/(1 + z_s)) against the quadrature's
    (D_ls integrated on [z_l, z_s]), broadcast as the haloes' conversion calls it, and
    from a traced source redshift."""
    zl = np.linspace(0.05, 2.9, 400)
    want = np.asarray(Planck15.critical_surface_density_msun_per_kpc2(zl, 3.0))
    fn = backend.jit(lambda a, b: Planck15.critical_surface_density_msun_per_kpc2(a, b, tabulated=True))
    got = np.asarray(fn(backend.asarray(zl), backend.asarray(3.0)))
    # measured 1.9e-13 (z_l >= 0.05); chi_s - chi_l amplifies the table's error by
    # chi_s / (chi_s - chi_l) <= 70 here at most
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_tabulated_distances_are_differentiable():
    """d chi/dz of the interpolating cubic against the exact c/(H0 E(z)): the slope of a
    cubic Hermite interpolant errs O(h^3) at most (measured 4e-15 at these redshifts)."""
    jax = pytest.importorskip("jax")
    z = jax.numpy.asarray([0.3, 0.8, 2.5])
    grad = jax.jit(jax.vmap(jax.grad(lambda z: Planck15.comoving_distance_mpc(z, tabulated=True)[()])))(z)
    want = 299792.458 / 67.74 / np.asarray(Planck15.efunc(np.asarray(z)))
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-9)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method",
    [
        "efunc",
        "comoving_distance_mpc",
        "angular_diameter_distance_mpc",
        "kpc_per_arcsec",
        "critical_density_msun_per_kpc3",
    ],
)
def test_negative_redshift_is_rejected(method):
    with pytest.raises(
        ParameterError, match=rf"FlatLambdaCDM.{method}.z must be in \[0, inf\)"
    ) as err:
        getattr(Planck15, method)(np.array([0.5, -0.1]))
    assert err.value.value == -0.1 and err.value.low == 0.0


def test_redshift_order_is_checked():
    with pytest.raises(
        ParameterError, match="second redshift must be >= the first; got 1.0 and 0.5"
    ):
        Planck15.angular_diameter_distance_z1z2_mpc(1.0, 0.5)
    with pytest.raises(
        ParameterError, match="second redshift must be > the first; got 0.5 and 0.5"
    ):
        Planck15.critical_surface_density_msun_per_kpc2(0.5, 0.5)
    with pytest.raises(ParameterError, match="z_lens must be in"):
        Planck15.critical_surface_density_msun_per_kpc2(-0.5, 1.0)
    # an array with one bad pair names that pair
    with pytest.raises(ParameterError, match="got 2.0 and 1.5"):
        Planck15.critical_surface_density_msun_per_arcsec2(np.array([0.5, 2.0]), 1.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"H0": -70.0}, r"FlatLambdaCDM.H0 must be in \(0, inf\)"),
        ({"Om0": 1.2}, r"FlatLambdaCDM.Om0 must be in \(0, 1\)"),
        ({"Ob0": 0.4}, r"FlatLambdaCDM.Ob0 must be in \[0, 0.3075\].*Ob0 is a part of Om0"),
        ({"Tcmb0": 0.0}, r"FlatLambdaCDM.Tcmb0 must be in \(0, inf\) \[K\]"),
        ({"Neff": -1.0}, r"FlatLambdaCDM.Neff must be in \[0, inf\)"),
        ({"m_nu": (0.0, -0.1, 0.06)}, r"FlatLambdaCDM.m_nu must be in \[0, inf\) \[eV\]"),
        ({"m_nu": ()}, r"FlatLambdaCDM.m_nu must list at least one species"),
    ],
)
def test_parameter_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlatLambdaCDM(**kwargs)


def test_neutrino_masses_matter():
    """Massless neutrinos act as radiation: moving 0.06 eV out of the species changes E(z)."""
    massless = FlatLambdaCDM(m_nu=(0.0, 0.0, 0.0))
    assert float(massless.Onu0) < float(Planck15.Onu0)
    np.testing.assert_allclose(
        massless.Onu0,
        0.22710731766 * 3.046 * massless.Ogamma0,
        rtol=1e-15,
        err_msg="massless: Onu0 = 7/8 (4/11)^(4/3) Neff Ogamma0",
    )
    assert not math.isclose(float(massless.efunc(1.0)), float(Planck15.efunc(1.0)), rel_tol=1e-6)


# --- optional oracle ----------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.filterwarnings("ignore:Use ``angular_diameter_distance")  # astropy >= 8 rename
def test_astropy_oracle_non_default_cosmology():
    """Another cosmology, at redshifts not in the table, against astropy itself."""
    cosmo_mod = pytest.importorskip("astropy.cosmology")
    units = pytest.importorskip("astropy.units")
    params = {
        "H0": 71.3,
        "Om0": 0.27,
        "Ob0": 0.045,
        "Tcmb0": 2.6,
        "Neff": 3.2,
        "m_nu": (0.02, 0.05, 0.1),
    }
    ours = FlatLambdaCDM(**params)
    theirs = cosmo_mod.FlatLambdaCDM(
        H0=params["H0"],
        Om0=params["Om0"],
        Ob0=params["Ob0"],
        Tcmb0=params["Tcmb0"],
        Neff=params["Neff"],
        m_nu=list(params["m_nu"]) * units.eV,
    )
    z = np.array([0.05, 0.37, 1.3, 2.2, 4.5])
    pairs = (np.array([0.05, 0.37, 1.3]), np.array([0.37, 2.2, 4.5]))
    checks = [
        (ours.efunc(z), theirs.efunc(z)),
        (ours.comoving_distance_mpc(z), theirs.comoving_distance(z).to_value("Mpc")),
        (
            ours.angular_diameter_distance_mpc(z),
            theirs.angular_diameter_distance(z).to_value("Mpc"),
        ),
        (
            ours.angular_diameter_distance_z1z2_mpc(*pairs),
            theirs.angular_diameter_distance_z1z2(*pairs).to_value("Mpc"),
        ),
        (
            ours.critical_density_msun_per_kpc3(z),
            theirs.critical_density(z).to_value(units.Msun / units.kpc**3),
        ),
        (ours.kpc_per_arcsec(z), 1.0 / theirs.arcsec_per_kpc_proper(z).to_value("arcsec/kpc")),
        (ours.Onu0, theirs.Onu0),
        (ours.Ogamma0, theirs.Ogamma0),
    ]
    for got, want in checks:
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg="astropy oracle")
