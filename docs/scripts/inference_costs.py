"""Cost of a converged posterior per inference backend on the default model (free macro parameters).

Run: ``python docs/scripts/inference_costs.py [--backends map laplace ...] [--dtype float32]
[--tiny] [--out costs.jsonl] [--mode-file mode.json]`` (``--help`` lists the budgets).

The problem is the model of ``docs/scripts/profile_fit.py``: ``Simulator(engine="jax",
dtype=...)`` (fast path), one prior draw (seed 0) with its ~23 subhaloes and ~1000
line-of-sight haloes fixed, the 15 macro parameters free, data simulated at that truth
(key 1). ``--tiny`` swaps in a 20 x 20 model without haloes (the same 15 free
parameters) so that the whole script runs in seconds (the smoke test does this).

For each backend it reports the wall time, the part of it spent tracing and compiling
(summed from JAX's monitoring events, as ``profile_fit.py`` counts them; the rest is
"run" time), and the backend's convergence diagnostics:

=================  ========================================================================
``map``            ``fit_map`` (Adam then damped Newton, Hessian by columns) from a start
                   offset by 5% of each prior width from the truth; converged when the
                   Newton decrement ``g^T (-H)^-1 g / 2`` at the end point is < 0.01 nats.
``laplace``        ``laplace`` at the MAP (``chunk`` columns at a time); converged when -H
                   is positive definite. Writes the mode and covariance to ``--mode-file``,
                   which the samplers below read (their starting point and mass matrix).
``pathfinder``     blackjax's Pathfinder from the same start as ``map`` (``--pathfinder-whiten``:
                   L-BFGS in coordinates whitened by the Laplace covariance); a Gaussian,
                   so converged as ``variational``: its ELBO (``--pathfinder-elbo-draws``
                   fresh draws) not below the Laplace Gaussian's by more than 2 standard
                   errors (before 2026-12-07 evening, and with ``--pathfinder-elbo-draws
                   0``: mean within 0.3 sd and sds within 30% of the Laplace ones).
``nuts_blackjax``  the documented blackjax recipe (``window_adaptation`` + ``nuts`` in one
                   compiled program) in whitened unconstrained coordinates ``w``:
                   ``z = logit(u) = z_MAP + L w`` (``u`` the prior's unit cube, ``L L^T``
                   the Laplace covariance mapped to ``z``), started at ``w = 0`` with the
                   identity as the initial dense inverse mass matrix, each window's
                   estimate shrunk to it with a pseudo-count
                   (``--blackjax-shrinkage``): with Stan's windows alone, 30 warm-up steps
                   estimate a singular 15 x 15 matrix. In theta itself Stan's
                   regularisation (+ 1e-3 identity, weighted) swamps the posterior's
                   ~1e-8 smallest variances and every step diverges.
``nuts_numpyro``   ``nuts_numpyro`` at the MAP, dense mass matrix = the Laplace covariance
                   (mapped to the unconstrained coordinates), step size adapted only
                   (``--numpyro-adapt-mass`` also adapts the matrix).
``variational``    ``variational`` (full-covariance Gaussian, whitened by the Laplace
                   covariance) at the MAP, ``--vi-estimator`` ``elbo`` (numpyro's
                   Trace_ELBO) or ``stl`` (sticking the landing); converged = the
                   ELBO's last-10% mean within its noise of the previous 10%, and the
                   fitted guide's ELBO (``--vi-elbo-draws`` fresh draws) not below the
                   Laplace Gaussian's by more than 2 standard errors. Its moments are
                   compared with Laplace's as for Pathfinder but not required to agree:
                   VI's Gaussian minimises KL(q || p), which is narrower than the
                   posterior where the posterior is not Gaussian.
``nested``         ``nested`` (dynesty) with ``--nlive`` live points and a ``--maxcall``
                   cap; converged only if it stopped on ``dlogz`` before the cap. With
                   ``--nested-repartition`` it draws from a Student-t (``--nested-dof``)
                   around the Laplace Gaussian widened by ``--nested-widen`` and weighs by
                   ``L pi / pi'`` (needs the mode, like the samplers above).
=================  ========================================================================

Samplers are converged when they have no divergence, every split-R-hat (one chain split in
two halves, numpyro's ``split_gelman_rubin``) is < 1.05 and the smallest effective sample
size over the parameters (numpyro's ``effective_sample_size``) is >= 50; effective samples
per second = min ESS / run time (warm-up included, compile excluded). Sampler rows list
``divergent_draws``, the indices of the kept draws whose trajectory diverged.

It also times ``like(theta)`` and ``like.value_and_grad(theta)`` (median of ``--repeat``
steady calls; the ratio should be <= 4), and checks that plots reuse the compiled programs:
``like.diagnostics`` twice after the fits must compile nothing that contains the model.

Results go to stdout and, one JSON object per line, to ``--out``. Each process pays its
own compiles; ``--cache DIR`` keeps JAX's persistent compilation cache in DIR (off by
default, so compile times are those of a fresh cache).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import platform
import statistics
import sys
import time

BACKENDS = ("map", "laplace", "pathfinder", "nuts_blackjax", "nuts_numpyro", "variational", "nested")


def parse(argv=None) -> argparse.Namespace:
    """The command line (``argv`` for tests); budgets are per backend."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--tiny", action="store_true", help="a 20 x 20 model without haloes (seconds)")
    p.add_argument("--out", help="append one JSON line per backend here")
    p.add_argument("--mode-file", help="write (map, laplace) / read (others) the mode and covariance here")
    p.add_argument("--cache", help="persistent compilation cache directory (default: off)")
    p.add_argument("--repeat", type=int, default=5, help="steady calls per cost timing (median)")
    p.add_argument("--no-costs", action="store_true", help="skip the forward / value-and-grad timing")
    p.add_argument("--seed", type=int, default=0, help="prior draw of the truth")
    p.add_argument("--start-offset", type=float, default=0.05, help="start = truth + this x prior width")
    p.add_argument("--map-steps", type=int, default=100)
    p.add_argument("--map-lr", type=float, default=5e-3)
    p.add_argument("--newton-steps", type=int, default=4)
    p.add_argument("--hessian-chunk", type=int, default=1, help="Hessian columns at a time (map, laplace)")
    p.add_argument("--pathfinder-maxiter", type=int, default=60)
    p.add_argument("--pathfinder-elbo", type=int, default=8, help="ELBO draws per L-BFGS iterate")
    p.add_argument("--pathfinder-maxcor", type=int, default=10, help="L-BFGS history length (pairs)")
    p.add_argument("--pathfinder-whiten", action="store_true",
                   help="pathfinder: L-BFGS in coordinates whitened by the Laplace covariance (needs the mode)")
    p.add_argument("--pathfinder-elbo-draws", type=int, default=128,
                   help="pathfinder: fresh draws for its Gaussian's ELBO and the Laplace Gaussian's (0: neither)")
    p.add_argument("--warmup", type=int, default=60, help="NUTS warm-up steps (both libraries)")
    p.add_argument("--samples", type=int, default=120, help="NUTS kept draws (both libraries)")
    p.add_argument("--max-tree-depth", type=int, default=6)
    p.add_argument("--sampler-seed", type=int, default=1,
                   help="the NUTS backends' random key (a second chain: another seed)")
    p.add_argument("--numpyro-adapt-mass", action="store_true")
    p.add_argument("--target-accept", type=float, default=0.8,
                   help="NUTS's target acceptance probability, both libraries (a smaller step size when higher)")
    p.add_argument("--step-size", type=float, default=None,
                   help="NUTS: a fixed step (both libraries; no step-size adaptation, the warm-up is burn-in "
                        "from the mode, the mass fixed at the Laplace covariance); default: adapted")
    p.add_argument("--blackjax-shrinkage", type=float, default=1000.0,
                   help="blackjax's imm_shrinkage_to_previous: pseudo-count of the previous matrix (first: the "
                        "identity in the Laplace-whitened coordinates) in each window's estimate (0: Stan's, the "
                        "windows' samples alone)")
    p.add_argument("--vi-steps", type=int, default=300)
    p.add_argument("--vi-particles", type=int, default=2)
    p.add_argument("--vi-lr", type=float, default=2e-2)
    p.add_argument("--vi-elbo-draws", type=int, default=128,
                   help="draws for the ELBO of the fitted guide and of its start (the Laplace Gaussian)")
    p.add_argument("--vi-estimator", choices=("elbo", "stl"), default="elbo",
                   help="variational's ELBO gradient: numpyro's Trace_ELBO or sticking-the-landing")
    p.add_argument("--nlive", type=int, default=40)
    p.add_argument("--maxcall", type=int, default=1500)
    p.add_argument("--nested-repartition", action="store_true",
                   help="nested: sample a Student-t around the Laplace Gaussian, weights L pi / pi' (needs the mode)")
    p.add_argument("--nested-seed", type=int, default=3, help="nested: dynesty's seed")
    p.add_argument("--nested-widen", type=float, default=1.5, help="nested: widen of the repartitioned prior")
    p.add_argument("--nested-dof", type=float, default=4.0, help="nested: its degrees of freedom (inf: Gaussian)")
    p.add_argument("--draws", type=int, default=2000, help="draws from the Gaussian approximations")
    p.add_argument("--table", nargs="+", metavar="JSONL", help="print the markdown table of --out files and exit")
    return p.parse_args(argv)


