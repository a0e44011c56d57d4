"""Nested sampling from the prior against the repartitioned run, on the suite's two test problems.

For the linear-Gaussian toy and the 20 x 20 smooth lens of ``tests/inference/test_backends.py``
(three free parameters), runs ``nested`` from the prior and with ``repartition`` (a Student-t
around a Gaussian: the analytic posterior for the toy, Pathfinder's Gaussian for the lens, as
the suite does), and prints ln Z with dynesty's error, the information the sampler had to gain
(H), H against the prior recovered from the weights, the likelihood calls and the wall time:

    python docs/scripts/nested_repartition.py [--nlive 200] [--seeds 0 1]

``--kl`` prints instead the information per dimension that ``pi'`` costs, KL(N(0, s^2) || pi')
by quadrature, for a posterior of the Gaussian's width (s = 1) and twice it (s = 2), for
Student-t and Gaussian ``pi'`` of a few widths. ``--narrow`` runs the toy around a Gaussian
of half the posterior's widths (``widen = 1``), with a Student-t and with a Gaussian ``pi'``,
capped at 200,000 calls.

The figures quoted in ``docs/inference.md`` ("Nested sampling from a Laplace Gaussian") come
from this command.
"""
from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[2] / "tests" / "inference" / "test_backends.py"


def _row(label, res, wall, truth_log_z=None):
    off = "" if truth_log_z is None else f" (analytic {truth_log_z:+.3f}: off by {res.log_evidence - truth_log_z:+.3f})"
    print(f"  {label:34s} ln Z {res.log_evidence:.3f} +- {res.log_evidence_error:.3f}{off}; "
          f"H {res.info['information']:.2f} nats (against the prior {res.info['information_prior']:.2f}); "
          f"{res.info['ncall']} calls; "
          f"ESS {res.info['ess']:.0f}; {wall:.1f} s", flush=True)


def _kl_table() -> int:
    import scipy.integrate
    import scipy.stats

    print("KL(N(0, s^2) || pi') [nats per dimension]; pi' of unit scale x widen")
    for dof in (np.inf, 8.0, 4.0, 2.0):
        for widen in (1.0, 1.5, 2.0):
            q = scipy.stats.norm(0, widen) if np.isinf(dof) else scipy.stats.t(dof, scale=widen)
            kl = [scipy.integrate.quad(lambda x, s=s, q=q: scipy.stats.norm.pdf(x, 0, s)
                                       * (scipy.stats.norm.logpdf(x, 0, s) - q.logpdf(x)), -40 * s, 40 * s)[0]
                  for s in (1.0, 2.0)]
            print(f"  dof {dof:>4g}, widen {widen:g}: s = 1: {kl[0]:.3f}; s = 2: {kl[1]:.3f}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nlive", type=int, default=None, help="live points (default: 200 for the toy, 150 for the lens)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--kl", action="store_true", help="print the per-dimension cost of pi' and exit")
    p.add_argument("--narrow", action="store_true", help="the toy around a Gaussian of half the widths, and exit")
    args = p.parse_args(argv)
    if args.kl:
        return _kl_table()
    spec = importlib.util.spec_from_file_location("toy_backends", TESTS)
    tb = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tb)  # the problems' definitions live in the test module, once
    from xlens.inference.backends import nested, pathfinder

    def timed(fn, **kw):
        t0 = time.perf_counter()
        res = fn(**kw)
        return res, time.perf_counter() - t0

    nlive = args.nlive or 200
    if args.narrow:
        print(f"toy around N(mean, covariance / 4), widen 1, nlive {nlive}, seed 0, maxcall 200000")
        for dof in (4.0, np.inf):
            _row(f"dof {dof:g}", *timed(lambda **k: nested(tb.TOY, **k), nlive=nlive, seed=0, maxcall=200_000,
                                        repartition=(tb.MEAN, tb.COVARIANCE / 4), widen=1.0, dof=dof), tb.LOG_Z)
        return 0
    print(f"linear-Gaussian toy (3 parameters), nlive {nlive}")
    for seed in args.seeds:
        _row(f"seed {seed}, prior", *timed(lambda **k: nested(tb.TOY, **k), nlive=nlive, seed=seed), tb.LOG_Z)
        _row(f"seed {seed}, repartitioned (exact Gaussian)",
             *timed(lambda **k: nested(tb.TOY, **k), nlive=nlive, seed=seed, repartition=(tb.MEAN, tb.COVARIANCE)),
             tb.LOG_Z)
        _row(f"seed {seed}, repartitioned (1 sd off)",
             *timed(lambda **k: nested(tb.TOY, **k), nlive=nlive, seed=seed,
                    repartition=(tb.MEAN + tb.SD, tb.COVARIANCE)), tb.LOG_Z)

    lens = tb.make_lens()
    start = lens.space.sample(np.random.default_rng(0), (1,))[0]
    gauss = pathfinder(lens, start, 0, num_samples=2000, elbo_samples=50)
    nlive = args.nlive or 150
    print(f"smooth lens (3 parameters), nlive {nlive}, repartitioned around Pathfinder's Gaussian")
    for seed in [3] + [s for s in args.seeds if s != 3]:
        for label, kw in (("prior", {}), ("repartitioned", {"repartition": gauss})):
            res, wall = timed(lambda **k: nested(lens, **k), nlive=nlive, seed=seed, **kw)
            _row(f"seed {seed}, {label}", res, wall)
            print(f"    (mean - truth) / sd {np.round((res.mean - tb.TRUTH) / res.std, 2)}, sd "
                  f"{np.array2string(res.std, formatter={'float_kind': lambda x: f'{x:.3g}'})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
