"""The pictures of a run: noise before/after per prompt, coherence, spectra, reward curves, iterate grid.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, no global state, Agg canvas) and saved
as PNG.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image

from reno_exp.analysis import fonts
from reno_exp.analysis.coherence import Coherence
from reno_exp.analysis.spectra import LOW, Spectra

NOISE_RANGE = 3.0  # noise panels show -3..3 (standard deviations of N(0, I)) as 0..1
# record["curves"] entries that are not rewards
CURVE_EXTRAS = ("reg", "loss", "grad_norm", "evaluations", "backwards")


def save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def noise_rgb(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) noise -> (H, W, 3) picture of its first three channels, +-3 sd mapped to 0..1."""
    a = x.float().cpu().numpy()
    a = a[[i % a.shape[0] for i in range(3)]]
    return np.clip(a.transpose(1, 2, 0) / (2 * NOISE_RANGE) + 0.5, 0, 1)


def short(prompt: str, width: int = 60) -> str:
    """A prompt shortened for a figure, every character drawable (see ``fonts``); draw it with
    ``**fonts.style()``."""
    return fonts.text(textwrap.shorten(prompt, width, placeholder="..."))


def noise_figure(initial: torch.Tensor, best: torch.Tensor, images: list[Path | None], title: str, path: Path,
                 note: str | None = None) -> Path:
    """Initial noise, optimised noise, their difference (amplified, colour-mapped), initial and best image."""
    delta = (best - initial).float().mean(0).cpu().numpy()
    m = float(np.abs(delta).max()) or 1.0
    fig = Figure(figsize=(17, 3.9), layout="constrained")
    axes = fig.subplots(1, 5)
    axes[0].imshow(noise_rgb(initial), interpolation="nearest")
    axes[0].set_title("initial noise (ch 0-2)")
    axes[1].imshow(noise_rgb(best), interpolation="nearest")
    axes[1].set_title("optimised noise (ch 0-2)")
    im = axes[2].imshow(delta, cmap="RdBu_r", vmin=-m, vmax=m, interpolation="nearest")
    axes[2].set_title(f"change x{NOISE_RANGE / m:.0f} (channel mean)")
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    for ax, img, name in zip(axes[3:], images, ("initial image", "best image")):
        if img is not None and Path(img).exists():
            ax.imshow(Image.open(img).convert("RGB"))
        else:
            ax.text(0.5, 0.5, "no image saved", ha="center", va="center")
        ax.set_title(name)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=10, **fonts.style())
    return save(fig, path)


def coherence_figure(c: Coherence, path: Path, title: str = "") -> Path:
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    lo, hi = c.band()
    n = len(c.per_item)
    ax.fill_between(c.freqs, lo, hi, alpha=0.3, label=f"interquartile range over {n} item(s)")
    ax.plot(c.freqs, c.mean, lw=2, label="initial vs optimised noise (mean)")
    ax.plot(c.freqs, c.floor, "k--", lw=1, label="two independent noises (estimator floor)")
    ax.set_xlabel("frequency along a row (cycles per latent pixel)")
    ax.set_ylabel("magnitude-squared coherence")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, 0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or f"Coherence (Welch, {c.nperseg}-sample segments)", fontsize=10)
    return save(fig, path)


def spectrum_figure(s: Spectra, path: Path, title: str = "") -> Path:
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    r = s.radii
    ch = s.change
    ax.fill_between(r, np.percentile(ch, 25, 0), np.percentile(ch, 75, 0), alpha=0.3,
                    label=f"change: interquartile range over {len(ch)} item(s)")
    ax.plot(r, ch.mean(0), lw=2, label="change (optimised - initial)")
    ax.plot(r, s.initial.mean(0), "k--", lw=1, label="initial noise (white, about 1)")
    ax.axvline(LOW, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlim(0, 0.5)
    ax.set_xlabel("radial frequency (cycles per latent pixel)")
    ax.set_ylabel("power (radial mean, over channels)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    share = f"{100 * s.low_share.mean():.0f}% of the change's power below {LOW} (white: {100 * s.white_share:.0f}%)"
    ax.set_title((title + "\n" if title else "") + share, fontsize=10)
    return save(fig, path)


def reward_names(record: dict) -> list[str]:
    return [k for k in record.get("curves", {}) if k not in CURVE_EXTRAS]


def curves_figure(records: list[dict], path: Path, title: str = "") -> Path:
    """One panel per reward, plus the weighted total, the regulariser and the gradient norm: a thin
    line per item, the mean over items in bold, a dot at each item's best iterate."""
    names = reward_names(records[0])
    panels = [(n, lambda r, n=n: r["curves"][n]) for n in names]
    panels.append(("total (weighted)", lambda r: r.get("history", [])))
    panels += [(n, lambda r, n=n: r["curves"].get(n, [])) for n in ("reg", "grad_norm")]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(5 * cols, 3.4 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, (name, get) in zip(axes, panels):
        series = [np.array([np.nan if v is None else v for v in get(r)], dtype=float) for r in records]
        series = [s for s in series if s.size]
        for r, s in zip(records, series):
            ax.plot(np.arange(len(s)), s, lw=0.8, alpha=0.5)
            b = r.get("best_iteration")
            if isinstance(b, int) and b < len(s) and name != "grad_norm":
                ax.plot([b], [s[b]], "k.", ms=4)
        if series:
            n = max(len(s) for s in series)
            padded = np.full((len(series), n), np.nan)
            for i, s in enumerate(series):
                padded[i, : len(s)] = s
            with warnings.catch_warnings():  # an iterate no item has (the last grad_norm) is a gap
                warnings.simplefilter("ignore", RuntimeWarning)
                ax.plot(np.arange(n), np.nanmean(padded, 0), "k", lw=2, label="mean over items")
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.axis("off")
    axes[0].legend(fontsize=8)
    fig.suptitle(title or f"Per-iteration values ({len(records)} item(s); dots: best iterate)", fontsize=11)
    return save(fig, path)


def iterates_figure(run_dir: Path, records: list[dict], path: Path, title: str = "") -> Path | None:
    """A row per item: the saved iterates (``optimizer.save_every``) then the best image."""
    rows = [r for r in records if r.get("iterates")]
    if not rows:
        return None
    cols = max(len(r["iterates"]) for r in rows) + 1
    fig = Figure(figsize=(1.7 * cols, 1.9 * len(rows) + 0.6), layout="constrained")
    axes = np.array(fig.subplots(len(rows), cols, squeeze=False))
    for i, r in enumerate(rows):
        cells = [(p, f"it {int(Path(p).stem.rsplit('_', 1)[-1])}") for p in r["iterates"]]
        cells += [(None,)] * (cols - 1 - len(cells))
        cells.append((r.image("best"), f"best (it {r.get('best_iteration')})"))
        for j, cell in enumerate(cells):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if cell[0] is None:
                ax.axis("off")
                continue
            p = run_dir / cell[0]
            if p.exists():
                ax.imshow(Image.open(p).convert("RGB"))
            ax.set_title(cell[1], fontsize=8)
        axes[i, 0].set_ylabel(f"{r['key']}\n{short(r['prompt'], 24)}", fontsize=7, **fonts.style())
    fig.suptitle(title or "Images along the iterations", fontsize=10)
    return save(fig, path)
