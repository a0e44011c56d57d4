"""Profile a fit of the default model: compilations, compile time, steady-state time per call.

Run: ``python docs/scripts/profile_fit.py [--dtypes float32 float64] [--repeat 5] [--steps 5]``.

For each dtype it builds the default ``Simulator(engine="jax", dtype=...)`` (fast path),
simulates one image of a prior draw (~23 subhaloes, ~1000 line-of-sight haloes on 8
planes), and runs the workflow of a lens-modelling session on the 15 free macro
parameters (subhaloes and line of sight fixed at the truth):

1. ``like = xlens.likelihood(sim, data, noise_map, space)``;
2. ``like(theta)`` and ``like.value_and_grad(theta)``: first call (trace + compile + run)
   and the median of ``--repeat`` steady-state calls, and their ratio;
3. ``--steps`` optax Adam steps on ``like.value_and_grad``;
4. ``like(theta)`` at new parameters given as a list of Python floats, a NumPy array and
   a JAX array (float64 and float32), then ``like.diagnostics(theta)`` twice (a plot);
5. the compilations of the whole session, counted from JAX's own monitoring events
   (one backend compile per executable), by program, with their compile time.

The persistent compilation cache is switched off (``XLENS_COMPILATION_CACHE=off``, unless
``--cache``), so that compile times are those of a fresh cache.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import statistics
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
parser.add_argument("--repeat", type=int, default=5, help="steady-state calls per timing (median)")
parser.add_argument("--steps", type=int, default=5, help="optax steps of the fit")
parser.add_argument("--cache", action="store_true", help="keep the persistent compilation cache on")
args = parser.parse_args()
if not args.cache:
    os.environ["XLENS_COMPILATION_CACHE"] = "off"

import jax  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import xlens  # noqa: E402
from xlens.inference import ParameterSpace  # noqa: E402

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit
if args.cache:
    xlens.engine.enable_compilation_cache()

# ------------------------------------------------------------------ compile events from JAX
COMPILES: list[tuple[str, float]] = []  # (program, backend compile [s]) per executable
TRACES: list[tuple[str, float]] = []  # (function, trace [s]) per jaxpr trace


def _listener(event, duration, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        COMPILES.append((str(kw.get("fun_name", "?")), duration))
    elif event == "/jax/core/compile/jaxpr_trace_duration":
        TRACES.append((str(kw.get("fun_name", "?")), duration))


jax.monitoring.register_event_duration_secs_listener(_listener)


def timed(fn, *a):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*a))
    return time.perf_counter() - t0


def first_and_steady(fn, x, repeat):
    first = timed(fn, x)
    return first, statistics.median(timed(fn, x) for _ in range(repeat))


def profile(dtype: str) -> None:
    COMPILES.clear()
    TRACES.clear()
    sim = xlens.Simulator(engine="jax", dtype=dtype)
    truth, info = sim.sample_params(0)  # a NumPy key: the draw itself compiles nothing
    t_data = timed(lambda k: sim(truth, k), jax.random.key(1))
    out = sim.diagnostics(truth, jax.random.key(1))
    space = ParameterSpace(sim, truth)
    like = xlens.likelihood(sim, out["data"], out["noise_map"], space)
    theta = np.asarray(space.to_vector(truth))
    n_sub = int(sum(float(np.sum(b.mask)) for b in truth.subhalos.values()))
    n_los = int(np.sum(truth.line_of_sight.mask))
    print(f"\n== default model, JAX {dtype}, fast path: {sim.config.shape_native} pixels, "
          f"sub_size {sim.config.sub_size}, {n_sub} subhaloes, {n_los} line-of-sight haloes, "
          f"{space.size} free parameters")
    print(f"simulate the data (compiles the simulator's one program): {t_data:.1f} s")

    f_first, f_steady = first_and_steady(like, theta, args.repeat)
    g_first, g_steady = first_and_steady(like.value_and_grad, theta, args.repeat)
    print(f"log L          first call {f_first:6.1f} s   steady {f_steady:.3f} s/call (median of {args.repeat})")
    print(f"value and grad first call {g_first:6.1f} s   steady {g_steady:.3f} s/call (median of {args.repeat})")
    print(f"value-and-grad / forward: {g_steady / f_steady:.2f}x")

    # a fit: Adam in the prior's unit cube, projected into the box
    width = space.high - space.low
    opt = optax.adam(1e-2)

    @jax.jit
    def update(grad, state, u):
        updates, state = opt.update(-grad * width, state)
        return optax.projections.projection_box(optax.apply_updates(u, updates), 0.0, 1.0), state

    start = np.clip(theta + 0.05 * width, space.low, space.high)
    u = jax.numpy.asarray(space.to_unit_cube(start))
    state = opt.init(u)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        value, grad = like.value_and_grad(space.from_unit_cube(u))
        u, state = update(grad, state, u)
    jax.block_until_ready(u)
    t_fit = time.perf_counter() - t0
    best = np.asarray(space.from_unit_cube(u))
    print(f"fit: {args.steps} Adam steps in {t_fit:.1f} s (log L: {float(like(start)):.1f} at the start, "
          f"{float(value):.1f} at the last step, {float(like(theta)):.1f} at the truth)")

    # new parameters of every type, then a plot
    t0 = time.perf_counter()
    for x in ([float(v) for v in best], best, best.astype(np.float32), jax.numpy.asarray(best),
              jax.numpy.asarray(best, dtype=jax.numpy.float32)):
        jax.block_until_ready(like(x))
    t_eval = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(2):
        jax.block_until_ready(like.diagnostics(best)["model_image"])
    t_plot = time.perf_counter() - t0
    print(f"log L at 5 inputs (list, NumPy f64/f32, JAX f64/f32): {t_eval:.2f} s; diagnostics x2: {t_plot:.2f} s")

    by_name = collections.defaultdict(lambda: [0, 0.0])
    for name, seconds in COMPILES:
        by_name[name][0] += 1
        by_name[name][1] += seconds
    traced = collections.defaultdict(float)
    for name, seconds in TRACES:
        traced[name] += seconds
    print(f"compilations in the session: {len(COMPILES)} executables, "
          f"{sum(s for _, s in COMPILES):.1f} s of XLA compile, {sum(traced.values()):.1f} s of tracing")
    for name, (count, seconds) in sorted(by_name.items(), key=lambda kv: -kv[1][1]):
        if seconds >= 0.05 or name.startswith("jit(xlens"):
            trace = traced.get(name.removeprefix("jit(").removesuffix(")"), 0.0)
            print(f"  {name:44s} compiled {count}x  XLA {seconds:6.2f} s  trace {trace:5.2f} s")
    small = [n for n, s in COMPILES if s < 0.05 and not n.startswith("jit(xlens")]
    print(f"  ... and {len(small)} executables of < 0.05 s each (host-to-device copies and casts of new "
          "shapes, optax's init; compiled once per process, so none in a second run)")
    print(f"likelihood traces per program: {like.traces}; load average {os.getloadavg()[0]:.1f}")


print(f"xlens profile_fit: {platform.machine()} {os.cpu_count()} CPU cores, {jax.default_backend()}, "
      f"JAX {jax.__version__}, persistent cache {'on' if args.cache else 'off'}, {time.strftime('%Y-%m-%d')}, "
      f"load average {os.getloadavg()[0]:.1f}")
for dt in args.dtypes:
    profile(dt)
