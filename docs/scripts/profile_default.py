"""Where the time of one default-model image goes (JAX float32, fast path).

Run: ``python docs/scripts/profile_default.py``. Each stage is jitted on its own and timed
after a warm-up call (minimum and median of 15 blocked calls, the minimum being the least
disturbed by other processes on a shared machine), for one realisation (key 3).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import xlens.tracer.fast_path as T
from xlens import Simulator
from xlens.imaging.grid import bin_over_sampled

jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit


def bench(name, fn, *args, n=15):
    f = jax.jit(fn)
    jax.block_until_ready(f(*args))
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        jax.block_until_ready(f(*args))
        ts.append(time.perf_counter() - t0)
    print(f"| {name} | {1e3 * min(ts):.0f} | {1e3 * np.median(ts):.0f} |", flush=True)


def main():
    sim = Simulator(engine="jax", dtype="float32")
    params = sim.to_engine(jax.jit(sim.sample_params)(jax.random.key(3))[0])
    grid = jnp.asarray(sim.padded_grid.over_sampled, dtype=jnp.float32)
    s = sim.config.sub_size
    key = jax.random.key(1)
    print(f"# {time.strftime('%Y-%m-%d')} jax={jax.__version__} devices={jax.devices()}")
    print("| stage | min [ms] | median [ms] |")
    print("|---|---|---|")
    bench("whole image from parameters (`forward`)", lambda p, k: sim.forward(p, k)["data"], params, key)
    bench("priors + both populations (`sample_params`)", lambda k: sim.sample_params(k), key)

    def trace(p, g, n):
        return sim.tracer_from(p).traced_grid_2d_list_over_sampled_from(g, s, n_corrected=n)[-1]

    bench("fast ray tracing, all stages", lambda p, g: trace(p, g, T.FAST_PATH_CORRECTED), params, grid)
    bench("fast ray tracing without the window correction", lambda p, g: trace(p, g, 0), params, grid)
    bench("mass -> lensing parameters of every halo (once)",
          lambda p: [b.profile.kappa_s for g in sim.tracer_from(p)._with_lensing_batches().galaxies
                     for b in g.profiles.values() if hasattr(b, "mask")], params)

    def coarse(p, g):
        tracer = sim.tracer_from(p)._with_lensing_batches()
        pix = jnp.stack([bin_over_sampled(g[..., k], s) for k in range(2)], -1)
        pix = T.extend_linear(T.extend_linear(pix, 2, 0, xp=jnp), 2, 1, xp=jnp)
        return tracer.traced_grid_2d_list_from(pix)[-1]

    bench("coarse pass: every halo at the 114^2 pixel centres (incl. conversion)", coarse, params, grid)
    def lens(p):
        return sim.profiles_from(p)["lens"]

    bench("macro lens + shear at the 193,600 rays", lambda p, g: lens(p)["mass"].deflections_yx_2d_from(g)
          + lens(p)["shear"].deflections_yx_2d_from(g), params, grid)
    bench("source light at the 193,600 rays",
          lambda p, g: sim.profiles_from(p)["source"]["light"].image_2d_from(g), params, grid)

    from xlens.imaging.noise import add_poisson_noise
    from xlens.imaging.psf import convolve_fft

    image = jnp.full((110, 110), 0.3, dtype=jnp.float32)
    kernel = jnp.asarray(sim.kernel.values, dtype=jnp.float32)
    bench("PSF convolution (FFT, 110^2 pixels)", lambda im: convolve_fft(im, kernel), image)
    cfg = sim.config
    bench("Poisson noise (100^2 pixels)", lambda im, k: add_poisson_noise(im, k, cfg.exposure_time,
                                                                          cfg.background_sky_level).data,
          image[5:-5, 5:-5], key)


if __name__ == "__main__":
    main()
