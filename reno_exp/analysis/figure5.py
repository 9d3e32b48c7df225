"""The paper's Figure 5: an evaluation metric against the number of ReNO iterations.

With ``optimizer.save_every=k`` a run saves the image of every k-th iterate; the evaluators score them
into ``evaluation.jsonl`` with ``image_set`` "iter_XXX" (XXX the iteration). Here the scores are
averaged over items per metric and per category (T2I-CompBench category, GenEval tag, a prompt file's
category; "all" when a record has neither), at each iteration. GenEval's "overall" is the mean of its tag scores, as in its
tables. The "initial" image set is iteration 0; "best" is drawn as a dotted level.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from reno_exp.analysis.figures import save

ITER = re.compile(r"^iter_(\d+)$")


def iteration_of(image_set: str) -> int | None:
    """"iter_010" -> 10, "initial" -> 0, anything else (e.g. "best") -> None."""
    if image_set == "initial":
        return 0
    m = ITER.match(image_set)
    return int(m.group(1)) if m else None


def group_of(record: dict | None) -> str:
    meta = (record or {}).get("meta") or {}
    if meta.get("suite") == "prompts":  # a prompt file's "tag" column is only metadata: its groups are categories
        return str(meta.get("category") or "all")
    return str(meta.get("category") or meta.get("tag") or "all")


@dataclass
class Point:
    metric: str
    group: str
    iteration: int | None  # None: the best image
    mean: float
    n: int


def points(evaluations: list, records: list[dict]) -> list[Point]:
    """Mean score per (metric, group, iteration); one score per item and image (a later line for the same
    (key, image_set, metric) replaces an earlier one; iter_000 and initial are the same image)."""
    by_key = {r["key"]: r for r in records}
    scores: dict[tuple[str, str, int | None], dict[str, float]] = defaultdict(dict)
    for e in evaluations:
        it = iteration_of(e.image_set)
        if it is None and e.image_set != "best":
            continue
        if e.score is None:
            continue
        g = group_of(by_key.get(e.key))
        bucket = scores[(e.metric, g, it)]
        if e.image_set == "initial" and e.key in bucket:
            continue  # keep the iter_000 score when both are there
        bucket[e.key] = e.score
    out = [Point(m, g, it, float(np.mean(list(v.values()))), len(v)) for (m, g, it), v in scores.items()]
    # GenEval overall: mean of its tag scores at each iteration
    tags = defaultdict(list)
    for p in out:
        if p.metric == "geneval" and p.group != "all":
            tags[p.iteration].append(p)
    for it, ps in tags.items():
        out.append(Point("geneval", "overall", it, float(np.mean([p.mean for p in ps])), sum(p.n for p in ps)))
    return sorted(out, key=lambda p: (p.metric, p.group, -1 if p.iteration is None else p.iteration))


def write_csv(ps: list[Point], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metric", "group", "iteration", "mean", "n"])
        for p in ps:
            w.writerow([p.metric, p.group, "best" if p.iteration is None else p.iteration, f"{p.mean:.6g}", p.n])
    return path


def saved_iterates(ps: list[Point]) -> bool:
    """Whether any score is of a saved iterate (iter_XXX past 0): without them there is no curve."""
    return any(p.iteration for p in ps)


def figure(ps: list[Point], path: Path, title: str = "") -> Path | None:
    """One panel per metric with saved iterates; a line per group over the iterations, its best-image
    level dotted. None when no metric scored a saved iterate (initial and best alone are no curve)."""
    metrics = sorted({p.metric for p in ps if p.iteration})
    if not metrics:
        return None
    fig = Figure(figsize=(5.5 * len(metrics), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, metric in zip(axes, metrics):
        groups = sorted({p.group for p in ps if p.metric == metric}, key=lambda g: (g == "overall", g))
        for g in groups:
            line = sorted((p for p in ps if p.metric == metric and p.group == g and p.iteration is not None),
                          key=lambda p: p.iteration)
            if not line:
                continue
            style = {"lw": 2.5, "color": "k"} if g == "overall" else {"lw": 1.5}
            (h,) = ax.plot([p.iteration for p in line], [p.mean for p in line], "o-", ms=3, label=g, **style)
            best = [p for p in ps if p.metric == metric and p.group == g and p.iteration is None]
            if best:
                ax.axhline(best[0].mean, color=h.get_color(), ls=":", lw=1)
        ax.set_xlabel("ReNO iterations")
        its = sorted({p.iteration for p in ps if p.metric == metric and p.iteration is not None})
        if len(its) <= 12:  # ticks at the scored iterations themselves
            ax.set_xticks(its)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"{metric} (mean over images)")
        ax.set_title(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, title="dotted: best image", title_fontsize=7)
    fig.suptitle(title or "Metric against the number of iterations (Figure 5)", fontsize=11)
    return save(fig, path)
