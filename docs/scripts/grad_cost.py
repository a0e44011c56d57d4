"""``like.value_and_grad(theta)`` against ``like(theta)`` on the default model (the issue-16 bound: <= 4x).

Run: ``PYTHONPATH=<tree> python docs/scripts/grad_cost.py [--calls 5]``. The likelihood is the one
``docs/scripts/inference_costs.py`` builds (default model, JAX float32, its 15 free macro
parameters, data from ``sample_params(0)`` and key 1). After one warm-up call of each, prints
the medians of ``--calls`` steady calls and their ratio as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

os.environ["XLENS_COMPILATION_CACHE"] = "off"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import inference_costs as ic  # noqa: E402

import xlens  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    _, _, like, theta = ic.build(False, "float32")
    ic._timed(like, theta)
    ic._timed(like.value_and_grad, theta)
    f = statistics.median(ic._timed(like, theta) for _ in range(args.calls))
    g = statistics.median(ic._timed(like.value_and_grad, theta) for _ in range(args.calls))
    print(json.dumps({"code": os.path.dirname(xlens.__file__), "forward_s": f, "value_and_grad_s": g, "ratio": g / f}))


if __name__ == "__main__":
    main()
