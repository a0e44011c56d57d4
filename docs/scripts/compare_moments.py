"""Compare the posterior moments of two rows of ``inference_costs.py`` JSONL files.

Each row is given as ``FILE BACKEND [K]``: the K-th row (default the last, -1) of that
backend in FILE. Prints the largest mean offset in units of the smaller of the two sds, and
the range and median of the sd ratio (first over second), over the free parameters:

    python docs/scripts/compare_moments.py --a docs/inference_costs_2026-12-07c.jsonl nested 0 \\
        --b docs/inference_costs_2026-12-07.jsonl nuts_blackjax

The width comparisons of ``docs/inference.md`` ("Third run") come from this command.
"""
from __future__ import annotations

import argparse
import json

import numpy as np


def _row(spec: list[str]) -> dict:
    path, backend, *k = spec
    with open(path) as f:
        rows = [r for r in map(json.loads, f) if r["backend"] == backend]
    if not rows:
        raise SystemExit(f"no {backend!r} row in {path}")
    return rows[int(k[0]) if k else -1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", nargs="+", required=True, metavar="FILE BACKEND [K]")
    p.add_argument("--b", nargs="+", required=True, metavar="FILE BACKEND [K]")
    args = p.parse_args(argv)
    a, b = _row(args.a), _row(args.b)
    ma, sa, mb, sb = (np.asarray(a["mean"]), np.asarray(a["std"]), np.asarray(b["mean"]), np.asarray(b["std"]))
    ratio = sa / sb
    print(f"max |mean difference| / min sd: {np.max(np.abs(ma - mb) / np.minimum(sa, sb)):.2f}")
    print(f"sd ratio (a / b): {ratio.min():.2f}-{ratio.max():.2f}, median {np.median(ratio):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