# ---------------------------------------------------------------- compile events from JAX
class CompileLog:
    """Backend compiles and jaxpr traces reported by JAX's monitoring events (per program)."""

    def __init__(self):
        import jax

        self.compiles: list[tuple[str, float]] = []
        self.traces: list[tuple[str, float]] = []
        self.active = True

        def listener(event, duration, **kw):
            if not self.active:
                return
            if event == "/jax/core/compile/backend_compile_duration":
                self.compiles.append((str(kw.get("fun_name", "?")), duration))
            elif event == "/jax/core/compile/jaxpr_trace_duration":
                self.traces.append((str(kw.get("fun_name", "?")), duration))

        self._listener = listener
        jax.monitoring.register_event_duration_secs_listener(listener)

    def close(self) -> None:
        """Stop listening (the listener is process-wide state of JAX)."""
        import jax

        self.active = False
        jax.monitoring.unregister_event_duration_listener(self._listener)

    def mark(self) -> tuple[int, int]:
        return len(self.compiles), len(self.traces)

    def since(self, mark) -> dict:
        compiles, traces = self.compiles[mark[0]:], self.traces[mark[1]:]
        by = collections.Counter(name for name, _ in compiles)
        return {"compile_s": sum(s for _, s in compiles), "trace_s": sum(s for _, s in traces),
                "executables": len(compiles),
                "model_programs": {k: v for k, v in by.items() if k.startswith("jit(xlens")}}


