"""The sweep grid: one row per item, the initial image then each configuration's best image, captioned
with the gain of its reward total (for ``experiment=figure3``, the colour criterion: the seed
presentation's Figure 3). A column is a configuration, not a job: the shards of one configuration (jobs
whose run.yaml has the same fingerprint) share one. Columns are labelled with what tells the
configurations apart, read from their resolved configs: the keys whose values differ between them
(``reward.color.channel=red``), so any sweep's grid shows its ablation.

The layout is exact (no automatic layout): the picture is ``size(rows, cols)`` pixels and tile (r, c)
sits at ``tile_box(r, c, rows)``, so a reader (or a test) can find each image in it.
"""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from matplotlib.figure import Figure
from PIL import Image

from reno_exp.analysis import fonts
from reno_exp.analysis.figures import save
from reno_exp.analysis.runs import Run
from reno_exp.config import identity, labels

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
    """``differing`` of command lines (``key=value`` overrides)."""
    return labels.differing([dict(o.split("=", 1) if "=" in o else (o, "") for o in job) for job in overrides])


@dataclass
class Column:
    """The runs of one configuration (its shards), labelled by what sets it apart from the other columns."""

    runs: list[Run]
    label: str = ""

    def record(self, key: str) -> tuple[Run, dict] | None:
        """The item's record and the run (shard) that holds it."""
        return self.by_key.get(key)

    @cached_property
    def by_key(self) -> dict[str, tuple[Run, dict]]:
        out: dict[str, tuple[Run, dict]] = {}
        for run in self.runs:
            for r in run.records:
                out.setdefault(r["key"], (run, r))
        return out


# a group whose option differs between columns is named by its option, not by every key it sets
OPTIONS = {"model": lambda info: labels.model_option(info.config, info.choices),
           "reward": lambda info: labels.reward_option(info.config, info.choices, tuple(info.overrides)),
           "benchmark": lambda info: labels.suite_option(info.config, info.choices),
           "optimizer": lambda info: labels.method_option(info.config)}
KEPT = ("optimizer.n_iters",)  # said even then: what a method's budget bought it


def settings(infos: list) -> list[dict]:
    """Each column's config, flattened, with a group whose option differs between columns as one entry."""
    flat = [identity.flatten(info.config) if info else {} for info in infos]
    for group, option in OPTIONS.items():
        named = [option(info) if info else "" for info in infos]
        if len(set(named)) > 1:
            flat = [as_option(f, group, n) for f, n in zip(flat, named)]
    return flat


def as_option(flat: dict, group: str, option: str) -> dict:
    """``flat`` with the group's keys as one ``group: option`` entry where its first key was (KEPT kept)."""
    out = {}
    for k, v in flat.items():
        if k == group or k.startswith(f"{group}."):
            out.setdefault(group, option)
            if k not in KEPT:
                continue
        out[k] = v
    return out


def columns(runs: list[Run]) -> list[Column]:
    """One column per configuration (runs with one fingerprint: the shards of a job), in run order."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.info.fingerprint if run.info else str(run.dir), []).append(run)
    cols = [Column(rs) for rs in groups.values()]
    for col, label in zip(cols, labels.differing(settings([c.runs[0].info for c in cols]))):
        col.label = label or (col.runs[0].label if len(cols) == 1 else col.runs[0].name)
    return cols


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
    """The grid of a sweep's jobs, a column per configuration (None when no job has records); returns
    (path, notes)."""
    keys = list(dict.fromkeys(r["key"] for run in runs for r in run.records))[:max_rows]
    if not keys:
        return None
    cols = columns(runs)
    found = [{key: col.record(key) for key in keys} for col in cols]
    labels_ = ["initial"] + [col.label for col in cols]
    rows, ncols = len(keys), len(cols) + 1
    width, height = size(rows, ncols)
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    notes = []

    def axes(r: int, c: int):
        left, top, right, bottom = tile_box(r, c, rows)
        return fig.add_axes((left / width, 1 - bottom / height, (right - left) / width, (bottom - top) / height))

    for c, label in enumerate(labels_):
        left, _, right, _ = tile_box(0, c, rows)
        fig.text((left + right) / 2 / width, 1 - 0.3 * DPI / height, textwrap.fill(label, 30), ha="center",
                 va="top", fontsize=8, weight="bold" if c else "normal")
    for r, key in enumerate(keys):
        cells = [f[key] for f in found]  # (run, record) of each column, or None
        first = next(i for i, cell in enumerate(cells) if cell is not None)
        run0, rec0 = cells[first]
        initial = run0.dir / rec0.image("initial") if rec0.image("initial") else None
        # one initial column is only right when every configuration starts from the same image
        differs = {digest(run.dir / rec.image("initial")) for run, rec in filter(None, cells) if rec.image("initial")}
        ax = axes(r, 0)
        show(ax, initial)
        ax.set_xlabel(f"total {rec0['initial']['total']:.4g}" if len(cols) == 1 else
                      ("same for every job" if len(differs) <= 1 else f"of {labels_[first + 1]}"), fontsize=7)
        if len(differs) > 1:
            notes.append(f"{key}: the jobs start from different initial images; the grid shows {labels_[first + 1]}'s")
        _, top, _, bottom = tile_box(r, 0, rows)
        prompt = fonts.text(textwrap.fill(textwrap.shorten(rec0["prompt"], 120, placeholder="..."), 28))
        fig.text(0.1 * DPI / width, 1 - (top + bottom) / 2 / height, f"{prompt}\n(seed {rec0.get('seed')})",
                 ha="left", va="center", fontsize=8, **fonts.style())
        for c, cell in enumerate(cells, start=1):
            ax = axes(r, c)
            if cell is None:
                show(ax, None)
                ax.set_xlabel("not run", fontsize=7)
                continue
            run, rec = cell
            show(ax, run.dir / rec.image("best") if rec.image("best") else None)
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
