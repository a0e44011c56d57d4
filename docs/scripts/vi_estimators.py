"""VI's two ELBO gradients on the linear-Gaussian toy of ``tests/inference/test_backends.py``.

Prints, per estimator (``"elbo"``: numpyro's Trace_ELBO; ``"stl"``: sticking the landing),
the fitted means' offsets from the analytic posterior (in posterior sd), the fitted sds over
the analytic ones, and the scatter of the loss over the last 100 steps, for a few seeds:

    python docs/scripts/vi_estimators.py

The numbers quoted in ``docs/inference.md`` ("Two ELBO gradients") come from this command.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[2] / "tests" / "inference" / "test_backends.py"


def main() -> int:
    spec = importlib.util.spec_from_file_location("toy_backends", TESTS)
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)  # the toy's definition lives in the test module, once
    from xlens.inference.backends import variational

    print("long fits: 1000 steps x 2 particles from the mode, 20000 draws")
    for est in ("elbo", "stl"):
        res = variational(toy.TOY, toy.MEAN, 0, steps=1000, num_particles=2, num_samples=20000, estimator=est)
        print(f"  {est:4s} max |mean - exact| / sd {np.max(np.abs(res.mean - toy.MEAN) / toy.SD):.3f}, "
              f"sd / exact {np.min(res.std / toy.SD):.3f}-{np.max(res.std / toy.SD):.3f}")
    print("loss scatter over the last 100 of 500 steps x 2 particles, from the mode, seeds 0 and 1")
    for est in ("elbo", "stl"):
        scatter = [float(np.std(variational(toy.TOY, toy.MEAN, seed, steps=500, num_particles=2, num_samples=100,
                                            estimator=est).info["loss"][-100:])) for seed in (0, 1)]
        print(f"  {est:4s} " + ", ".join(f"{x:.3f}" for x in scatter) + " nats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