# ---------------------------------------------------------------------------- the problem
def build(tiny: bool, dtype: str, seed: int = 0):
    """``(sim, truth_params, like, theta_true)``: the default (or tiny) model and its data."""
    import jax
    import numpy as np

    import xlens
    from xlens.inference import ParameterSpace
    from xlens.model import SimulatorConfig

    if tiny:
        cfg = SimulatorConfig(shape_native=(20, 20), pixel_scale=0.2, sub_size=1, psf_shape=(3, 3), psf_sigma=0.1,
                              exposure_time=2000.0, subhalos=None, line_of_sight=None)
        sim = xlens.Simulator(cfg, engine="jax", dtype=dtype)
    else:
        sim = xlens.Simulator(engine="jax", dtype=dtype)
    truth, _ = sim.sample_params(seed)
    out = sim.diagnostics(truth, jax.random.key(1))
    space = ParameterSpace(sim, truth)
    like = xlens.likelihood(sim, out["data"], out["noise_map"], space)
    return sim, truth, like, np.asarray(space.to_vector(truth), dtype=np.float64)


def start_point(like, theta_true, offset: float):
    """The truth moved by ``offset`` of each prior width (kept inside the box): every fit's start."""
    import numpy as np

    space = like.space
    width = space.high - space.low
    return np.clip(theta_true + offset * width, space.low + 1e-3 * width, space.high - 1e-3 * width)


def _timed(fn, *a):
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(fn(*a))
    return time.perf_counter() - t0


def call_costs(like, theta, repeat: int, log: CompileLog) -> dict:
    """First call and median steady time of ``like`` and ``like.value_and_grad``, and their ratio."""
    mark = log.mark()
    first_f = _timed(like, theta)
    f = statistics.median(_timed(like, theta) for _ in range(repeat))
    first_g = _timed(like.value_and_grad, theta)
    g = statistics.median(_timed(like.value_and_grad, theta) for _ in range(repeat))
    return {"backend": "costs", "forward_s": f, "value_and_grad_s": g, "ratio": g / f, "forward_first_s": first_f,
            "value_and_grad_first_s": first_g, **log.since(mark)}


def _sampler_diagnostics(theta_chain) -> dict:
    """ESS and split-R-hat of one chain (draws, n) with numpyro's estimators: per parameter
    (``ess``, ``split_rhat``), and the smallest ESS and largest R-hat."""
    import numpy as np
    from numpyro.diagnostics import effective_sample_size, split_gelman_rubin

    chain = np.asarray(theta_chain, dtype=np.float64)[None]
    ess, rhat = np.asarray(effective_sample_size(chain)), np.asarray(split_gelman_rubin(chain))
    return {"min_ess": float(np.min(ess)), "max_split_rhat": float(np.max(rhat)), "ess": ess.tolist(),
            "split_rhat": rhat.tolist()}


