"""One-shot GPU benchmark of the default model: throughput, compile time, memory, levers, accuracy.

Prepared to be run once on a machine with one NVIDIA GPU (written for an H200, JAX with CUDA)
in a hard wall-time limit of ~7-8 minutes; the results go to docs/performance.md
("GPU: to be measured"). Command, from the repository root:

    XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 python3 docs/scripts/gpu_benchmark.py --budget 420

What it measures, in priority order (each step is skipped, with the reason printed, when its
estimated time does not fit in what is left of ``--budget`` seconds, counted from the start of
the script including the JAX start-up):

1. ``env``: Python, NumPy, SciPy, JAX/jaxlib versions, ``jax.devices()``, backend, device kind,
   device memory, ``nvidia-smi`` (if present), the time to import JAX and xlens and start the backend.
2. ``default``: ``xlens.Simulator(dtype="float32")`` (the default model, fast path),
   ``sim.sample_batch(keys, overflow="ignore")`` at batch 1024: first call (trace + compile +
   run; the persistent compilation cache is off, ``XLENS_COMPILATION_CACHE=off``), split into
   JAX's trace / lowering / XLA compile durations; steady-state median of 5 calls on fresh keys,
   each blocked on the whole Example; images/s; the device's peak memory (``memory_stats``,
   cumulative over the process) and the compiled program's own memory (``memory_analysis``);
   the number of images whose halo populations overflowed their capacity; non-finite images.
3. ``batches``: the same at batch 64 and 256 (same Simulator, one compile per batch size).
4. ``levers``: at batch 1024, each a fresh Simulator (a new trace): the halo block size
   ``xlens.engine.reduction.HALO_BLOCK_ELEMENTS`` = 2**19 and 2**21 (default 2**17); ``lax.map`` with
   ``batch_size=128`` over the batch (vmap inside chunks) instead of ``vmap``; the fast path's
   window correction off (``xlens.tracer.fast_path.FAST_PATH_CORRECTED = 0``: its cost; it changes the
   accuracy, so it is never chosen as "best"); the opt-in coarsened fast path
   (``FAST_PATH_COARSENING = 2``, ``Simulator.fast_path_coarsening``; also never "best", as it
   changes the accuracy); plain sequential ``lax.map`` (keeps the
   ``lax.cond`` skips of all-padding halo chunks) at batch 128.
5. ``largest``: the best configuration of 2-4 (images/s; not the correction off, not the
   sequential map, whose memory and speed do not grow with the batch) at 2048, 4096, 8192, in order,
   each compiled ahead of time first and its memory need (``memory_analysis``) compared with
   the free device memory; stops at the first that does not fit or runs out of memory.
6. ``accuracy``: for keys 0 and 1, parameters from a float64 Simulator's ``sample_params``,
   imaged (noiseless model image) by the float32 fast path and the float64 brute force
   (``exact=True``) on the GPU, as ``asv_benchmarks/accuracy.py`` does on the CPU: max over
   pixels of ``|fast32 - exact64| / noise_map`` (the noise map of the brute-force call), the
   summed absolute difference over the total flux and the total-flux error.

Output: a line per measurement while running, a summary table at the end, and one JSON object
per measurement (flushed at once, so a run killed part way keeps what it measured) appended to
``$OUT/gpu_results.jsonl`` (``./gpu_results.jsonl`` without ``OUT``); the table also goes to
``gpu_summary.txt`` next to it. Each step is guarded: an error is recorded and the next step runs.
SIGTERM (e.g. from ``timeout``) prints the table of what was measured before exiting.

``--steps`` runs a subset or another order (e.g. ``--steps default,accuracy,largest``). When JAX
starts on the CPU instead of the GPU (CUDA failed to start), only ``env`` runs, unless
``--allow-cpu``. xlens is imported from this checkout (the repository root is put first on
``sys.path``; the ``env`` record names the file).

``--small`` swaps the default model for a tiny one (20 x 20 pixels, 5 x 5 PSF, a few
line-of-sight haloes on 1 plane, no subhaloes) and the batch sizes for 16 (main), 4 and 8,
levers at 16 (chunk 4, sequential at 8, halo blocks 2**10 and 2**12), a largest-batch search
of 32 only and 3 steady calls instead of 5, so that the whole script runs on a CPU in about a
minute or two (it also sets ``XLA_FLAGS=--xla_backend_optimization_level=0`` to halve the
compiles; its numbers mean nothing): ``python docs/scripts/gpu_benchmark.py --small --budget 100``.

The script needs numpy and jax (and xlens's own imports: scipy). When ``array_api_compat``
(an xlens dependency) is not installed, a minimal stand-in module is put in ``sys.modules``
before xlens is imported (recorded as ``array_api_compat_shim`` in the ``env`` record): xlens
uses only ``array_namespace``, ``is_jax_array`` and ``is_jax_namespace`` from it, and the JAX
engine measured here never uses the NumPy namespace it returns for anything but set-up (the
stand-in returns NumPy itself, which has the array API functions from NumPy 2 on). Importing
xlens needs neither zarr, tqdm, xarray nor matplotlib (they are imported where they are used).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

# Before JAX or xlens is imported: no persistent compilation cache (first calls include the
# compile), and no preallocation of 75% of the GPU (so memory_stats shows what is used).
os.environ["XLENS_COMPILATION_CACHE"] = "off"
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

T0 = time.perf_counter()
# xlens from this checkout (docs/scripts/ -> the repository root), ahead of any installed copy
ROOT = Path(__file__).resolve().parents[2]
if (ROOT / "xlens" / "__init__.py").is_file() and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RUN_ID = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
GIB = 2.0**30


class Interrupted(BaseException):
    """SIGTERM / SIGINT: stop measuring, print what was measured."""


def _on_signal(signum, frame):
    raise Interrupted(f"signal {signum}")


def elapsed() -> float:
    return time.perf_counter() - T0


def _install_array_api_compat_shim() -> None:
    """A minimal ``array_api_compat`` (only what xlens.engine calls), for machines without it."""
    import types

    import numpy as np

    mod = types.ModuleType("array_api_compat")
    mod.__version__ = "0+gpu_benchmark_shim"
    mod.numpy = np

    def is_jax_array(x) -> bool:
        if "jax" not in sys.modules:
            return False
        import jax

        return isinstance(x, jax.Array)

    def is_jax_namespace(xp) -> bool:
        return getattr(xp, "__name__", "") in ("jax.numpy", "jax.experimental.array_api")

    def array_namespace(*xs, **_):
        if any(is_jax_array(x) for x in xs):
            import jax.numpy as jnp

            return jnp
        return np

    mod.is_jax_array = is_jax_array
    mod.is_jax_namespace = is_jax_namespace
    mod.array_namespace = array_namespace
    mod.is_numpy_array = lambda x: isinstance(x, np.ndarray | np.generic)
    sys.modules["array_api_compat"] = mod


# ----------------------------------------------------------------------------- set-up


class Plan:
    """Batch sizes and model of the run (full GPU run or --small CPU check)."""

    def __init__(self, small: bool):
        self.small = small
        if small:
            self.main_batch, self.batches, self.chunk, self.seq_batch = 16, (4, 8), 4, 8
            self.blocks, self.large = (2**10, 2**12), (32,)
        else:
            self.main_batch, self.batches, self.chunk, self.seq_batch = 1024, (64, 256), 128, 128
            self.blocks, self.large = (2**19, 2**21), (2048, 4096, 8192)
        self.repeats, self.large_repeats = (3, 2) if small else (5, 3)

    def config(self):
        """The SimulatorConfig (None: the default model)."""
        if not self.small:
            return None
        import xlens
        from xlens.halos import LineOfSightConfig

        # line-of-sight haloes only (the chunked halo sums, the fast path's correction and the sheets
        # of the default model; subhaloes would add the same code once more and double the compile)
        return xlens.SimulatorConfig(
            shape_native=(20, 20), psf_shape=(5, 5), sub_size=4, subhalos=None,
            line_of_sight=LineOfSightConfig(n_planes=1, cone_radius=3.0, m_min=1e9, m_max=1e10),
        )


@contextlib.contextmanager
def lever(halo_block=None, map_kind=None, map_batch_size=None, corrected=None, coarsening=None):
    """Set trace-time switches of xlens for one configuration; restore them afterwards.

    BENCHMARK-ONLY PATCH of private/module-level names: ``xlens.engine.batching._local_map`` (how
    ``map_batch`` maps over the batch on one device: ``vmap`` on accelerators) is replaced by
    ``lax.map`` (optionally with ``batch_size``: vmap inside chunks of the map). These names are
    read when a Simulator's batch function is first traced, so each configuration uses a fresh
    Simulator (or a new batch shape) inside this context.
    """
    import xlens.engine.batching as eng
    import xlens.engine.reduction as reduction
    import xlens.tracer.fast_path as tracer

    saved = (reduction.HALO_BLOCK_ELEMENTS, eng._local_map, tracer.FAST_PATH_CORRECTED, tracer.FAST_PATH_COARSENING)
    try:
        if halo_block is not None:
            reduction.HALO_BLOCK_ELEMENTS = int(halo_block)
        if map_kind == "lax.map":
            bs = None if map_batch_size is None else int(map_batch_size)

            def _lax_map(fn, jax, platform):
                return lambda *args: jax.lax.map(lambda a: fn(*a), args, batch_size=bs)

            eng._local_map = _lax_map
        elif map_kind == "vmap":
            eng._local_map = lambda fn, jax, platform: jax.vmap(fn)
        if corrected is not None:
            tracer.FAST_PATH_CORRECTED = int(corrected)
        if coarsening is not None:
            tracer.FAST_PATH_COARSENING = int(coarsening)
        yield
    finally:
        (reduction.HALO_BLOCK_ELEMENTS, eng._local_map, tracer.FAST_PATH_CORRECTED,
         tracer.FAST_PATH_COARSENING) = saved


def _err(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 3000 else text[:1500] + " [...] " + text[-1500:]


def _is_oom(exc: BaseException) -> bool:
    text = str(exc)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if n == 0 else (xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2]))


# ----------------------------------------------------------------------------- benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.plan = Plan(args.small)
        if args.blocks:  # e.g. --blocks 15,16: the halo-block sizes (log2) tried as levers
            self.plan.blocks = tuple(2 ** int(v) for v in args.blocks.split(","))
        out_dir = os.environ.get("OUT") or "."
        os.makedirs(out_dir, exist_ok=True)
        self.path = os.path.join(out_dir, "gpu_results.jsonl")
        self.summary_path = os.path.join(out_dir, "gpu_summary.txt")
        self.records: list[dict] = []
        self.compile_events: dict[str, float] = {}
        self.compile_times: list[float] = []  # first call minus a steady call, every measurement so far
        self.steady_s = None  # steady call at the main batch
        self.aot_shared = True  # does jitted.lower().compile() reuse the jit's executable?
        self.sims: dict[str, object] = {}  # label -> Simulator (to reuse the best one)
        self.candidates: list[tuple[float, str, dict]] = []  # (images/s, label, lever kwargs)
        self.jax = None

    # -- output
    def emit(self, rec: dict) -> dict:
        rec = {"run_id": RUN_ID, "t_s": round(elapsed(), 3), **rec}
        self.records.append(rec)
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(rec, default=str) + "\n")
                f.flush()
        except OSError as exc:  # pragma: no cover - read-only folder: keep printing
            print(f"# could not write {self.path}: {exc}", flush=True)
        return rec

    def remaining(self) -> float:
        return self.args.budget - elapsed()

    def fits(self, step: str, label: str, est: float) -> bool:
        left = self.remaining()
        if est <= left:
            print(f"[{elapsed():6.1f}s] {step}/{label}: estimated {est:.0f} s, {left:.0f} s left: run", flush=True)
            return True
        reason = f"estimated {est:.0f} s > {left:.0f} s left of the {self.args.budget:.0f} s budget"
        print(f"[{elapsed():6.1f}s] {step}/{label}: SKIPPED ({reason})", flush=True)
        self.emit({"step": step, "label": label, "status": "skipped", "reason": reason})
        return False

    # -- estimates (seconds) from what was measured so far
    def est_compile(self) -> float:
        if not self.compile_times:  # nothing measured yet: a guess
            return 15.0 if self.args.small else 60.0
        return 1.1 * sum(self.compile_times) / len(self.compile_times)

    def est_call(self, batch: int) -> float:
        per_image = (self.steady_s / self.plan.main_batch) if self.steady_s is not None else 2e-3
        return per_image * batch

    # -- device memory
    def mem(self) -> dict:
        try:
            stats = self.jax.devices()[0].memory_stats()
        except Exception:  # noqa: BLE001 - backends without memory stats
            stats = None
        if not stats:
            return {}
        keys = ("bytes_in_use", "peak_bytes_in_use", "bytes_limit", "largest_alloc_size")
        return {k: int(stats[k]) for k in keys if k in stats}

    def program_memory(self, sim, keys) -> dict:
        """memory_analysis() of the compiled batch program (reuses the jit's executable)."""
        if not self.aot_shared:
            return {}
        try:
            fn = sim._jit_cache["sample_batch"]  # private: the jitted batch function of the Simulator
            t0 = time.perf_counter()
            compiled = fn.lower(keys).compile()
            dt = time.perf_counter() - t0
            if dt > 2.0:  # it compiled again: do not pay that for the next configurations
                self.aot_shared = False
            ma = compiled.memory_analysis()
            out = {"program_lookup_s": round(dt, 3)}
            for k in ("temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes",
                      "generated_code_size_in_bytes"):
                v = getattr(ma, k, None)
                if v is not None:
                    out[k] = int(v)
            return out
        except Exception as exc:  # noqa: BLE001
            return {"program_memory_error": _err(exc)}

    # -- keys
    def keys(self, seed: int, n: int):
        jax = self.jax
        k = jax.random.split(jax.random.key(seed), n)
        return jax.block_until_ready(k)

    def _compile_listener(self, event: str, duration: float, **kwargs) -> None:
        if event.startswith("/jax/core/compile/"):
            name = event.rsplit("/", 1)[-1].removesuffix("_duration")
            self.compile_events[name] = self.compile_events.get(name, 0.0) + float(duration)

    # -- one measurement: first call and steady state of sim.sample_batch
    def measure(self, step: str, label: str, sim, batch: int, kw: dict, repeats: int, seed: int,
                precompile: bool = False) -> dict:
        jax = self.jax
        rec = {"step": step, "label": label, "batch": batch, "config": kw or "default", "status": "ok"}
        gc.collect()
        t_step = time.perf_counter()
        try:
            with lever(**kw):
                keys = self.keys(seed, batch)
                rec["mem_before"] = self.mem()
                self.compile_events.clear()
                if precompile and self.aot_shared and "sample_batch" in getattr(sim, "_jit_cache", {}):
                    # ahead-of-time compile at the new shape, then check that it fits in memory
                    t0 = time.perf_counter()
                    compiled = sim._jit_cache["sample_batch"].lower(keys).compile()
                    rec["aot_compile_s"] = round(time.perf_counter() - t0, 3)
                    ma = compiled.memory_analysis()
                    need = sum(int(getattr(ma, k, 0) or 0) for k in
                               ("temp_size_in_bytes", "argument_size_in_bytes", "output_size_in_bytes"))
                    rec["program_bytes_needed"] = need
                    m = self.mem()
                    if m.get("bytes_limit"):
                        free = m["bytes_limit"] - m.get("bytes_in_use", 0)
                        rec["bytes_free"] = free
                        if need > 0.95 * free:
                            rec["status"] = "does_not_fit"
                            rec["reason"] = f"needs {need / GIB:.1f} GiB, {free / GIB:.1f} GiB free"
                            return rec
                t0 = time.perf_counter()
                ex = sim.sample_batch(keys, overflow="ignore")
                jax.block_until_ready(ex)
                rec["first_exec_s"] = round(time.perf_counter() - t0, 3)
                # first call: trace + compile + run (with the ahead-of-time compile when there was one)
                rec["first_call_s"] = round(rec["first_exec_s"] + rec.get("aot_compile_s", 0.0), 3)
                rec["compile_events_s"] = {k: round(v, 3) for k, v in self.compile_events.items()}
                rec.update(self._inspect(ex, batch))
                del ex
                times = []
                for i in range(repeats):
                    if times and self.remaining() < 1.5 * max(times) + 5:
                        rec["steady_cut_short"] = f"{i} of {repeats} calls (budget)"
                        break
                    keys = self.keys(seed + 1 + i, batch)
                    t0 = time.perf_counter()
                    ex = sim.sample_batch(keys, overflow="ignore")
                    jax.block_until_ready(ex)
                    times.append(time.perf_counter() - t0)
                    del ex
                rec["steady_s"] = [round(t, 4) for t in times]
                med = _median(times)
                self.compile_times.append(rec["first_call_s"] - (med or 0.0))
                if med:
                    rec["steady_median_s"] = round(med, 4)
                    rec["images_per_s"] = round(batch / med, 1)
                    rec["ms_per_image"] = round(1e3 * med / batch, 4)
                if not precompile:
                    rec.update(self.program_memory(sim, keys))
                rec["mem_after"] = self.mem()
                if "peak_bytes_in_use" in rec["mem_after"]:
                    # the device's peak is cumulative over the process: did this configuration raise it?
                    rec["peak_raised_here"] = (rec["mem_after"]["peak_bytes_in_use"]
                                               > rec["mem_before"].get("peak_bytes_in_use", 0))
        except Interrupted:
            rec["status"] = "interrupted"
            raise
        except Exception as exc:  # noqa: BLE001 - record and continue
            rec["status"] = "oom" if _is_oom(exc) else "error"
            rec["error"] = _err(exc)
            rec["traceback_tail"] = traceback.format_exc()[-1500:]
        finally:
            rec["wall_s"] = round(time.perf_counter() - t_step, 3)
            self.emit(rec)
            self._print(rec)
        return rec

    def _inspect(self, ex, batch: int) -> dict:
        """Overflow count, haloes per image, non-finite images (outside the timings)."""
        import numpy as np

        out = {}
        try:
            info = ex.info
            flags = [np.asarray(v.overflow).reshape(batch, -1).any(axis=1) for v in info.values()]
            out["overflow_images"] = int(np.any(np.stack(flags), axis=0).sum()) if flags else 0
            kept = [np.asarray(v.n_kept).reshape(batch, -1).sum(axis=1) for v in info.values()]
            if kept:
                n = np.sum(np.stack(kept), axis=0)
                out["haloes_per_image_mean"] = round(float(n.mean()), 1)
                out["haloes_per_image_max"] = int(n.max())
            data = np.asarray(ex.data)
            out["nonfinite_images"] = int((~np.isfinite(data.reshape(batch, -1)).all(axis=1)).sum())
            out["data_shape"] = list(data.shape)
            out["data_dtype"] = str(data.dtype)
        except Exception as exc:  # noqa: BLE001
            out["inspect_error"] = _err(exc)
        return out

    def _print(self, rec: dict) -> None:
        parts = [f"[{elapsed():6.1f}s] {rec['step']}/{rec['label']} batch {rec.get('batch')}: {rec['status']}"]
        if "first_call_s" in rec:
            parts.append(f"first call {rec['first_call_s']:.1f} s")
        if rec.get("compile_events_s"):
            parts.append("(" + ", ".join(f"{k} {v:.1f}" for k, v in rec["compile_events_s"].items()) + ")")
        if "steady_median_s" in rec:
            parts.append(f"steady {rec['steady_median_s']:.3f} s = {rec['images_per_s']:.0f} images/s")
        peak = rec.get("mem_after", {}).get("peak_bytes_in_use")
        if peak:
            parts.append(f"peak {peak / GIB:.2f} GiB")
        if "temp_size_in_bytes" in rec:
            parts.append(f"program temp {rec['temp_size_in_bytes'] / GIB:.2f} GiB")
        if "overflow_images" in rec:
            parts.append(f"overflow {rec['overflow_images']}")
        if rec.get("nonfinite_images"):
            parts.append(f"NON-FINITE {rec['nonfinite_images']}")
        if "reason" in rec:
            parts.append(rec["reason"])
        if "error" in rec:
            parts.append(rec["error"][:400])
        print(", ".join(parts), flush=True)

    # ------------------------------------------------------------------------- steps
    def step_env(self) -> None:
        rec = {"step": "env", "label": "environment", "status": "ok"}
        t0 = time.perf_counter()
        try:
            import numpy as np

            rec["python"] = platform.python_version()
            rec["machine"] = platform.machine()
            rec["cpu_count"] = os.cpu_count()
            rec["numpy"] = np.__version__
            rec["small"] = self.args.small
            rec["budget_s"] = self.args.budget
            rec["env_vars"] = {k: os.environ.get(k) for k in ("XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_FLAGS",
                                                              "XLENS_COMPILATION_CACHE", "CUDA_VISIBLE_DEVICES")}
            try:
                import scipy

                rec["scipy"] = scipy.__version__
            except ImportError:
                rec["scipy"] = None
            try:
                if self.args.force_shim:
                    raise ImportError("--force-shim")
                import array_api_compat

                rec["array_api_compat"] = array_api_compat.__version__
                rec["array_api_compat_shim"] = False
            except ImportError:
                _install_array_api_compat_shim()
                rec["array_api_compat_shim"] = True
            t1 = time.perf_counter()
            import jax
            import jaxlib

            self.jax = jax
            rec["import_jax_s"] = round(time.perf_counter() - t1, 3)
            with contextlib.suppress(Exception):
                jax.config.update("jax_enable_compilation_cache", False)
            t1 = time.perf_counter()
            devices = jax.devices()
            rec["backend_init_s"] = round(time.perf_counter() - t1, 3)
            rec["jax"] = jax.__version__
            rec["jaxlib"] = jaxlib.__version__
            rec["backend"] = jax.default_backend()
            rec["devices"] = [str(d) for d in devices]
            rec["device_kind"] = devices[0].device_kind
            rec["device_count"] = len(devices)
            rec["mem"] = self.mem()
            t1 = time.perf_counter()
            import xlens

            rec["import_xlens_s"] = round(time.perf_counter() - t1, 3)
            rec["xlens"] = getattr(xlens, "__version__", None)
            rec["xlens_file"] = getattr(xlens, "__file__", None)
            rec["x64"] = bool(jax.config.jax_enable_x64)
            rec["halo_block_default"] = xlens.engine.reduction.HALO_BLOCK_ELEMENTS
            with contextlib.suppress(Exception):
                rec["compilation_cache_dir"] = xlens.engine.compilation_cache_dir()
            try:
                rec["git"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, cwd=ROOT,
                                            text=True, timeout=10).stdout.strip()
            except Exception:  # noqa: BLE001
                rec["git"] = None
            try:
                smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                                      "--format=csv,noheader"], capture_output=True, text=True, timeout=15)
                rec["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
            except Exception as exc:  # noqa: BLE001
                rec["nvidia_smi"] = f"unavailable ({type(exc).__name__})"
            with contextlib.suppress(Exception):
                rec["jax_environment_info"] = jax.print_environment_info(return_string=True)
            # durations of JAX's trace, lowering and XLA compile of each first call
            jax.monitoring.register_event_duration_secs_listener(self._compile_listener)
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001
            rec["status"] = "error"
            rec["error"] = _err(exc)
            rec["traceback_tail"] = traceback.format_exc()[-1500:]
        rec["wall_s"] = round(time.perf_counter() - t0, 3)
        self.emit(rec)
        keys = ("python", "numpy", "scipy", "jax", "jaxlib", "backend", "device_kind", "devices", "mem",
                "array_api_compat_shim", "import_jax_s", "backend_init_s", "import_xlens_s", "xlens_file", "nvidia_smi",
                "git")
        for k in keys:
            if k in rec:
                print(f"  {k}: {rec[k]}", flush=True)
        if rec["status"] != "ok":
            print(f"  ERROR: {rec['error']}", flush=True)

    def _simulator(self, dtype="float32", exact=False):
        import xlens

        return xlens.Simulator(self.plan.config(), dtype=dtype, exact=exact)

    def step_default(self) -> None:
        b = self.plan.main_batch
        sim = self._simulator()
        self.sims["default"] = sim
        rec = self.measure("default", "default", sim, b, {}, self.plan.repeats, seed=0)
        if rec.get("steady_median_s"):
            self.steady_s = rec["steady_median_s"]
            self.candidates.append((rec["images_per_s"], "default", {}))

    def step_batches(self) -> None:
        sim = self.sims.get("default") or self._simulator()
        self.sims.setdefault("default", sim)
        for b in self.plan.batches:
            est = self.est_compile() + (1 + self.plan.repeats) * self.est_call(b) + 5
            if not self.fits("batches", f"batch {b}", est):
                continue
            self.measure("batches", "default", sim, b, {}, self.plan.repeats, seed=1000 * b)

    def levers(self) -> list[tuple[str, dict, int, bool]]:
        """(label, lever kwargs, batch, may be chosen as best)."""
        p = self.plan
        out = [(f"halo block 2**{int(math.log2(blk))}", {"halo_block": blk}, p.main_batch, True) for blk in p.blocks]
        if self.args.only_blocks:
            return out
        out.append((f"lax.map batch_size={p.chunk}", {"map_kind": "lax.map", "map_batch_size": p.chunk},
                    p.main_batch, True))
        out.append(("window correction off (changes accuracy)", {"corrected": 0}, p.main_batch, False))
        out.append(("coarsening 2 (opt-in; changes accuracy)", {"coarsening": 2}, p.main_batch, False))
        # sequential: its memory and images/s do not grow with the batch, so it is not a candidate for step 5
        out.append(("lax.map sequential", {"map_kind": "lax.map"}, p.seq_batch, False))
        return out

    def step_levers(self) -> None:
        for label, kw, b, eligible in self.levers():
            est = self.est_compile() + (1 + self.plan.repeats) * self.est_call(b) * (3 if "sequential" in label else 1)
            if not self.fits("levers", label, est + 5):
                continue
            try:
                sim = self._simulator()
            except Exception as exc:  # noqa: BLE001
                self.emit({"step": "levers", "label": label, "status": "error", "error": _err(exc)})
                continue
            rec = self.measure("levers", label, sim, b, kw, self.plan.repeats, seed=100 + len(self.sims))
            self.sims[label] = sim
            if eligible and rec.get("images_per_s"):
                self.candidates.append((rec["images_per_s"], label, kw))

    def step_largest(self) -> None:
        if self.candidates:
            ips, label, kw = max(self.candidates, key=lambda c: c[0])
            sim = self.sims[label]
        else:
            ips, label, kw, sim = None, "default", {}, self.sims.get("default") or self._simulator()
        print(f"[{elapsed():6.1f}s] largest: best configuration so far: {label} ({ips} images/s)", flush=True)
        self.emit({"step": "largest", "label": "best configuration", "status": "ok", "best": label,
                   "config": kw or "default", "images_per_s": ips})
        for b in self.plan.large:
            call = b / ips if ips else self.est_call(b)
            est = self.est_compile() + (1 + self.plan.large_repeats) * call + 5
            if not self.fits("largest", f"{label} batch {b}", est):
                break
            rec = self.measure("largest", label, sim, b, kw, self.plan.large_repeats,
                               seed=10_000 + b, precompile=True)
            if rec["status"] != "ok":
                print(f"[{elapsed():6.1f}s] largest: stopped at batch {b} ({rec['status']})", flush=True)
                break

    def step_accuracy(self) -> None:
        import numpy as np

        import xlens

        jax = self.jax
        t_step = time.perf_counter()
        sims = {"exact64": self._simulator("float64", exact=True), "fast32": self._simulator("float32")}
        draw_sim = self._simulator("float64")
        noise_key = jax.random.key(7)

        def forward(sim):
            # the noiseless model image and noise map, without the diagnostics' extra outputs
            # (as asv_benchmarks/accuracy.py); Simulator.diagnostics gives the same two arrays
            return xlens.engine.jit(lambda p: sim.forward(p, noise_key), "jax")

        fns = {name: forward(sim) for name, sim in sims.items()}
        draw = xlens.engine.jit(draw_sim.sample_params, "jax")
        first = {}
        for i in (0, 1):
            rec = {"step": "accuracy", "label": f"realisation key {i}", "status": "ok"}
            t0 = time.perf_counter()
            try:
                params, info = draw(jax.random.key(i))
                rec["haloes"] = int(sum(int(np.sum(np.asarray(v.n_kept))) for v in info.values()))
                rec["overflow"] = bool(any(bool(np.any(np.asarray(v.overflow))) for v in info.values()))
                out = {}
                for name in ("exact64", "fast32"):
                    t1 = time.perf_counter()
                    res = jax.block_until_ready(fns[name](params))
                    dt = time.perf_counter() - t1
                    rec[f"{name}_call_s"] = round(dt, 3)
                    if name not in first:
                        first[name] = dt
                    out[name] = res
                ref = np.asarray(out["exact64"]["model_image"], dtype=np.float64)
                sigma = np.asarray(out["exact64"]["noise_map"], dtype=np.float64)
                fast = np.asarray(out["fast32"]["model_image"], dtype=np.float64)
                d = np.abs(fast - ref)
                rec["fast32_dtype"] = str(out["fast32"]["model_image"].dtype)
                rec["max_abs_diff_over_sigma"] = float(np.max(d / sigma))
                rec["sum_abs_diff_over_flux"] = float(d.sum() / ref.sum())
                rec["flux_rel_error"] = float(abs(fast.sum() - ref.sum()) / ref.sum())
                rec["nonfinite_fast32"] = int((~np.isfinite(fast)).sum())
                rec["target_max_over_sigma"] = 0.01
                rec["target_flux"] = 1e-3
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001
                rec["status"] = "oom" if _is_oom(exc) else "error"
                rec["error"] = _err(exc)
                rec["traceback_tail"] = traceback.format_exc()[-1500:]
            rec["wall_s"] = round(time.perf_counter() - t0, 3)
            self.emit(rec)
            if rec["status"] == "ok":
                print(f"[{elapsed():6.1f}s] accuracy key {i} ({rec['haloes']} haloes): max|fast32 - exact64|/sigma "
                      f"= {rec['max_abs_diff_over_sigma']:.2e}, sum|d|/flux = {rec['sum_abs_diff_over_flux']:.2e}, "
                      f"flux error = {rec['flux_rel_error']:.2e} (calls: exact64 {rec['exact64_call_s']:.1f} s, "
                      f"fast32 {rec['fast32_call_s']:.1f} s)", flush=True)
            else:
                print(f"[{elapsed():6.1f}s] accuracy key {i}: {rec['status']}: {rec['error'][:400]}", flush=True)
                break
        self.emit({"step": "accuracy", "label": "first calls incl. compile", "status": "ok",
                   "first_call_s": {k: round(v, 3) for k, v in first.items()},
                   "wall_s": round(time.perf_counter() - t_step, 3)})

    # ------------------------------------------------------------------------- driver
    def run_step(self, name: str) -> None:
        fn = getattr(self, f"step_{name}")
        reason = None
        if name != "env" and self.jax is None:
            reason = "JAX did not start"
        elif (name != "env" and not self.args.small and not self.args.allow_cpu
              and self.jax.default_backend() == "cpu"):
            # JAX falls back to the CPU when CUDA does not start: a batch of 1024 would take ~7 minutes
            reason = "JAX runs on the CPU, not a GPU (see the env record); --allow-cpu to run anyway"
        if reason:
            print(f"[{elapsed():6.1f}s] {name}: SKIPPED ({reason})", flush=True)
            self.emit({"step": name, "label": name, "status": "skipped", "reason": reason})
            return
        # default always runs; batches, levers and largest check each measurement on its own;
        # accuracy: a parameter draw and two single-image compiles (the brute force is the larger)
        if name == "accuracy" and not self.fits(name, name, 2.0 * self.est_compile() + 5):
            return
        print(f"\n=== {name} [{elapsed():.1f} s elapsed, {self.remaining():.0f} s left] ===", flush=True)
        t0 = time.perf_counter()
        try:
            fn()
            status, error = "done", None
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - a step never stops the script
            status, error = ("oom" if _is_oom(exc) else "error"), _err(exc)
            print(f"[{elapsed():6.1f}s] {name}: {status}: {error[:600]}", flush=True)
        rec = {"step": name, "label": "step wall time", "status": status, "wall_s": round(time.perf_counter() - t0, 3)}
        if error:
            rec["error"] = error
            rec["traceback_tail"] = traceback.format_exc()[-1500:]
        self.emit(rec)

    def summary(self) -> str:
        lines = [f"# gpu_benchmark {RUN_ID}: {elapsed():.1f} s, budget {self.args.budget:.0f} s, "
                 f"results in {self.path}"]
        env = next((r for r in self.records if r["step"] == "env"), {})
        lines.append(f"# jax {env.get('jax')} jaxlib {env.get('jaxlib')}, backend {env.get('backend')}, "
                     f"{env.get('device_kind')} x{env.get('device_count')}, python {env.get('python')}, "
                     f"numpy {env.get('numpy')}, array_api_compat shim {env.get('array_api_compat_shim')}"
                     f"{', SMALL model' if self.args.small else ''}")
        head = ("| step | configuration | batch | first call [s] | trace / lower / compile [s] | steady [s] "
                "| images/s | process peak mem [GiB] | program temp [GiB] | overflow | status |")
        lines += [head, "|" + "---|" * 11]
        for r in self.records:
            if r["step"] in ("env", "accuracy") or r.get("label") in ("step wall time", "best configuration"):
                continue
            ev = r.get("compile_events_s") or {}
            split = " / ".join(f"{ev[k]:.1f}" if k in ev else "-" for k in
                               ("jaxpr_trace", "jaxpr_to_mlir_module", "backend_compile")) if ev else "-"
            peak = r.get("mem_after", {}).get("peak_bytes_in_use")
            temp = r.get("temp_size_in_bytes", r.get("program_bytes_needed"))
            status = r["status"] + (f" ({r['reason']})" if r.get("reason") else "") + (
                f" ({r['error'][:80]})" if r.get("error") else "")
            if r.get("steady_cut_short"):
                status += f" (steady: {r['steady_cut_short']})"
            lines.append(
                f"| {r['step']} | {r['label']} | {r.get('batch', '-')} | {_fmt(r.get('first_call_s'), 1)} | {split} "
                f"| {_fmt(r.get('steady_median_s'), 3)} | {_fmt(r.get('images_per_s'), 0)} "
                f"| {_fmt(peak / GIB if peak else None, 2)} | {_fmt(temp / GIB if temp else None, 2)} "
                f"| {r.get('overflow_images', '-')} | {status} |")
        acc = [r for r in self.records if r["step"] == "accuracy" and r["label"].startswith("realisation")]
        if acc:
            lines += ["", "| accuracy | haloes | max\\|fast32 - exact64\\|/sigma | sum\\|d\\|/flux | flux error "
                      "| exact64 call [s] | fast32 call [s] | status |", "|" + "---|" * 8]
            for r in acc:
                lines.append(f"| {r['label']} | {r.get('haloes', '-')} | {_fmt(r.get('max_abs_diff_over_sigma'), 'e')} "
                             f"| {_fmt(r.get('sum_abs_diff_over_flux'), 'e')} | {_fmt(r.get('flux_rel_error'), 'e')} "
                             f"| {_fmt(r.get('exact64_call_s'), 1)} | {_fmt(r.get('fast32_call_s'), 1)} "
                             f"| {r['status']}{' (' + r['error'][:80] + ')' if r.get('error') else ''} |")
        steps = [r for r in self.records if r.get("label") == "step wall time"]
        if steps:
            lines.append("")
            lines.append("step wall times: " + ", ".join(f"{r['step']} {r['wall_s']:.1f} s ({r['status']})"
                                                          for r in steps))
        skipped = [f"{r['step']}/{r['label']}" for r in self.records if r["status"] == "skipped"]
        if skipped:
            lines.append("skipped: " + "; ".join(skipped))
        return "\n".join(lines)


def _fmt(v, digits) -> str:
    if v is None:
        return "-"
    if digits == "e":
        return f"{v:.2e}"
    return f"{v:.{digits}f}"


STEPS = ("env", "default", "batches", "levers", "largest", "accuracy")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=420.0,
                        help="seconds for the whole script, from its start (default 420)")
    parser.add_argument("--blocks", default="", help="halo-block sizes to try as levers, as log2 (e.g. 15,16)")
    parser.add_argument("--only-blocks", action="store_true", help="levers: the halo-block sizes only")
    parser.add_argument("--small", action="store_true", help="tiny model and batches: a quick check on a CPU")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"comma-separated steps in the order to run (default {','.join(STEPS)}); env always runs")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run the full-size steps even when JAX has no GPU (slow: for testing only)")
    parser.add_argument("--force-shim", action="store_true",
                        help="use the stand-in array_api_compat even if the package is installed (testing)")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown steps {unknown}; choose from {STEPS}")
    if "env" in steps:
        steps.remove("env")
    steps.insert(0, "env")

    if args.small and "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
        # a smoke test of the script on a (shared) CPU: halve XLA's compile times (JAX is not imported yet)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0").strip()
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    bench = Bench(args)
    print(f"# gpu_benchmark {RUN_ID}: budget {args.budget:.0f} s, steps {steps}, results -> {bench.path}",
          flush=True)
    code = 0
    try:
        for name in steps:
            bench.run_step(name)
    except Interrupted as exc:
        print(f"\n# INTERRUPTED ({exc}) at {elapsed():.1f} s: summary of what was measured", flush=True)
        bench.emit({"step": "run", "label": "interrupted", "status": "interrupted", "reason": str(exc)})
        code = 143
    except BaseException as exc:  # noqa: BLE001 - last resort: still print the table
        bench.emit({"step": "run", "label": "crashed", "status": "error", "error": _err(exc)})
        code = 1
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    table = bench.summary()
    print("\n" + table, flush=True)
    with contextlib.suppress(OSError), open(bench.summary_path, "a") as f:
        f.write(table + "\n\n")
    bench.emit({"step": "run", "label": "end", "status": "done" if code == 0 else "stopped",
                "wall_s": round(elapsed(), 3)})
    return code


if __name__ == "__main__":
    sys.exit(main())
