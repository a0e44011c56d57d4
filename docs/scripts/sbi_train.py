"""Neural posterior estimation of (sigma_sub, log10 m_hm, delta_los), trained on the fly.

Every training batch is drawn by ``sim.sample_batch(keys)`` of an :class:`xlens.Simulator`
inside the training loop; nothing is written to disk. The posterior is a conditional
normalising flow (flowjax, a masked autoregressive flow with rational-quadratic splines)
on top of a small convolutional embedding (equinox), trained with Adam (optax) on
``-log q(theta | x)`` with theta standardised by its prior box. Afterwards the posterior's
calibration is measured on held-out simulations (keys never used in training): the
expected coverage of the highest-posterior-density regions, and of the equal-tailed
intervals of each parameter. docs/sbi.md explains it and records a run.

Usage::

    pip install -e ".[jax,plot,sbi]"
    python docs/scripts/sbi_train.py --small --out /tmp/sbi_small   # the CPU configuration (~25 min)
    python docs/scripts/sbi_train.py --out /tmp/sbi_gpu                # the default model (GPU recipe)
    python docs/scripts/sbi_train.py --smoke --out /tmp/sbi_smoke      # seconds: the CI smoke run

Outputs in ``--out``: ``results.json`` (configuration, losses, throughput, coverage) and
``sbi_coverage.png`` (or ``--figure``).

Targets: ``subhalos.sigma_sub`` [kpc^-2], ``log10 subhalos.m_hm`` [log10 M_sun] and
``line_of_sight.delta_los`` (dimensionless). xlens draws the line-of-sight ``m_hm`` from
its own prior, independently of the subhaloes' (there is no way to tie the two in the
configuration): it is a nuisance parameter here, with the macro model.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: The targets by default: labels of the dataset's parameter columns. The network learns the
#: log10 of the half-mode masses (labels ending in ``m_hm``) and the others as they are.
TARGETS = ("subhalos.sigma_sub", "subhalos.m_hm", "line_of_sight.delta_los")

#: The dark-matter priors shared by every mode (the TOML ``[priors.subhalos]`` and
#: ``[priors.line_of_sight]`` tables): uniform sigma_sub [kpc^-2] and delta_los, log-uniform
#: half-mode masses [M_sun] for both populations (independent draws).
DARK_MATTER_PRIORS = {
    "subhalos": {"sigma_sub": [0.0, 0.1], "m_hm": {"log_uniform": [1.0e7, 1.0e10]}},
    "line_of_sight": {"delta_los": [0.5, 2.0], "m_hm": {"log_uniform": [1.0e7, 1.0e10]}},
}

#: Redshift priors (nuisance parameters, ``[priors.redshifts]``) of the default (GPU) and smoke
#: modes; the recorded ``small`` run keeps z_lens = 0.5, z_source = 1.0 fixed.
REDSHIFT_PRIORS = {"z_lens": [0.3, 0.8], "z_source": [1.0, 3.0]}

#: Simulator configurations (the TOML layout of ``xlens.config``), by mode. ``default``
#: is xlens's default model (100 x 100 pixels, 4 x 4 over-sampling, 8 line-of-sight planes)
#: made warm; ``small`` is the CPU configuration of docs/sbi.md; ``smoke`` the CI one.
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {
        "subhalos": {"dark_matter": "wdm", "m_hm": 1.0e8},
        "line_of_sight": {"dark_matter": "wdm", "m_hm": 1.0e8},
        "priors": {**DARK_MATTER_PRIORS, "redshifts": REDSHIFT_PRIORS},
    },
    "small": {
        "shape_native": [48, 48],
        "pixel_scale": 0.1,  # [arcsec]: a 4.8'' field
        "sub_size": 2,
        "psf_shape": [5, 5],
        "psf_sigma": 0.1,  # [arcsec]
        # massive subhaloes only (1e9-1e11 M_sun, ~10 at sigma_sub = 0.1): visible at 0.1'' pixels
        "subhalos": {"dark_matter": "wdm", "m_hm": 1.0e8, "m_min": 1.0e9, "m_max": 1.0e11, "radius": 2.5},
        "line_of_sight": {"dark_matter": "wdm", "m_hm": 1.0e8, "n_planes": 3, "m_min": 1.0e8, "m_max": 1.0e10,
                          "cone_radius": 2.5},
        "priors": DARK_MATTER_PRIORS,
    },
    "smoke": {
        "shape_native": [20, 20],
        "pixel_scale": 0.25,
        "sub_size": 1,
        "psf_shape": [3, 3],
        "psf_sigma": 0.2,
        "subhalos": {"dark_matter": "wdm", "m_hm": 1.0e8, "m_min": 1.0e9, "m_max": 1.0e10, "radius": 2.0},
        "line_of_sight": {"dark_matter": "wdm", "m_hm": 1.0e8, "n_planes": 1, "m_min": 1.0e9, "m_max": 1.0e10,
                          "cone_radius": 2.0},
        "priors": {
            "subhalos": {"sigma_sub": [0.0, 0.02], "m_hm": {"log_uniform": [1.0e7, 1.0e10]}},
            "line_of_sight": {"delta_los": [0.5, 2.0], "m_hm": {"log_uniform": [1.0e7, 1.0e10]}},
            "redshifts": REDSHIFT_PRIORS,
        },
    },
}

#: Network and training settings by mode: conv channels per block, summary size, flow
#: layers, the width of the flow's conditioner networks, spline knots, and the defaults of
#: the command-line options.
SETTINGS: dict[str, dict[str, Any]] = {
    "default": dict(channels=(16, 32, 64, 64, 128), summary=64, flow_layers=6, flow_width=128, knots=8,
                    steps=20_000, batch_size=256, n_test=2000, n_posterior=1000, learning_rate=5e-4,
                    max_minutes=None),
    "small": dict(channels=(16, 32, 64, 64), summary=32, flow_layers=5, flow_width=64, knots=8,
                  steps=1800, batch_size=64, n_test=512, n_posterior=500, learning_rate=1e-3,
                  max_minutes=24.0),
    "smoke": dict(channels=(4, 8), summary=8, flow_layers=2, flow_width=16, knots=4,
                  steps=4, batch_size=4, n_test=8, n_posterior=50, learning_rate=1e-3,
                  max_minutes=None),
}


def simulator_config(mode: str):
    """The :class:`xlens.model.SimulatorConfig` of a mode (``"default"``, ``"small"``, ``"smoke"``)."""
    from xlens.config import config_from_dict

    if mode not in CONFIGS:
        raise ValueError(f"sbi_train: mode must be one of {tuple(CONFIGS)}; got {mode!r}")
    return config_from_dict(CONFIGS[mode], source=f"sbi_train.CONFIGS[{mode!r}]")


# ----------------------------------------------------------------------------- labels


class Standardiser(NamedTuple):
    """Affine map of the targets to zero mean and unit variance under their prior box.

    ``names``: dataset labels; ``log``: whether the target is the label's log10; ``columns``:
    the labels' indices in :func:`xlens.model.parameter_table`; ``low``, ``high``: the prior
    box of the targets (log10 where ``log``) in their units.
    """

    names: tuple[str, ...]
    log: tuple[bool, ...]
    columns: tuple[int, ...]
    low: np.ndarray  # (T,) float64
    high: np.ndarray  # (T,) float64

    @property
    def mean(self) -> np.ndarray:
        """Centre of the prior box, (T,), in the targets' units."""
        return 0.5 * (self.low + self.high)

    @property
    def scale(self) -> np.ndarray:
        """Standard deviation of a uniform law on the box, (T,)."""
        return (self.high - self.low) / math.sqrt(12.0)

    def targets(self, table: np.ndarray) -> np.ndarray:
        """(B, T) targets in their units (log10 where ``log``) from a (B, P) parameter table."""
        cols = table[:, list(self.columns)]
        return np.where(np.asarray(self.log), np.log10(np.where(np.asarray(self.log), cols, 1.0)), cols)

    def forward(self, theta: np.ndarray) -> np.ndarray:
        """Standardised targets (dimensionless) from targets in their units, (..., T)."""
        return (theta - self.mean) / self.scale

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Targets in their units from standardised ones, (..., T)."""
        return np.asarray(z) * self.scale + self.mean


def standardiser(config, names: tuple[str, ...] = TARGETS) -> Standardiser:
    """The :class:`Standardiser` of the targets ``names`` (parameter labels, default
    :data:`TARGETS`) from a configuration's priors.

    Raises ``ValueError`` naming the label when a target is not a parameter column, or is fixed.
    """
    from xlens.model import Fixed, parameter_columns

    labels = [name for name, _ in parameter_columns(config)]
    cols, low, high, logs = [], [], [], []
    for name in names:
        if name not in labels or isinstance(_prior(config, name), Fixed):
            raise ValueError(f"sbi_train: the target {name!r} is not drawn per image by this configuration; "
                             f"the drawn labels are {[n for n in labels if _is_drawn(config, n)]}")
        log = name.endswith(".m_hm")
        lo, hi = _prior(config, name).support
        cols.append(labels.index(name))
        logs.append(log)
        low.append(math.log10(lo) if log else lo)
        high.append(math.log10(hi) if log else hi)
    return Standardiser(tuple(names), tuple(logs), tuple(cols), np.array(low), np.array(high))


def _prior(config, label: str):
    """The prior of a label: a model field's (``lens.mass.einstein_radius``) or a population's."""
    slots = {s.label: s for s in config.model.columns}
    if label in slots:
        return slots[label].prior
    group, _, key = label.partition(".")
    return config.priors[group][key]


def _is_drawn(config, label: str) -> bool:
    from xlens.model import Fixed

    prior = _prior(config, label)
    return prior is not None and not isinstance(prior, Fixed)


def target_names(config, std: Standardiser) -> list[str]:
    """The targets as figures name them, with units: ``"log10 subhalos.m_hm [M_sun]"``."""
    from xlens.model import parameter_columns

    units = dict(parameter_columns(config))
    return [f"log10 {n} [{units[n]}]" if log else f"{n} [{units[n]}]" if units[n] != "dimensionless" else n
            for n, log in zip(std.names, std.log, strict=True)]


def image_scale(config) -> float:
    """The sky noise sigma [e-/s] of one pixel, ``sqrt(sky / exposure)``: images enter the
    network as ``asinh(data / (3 sigma))``."""
    return math.sqrt(config.background_sky_level / config.exposure_time)


# ----------------------------------------------------------------------------- network


def build_model(key, image_shape: tuple[int, int], n_targets: int, settings: dict[str, Any]):
    """The posterior estimator: ``(embedding, flow)``, an equinox CNN and a flowjax flow.

    The embedding maps a standardised image ``(ny, nx)`` to ``settings["summary"]`` numbers
    (3 x 3 convolutions, GELU, 2 x 2 max-pooling per block, then two dense layers); the flow
    is a masked autoregressive flow of rational-quadratic splines on ``[-4, 4]`` (standardised
    units) over a standard normal, conditioned on the summary.
    """
    import equinox as eqx
    import jax
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import StandardNormal
    from flowjax.flows import masked_autoregressive_flow

    class Embedding(eqx.Module):
        convs: tuple
        dense: tuple

        def __init__(self, key, image_shape, channels, summary):
            keys = jax.random.split(key, len(channels) + 2)
            convs, c_in = [], 1
            ny, nx = image_shape
            for k, c_out in zip(keys, channels, strict=False):
                convs.append(eqx.nn.Conv2d(c_in, c_out, 3, padding=1, key=k))
                c_in, ny, nx = c_out, ny // 2, nx // 2
            if ny < 1 or nx < 1:
                raise ValueError(f"sbi_train: {len(channels)} pooling blocks are too many for an image of "
                                 f"{image_shape} pixels")
            self.convs = tuple(convs)
            width = 2 * summary
            self.dense = (eqx.nn.Linear(c_in * ny * nx, width, key=keys[-2]),
                          eqx.nn.Linear(width, summary, key=keys[-1]))

        def __call__(self, x):  # x: (ny, nx) standardised image
            # the weights' dtype: float32, or float64 where the process turned jax_enable_x64 on
            h = x[None].astype(self.convs[0].weight.dtype)
            for conv in self.convs:
                h = jax.nn.gelu(conv(h))
                c, ny, nx = h.shape
                h = h[:, : ny // 2 * 2, : nx // 2 * 2].reshape(c, ny // 2, 2, nx // 2, 2).max(axis=(2, 4))
            h = jax.nn.gelu(self.dense[0](h.reshape(-1)))
            return self.dense[1](h)

    k_embed, k_flow = jax.random.split(key)
    embedding = Embedding(k_embed, image_shape, settings["channels"], settings["summary"])
    flow = masked_autoregressive_flow(
        k_flow, base_dist=StandardNormal((n_targets,)), cond_dim=settings["summary"],
        transformer=RationalQuadraticSpline(knots=settings["knots"], interval=4.0),
        flow_layers=settings["flow_layers"], nn_width=settings["flow_width"])
    return embedding, flow


def trainable(model):
    """``(params, static)``: the inexact arrays of ``model`` that Adam updates, and the rest
    (paramax ``NonTrainable`` leaves stay fixed)."""
    import equinox as eqx
    import paramax

    return eqx.partition(model, eqx.is_inexact_array, is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))


def log_posterior(model, x, z):
    """``log q(z | x)`` for a batch: ``x`` (B, ny, nx) standardised images, ``z`` (B, T)
    standardised targets; returns (B,)."""
    import jax
    import paramax

    embedding, flow = paramax.unwrap(model)
    summary = jax.vmap(embedding)(x)
    return flow.log_prob(z, condition=summary)


def make_update(optimizer, static):
    """The jitted training step ``(params, opt_state, x, z) -> (params, opt_state, loss)``,
    loss = mean of ``-log q(z | x)`` over the batch."""
    import equinox as eqx
    import jax
    import optax

    def loss_fn(params, x, z):
        return -log_posterior(eqx.combine(params, static), x, z).mean()

    @jax.jit
    def update(params, opt_state, x, z):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, z)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return update


def make_preprocess(scale: float):
    """The jitted image standardisation ``asinh(data / (3 scale))`` as float32."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def preprocess(data):
        return jnp.arcsinh(jnp.asarray(data, jnp.float32) / (3.0 * scale))

    return preprocess


