"""Estimate what dynesty would need on the default model, from a costs file's Laplace and call rows.

The posterior's information (KL divergence from the prior, in nats) is approximated by the
Laplace Gaussian inside the uniform prior box, ``H = sum ln(width) - ln det(2 pi e C) / 2``
(the box's widths from the default ``ParameterSpace``; checked: every prior is uniform). A
static nested sampling run reaches the posterior's bulk after ~nlive H iterations and stops
at ``dlogz = 0.01`` a few e-folds later, ~nlive (H + 5) in all; dynesty's ``"auto"``
sampler in 10-20 dimensions is the random walk with ``20 + ndim`` likelihood calls per
iteration; the run's time is that many calls at the measured ``like(theta)`` time (dynesty
calls it one point at a time); the ln Z error is ~sqrt(H / nlive).

    python docs/scripts/nested_cost.py docs/inference_costs_2026-12-07.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("costs", help="a JSONL file of docs/scripts/inference_costs.py with laplace and costs rows")
    p.add_argument("--nlive", type=int, nargs="+", default=[40, 150, 500])
    args = p.parse_args(argv)
    rows = {}
    with open(args.costs) as f:
        for line in f:
            r = json.loads(line)
            rows[r["backend"]] = r
    cov = np.asarray(rows["laplace"]["covariance"])
    per_call = rows["costs"]["forward_s"]

    import xlens
    from xlens.inference import ParameterSpace

    sim = xlens.Simulator(engine="jax", dtype="float32")
    space = ParameterSpace(sim, sim.sample_params(0)[0])  # the costs script's space (seed 0)
    width = np.asarray(space.high - space.low, dtype=np.float64)
    theta = np.asarray(rows["laplace"]["theta"])
    uniform = math.isclose(float(space.log_prior(theta)), -float(np.sum(np.log(width))), rel_tol=1e-9)
    n = cov.shape[0]
    info = float(np.sum(np.log(width)) - 0.5 * (n * math.log(2 * math.pi * math.e) + np.linalg.slogdet(cov)[1]))
    calls_per_iteration = 20 + n
    print(f"H = {info:.1f} nats (uniform box: {uniform}); sd / width {np.min(np.sqrt(np.diag(cov)) / width):.4f}-"
          f"{np.max(np.sqrt(np.diag(cov)) / width):.4f}; like(theta) {per_call:.3f} s; "
          f"{calls_per_iteration} calls per iteration")
    for nlive in args.nlive:
        calls = calls_per_iteration * nlive * (info + 5.0)
        print(f"nlive {nlive:4d}: ~{calls:,.0f} calls, ~{calls * per_call / 3600:.1f} h, "
              f"ln Z error ~{math.sqrt(info / nlive):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
