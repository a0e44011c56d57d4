"""Reproduce the CPU deadlock of two batched LAPACK kernels in one jitted program.

JAX's CPU LAPACK kernels (``jnp.linalg.qr``'s ``orgqr``, ``solve_triangular``'s ``trsm``, ...)
split a batch of matrices over XLA's intra-op thread pool and wait for the pieces. When XLA's
scheduler runs two such independent kernels at once on a pool of two workers, each worker
blocks waiting for pieces that only the other (also blocked) worker could run: the process
stops at 0% CPU, every thread in a futex wait. Pathfinder's program on the default lens model
(blackjax's L-BFGS inverse-Hessian factors, batched over the path) has this shape; see
``docs/inference.md``, "A hang, explained".

Each configuration (an ``XLA_FLAGS`` value) runs in a fresh process that calls a program of a
batched QR and an independent batched triangular solve (float64, ``--batch`` matrices of
``--size`` x ``--size``) ``--calls`` times; a process that has not finished after
``--timeout`` seconds is counted as hung and killed. Run on the 2-core machine:

    python docs/scripts/lapack_hang.py --repeats 3

prints, per configuration, how many of the repeats hung and the calls each completed.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

CONFIGS = {
    "default": "",
    "multi_thread_eigen=false": "--xla_cpu_multi_thread_eigen=false",
    "use_thunk_runtime=false": "--xla_cpu_use_thunk_runtime=false",
    "concurrency_optimized_scheduler=false": "--xla_cpu_enable_concurrency_optimized_scheduler=false",
}


def child(batch: int, size: int, calls: int) -> None:
    import jax

    jax.config.update("jax_enable_x64", True)  # a script's own process: setting the flag here is fine
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (batch, size, size))
    b = jax.random.normal(jax.random.key(1), (batch, size, size))

    @jax.jit
    def program(a, b):
        q, r = jnp.linalg.qr(a)  # batched geqrf + orgqr
        lower = jnp.tril(b) + 5.0 * jnp.eye(size)
        x = jax.scipy.linalg.solve_triangular(lower, a, lower=True)  # batched trsm, independent of the QR
        return q.sum() + r.sum() + x.sum()

    for i in range(calls):
        program(a + i, b).block_until_ready()
        print(i + 1, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=201, help="matrices per batch")
    p.add_argument("--size", type=int, default=30, help="matrix size")
    p.add_argument("--calls", type=int, default=600)
    p.add_argument("--timeout", type=float, default=90.0, help="seconds before a process counts as hung")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--configs", nargs="+", choices=list(CONFIGS),
                   default=["default", "multi_thread_eigen=false", "concurrency_optimized_scheduler=false"])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.batch, args.size, args.calls)
        return 0
    import jax

    print(f"lapack_hang: {os.cpu_count()} CPUs, JAX {jax.__version__}, batch {args.batch} x {args.size}^2, "
          f"{args.calls} calls, timeout {args.timeout:g} s, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for name in args.configs:
        env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + CONFIGS[name]).strip())
        results = []
        for _ in range(args.repeats):
            cmd = [sys.executable, __file__, "--child", "--batch", str(args.batch), "--size", str(args.size),
                   "--calls", str(args.calls)]
            t0 = time.perf_counter()
            try:
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout).stdout
                hung = False
            except subprocess.TimeoutExpired as exc:  # the child is killed by subprocess.run
                out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
                hung = True
            done = int(out.split()[-1]) if out.split() else 0
            results.append((hung, done, time.perf_counter() - t0))
        n_hung = sum(h for h, _, _ in results)
        detail = ", ".join(f"{'HUNG after' if h else 'done'} {d} calls ({w:.0f} s)" for h, d, w in results)
        print(f"{name:40s} {n_hung}/{args.repeats} hung: {detail}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