# ----------------------------------------------------------------------------- calibration


def expected_coverage(log_q_samples: np.ndarray, log_q_truth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Expected coverage of the highest-posterior-density (HPD) regions.

    For each held-out simulation, the truth lies inside the HPD region of credibility ``c``
    when less than a fraction ``c`` of the posterior samples have a higher density than the
    truth. The coverage at ``c`` is the fraction of simulations where it does; a calibrated
    posterior gives ``c`` at every ``c``, an over-confident one less, an under-confident more.

    Parameters
    ----------
    log_q_samples : (N, S) array
        ``log q(theta_s | x_n)`` of S posterior samples for each of N simulations.
    log_q_truth : (N,) array
        ``log q(theta_true_n | x_n)``.
    levels : (L,) array
        Credibility levels in [0, 1].

    Returns
    -------
    (L,) array in [0, 1], non-decreasing in ``levels``.
    """
    rank = np.mean(log_q_samples > log_q_truth[:, None], axis=1)  # (N,) mass above the truth's density
    return np.mean(rank[None, :] < np.asarray(levels)[:, None], axis=1)


def marginal_coverage(samples: np.ndarray, truth: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Expected coverage of the equal-tailed intervals of each parameter.

    ``samples`` (N, S, T), ``truth`` (N, T), ``levels`` (L,); returns (L, T): the fraction of
    simulations whose true value lies in the central interval holding a fraction ``c`` of the
    samples of its marginal.
    """
    u = np.mean(samples < truth[:, None, :], axis=1)  # (N, T) rank of the truth in [0, 1]
    return np.mean(np.abs(2.0 * u[None] - 1.0) < np.asarray(levels)[:, None, None], axis=1)


def make_posterior_sampler(static, n_samples: int):
    """Jitted ``(params, key, x, z_true) -> (samples, log_q_samples, log_q_truth)`` for a batch
    of standardised images (B, ny, nx) and targets (B, T): (B, S, T), (B, S), (B,)."""
    import equinox as eqx
    import jax
    import paramax

    @jax.jit
    def posterior(params, key, x, z_true):
        embedding, flow = paramax.unwrap(eqx.combine(params, static))
        summary = jax.vmap(embedding)(x)

        def one(k, s):
            return flow.sample_and_log_prob(k, (n_samples,), condition=s)

        samples, log_q = jax.vmap(one)(jax.random.split(key, x.shape[0]), summary)
        return samples, log_q, flow.log_prob(z_true, condition=summary)

    return posterior


# ----------------------------------------------------------------------------- the run


def _median_rate(times: list[float], per_call: int) -> float:
    """Items per second from the median of the timed calls (the first call, which compiles,
    is excluded by the caller)."""
    return per_call / float(np.median(times))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train, calibrate on held-out simulations, write ``results.json`` and the figure.

    Returns the results dict (also written to ``args.out / "results.json"``).
    """
    import jax
    import optax

    import xlens
    from xlens.model import parameter_table

    mode = "smoke" if args.smoke else ("small" if args.small else "default")
    settings = dict(SETTINGS[mode])
    steps = settings["steps"] if args.steps is None else args.steps
    batch = settings["batch_size"] if args.batch_size is None else args.batch_size
    n_test = settings["n_test"] if args.n_test is None else args.n_test
    max_minutes = settings["max_minutes"] if args.max_minutes is None else args.max_minutes
    for name, value in (("--steps", steps), ("--batch-size", batch), ("--n-test", n_test)):
        if value < 1:
            raise ValueError(f"sbi_train: {name} must be >= 1; got {value}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    config = simulator_config(mode)
    sim = xlens.Simulator(config, engine="jax", dtype=args.dtype)
    std = standardiser(config, tuple(args.targets.split(",")))
    preprocess = make_preprocess(image_scale(config))

    root = jax.random.key(args.seed)
    k_train, k_test, k_net, k_post = jax.random.split(root, 4)  # training and test keys never meet

    def draw(key_root, index: int, n: int):
        """Standardised images (n, ny, nx), targets (n, T) in their units, and the seconds
        that ``sample_batch`` took (blocked until the images exist)."""
        keys = jax.random.split(jax.random.fold_in(key_root, index), n)
        t0 = time.perf_counter()
        ex = sim.sample_batch(keys)
        jax.block_until_ready(ex.data)
        seconds = time.perf_counter() - t0
        return preprocess(ex.data), std.targets(parameter_table(ex.params, config)), seconds

    model = build_model(k_net, tuple(config.shape_native), len(std.names), settings)
    params, static = trainable(model)
    schedule = optax.warmup_cosine_decay_schedule(0.0, settings["learning_rate"], min(100, steps // 10 + 1),
                                                  steps, settings["learning_rate"] * 1e-2)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    opt_state = optimizer.init(params)
    update = make_update(optimizer, static)

    sim_times, step_times, losses = [], [], []
    first = {}
    t_start = time.perf_counter()
    for step in range(steps):
        x, theta, t_sim = draw(k_train, step, batch)
        z = jax.numpy.asarray(std.forward(theta), jax.numpy.float32)
        t0 = time.perf_counter()
        params, opt_state, loss = update(params, opt_state, x, z)
        loss = float(jax.block_until_ready(loss))
        t_step = time.perf_counter() - t0
        if step == 0:  # compiles: kept apart from the steady-state timings
            first = {"sample_batch_s": t_sim, "update_s": t_step}
        else:
            sim_times.append(t_sim)
            step_times.append(t_step)
        losses.append(loss)
        if not math.isfinite(loss):
            raise FloatingPointError(f"sbi_train: the loss is {loss} at step {step}")
        if args.log_every and (step % args.log_every == 0 or step == steps - 1):
            recent = float(np.mean(losses[-args.log_every:]))
            print(f"step {step:6d}  loss {loss:8.4f}  mean of last {min(len(losses), args.log_every)} {recent:8.4f}"
                  f"  elapsed {time.perf_counter() - t_start:7.1f} s", flush=True)
        if max_minutes is not None and time.perf_counter() - t_start > 60.0 * max_minutes:
            print(f"stopping after {step + 1} steps: --max-minutes {max_minutes} reached", flush=True)
            break
    train_seconds = time.perf_counter() - t_start

    # held-out simulations: keys from k_test, never used in training; same batch size (no recompile)
    posterior = make_posterior_sampler(static, settings["n_posterior"])
    thetas, all_samples, all_lq, all_lq_true = [], [], [], []
    t0 = time.perf_counter()
    for i in range(math.ceil(n_test / batch)):
        x, theta, _ = draw(k_test, i, batch)
        z = jax.numpy.asarray(std.forward(theta), jax.numpy.float32)
        samples, lq, lq_true = posterior(params, jax.random.fold_in(k_post, i), x, z)
        thetas.append(theta)
        all_samples.append(np.asarray(samples))
        all_lq.append(np.asarray(lq))
        all_lq_true.append(np.asarray(lq_true))
    calibrate_seconds = time.perf_counter() - t0
    theta_test = np.concatenate(thetas)[:n_test]
    z_samples = np.concatenate(all_samples)[:n_test]
    lq_samples = np.concatenate(all_lq)[:n_test]
    lq_truth = np.concatenate(all_lq_true)[:n_test]

    levels = np.linspace(0.0, 1.0, 21)
    coverage = expected_coverage(lq_samples, lq_truth, levels)
    samples = std.inverse(z_samples)
    marginal = marginal_coverage(samples, theta_test, levels)
    post_mean, post_sd = samples.mean(axis=1), samples.std(axis=1)
    test_loss = float(-lq_truth.mean() + np.sum(np.log(std.scale)))  # mean -log q(theta | x) in target units

    results: dict[str, Any] = {
        "mode": mode,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if args.record_argv else None,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "jax_backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
                    "python": platform.python_version(), "jax": jax.__version__, "xlens": xlens.__version__},
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "config": CONFIGS[mode],
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()},
        "dtype": args.dtype,
        "seed": args.seed,
        "batch_size": batch,
        "steps_requested": steps,
        "steps_done": len(losses),
        "simulations_seen": len(losses) * batch,
        "targets": target_names(config, std),
        "prior_low": std.low.tolist(),
        "prior_high": std.high.tolist(),
        "losses": losses,
        "final_loss_mean_last_100": float(np.mean(losses[-100:])),  # standardised targets
        "test_loss": test_loss,
        # -log p(theta) of the uniform prior box: a posterior that learnt nothing scores this
        "prior_loss": float(np.sum(np.log(std.high - std.low))),
        "prior_loss_standardised": float(np.sum(np.log((std.high - std.low) / std.scale))),
        "throughput": {
            "simulations_per_s": _median_rate(sim_times, batch) if sim_times else None,
            "sample_batch_median_s": float(np.median(sim_times)) if sim_times else None,
            "training_steps_per_s": _median_rate(step_times, 1) if step_times else None,
            "update_median_s": float(np.median(step_times)) if step_times else None,
            "first_call_s": first,
            "train_wall_s": train_seconds,
            "calibrate_wall_s": calibrate_seconds,
            "note": "medians over the timed calls after the first (which compiles), each blocked until ready",
        },
        "calibration": {
            "n_test": int(n_test),
            "n_posterior_samples": settings["n_posterior"],
            "levels": levels.tolist(),
            "hpd_coverage": coverage.tolist(),
            "hpd_max_abs_error": float(np.max(np.abs(coverage - levels))),
            "marginal_coverage": marginal.T.tolist(),
            "posterior_sd_over_prior_sd": (post_sd.mean(axis=0) / std.scale).tolist(),
            "rmse_posterior_mean_over_prior_sd": (np.sqrt(np.mean((post_mean - theta_test) ** 2, axis=0))
                                                  / std.scale).tolist(),
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    if not args.no_figure:
        figure = Path(args.figure) if args.figure else out / "sbi_coverage.png"
        plot(results, theta_test, post_mean, post_sd, figure)
        results["figure"] = str(figure)
    return results


def plot(results: dict[str, Any], truth: np.ndarray, mean: np.ndarray, sd: np.ndarray, path: Path) -> None:
    """The calibration figure: HPD and marginal expected coverage, then posterior mean +- sd
    against the truth for each target (at most 200 held-out simulations shown)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cal = results["calibration"]
    levels = np.asarray(cal["levels"])
    n_targets = len(results["targets"])
    fig, axes = plt.subplots(1, 1 + n_targets, figsize=(4.0 * (1 + n_targets), 3.8))
    ax = axes[0]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    ax.plot(levels, cal["hpd_coverage"], color="k", lw=2, label="joint HPD")
    for label, cov in zip(results["targets"], cal["marginal_coverage"], strict=True):
        ax.plot(levels, cov, lw=1, label=label.split(" [")[0])
    ax.set(xlabel="credibility level", ylabel="expected coverage", xlim=(0, 1), ylim=(0, 1),
           title=f"{cal['n_test']} held-out simulations")
    ax.legend(fontsize=8, loc="upper left")
    n = min(200, truth.shape[0])
    for j, (ax, label) in enumerate(zip(axes[1:], results["targets"], strict=True)):
        lo, hi = results["prior_low"][j], results["prior_high"][j]
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1, ls="--")
        ax.errorbar(truth[:n, j], mean[:n, j], yerr=sd[:n, j], fmt=".", ms=3, lw=0.5, alpha=0.6)
        ax.axhline(0.5 * (lo + hi), color="0.8", lw=1)
        ax.set(xlabel=f"true {label}", ylabel="posterior mean +- sd", xlim=(lo, hi))
    fig.suptitle(f"xlens NPE ({results['mode']}): {results['steps_done']} steps x {results['batch_size']} "
                 f"simulations, on the fly", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv=None``: ``sys.argv``, which ``results.json`` then records)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--small", action="store_true", help="the CPU configuration of docs/sbi.md (48 x 48 pixels)")
    mode.add_argument("--smoke", action="store_true", help="a few steps of a tiny model (CI)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default by mode)")
    parser.add_argument("--batch-size", type=int, default=None, help="simulations per step (default by mode)")
    parser.add_argument("--n-test", type=int, default=None, help="held-out simulations for the calibration")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop training after this many minutes (default: 24 with --small, none otherwise)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated parameter labels to infer (default: %(default)s); "
                             "e.g. lens.mass.einstein_radius checks that the pipeline learns")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="simulator precision")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100, help="print the loss every N steps (0: never)")
    parser.add_argument("--out", default="sbi_out", help="output folder (results.json, the figure)")
    parser.add_argument("--figure", default=None, help="figure path (default OUT/sbi_coverage.png)")
    parser.add_argument("--no-figure", action="store_true", help="skip the figure (no matplotlib needed)")
    args = parser.parse_args(argv)
    args.record_argv = argv is None
    return args


def main(argv: list[str] | None = None) -> int:
    """Run and print the headline numbers as JSON."""
    args = parse_args(argv)
    results = run(args)
    tp, cal = results["throughput"], results["calibration"]
    print(json.dumps({"steps_done": results["steps_done"], "final_loss": results["final_loss_mean_last_100"],
                      "test_loss": results["test_loss"], "prior_loss": results["prior_loss"],
                      "prior_loss_standardised": results["prior_loss_standardised"],
                      "simulations_per_s": tp["simulations_per_s"],
                      "training_steps_per_s": tp["training_steps_per_s"], "train_wall_s": tp["train_wall_s"],
                      "hpd_max_abs_error": cal["hpd_max_abs_error"],
                      "posterior_sd_over_prior_sd": cal["posterior_sd_over_prior_sd"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