def _moment_check(mean, std, mode) -> dict:
    """Mean offsets and sd ratios against the Laplace approximation (``mode``), if known."""
    import numpy as np

    if mode is None:
        return {}
    ref_mean, ref_std = np.asarray(mode["theta"]), np.sqrt(np.diag(np.asarray(mode["covariance"])))
    pull = (np.asarray(mean) - ref_mean) / ref_std
    ratio = np.asarray(std) / ref_std
    return {"max_mean_offset_sd": float(np.max(np.abs(pull))), "sd_ratio_min": float(np.min(ratio)),
            "sd_ratio_max": float(np.max(ratio)),
            "agrees_with_laplace": bool(np.max(np.abs(pull)) < 0.3 and 0.7 < ratio.min() and ratio.max() < 1.3)}


def _seed_text(args) -> str:
    """The NUTS rows' budget text names a sampler seed other than the default (1)."""
    return f", seed {args.sampler_seed}" if args.sampler_seed != 1 else ""


def _accept_text(args) -> str:
    """The NUTS rows' budget text names a fixed step, or a target acceptance rate other than both
    libraries' 0.8."""
    if args.step_size is not None:
        return f", fixed step {args.step_size:g}"
    return f", target accept {args.target_accept:g}" if args.target_accept != 0.8 else ""


def _not_below_laplace(fit, laplace) -> bool:
    """The convergence test of the Gaussian backends (Pathfinder, VI): ``(ELBO, se)`` of the fit not
    below the Laplace Gaussian's by more than 2 combined standard errors -- a Gaussian no farther
    from the posterior in KL(q || p) than the Laplace one."""
    (elbo, se), (elbo0, se0) = fit, laplace
    return bool(elbo > elbo0 - 2.0 * math.hypot(se, se0))


def _elbo_text(fit, laplace) -> str:
    return f"ELBO {fit[0]:.1f} +- {fit[1]:.1f} (Laplace's Gaussian {laplace[0]:.1f} +- {laplace[1]:.1f})"


