"""Figures of simulated lenses (matplotlib, no pyplot state): what ``xlens show`` draws.

Every panel of :func:`plot_example` comes from :meth:`Simulator.diagnostics`, the
same compiled computation as the images, called twice (the example and a model
with its subhaloes removed); the source panel is the source profile evaluated on
the NumPy engine. Nothing here compiles anything else.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import engine
from .halos.batch import HaloBatch
from .model import SimParams
from .simulator import Simulator

__all__ = ["plot_example", "plot_grid", "save"]


def _mpl():
    try:
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is a test dependency
        raise ImportError("xlens show needs matplotlib: pip install 'xlens[plot]'") from err
    return Figure


def _extent(shape, pixel_scale: float) -> list[float]:
    ny, nx = shape
    return [-nx * pixel_scale / 2, nx * pixel_scale / 2, -ny * pixel_scale / 2, ny * pixel_scale / 2]


def _without_subhalos(params: SimParams) -> SimParams:
    """The same parameters with every subhalo slot masked (same shapes: no recompilation)."""
    subs = {k: HaloBatch(profile=b.profile, mask=np.zeros_like(np.asarray(b.mask))) for k, b in params.subhalos.items()}
    return SimParams(params.galaxies, subs, params.line_of_sight, params.hyper)


def _has_lens_light(sim: Simulator) -> bool:
    """True if the model has light on or in front of the lens plane (a lens-light panel)."""
    model = sim.config.model
    z_lens = sim.z_reference[0]
    return any(model.is_light(g, c) and model.redshift_of(g, z_lens, sim.z_reference[1]) <= z_lens
               for g, gal in model.galaxies.items() for c in gal.components)


def _halo_positions(params: SimParams):
    """(y, x, log10 mass) of the subhaloes and of the line-of-sight haloes (real slots only)."""
    out = []
    for batches in (list(params.subhalos.values()), [params.line_of_sight] if params.line_of_sight is not None else []):
        ys, xs, ms = [], [], []
        for b in batches:
            mask = np.asarray(b.mask).astype(bool)
            centre = np.asarray(b.profile.centre)
            ys.append(centre[..., 0][mask])
            xs.append(centre[..., 1][mask])
            mass = getattr(b.profile, "mass_at_200", None)
            ms.append(np.log10(np.asarray(mass)[mask]) if mass is not None else np.full(mask.sum(), 8.0))
        out.append(tuple(np.concatenate(v) if v else np.zeros(0) for v in (ys, xs, ms)))
    return out


def plot_example(
    sim: Simulator,
    params: SimParams,
    key,
    *,
    data: Any = None,
    noise_map: Any = None,
    title: str = "",
):
    """A 2 x 3 figure of one example: data, model, source, convergence and haloes, noise, residual
    (2 x 4 with lens light: its panel and the lensed source's, both before the PSF).

    Parameters
    ----------
    sim : Simulator
        The simulator of the example's model.
    params : SimParams
        The example's parameters (from :meth:`Dataset.params` or :meth:`Simulator.sample`).
    key
        The noise key of the example.
    data, noise_map : array, optional
        The stored noisy image and noise map [e-/s]; default: those of ``sim.diagnostics``.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        The residual panel shows ``(data - model without subhaloes) / noise``: the
        signal of the substructure in units of the noise.
    """
    Figure = _mpl()
    cfg = sim.config
    diag = {k: np.asarray(v) for k, v in sim.diagnostics(params, key).items()}
    smooth = np.asarray(sim.diagnostics(_without_subhalos(params), key)["model_image"])
    data = diag["data"] if data is None else np.asarray(data)
    noise_map = diag["noise_map"] if noise_map is None else np.asarray(noise_map)
    ext = _extent(cfg.shape_native, cfg.pixel_scale)

    lens_light = _has_lens_light(sim)
    fig = Figure(figsize=(18.0 if lens_light else 13.5, 8.4), dpi=100, layout="constrained")
    grid = fig.subplots(2, 4 if lens_light else 3)
    axes = grid[:, :3]
    panels = [
        (axes[0, 0], data, "noisy image [e-/s]", "magma", None),
        (axes[0, 1], diag["model_image"], "noiseless model [e-/s]", "magma", None),
    ]
    if lens_light:
        panels += [(grid[0, 3], diag["lens_light"], "lens light (before the PSF) [e-/s]", "magma", None),
                   (grid[1, 3], diag["lensed_source"], "lensed source (before the PSF) [e-/s]", "magma", None)]
    for ax, img, label, cmap, norm in panels:
        im = ax.imshow(img, origin="upper", extent=ext, cmap=cmap, norm=norm)
        fig.colorbar(im, ax=ax, shrink=0.85)
        ax.set_title(label)

    # source plane: the source galaxy's light on a grid about its first centre (NumPy engine)
    host = engine.tree_map(lambda a: np.asarray(a, dtype=np.float64) if np.issubdtype(np.asarray(a).dtype,
                                                                                        np.floating) else np.asarray(a),
                           params)
    model = cfg.model
    lights = [(c, p) for c, p in model.profiles(host.galaxies, xp=engine.get_xp("numpy"))["source"].items()
              if model.is_light("source", c)]
    first = next((p for _, p in lights if hasattr(p, "centre")), None)
    cy, cx = (0.0, 0.0) if first is None else (float(v) for v in np.asarray(first.centre).reshape(2))
    size = getattr(first, "effective_radius", None)
    half = max(1.0, 4.0 * float(np.asarray(size))) if size is not None else 1.5
    n = 160
    ys, xs = np.meshgrid(np.linspace(cy + half, cy - half, n), np.linspace(cx - half, cx + half, n), indexing="ij")
    points = np.stack([ys, xs], axis=-1)
    light = np.zeros((n, n))
    for cname, prof in lights:
        flag = host.galaxies["source"][cname].get("present", 1.0)
        light = light + float(flag) * np.asarray(prof.image_2d_from(points))
    ax = axes[0, 2]
    im = ax.imshow(light, origin="upper", extent=[cx - half, cx + half, cy - half, cy + half], cmap="magma")
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title("source (source plane) [e-/s]")

    from matplotlib.colors import LogNorm

    kappa = np.clip(diag["convergence"], 1e-3, None)
    ax = axes[1, 0]
    norm = LogNorm(vmin=1e-2, vmax=max(float(kappa.max()), 1.1e-2))
    im = ax.imshow(kappa, origin="upper", extent=ext, cmap="viridis", norm=norm)
    fig.colorbar(im, ax=ax, shrink=0.85)
    (sy, sx, sm), (ly, lx, lm) = _halo_positions(params)
    if lx.size:
        ax.scatter(lx, ly, s=2 + 6 * (lm - lm.min()), facecolors="none", edgecolors="white", linewidths=0.5,
                   label=f"line of sight ({lx.size})")
    if sx.size:
        ax.scatter(sx, sy, s=8 + 12 * (sm - 7), marker="o", facecolors="none", edgecolors="red", linewidths=1.0,
                   label=f"subhaloes ({sx.size})")
    ax.set_xlim(ext[0], ext[1])
    ax.set_ylim(ext[2], ext[3])
    if lx.size or sx.size:
        ax.legend(loc="lower left", fontsize=7, framealpha=0.6)
    ax.set_title("convergence (log) and haloes")

    ax = axes[1, 1]
    im = ax.imshow(noise_map, origin="upper", extent=ext, cmap="cividis")
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title("noise map [e-/s]")

    resid = (data - smooth) / noise_map
    lim = max(3.0, float(np.nanpercentile(np.abs(resid), 99.5)))
    ax = axes[1, 2]
    im = ax.imshow(resid, origin="upper", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title("residual: data - no-subhalo model [sigma]")
    for ax in grid.ravel():
        ax.set_xlabel("x [arcsec]")
        ax.set_ylabel("y [arcsec]")
    if title:
        fig.suptitle(title)
    return fig


def plot_grid(images, *, labels=None, ncols: int | None = None, pixel_scale: float = 1.0, title: str = ""):
    """A mosaic of images (e.g. the first examples of a dataset).

    Parameters
    ----------
    images : array (N, ny, nx)
        Images [e-/s].
    labels : list of str, optional
        One caption per image.
    ncols : int, optional
        Columns (default ``ceil(sqrt(N))``).
    pixel_scale : float
        [arcsec] for the axes.
    """
    Figure = _mpl()
    images = np.asarray(images)
    n = images.shape[0]
    if n < 1:
        raise ValueError("plot_grid needs at least one image")
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(2.4 * ncols, 2.5 * nrows + 0.4), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    ext = _extent(images.shape[1:], pixel_scale)
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        ax.imshow(images[i], origin="upper", extent=ext, cmap="magma")
        if labels is not None:
            ax.set_title(labels[i], fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def grid_labels(table: np.ndarray, indices, names: list[str]) -> list[str]:
    """Captions ``#i  theta_E=..`` from rows of the dataset's parameter table and its column
    ``names`` (theta_E: the lens galaxy's first ``einstein_radius``); the population parameters
    drawn per image follow (e.g. ``sigma_sub=0.031``)."""
    names = list(names)
    j = next((k for k, n in enumerate(names) if n.startswith("lens.") and n.endswith(".einstein_radius")), None)
    extra = [(k, n.split(".")[-1]) for k, n in enumerate(names) if n.count(".") == 1]  # the population labels
    head = [f"#{i}" + ("" if j is None else f"  theta_E={row[j]:.2f}\"") for i, row in zip(indices, table, strict=True)]
    return [h + "".join(f"\n{short}={row[k]:.3g}" for k, short in extra) for h, row in zip(head, table, strict=True)]


def label_lines(names: list[str], units: list[str], row: np.ndarray) -> list[str]:
    """One ``name = value units`` line per column of a parameter-table row (for ``xlens show``)."""
    width = max((len(n) for n in names), default=0)
    return [f"{n:<{width}} = {v:.6g} {u}" for n, u, v in zip(names, units, row, strict=True)]


def save(fig, path) -> None:
    """Write a figure to ``path`` (PNG by extension), atomically (a temporary file, then a rename)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    FigureCanvasAgg(fig)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    fig.savefig(tmp)
    os.replace(tmp, path)
