"""Measure the float32 (JAX) and float64 accuracy of every xlens profile.

Run from the repository root::

    python docs/scripts/measure_float32.py

Part 1 evaluates every case of ``tests/data/profiles.json`` in the profile frame
(centre at the origin, so forming ``y - y_c`` is exact) with JAX in float32 and
float64 and with NumPy in float64, and prints the worst relative error against
the mpmath reference values per profile and quantity. Deflection errors are
``max |alpha_i - ref_i| / |ref|`` (relative to the vector magnitude). The column
"f32 floor" is the error of a float64 (JAX) evaluation at the float32-rounded
grid and parameters: the part of the float32 error that no algorithm can remove.
(JAX arrays skip validation: ``ell_comps`` written for q = 0.2 rounds in
float32 to q = 0.19999998, which the NumPy validation would reject.)
``Isothermal`` has no case of its own; it is run on the ``slope = 2`` PowerLaw
cases, whose reference values equal the SIE closed form (the table's
``sie_closed_form_max_rel_diff`` check).

Part 2 compares float32 with float64 on random grids, 20 000 points with
``r / r_s`` log-uniform in [1e-4, 1e3] and uniform angles, for NFWSph and for
NFWTruncatedSph at several ``tau = r_t / r_s``. Both precisions see the same
float32-representable grid and parameters, so the difference is the float32
arithmetic alone. The centre is the origin unless stated (PHYSICS.md §16: an
off-origin centre adds ~6e-8 |theta| / r from the offset subtraction).

Part 3 does the same for the other profiles (PointMass, MassSheet,
IsothermalSph, Isothermal and PowerLaw at q = 0.2 outside 1e-3 arcsec, where the
float32 and float64 core clamps of 1e-4 and 1e-8 arcsec do not matter, cNFWSph,
the two mass-concentration profiles, Gaussian, Sersic and SersicCore), on grids
from 1e-4 to 1e3 of a natural scale. Images are compared where they exceed
1e-6 and 1e-30 of their peak (float32 underflows further out); the relative
error of I = exp(-E) grows as |E| eps, i.e. with the depth below the peak.

Prints Markdown tables; the numbers in docs/profiles.md come from this script.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import jax

jax.config.update(
    "jax_enable_x64", True
)  # float64 must exist for the comparison (a script, not library code)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from xlens.profiles import light, mass  # noqa: E402

TABLE = json.loads((ROOT / "tests" / "data" / "profiles.json").read_text())
CLASSES = {
    **{n: getattr(mass, n) for n in mass.__all__},
    **{n: getattr(light, n) for n in light.__all__},
}
QUANTITIES = {
    "convergence": "convergence_2d_from",
    "deflections_yx": "deflections_yx_2d_from",
    "potential": "potential_2d_from",
    "image": "image_2d_from",
}


def _call(method):
    return lambda profile, grid: getattr(profile, method)(grid)


JITTED = {q: jax.jit(_call(m)) for q, m in QUANTITIES.items()}


def build(cls, params, points, engine, dtype):
    """A profile and grid whose leaves are arrays of ``engine`` with ``dtype``."""
    if engine == "jax":
        conv = lambda v: jnp.asarray(np.asarray(v, dtype=np.float64), dtype=dtype)  # noqa: E731
    else:
        conv = lambda v: np.asarray(v, dtype=dtype)  # noqa: E731
    kwargs = {k: (v if isinstance(v, str) else conv(v)) for k, v in params.items()}
    return cls(**kwargs), conv(points)


def evaluate(cls, params, points, quantity, engine, dtype):
    profile, grid = build(cls, params, points, engine, dtype)
    if engine == "jax":
        out = JITTED[quantity](profile, grid)
        assert out.dtype == dtype, (cls.__name__, quantity, out.dtype, dtype)
        return np.asarray(out, dtype=np.float64)
    return np.asarray(getattr(profile, QUANTITIES[quantity])(grid), dtype=np.float64)


def rel_error(actual, desired):
    """Worst relative error; vectors (n, 2) relative to the vector magnitude."""
    a, d = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    if not np.all(np.isfinite(a)):
        return np.inf
    if d.ndim == 2:
        scale = np.hypot(d[:, 0], d[:, 1])[:, None]
    else:
        scale = np.abs(d)
    scale = np.where(scale > 0, scale, np.nan)
    err = np.abs(a - d) / scale
    if np.all(np.isnan(err)):
        return float(np.max(np.abs(a - d)))  # reference identically 0: absolute error
    return float(np.nanmax(err))


def f32_round(tree):
    """Round every float leaf to float32 and back (what a float32 caller really passes)."""
    return {
        k: (v if isinstance(v, str) else np.asarray(np.asarray(v, np.float32), np.float64))
        for k, v in tree.items()
    }


def fmt(v):
    if v == 0:
        return "0"
    if not np.isfinite(v):
        return "inf"
    return f"{v:.1e}"


# ----------------------------------------------------------------------------- part 1
def part1():
    rows = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, ""]))
    cases = []
    for kind in ("mass", "light"):
        for case in TABLE[f"{kind}_cases"]:
            cases.append((case["profile"], case))
            if (
                case["profile"] == "PowerLaw"
                and case["frames"]["profile"]["params"]["slope"] == 2.0
            ):
                cases.append(("Isothermal", case))
    per_case = []
    for name, case in cases:
        frame = case["frames"]["profile"]
        params = dict(frame["params"])
        if name == "Isothermal":
            params.pop("slope")
        cls = CLASSES[name]
        for quantity in ("convergence", "deflections_yx", "potential", "image"):
            if quantity not in frame:
                continue
            ref = np.asarray(frame[quantity])
            pts = frame["points_yx"]
            e_np = rel_error(evaluate(cls, params, pts, quantity, "numpy", np.float64), ref)
            e64 = rel_error(evaluate(cls, params, pts, quantity, "jax", jnp.float64), ref)
            e32 = rel_error(evaluate(cls, params, pts, quantity, "jax", jnp.float32), ref)
            floor = rel_error(
                evaluate(
                    cls,
                    f32_round(params),
                    np.asarray(np.asarray(pts, np.float32), np.float64),
                    quantity,
                    "jax",
                    jnp.float64,
                ),
                ref,
            )
            per_case.append(
                (
                    case["id"] + (" (as Isothermal)" if name == "Isothermal" else ""),
                    quantity,
                    e_np,
                    e64,
                    e32,
                    floor,
                )
            )
            row = rows[name][quantity]
            row[0] = max(row[0], e_np)
            row[1] = max(row[1], e64)
            if e32 >= row[2]:
                row[2], row[4] = e32, case["id"]
            row[3] = max(row[3], floor)
    print(
        "### Part 1: reference table (profile frame), worst relative error"
        " per profile and quantity\n"
    )
    print("| profile | quantity | NumPy f64 | JAX f64 | JAX f32 | f32 floor | worst f32 case |")
    print("|---|---|---|---|---|---|---|")
    for name, qs in rows.items():
        for q, (a, b, c, d, cid) in qs.items():
            print(f"| {name} | {q} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {fmt(d)} | {cid} |")
    print("\nPer case:\n")
    print("| case | quantity | NumPy f64 | JAX f64 | JAX f32 | f32 floor |")
    print("|---|---|---|---|---|---|")
    for cid, q, a, b, c, d in per_case:
        print(f"| {cid} | {q} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {fmt(d)} |")


# ----------------------------------------------------------------------------- part 2, 3
def random_grid(scale, n=20_000, seed=0, centre=(0.0, 0.0), low=-4.0, high=3.0):
    """``n`` points with ``r / scale`` log-uniform in [10**low, 10**high], rounded to float32."""
    rng = np.random.default_rng(seed)
    r = scale * 10.0 ** rng.uniform(low, high, n)
    t = rng.uniform(0.0, 2.0 * np.pi, n)
    pts = np.stack([centre[0] + r * np.sin(t), centre[1] + r * np.cos(t)], axis=-1)
    return np.asarray(pts.astype(np.float32), np.float64)  # float32-representable


def compare(cls, params, pts, quantities, *, floor=0.0):
    """Worst relative error of float32 against float64 at identical inputs.

    Points where the float64 value is below ``floor * max|value|`` are left out
    (images that underflow float32 far out).
    """
    params = f32_round(params)
    out = {}
    for q in quantities:
        a32 = evaluate(cls, params, pts, q, "jax", jnp.float32)
        a64 = evaluate(cls, params, pts, q, "jax", jnp.float64)
        mag = np.hypot(a64[:, 0], a64[:, 1]) if a64.ndim == 2 else np.abs(a64)
        keep = mag >= floor * mag.max()
        out[q] = rel_error(a32[keep], a64[keep])
        out[q + "_abs"] = float(np.max(np.abs(a32 - a64)) / max(mag.max(), 1e-300))
    return out


MASS_Q = ("convergence", "deflections_yx", "potential")


def row(name, label, e, quantities=MASS_Q):
    cells = " | ".join(fmt(e[q]) for q in quantities)
    print(f"| {name} | {label} | {cells} |")


def part2():
    print(
        "\n### Part 2: float32 vs float64 (JAX), r/r_s log-uniform in [1e-4, 1e3], 20 000 points\n"
    )
    print("| profile | parameters | convergence | deflections | potential |")
    print("|---|---|---|---|---|")
    runs = [("NFWSph", {"centre": (0.0, 0.0), "kappa_s": 0.15, "scale_radius": 1.0}, "r_s = 1")]
    runs.append(
        ("NFWSph", {"centre": (0.0, 0.0), "kappa_s": 0.6, "scale_radius": 0.05}, "r_s = 0.05")
    )
    for tau in (0.3, 1.0, 2.0, 10.0, 24.0, 100.0, 150.0):
        runs.append(
            (
                "NFWTruncatedSph",
                {
                    "centre": (0.0, 0.0),
                    "kappa_s": 0.1,
                    "scale_radius": 0.5,
                    "truncation_radius": 0.5 * tau,
                },
                f"r_s = 0.5, tau = {tau:g}",
            )
        )
    for name, params, label in runs:
        row(
            name, label, compare(CLASSES[name], params, random_grid(params["scale_radius"]), MASS_Q)
        )
    # the offset rounding of PHYSICS.md §16, for comparison
    centre = (0.1, -0.2)
    for name, params, label in [
        (
            "NFWSph",
            {"centre": centre, "kappa_s": 0.15, "scale_radius": 1.0},
            "r_s = 1, centre (0.1, -0.2)",
        ),
        (
            "NFWTruncatedSph",
            {"centre": centre, "kappa_s": 0.1, "scale_radius": 0.5, "truncation_radius": 12.0},
            "r_s = 0.5, tau = 24, centre (0.1, -0.2)",
        ),
    ]:
        row(
            name,
            label,
            compare(
                CLASSES[name], params, random_grid(params["scale_radius"], centre=centre), MASS_Q
            ),
        )


def part3():
    print(
        "\n### Part 3: float32 vs float64 (JAX) for the other profiles,"
        " r/scale log-uniform in [1e-4, 1e3]\n"
    )
    print("| profile | parameters | convergence / image | deflections | potential |")
    print("|---|---|---|---|---|")
    q02 = (0.0, 2.0 / 3.0)  # q = 0.2
    runs = [
        ("PointMass", {"centre": (0.0, 0.0), "einstein_radius": 1.0}, "theta_E = 1", {}),
        ("MassSheet", {"centre": (0.0, 0.0), "kappa": -0.02}, "kappa = -0.02", {}),
        ("IsothermalSph", {"centre": (0.0, 0.0), "einstein_radius": 1.0}, "theta_E = 1", {}),
        (
            "Isothermal",
            {"centre": (0.0, 0.0), "ell_comps": q02, "einstein_radius": 1.0},
            "theta_E = 1, q = 0.2, r >= 1e-3",
            {"low": -3.0},
        ),
    ]
    for slope in (1.2, 2.0, 2.9):
        runs.append(
            (
                "PowerLaw",
                {"centre": (0.0, 0.0), "ell_comps": q02, "einstein_radius": 1.0, "slope": slope},
                f"theta_E = 1, q = 0.2, slope {slope:g}, r >= 1e-3",
                {"low": -3.0},
            )
        )
    runs += [
        (
            "cNFWSph",
            {"centre": (0.0, 0.0), "kappa_s": 0.1, "scale_radius": 0.5, "core_radius": 0.1},
            "r_s = 0.5, r_c = 0.1",
            {"scale": 0.5},
        ),
        (
            "cNFWSph",
            {"centre": (0.0, 0.0), "kappa_s": 0.1, "scale_radius": 0.5, "core_radius": 0.4975},
            "r_s = 0.5, f = 0.995 (interpolation band)",
            {"scale": 0.5},
        ),
        (
            "NFWTruncatedMCRLudlowSph",
            {
                "centre": (0.0, 0.0),
                "mass_at_200": 1e9,
                "redshift_object": 0.5,
                "redshift_source": 1.0,
            },
            "M200 = 1e9, z = 0.5, z_s = 1 (r_s = 0.24)",
            {"scale": 0.24},
        ),
        (
            "cNFWMCRLudlowSph",
            {
                "centre": (0.0, 0.0),
                "mass_at_200": 1e9,
                "f_c": 0.2,
                "redshift_object": 0.5,
                "redshift_source": 1.0,
            },
            "M200 = 1e9, f_c = 0.2, z = 0.5, z_s = 1",
            {"scale": 0.24},
        ),
    ]
    abs_notes, light_notes = [], []
    for name, params, label, opts in runs:
        pts = random_grid(opts.get("scale", 1.0), low=opts.get("low", -4.0))
        e = compare(CLASSES[name], params, pts, MASS_Q)
        row(name, label, e)
        if name == "PointMass":
            abs_notes.append(
                f"PointMass potential: max |d psi| / max |psi| = {fmt(e['potential_abs'])} "
                "(psi = theta_E^2 ln r passes through 0 at r = theta_E)"
            )
    for name, params, label in [
        (
            "Gaussian",
            {"centre": (0.0, 0.0), "ell_comps": (0.0, 0.25), "intensity": 1.0, "sigma": 0.5},
            "sigma = 0.5, q = 0.6",
        ),
        (
            "Sersic",
            {
                "centre": (0.0, 0.0),
                "ell_comps": (0.0, 0.25),
                "intensity": 1.0,
                "effective_radius": 0.5,
                "sersic_index": 4.0,
            },
            "R_e = 0.5, n = 4, q = 0.6",
        ),
        (
            "Sersic",
            {
                "centre": (0.0, 0.0),
                "ell_comps": (0.0, 0.25),
                "intensity": 1.0,
                "effective_radius": 0.5,
                "sersic_index": 0.5,
            },
            "R_e = 0.5, n = 0.5, q = 0.6",
        ),
        (
            "SersicCore",
            {
                "centre": (0.0, 0.0),
                "ell_comps": (0.0, 0.25),
                "intensity": 1.0,
                "effective_radius": 0.5,
                "sersic_index": 4.0,
                "radius_break": 0.01,
                "gamma": 0.25,
                "alpha": 3.0,
            },
            "R_e = 0.5, n = 4, R_b = 0.01, gamma = 0.25, alpha = 3",
        ),
    ]:
        pts = random_grid(0.5)
        deep = compare(CLASSES[name], params, pts, ("image",), floor=1e-30)
        e = compare(CLASSES[name], params, pts, ("image",), floor=1e-6)
        light_notes.append(
            f"| {name} | {label} | {fmt(e['image'])} | {fmt(deep['image'])} | "
            f"{fmt(e['image_abs'])} |"
        )
    print("\nLight profiles, same grids (I_max: the largest value on the grid):\n")
    print(
        "| profile | parameters | rel., I > 1e-6 I_max | rel., I > 1e-30 I_max | max |dI| / I_max |"
    )
    print("|---|---|---|---|---|")
    for line in light_notes:
        print(line)
    for note in abs_notes:
        print("\n" + note)


if __name__ == "__main__":
    t0 = time.time()
    print(
        f"JAX {jax.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, devices {jax.devices()}\n"
    )
    part1()
    part2()
    part3()
    print(f"\n({time.time() - t0:.0f} s)")
