"""Time the default model on every xlens path, and on lenstronomy when it is installed, in one run.

Run: ``python asv_benchmarks/compare.py [--repeats 5] [--no-numpy] [--no-lenstronomy] [--coarsening C]``.

One realisation of the default model (``sample_params(jax.random.key(0))``: ~21 subhaloes,
~1000 line-of-sight haloes on 8 planes) is imaged from its parameters (ray tracing of the
100 x 100 pixel grid at 4 x 4 over-sampling with the PSF border, source light, PSF
convolution, Poisson noise) by:

* xlens JAX float32, fast path (the production path);
* with ``--coarsening C``: the same with ``Simulator.fast_path_coarsening = C`` (halo batches
  evaluated on C x C pixel blocks; a larger error, docs/performance.md);
* xlens JAX float64, fast path;
* xlens JAX float64, brute force (``exact=True``: every halo on every sub-pixel ray);
* xlens NumPy float64, fast path;
* lenstronomy (if importable; a timing oracle only, not a dependency), the same model:
  ``EPL`` + ``SHEAR`` + the subhaloes as ``TNFW`` at z_lens, the line-of-sight ``TNFW``
  haloes and their negative sheets (``CONVERGENCE``) on their planes, multi-plane ray
  tracing, a ``SERSIC_ELLIPSE`` source (lenstronomy's ``CORE_SERSIC`` with the same core
  costs the same), the same 100 x 100 grid, 4 x 4 supersampling and 11 x 11 pixel PSF.

JAX figures are medians of ``--repeats`` steady-state calls after a warm-up call (which
includes compilation and is reported separately); every call is wrapped in
``block_until_ready``. The brute force, NumPy and lenstronomy are timed once per repeat
but at most twice (they take seconds each). Ratios are printed against the production path.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np


def _times(fn, repeats):
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, float(np.median(times))


def xlens_paths(params, repeats, numpy_too, coarsening=None):
    import jax

    from xlens import Simulator, engine
    jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

    rows = []
    cases = [("JAX", "float32", False, None), ("JAX", "float64", False, None), ("JAX", "float64", True, None)]
    if coarsening is not None:
        cases.insert(1, ("JAX", "float32", False, coarsening))
    for eng, dtype, exact, c in cases:
        sim = Simulator(engine="jax", dtype=dtype, exact=exact)
        sim.fast_path_coarsening = c
        fn = jax.jit(lambda p, k, sim=sim: sim.forward(p, k)["data"])
        key = jax.random.key(1)
        p = sim.to_engine(params)
        first, steady = _times(lambda fn=fn, p=p, key=key: engine.block_until_ready(fn(p, key)),
                               min(repeats, 2) if exact else repeats)
        path = "brute force (exact=True)" if exact else "fast (default)" if c is None else f"fast, coarsening {c}"
        rows.append((f"xlens {eng} {dtype} {path}", first, steady))
    if numpy_too:
        sim = Simulator(engine="numpy")
        p = jax.tree_util.tree_map(np.asarray, params)
        first, steady = _times(lambda: sim.forward(p, 1)["data"], min(repeats, 2))
        rows.append(("xlens NumPy float64 fast (default)", first, steady))
    return rows


def lenstronomy_model(params, sim):
    """The default model's realisation as lenstronomy keyword arguments (multi-plane)."""
    from astropy.cosmology import Planck15

    cfg = sim.config
    models, redshifts, kwargs = [], [], []
    profiles = sim.profiles_from(params)
    lens, shear = profiles["lens"]["mass"], profiles["lens"]["shear"]
    e_y, e_x = (float(v) for v in np.asarray(lens.ell_comps))
    f = math.hypot(e_y, e_x)
    q = (1 - f) / (1 + f)
    slope = float(lens.slope)
    theta_l = math.sqrt(q) * (2 / (1 + q)) ** (1 / (slope - 1)) * float(lens.einstein_radius)
    cy, cx = (float(v) for v in np.asarray(lens.centre))
    models.append("EPL")
    redshifts.append(cfg.z_lens)
    kwargs.append({"theta_E": theta_l, "gamma": slope, "e1": e_x, "e2": e_y, "center_x": cx, "center_y": cy})
    models.append("SHEAR")
    redshifts.append(cfg.z_lens)
    kwargs.append({"gamma1": float(shear.gamma_1), "gamma2": float(shear.gamma_2),
                   "ra_0": 0.0, "dec_0": 0.0})

    def add_tnfw(batch, z):
        prof = batch.masked_profile()
        mask = np.asarray(batch.mask) > 0.5
        c = np.asarray(prof.centre)[mask]
        ks, rs, rt = (np.asarray(getattr(prof, n))[mask] for n in ("kappa_s", "scale_radius", "truncation_radius"))
        for k in range(c.shape[0]):
            models.append("TNFW")
            redshifts.append(z)
            kwargs.append({"Rs": float(rs[k]), "alpha_Rs": float(4 * ks[k] * rs[k] * (1 - math.log(2))),
                           "r_trunc": float(rt[k]), "center_x": float(c[k, 1]), "center_y": float(c[k, 0])})

    for batch in params.subhalos.values():
        add_tnfw(batch, cfg.z_lens)
    tracer = sim.tracer_from(params)
    for g in tracer.galaxies:
        for name, prof in g.profiles.items():
            if name == "los_halos":
                add_tnfw(prof, g.redshift)
            elif type(prof).__name__ == "MassSheet":
                cy, cx = (float(v) for v in np.asarray(prof.centre))
                models.append("CONVERGENCE")
                redshifts.append(g.redshift)
                kwargs.append({"kappa": float(np.asarray(prof.kappa)), "ra_0": cx, "dec_0": cy})
    src = profiles["source"]["light"]
    s_y, s_x = (float(v) for v in np.asarray(src.ell_comps))
    source = [{"amp": float(src.intensity), "R_sersic": float(src.effective_radius),
               "n_sersic": float(src.sersic_index), "e1": s_x, "e2": s_y,
               "center_x": float(np.asarray(src.centre)[1]), "center_y": float(np.asarray(src.centre)[0])}]
    return models, redshifts, kwargs, source, Planck15


