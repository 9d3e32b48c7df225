"""What a run's records add up to: the numbers the end-of-run summary prints and W&B keeps per run.

Means are over the items whose value is finite, and say how many that is; a non-finite value is counted
and reported, never folded in as a number. Records are read once per item (reno_exp.store.records).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Mean:
    initial: float | None
    best: float | None
    n: int  # items with both values finite
    non_finite: int  # items with either value missing or not finite
    improved: float | None  # share of the n items whose best beats the initial

    @property
    def gain(self) -> float | None:
        return None if self.n == 0 else self.best - self.initial


def ok(x) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def means(records: list[dict]) -> dict[str, Mean]:
    """Per reward (and ``total``): mean initial and best score over the items, gain, share improved."""
    names = []
    for r in records:
        names += [k for k in r.get("initial", {}) if k not in names]
    out = {}
    for name in sorted(names, key=lambda k: k == "total"):
        pairs = [(r["initial"].get(name), r["best"].get(name)) for r in records]
        good = [(a, b) for a, b in pairs if ok(a) and ok(b)]
        n = len(good)
        out[name] = Mean(sum(a for a, _ in good) / n if n else None, sum(b for _, b in good) / n if n else None,
                         n, len(pairs) - n, sum(b > a for a, b in good) / n if n else None)
    return out


def curves(records: list[dict]) -> dict[str, list[float | None]]:
    """Per iterate, the mean over items of the reward total and of each reward (finite values only)."""
    series = {"total": [r.get("history") or [] for r in records]}
    for r in records:
        for name in r.get("initial", {}):
            if name != "total":
                series.setdefault(name, []).append((r.get("curves") or {}).get(name) or [])
    out = {}
    for name, rows in series.items():
        length = max((len(x) for x in rows), default=0)
        column = [[x[i] for x in rows if i < len(x) and ok(x[i])] for i in range(length)]
        out[name] = [sum(c) / len(c) if c else None for c in column]
    return out


def text(records: list[dict], where: str) -> str:
    """The end-of-run summary: what it shows, then one line per reward."""
    if not records:
        return f"no records in {where}"
    lines = [f"{len(records)} items in {where}; mean over items, initial -> best (gain, share of items improved):"]
    for name, m in means(records).items():
        if m.n == 0:
            lines.append(f"  {name:>12}: no finite value in {m.non_finite} items")
            continue
        note = f"; {m.non_finite} items not finite, left out" if m.non_finite else ""
        lines.append(f"  {name:>12}: {m.initial:.4f} -> {m.best:.4f} ({m.gain:+.4f}, {m.improved:.0%} improved; "
                     f"n={m.n}{note})")
    return "\n".join(lines)
