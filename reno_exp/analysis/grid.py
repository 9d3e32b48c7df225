"""The sweep grid: one row per item, the initial image then each job's best image, captioned with the
gain of the job's reward total (for ``experiment=figure3``, the colour criterion: the seed
presentation's Figure 3). Columns are labelled with what tells the jobs apart: the overrides whose
values differ between them (``reward.color.channel=red``), so any sweep's grid shows its ablation.

The layout is exact (no automatic layout): the picture is ``size(rows, cols)`` pixels and tile (r, c)
sits at ``tile_box(r, c, rows)``, so a reader (or a test) can find each image in it.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

from reno_exp.analysis import fonts
from reno_exp.analysis.figures import save
from reno_exp.analysis.runs import Run

DPI = 100
TILE, GAP, CAPTION, HEADER, LABEL = 2.0, 0.1, 0.35, 0.7, 2.2  # inches


def size(rows: int, cols: int) -> tuple[int, int]:
    """(width, height) in pixels of a grid of ``rows`` items and ``cols`` image columns."""
    return round(DPI * (LABEL + cols * (TILE + GAP) + GAP)), round(DPI * (HEADER + rows * (TILE + CAPTION) + GAP))


def tile_box(r: int, c: int, rows: int) -> tuple[float, float, float, float]:
    """Tile (r, c) as (left, top, right, bottom) in pixels from the picture's top-left corner."""
    left = LABEL + GAP + c * (TILE + GAP)
    top = HEADER + r * (TILE + CAPTION)
    return DPI * left, DPI * top, DPI * (left + TILE), DPI * (top + TILE)


def differing_overrides(overrides: list[list[str]]) -> list[str]:
    """Per job, its overrides whose value is not the same in every job ("key=value, ..."); keys
    missing from a job count as differing."""
    parsed = [dict(o.split("=", 1) if "=" in o else (o, "") for o in job) for job in overrides]
    keys = list(dict.fromkeys(k for job in parsed for k in job))
    differ = [k for k in keys if len({job.get(k) for job in parsed}) > 1]
    return [", ".join(f"{k}={job[k]}" for k in differ if k in job) for job in parsed]


def job_labels(runs: list[Run]) -> list[str]:
    labels = differing_overrides([run.setup.overrides if run.setup else [] for run in runs])
    return [label or run.name for label, run in zip(labels, runs)]


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def show(ax, path: Path | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if path is not None and path.is_file():
        with Image.open(path) as im:
            ax.imshow(im.convert("RGB"), interpolation="nearest", aspect="auto")
    else:
        ax.set_facecolor("0.85")
        ax.text(0.5, 0.5, "no image saved", ha="center", va="center", fontsize=8, transform=ax.transAxes)


def grid_figure(runs: list[Run], path: Path, max_rows: int = 16, title: str = "") -> tuple[Path, list[str]] | None:
    """The grid of a sweep's jobs (None when no job has records); returns (path, notes)."""
    keys = list(dict.fromkeys(r["key"] for run in runs for r in run.records))[:max_rows]
    if not keys:
        return None
    by_key = [{r["key"]: r for r in run.records} for run in runs]
    labels = ["initial"] + job_labels(runs)
    rows, cols = len(keys), len(runs) + 1
    width, height = size(rows, cols)
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    notes = []

    def axes(r: int, c: int):
        left, top, right, bottom = tile_box(r, c, rows)
        return fig.add_axes((left / width, 1 - bottom / height, (right - left) / width, (bottom - top) / height))

    for c, label in enumerate(labels):
        left, _, right, _ = tile_box(0, c, rows)
        fig.text((left + right) / 2 / width, 1 - 0.3 * DPI / height, textwrap.fill(label, 30), ha="center",
                 va="top", fontsize=8, weight="bold" if c else "normal")
    for r, key in enumerate(keys):
        records = [k.get(key) for k in by_key]
        first = next(i for i, rec in enumerate(records) if rec is not None)
        rec0 = records[first]
        initial = runs[first].dir / rec0["initial_image"] if rec0.get("initial_image") else None
        # one initial column is only right when every job starts from the same image
        differs = {digest(run.dir / rec["initial_image"]) for run, rec in zip(runs, records)
                   if rec is not None and rec.get("initial_image")}
        ax = axes(r, 0)
        show(ax, initial)
        ax.set_xlabel(f"total {rec0['initial']['total']:.4g}" if len(runs) == 1 else
                      ("same for every job" if len(differs) <= 1 else f"of {labels[first + 1]}"), fontsize=7)
        if len(differs) > 1:
            notes.append(f"{key}: the jobs start from different initial images; the grid shows {labels[first + 1]}'s")
        _, top, _, bottom = tile_box(r, 0, rows)
        prompt = fonts.text(textwrap.fill(textwrap.shorten(rec0["prompt"], 120, placeholder="..."), 28))
        fig.text(0.1 * DPI / width, 1 - (top + bottom) / 2 / height, f"{prompt}\n(seed {rec0.get('seed')})",
                 ha="left", va="center", fontsize=8, **fonts.style())
        for c, (run, rec) in enumerate(zip(runs, records), start=1):
            ax = axes(r, c)
            if rec is None:
                show(ax, None)
                ax.set_xlabel("not run", fontsize=7)
                continue
            show(ax, run.dir / rec["image"] if rec.get("image") else None)
            gain = rec["best"]["total"] - rec["initial"]["total"]
            ax.set_xlabel(f"gain {gain:+.4g} (it {rec.get('best_iteration')})", fontsize=7)
    fig.text(0.1 * DPI / width, 1 - 0.05 * DPI / height, (title or common_label(runs))
             + "    (captions: gain of the reward total, best - initial, and the best iterate)", ha="left", va="top",
             fontsize=9)
    return save(fig, path), notes


def common_label(runs: list[Run]) -> str:
    """What the jobs share, from their configuration labels ('hyper_sdxl | color 1 | reno, 50 iterates');
    a part that differs between jobs is shown as '*'."""
    parts = [run.label.split(" | ") for run in runs]
    if len({len(p) for p in parts}) > 1:
        return "jobs of different configurations"
    return " | ".join(p[0] if len(set(p)) == 1 else "*" for p in zip(*parts))