def run_backend(name: str, like, theta_true, args, log: CompileLog, mode: dict | None) -> dict:
    """Run one backend within its budget; returns a row (times [s], diagnostics, converged)."""
    import jax
    import numpy as np

    from xlens import engine
    from xlens.inference import backends, fit_map, laplace

    start = start_point(like, theta_true, args.start_offset)
    need_mode = (name in ("nuts_blackjax", "nuts_numpyro", "variational") or (name == "nested"
                                                                               and args.nested_repartition)
                 or (name == "pathfinder" and args.pathfinder_whiten))
    if need_mode and (mode is None or mode.get("covariance") is None):
        raise SystemExit(f"{name} starts at the MAP with the Laplace covariance: run map and laplace first "
                         "(same process, or --mode-file)")
    mark = log.mark()
    t0 = time.perf_counter()
    row: dict = {"backend": name}
    if name == "map":
        res = fit_map(like, start[None], steps=args.map_steps, learning_rate=args.map_lr,
                      newton_steps=args.newton_steps, hessian_chunk=args.hessian_chunk)
        wall = time.perf_counter() - t0
        trace = np.asarray(res.trace)[:, 0]
        row.update(budget=f"{args.map_steps} Adam + {args.newton_steps} Newton steps, 1 start",
                   log_posterior=float(res.log_posterior[0]), log_posterior_adam_end=float(trace[-1]),
                   log_posterior_start=float(trace[0]),
                   log_posterior_truth=float(like(theta_true, posterior=True)), theta=res.best.tolist())
        # converged: the Newton decrement at the end point, computed by the laplace row
    elif name == "laplace":
        theta = np.asarray(mode["theta"]) if mode else start
        lap = laplace(like, theta, chunk=args.hessian_chunk)
        wall = time.perf_counter() - t0
        _, grad = like.value_and_grad(theta, posterior=True)  # a compiled program of the costs row
        g = np.asarray(grad, dtype=np.float64)
        row.update(budget=f"Hessian by columns, chunk {args.hessian_chunk}", condition_number=lap.condition_number,
                   converged=True, newton_decrement=float(0.5 * g @ lap.covariance @ g),
                   theta=lap.mean.tolist(), covariance=lap.covariance.tolist(), std=lap.std.tolist(),
                   pull_truth_max=float(np.max(np.abs((lap.mean - theta_true) / lap.std))))
    elif name == "pathfinder":
        covariance = np.asarray(mode["covariance"]) if args.pathfinder_whiten else None
        res = backends.pathfinder(like, start, 0, num_samples=args.draws, maxiter=args.pathfinder_maxiter,
                                  elbo_samples=args.pathfinder_elbo, maxcor=args.pathfinder_maxcor,
                                  covariance=covariance, elbo_draws=args.pathfinder_elbo_draws)
        wall = time.perf_counter() - t0
        moments = res.mean, res.std
        row.update(budget=f"maxiter {args.pathfinder_maxiter}, maxcor {args.pathfinder_maxcor}, "
                          f"{args.pathfinder_elbo} ELBO draws" + (", Laplace-whitened" if covariance is not None
                                                                  else ""),
                   elbo=res.info["elbo"], **_moment_check(res.mean, res.std, mode))
        if args.pathfinder_elbo_draws and mode is not None:
            # converged as VI is: a Gaussian no worse (in KL(q || p)) than the Laplace one; the
            # Laplace ELBO's draws are timed apart (they are not Pathfinder's cost)
            t1 = time.perf_counter()
            elbo, se = res.info["elbo_draws"]
            elbo0, se0 = backends.gaussian_elbo(like, (np.asarray(mode["theta"]), np.asarray(mode["covariance"])),
                                                1, draws=args.pathfinder_elbo_draws)
            row.update(elbo_draws=[elbo, se], elbo_laplace=[elbo0, se0], elbo_laplace_s=time.perf_counter() - t1,
                       elbo_not_below_laplace=_not_below_laplace((elbo, se), (elbo0, se0)))
            row["converged"] = row["elbo_not_below_laplace"]
        else:
            row["converged"] = bool(row.get("agrees_with_laplace", False))
    elif name == "nuts_blackjax":
        import blackjax

        # Sample whitened unconstrained coordinates w: z = logit(u) = z0 + L w, u the prior's
        # unit cube (as numpyro's NUTS and xlens.inference.backends do), L L^T the Laplace
        # covariance mapped to z. Unconstrained: the log posterior in theta is -inf outside
        # the prior box, and a truth within ~1 sd of an edge made every trajectory that crossed
        # it diverge. Whitened: Stan's windows (blackjax's window_adaptation) regularise the
        # adapted inverse mass matrix towards 1e-3 x identity, which in theta swamps the
        # posterior's smallest variances (~1e-8 here: sds 6e-4 to 0.04, condition number 2.2e5);
        # that alone made all 80 draws diverge in the runs without whitening.
        fn, fargs = like.pure(posterior=False)  # log L; the prior is the uniform density of u
        space = like.space
        theta0 = np.asarray(mode["theta"], dtype=np.float64)
        z0 = backends.to_unconstrained(like, theta0)

        def theta_of_z(z):
            return space.from_unit_cube(1.0 / (1.0 + jax.numpy.exp(-z)))

        with engine.float64_scope():
            jac = np.asarray(jax.jacfwd(theta_of_z)(jax.numpy.asarray(z0)))  # d theta / d z at z0
        jinv = np.linalg.inv(jac)
        chol = np.linalg.cholesky(jinv @ np.asarray(mode["covariance"], dtype=np.float64) @ jinv.T)

        def run(key, *a):
            def logdensity(w):
                z = z0 + chol @ w
                log_jacobian = -jax.numpy.sum(jax.numpy.logaddexp(0.0, -z) + jax.numpy.logaddexp(0.0, z))
                return fn(theta_of_z(z), *a) + log_jacobian

            k_warm, k_draw = jax.random.split(key)
            if args.step_size is None:
                warmup = blackjax.window_adaptation(blackjax.nuts, logdensity, is_mass_matrix_diagonal=False,
                                                    max_num_doublings=args.max_tree_depth,
                                                    imm_shrinkage_to_previous=args.blackjax_shrinkage,
                                                    target_acceptance_rate=args.target_accept)
                (state, tuned), _ = warmup.run(k_warm, jax.numpy.zeros(z0.shape), num_steps=args.warmup)
            else:  # a fixed step, the identity mass of the whitened w: the warm-up is burn-in only
                tuned = {"step_size": args.step_size, "inverse_mass_matrix": jax.numpy.eye(z0.size),
                         "max_num_doublings": args.max_tree_depth}
            kernel = blackjax.nuts(logdensity, **tuned)  # tuned carries max_num_doublings
            step = kernel.step
            if args.step_size is not None:
                state = jax.lax.fori_loop(0, args.warmup, lambda i, s: step(jax.random.fold_in(k_warm, i), s)[0],
                                          kernel.init(jax.numpy.zeros(z0.shape)))

            def draw(state, k):
                state, info = step(k, state)
                return state, (theta_of_z(z0 + chol @ state.position), info.is_divergent,
                               info.num_integration_steps)

            draws = jax.lax.scan(draw, state, jax.random.split(k_draw, args.samples))[1]
            return draws, tuned["step_size"], state.logdensity

        with engine.float64_scope():
            key = jax.random.key(args.sampler_seed)
            (samples, divergent, steps), step_size, warm_logdensity = jax.jit(run)(key, *fargs)
            samples = np.asarray(samples)
        wall = time.perf_counter() - t0
        moments = samples.mean(0), samples.std(0, ddof=1)
        row.update(budget=f"{args.warmup} warm-up + {args.samples} draws, 1 chain, max depth {args.max_tree_depth}, "
                          "Laplace-whitened z" + (f", shrinkage {args.blackjax_shrinkage:g}" if args.step_size is None
                                                  else "") + _accept_text(args)
                          + _seed_text(args),
                   divergences=int(np.sum(np.asarray(divergent))), step_size=float(step_size),
                   divergent_draws=np.flatnonzero(np.asarray(divergent)).tolist(),
                   log_posterior_after_warmup=float(warm_logdensity),
                   mean_leapfrog=float(np.mean(np.asarray(steps))), **_sampler_diagnostics(samples),
                   **_moment_check(samples.mean(0), samples.std(0, ddof=1), mode))
    elif name == "nuts_numpyro":
        res = backends.nuts_numpyro(like, np.asarray(mode["theta"]), args.sampler_seed, num_warmup=args.warmup,
                                    num_samples=args.samples, dense_mass=True,
                                    covariance=np.asarray(mode["covariance"]),
                                    adapt_mass_matrix=args.numpyro_adapt_mass, max_tree_depth=args.max_tree_depth,
                                    target_accept_prob=args.target_accept, step_size=args.step_size)
        wall = time.perf_counter() - t0
        moments = res.mean, res.std
        row.update(budget=f"{args.warmup} warm-up + {args.samples} draws, 1 chain, dense Laplace mass "
                          f"({'adapted' if args.numpyro_adapt_mass else 'fixed'}), max depth {args.max_tree_depth}"
                          + _accept_text(args) + _seed_text(args),
                   divergences=res.info["divergences"], mean_leapfrog=float(np.mean(res.info["num_steps"])),
                   divergent_draws=np.flatnonzero(res.info["diverging"]).tolist(),
                   step_size=res.info["step_size"], min_ess=float(np.min(res.info["ess"])),
                   max_split_rhat=float(np.max(res.info["r_hat"])), ess=np.asarray(res.info["ess"]).tolist(),
                   split_rhat=np.asarray(res.info["r_hat"]).tolist(), **_moment_check(res.mean, res.std, mode))
    elif name == "variational":
        res = backends.variational(like, np.asarray(mode["theta"]), 2, steps=args.vi_steps,
                                   learning_rate=args.vi_lr, num_particles=args.vi_particles,
                                   num_samples=args.draws, covariance=np.asarray(mode["covariance"]),
                                   estimator=args.vi_estimator, elbo_draws=args.vi_elbo_draws)
        wall = time.perf_counter() - t0
        moments = res.mean, res.std
        loss = np.asarray(res.info["loss"])
        tenth = max(len(loss) // 10, 2)
        last, prev = loss[-tenth:], loss[-2 * tenth:-tenth]
        plateau = abs(last.mean() - prev.mean()) < 2 * np.std(last, ddof=1) / np.sqrt(tenth) + 2 * np.std(
            prev, ddof=1) / np.sqrt(tenth)
        row.update(budget=f"{args.vi_steps} steps x {args.vi_particles} particles, {args.vi_estimator}",
                   final_loss=float(last.mean()), elbo_plateau=bool(plateau), **_moment_check(res.mean, res.std, mode))
        (elbo, se), (elbo0, se0) = res.info["elbo"], res.info["elbo_start"]
        # the fit is no worse a Gaussian (in KL(q || p)) than its start, the Laplace one
        not_worse = _not_below_laplace((elbo, se), (elbo0, se0))
        row.update(elbo=[elbo, se], elbo_laplace=[elbo0, se0], elbo_not_below_laplace=not_worse)
        row["converged"] = bool(plateau and not_worse)
    elif name == "nested":
        repartition = None
        budget = f"nlive {args.nlive}, maxcall {args.maxcall}" + (f", seed {args.nested_seed}"
                                                                   if args.nested_seed != 3 else "")
        if args.nested_repartition:
            repartition = (np.asarray(mode["theta"]), np.asarray(mode["covariance"]))
            budget += f", repartitioned: Student-t ({args.nested_dof:g} dof) x {args.nested_widen:g} Laplace"
        res = backends.nested(like, nlive=args.nlive, seed=args.nested_seed, maxcall=args.maxcall,
                              repartition=repartition,
                              widen=args.nested_widen, dof=args.nested_dof)
        wall = time.perf_counter() - t0
        moments = res.mean, res.std
        hit_cap = res.info["ncall"] >= args.maxcall
        row.update(budget=budget, log_evidence=res.log_evidence,
                   log_evidence_error=res.log_evidence_error, ncall=res.info["ncall"], niter=res.info["niter"],
                   information=res.info["information"], information_prior=res.info["information_prior"],
                   ess=res.info["ess"], efficiency=res.info["efficiency"], converged=not hit_cap,
                   **_moment_check(res.mean, res.std, mode))
    else:  # pragma: no cover - argparse's choices
        raise ValueError(name)
    row.update(wall_s=wall, **log.since(mark))
    if name in ("pathfinder", "nuts_blackjax", "nuts_numpyro", "variational", "nested"):
        row.update(mean=np.asarray(moments[0]).tolist(), std=np.asarray(moments[1]).tolist())
    if "min_ess" in row:
        run_s = max(wall - row["compile_s"] - row["trace_s"], 1e-9)  # traces of nested jits may overlap
        row.update(run_s=run_s, ess_per_s=row["min_ess"] / run_s,
                   converged=bool(row["divergences"] == 0 and row["max_split_rhat"] < 1.05 and row["min_ess"] >= 50))
    return row


def plot_reuse(like, theta, log: CompileLog) -> dict:
    """``like.diagnostics`` twice (a plot): the model programs it compiles (should be none)."""
    import jax

    mark = log.mark()
    for _ in range(2):
        jax.block_until_ready(like.diagnostics(theta)["model_image"])
    return {"backend": "plot", **log.since(mark), "traces": dict(like.traces)}


def table(paths) -> str:
    """A markdown table of the backend rows of ``--out`` files (the last row of each backend).

    Moment checks are recomputed against the Laplace row of the files, so a backend run
    in a process without ``--mode-file`` (Pathfinder, which starts away from the mode) is
    still compared.
    """
    rows = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                rows[r["backend"]] = r
    mode = None
    if "laplace" in rows:
        mode = {"theta": rows["laplace"]["theta"], "covariance": rows["laplace"]["covariance"]}
    out = ["| backend | budget | wall [s] | compile [s] | run [s] | diagnostics | converged |",
           "|---|---|---|---|---|---|---|"]
    for name in BACKENDS:
        r = rows.get(name)
        if r is None:
            continue
        compile_s = r["compile_s"] + r["trace_s"]
        run_s = r.get("run_s", max(r["wall_s"] - compile_s, 0.0))
        if mode is not None and "mean" in r:
            r.update(_moment_check(r["mean"], r["std"], mode))
        diag = []
        if name == "map":
            diag.append(f"log post {r['log_posterior']:.1f} (truth {r['log_posterior_truth']:.1f})")
            if "laplace" in rows:
                r["converged"] = rows["laplace"]["newton_decrement"] < 0.01
                diag.append(f"Newton decrement {rows['laplace']['newton_decrement']:.2g} nats")
        if name == "laplace":
            diag.append(f"cond {r['condition_number']:.2g}; max abs(mode - truth)/sd {r['pull_truth_max']:.2f}")
        if "min_ess" in r:
            diag.append(f"min ESS {r['min_ess']:.0f}, ESS/s {r['ess_per_s']:.3f}, max split-R-hat "
                        f"{r['max_split_rhat']:.3f}, {r['divergences']} divergences, "
                        f"{r['mean_leapfrog']:.1f} leapfrog/draw")
        if name == "nested":
            diag.append(f"ln Z {r['log_evidence']:.1f} +- {r['log_evidence_error']:.1f}, {r['ncall']} calls, "
                        f"H {r['information']:.1f} nats")
            if "information_prior" in r and abs(r["information_prior"] - r["information"]) > 1e-9:
                diag.append(f"H against the prior {r['information_prior']:.1f} nats")
        if name == "pathfinder" and "elbo_draws" in r:
            diag.append(_elbo_text(r["elbo_draws"], r["elbo_laplace"]))
        if name == "variational":
            diag.append(f"ELBO plateau: {'yes' if r['elbo_plateau'] else 'no'}")
            if "elbo" in r:  # rows before the ELBO check were judged by their moments alone
                diag.append(_elbo_text(r["elbo"], r["elbo_laplace"]))
        compared = name in ("pathfinder", "variational") or r.get("converged", True) is not False
        if "max_mean_offset_sd" in r and compared:  # an unconverged sampler's moments mean nothing
            diag.append(f"vs Laplace: mean within {r['max_mean_offset_sd']:.2f} sd, sd ratio "
                        f"{r['sd_ratio_min']:.2f}-{r['sd_ratio_max']:.2f}")
            if (name == "pathfinder" and "elbo_draws" not in r) or (name == "variational" and "elbo" not in r):
                r["converged"] = bool(r.get("converged", True) and r["agrees_with_laplace"]
                                      and r.get("elbo_plateau", True))
        conv = {True: "yes", False: "**no**"}.get(r.get("converged"), "?")
        out.append(f"| `{name}` | {r['budget']} | {r['wall_s']:.0f} | {compile_s:.0f} | {run_s:.0f} | "
                   f"{'; '.join(diag)} | {conv} |")
    return "\n".join(out)


def main(argv=None) -> list[dict]:
    """Run the backends of the command line; returns the rows (also printed and written)."""
    args = parse(argv)
    if args.table:
        print(table(args.table))
        return []
    if args.cache is None:
        os.environ["XLENS_COMPILATION_CACHE"] = "off"  # an application: fresh compiles, unless --cache
    import xlens

    if args.cache:
        xlens.engine.enable_compilation_cache(args.cache)
    log = CompileLog()
    try:
        return _run(args, log, sys.argv[1:] if argv is None else list(argv))
    finally:
        log.close()


def _run(args, log: CompileLog, argv: list[str]) -> list[dict]:
    import jax
    import numpy as np

    header = {"backend": "header", "machine": f"{platform.machine()} {os.cpu_count()} CPU cores",
              "jax": jax.__version__, "device": jax.default_backend(), "dtype": args.dtype, "tiny": args.tiny,
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg(),
              "command": "python docs/scripts/inference_costs.py " + " ".join(argv)}
    rows = [header]
    _emit(header, args.out)
    t0 = time.perf_counter()
    mark = log.mark()
    sim, truth, like, theta_true = build(args.tiny, args.dtype, args.seed)
    n_sub = int(sum(float(np.sum(b.mask)) for b in truth.subhalos.values())) if truth.subhalos else 0
    n_los = int(np.sum(truth.line_of_sight.mask)) if truth.line_of_sight is not None else 0
    rows.append({"backend": "setup", "wall_s": time.perf_counter() - t0, "shape": list(sim.config.shape_native),
                 "n_free": like.space.size, "subhalos": n_sub, "line_of_sight": n_los, **log.since(mark)})
    _emit(rows[-1], args.out)
    if not args.no_costs:
        rows.append(call_costs(like, theta_true, args.repeat, log))
        _emit(rows[-1], args.out)
    mode = None
    if args.mode_file and os.path.exists(args.mode_file) and "map" not in args.backends:
        with open(args.mode_file) as f:
            mode = json.load(f)
    for name in args.backends:
        row = run_backend(name, like, theta_true, args, log, mode)
        row["load_average"] = os.getloadavg()
        if name == "map":
            mode = {"theta": row["theta"], "covariance": None}
        elif name == "laplace":
            mode = {"theta": row["theta"], "covariance": row["covariance"]}
            if args.mode_file:
                with open(args.mode_file, "w") as f:
                    json.dump(mode, f)
        rows.append(row)
        _emit(row, args.out)
    rows.append(plot_reuse(like, np.asarray(mode["theta"]) if mode else theta_true, log))
    _emit(rows[-1], args.out)
    return rows


def _emit(row: dict, out: str | None) -> None:
    short = {k: v for k, v in row.items() if k not in ("theta", "covariance", "std", "mean")}
    print(json.dumps(short, default=float), flush=True)
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row, default=float) + "\n")


if __name__ == "__main__":
    main()
