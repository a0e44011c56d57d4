"""Where the posterior meets its prior's edges, and what that does to the samplers' coordinates.

The gradient backends sample ``z = logit(u)``, ``u`` the prior's unit cube. A parameter
whose posterior lies within a few sds of a prior edge is skewed in ``z``: towards the edge
``u ~ e^z``, so the density there falls only like ``e^z`` (a long, flat tail), while inwards
the likelihood's Gaussian in ``u`` becomes a wall growing like ``e^(2 z)``. A NUTS step size
fitted to the bulk is then too long in the wall and trajectories can diverge.

For each free parameter, at a mode with its Laplace covariance (the ``--mode-file`` that
``inference_costs.py`` writes), this prints the distance from the mode to the nearer prior
edge in Laplace sds, and the log density of ``z`` along that parameter's axis (the others
held at the mode) at -6, -3, +3 and +6 Laplace sds of ``z``, relative to the mode: a
Gaussian gives -18 and -4.5 on both sides of a conditional slice as wide as the marginal
(narrower slices give more, symmetrically); an edge gives a lopsided pair.

    python docs/scripts/posterior_edges.py --mode-file mode.json

``docs/inference.md`` ("Fifth run") quotes its output for the default model.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import numpy as np

OFFSETS = (-6.0, -3.0, 3.0, 6.0)


def _costs_module():
    spec = importlib.util.spec_from_file_location("inference_costs", Path(__file__).with_name("inference_costs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scan(space, log_likelihood_batch, theta, covariance) -> list[dict]:
    """One dict per free parameter: ``name``, ``edge_sd`` (mode to the nearer prior edge, in
    Laplace sds of theta, per coordinate of the unit cube), ``sd_z`` (the Laplace sd mapped to
    ``z``) and ``slice`` (the log density of ``z`` at ``OFFSETS`` sds of ``z`` along the
    parameter's axis, minus the mode's) [nats].

    ``space``: ``names``, ``to_unit_cube`` and ``from_unit_cube`` (JAX-traceable), as a
    :class:`~xlens.inference.ParameterSpace`; ``log_likelihood_batch``: thetas (B, n) ->
    log L (B,), as ``Likelihood.batch``."""
    import jax
    import jax.numpy as jnp

    from xlens import engine

    theta = np.asarray(theta, dtype=np.float64)
    cov = np.asarray(covariance, dtype=np.float64)
    sd = np.sqrt(np.diag(cov))
    with engine.float64_scope():
        u = np.asarray(space.to_unit_cube(jnp.asarray(theta)), dtype=np.float64)
        jac = np.asarray(jax.jacfwd(lambda th: jax.scipy.special.logit(space.to_unit_cube(th)))(jnp.asarray(theta)))
    sd_z = np.sqrt(np.diag(jac @ cov @ jac.T))
    du = np.abs(np.diag(jac)) * u * (1.0 - u)  # |du/dtheta| per coordinate (dz/du = 1 / (u (1 - u)))
    edge_sd = np.minimum(u, 1.0 - u) / (du * sd)
    z0 = np.log(u) - np.log1p(-u)
    zs, index = [], []
    for i in range(z0.size):
        for k in (0.0, *OFFSETS):
            z = z0.copy()
            z[i] += k * sd_z[i]
            zs.append(z)
            index.append((i, k))
    zs = np.asarray(zs)
    with engine.float64_scope():
        thetas = np.asarray(space.from_unit_cube(jax.nn.sigmoid(jnp.asarray(zs))), dtype=np.float64)
    log_jac = -np.sum(np.logaddexp(0.0, -zs) + np.logaddexp(0.0, zs), axis=1)  # ln |du/dz|
    log_p = np.asarray(log_likelihood_batch(thetas), dtype=np.float64) + log_jac
    rows = []
    for i, name in enumerate(space.names):
        at = {k: log_p[j] for j, (p, k) in enumerate(index) if p == i}
        rows.append({"name": name, "edge_sd": float(edge_sd[i]), "sd_z": float(sd_z[i]),
                     "slice": [float(at[k] - at[0.0]) for k in OFFSETS]})
    return rows


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode-file", required=True, help="JSON with 'theta' and 'covariance' (inference_costs.py's)")
    p.add_argument("--tiny", action="store_true", help="the 20 x 20 model without haloes (for the tests)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = p.parse_args(argv)
    mode = json.loads(Path(args.mode_file).read_text())
    like = _costs_module().build(args.tiny, args.dtype)[2]
    rows = scan(like.space, like.batch, mode["theta"], mode["covariance"])
    width = max(len(r["name"]) for r in rows)
    print(f"{'parameter':{width}s}  edge [sd]  sd of z  " + "  ".join(f"{k:+5.0f} sd" for k in OFFSETS))
    for r in rows:
        print(f"{r['name']:{width}s}  {r['edge_sd']:9.1f}  {r['sd_z']:7.3g}  "
              + "  ".join(f"{v:8.1f}" for v in r["slice"]))
    return rows


if __name__ == "__main__":
    main()
