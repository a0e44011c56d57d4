"""The default model's ``sim.sample`` with and without the split halo field, interleaved in one process.

Run: ``python docs/scripts/split_ab.py [--calls 21] [--key 0]`` from the repository root.

Two simulators (JAX float32) are compiled, one with ``xlens.tracer.fast_path.FAST_PATH_SPLIT = None``
(every halo at every pixel centre on every plane) and one with the default split; their steady
calls of ``sample(key)`` then alternate. This is ``docs/scripts/options_ab.py`` with those two
variants; it prints the median and minimum of each and the ratio of the medians as JSON lines.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import options_ab  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=21)
    parser.add_argument("--key", type=int, default=0)
    args = parser.parse_args()
    options_ab.main(["--calls", str(args.calls), "--key", str(args.key),
                     "--variant", "every halo at every pixel centre: fast_path.FAST_PATH_SPLIT=null",
                     "--variant", "split"])


if __name__ == "__main__":
    main()