def lenstronomy_time(params, repeats):
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    from xlens import Simulator

    sim = Simulator(engine="numpy")
    cfg = sim.config
    models, redshifts, kwargs, source, cosmo = lenstronomy_model(params, sim)
    n = cfg.shape_native[0]
    half = (n - 1) / 2 * cfg.pixel_scale
    data = ImageData(image_data=np.zeros((n, n)), ra_at_xy_0=-half, dec_at_xy_0=-half,
                     transform_pix2angle=np.diag([cfg.pixel_scale, cfg.pixel_scale]))
    psf = PSF(psf_type="PIXEL", kernel_point_source=np.asarray(sim.kernel.values))
    lens_model = LensModel(models, z_source=cfg.z_source, lens_redshift_list=redshifts, multi_plane=True,
                           cosmo=cosmo)
    model = ImageModel(data, psf, lens_model_class=lens_model, source_model_class=LightModel(["SERSIC_ELLIPSE"]),
                       kwargs_numerics={"supersampling_factor": cfg.sub_size, "supersampling_convolution": False})
    rng = np.random.default_rng(0)

    def image():
        clean = model.image(kwargs_lens=kwargs, kwargs_source=source)
        counts = rng.poisson(np.maximum(clean + cfg.background_sky_level, 0) * cfg.exposure_time)
        return counts / cfg.exposure_time - cfg.background_sky_level

    first, steady = _times(image, min(repeats, 2))
    n_tnfw = models.count("TNFW")
    return ("lenstronomy " + __import__("lenstronomy").__version__ + f" (multi-plane, {n_tnfw} TNFW)", first, steady)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-numpy", action="store_true")
    parser.add_argument("--no-lenstronomy", action="store_true")
    parser.add_argument("--coarsening", type=int, default=None, help="also time the fast path coarsened by C")
    args = parser.parse_args()
    import jax

    from xlens import Simulator
    jax.config.update("jax_enable_x64", True)  # an application: float64 for xlens inside its own jax.jit

    print(f"# {time.strftime('%Y-%m-%d')} {platform.machine()} cores={os.cpu_count()} "
          f"python={platform.python_version()} jax={jax.__version__} numpy={np.__version__} "
          f"devices={jax.devices()}")
    sim = Simulator(engine="jax", dtype="float32")
    params, info = jax.jit(sim.sample_params)(jax.random.key(0))
    n_halos = sum(int(np.sum(np.asarray(v.n_kept))) for v in info.values())
    print(f"# default model, realisation key 0: {n_halos} haloes")
    rows = xlens_paths(params, args.repeats, not args.no_numpy, args.coarsening)
    if not args.no_lenstronomy:
        try:
            import lenstronomy  # noqa: F401
        except ImportError:
            print("# lenstronomy is not installed: skipped")
        else:
            rows.append(lenstronomy_time(params, args.repeats))
    base = rows[0][2]
    print("| code and path | first call incl. compile [s] | steady [s/image] | x production |")
    print("|---|---|---|---|")
    for name, first, steady in rows:
        print(f"| {name} | {first:.1f} | {steady:.3f} | {steady / base:.1f} |")


if __name__ == "__main__":
    main()
