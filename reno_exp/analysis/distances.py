"""Mean L2 distances between noises and generated latents, beside the seed presentation's numbers.

Five distances, each a mean over items of ``||a - b||_2`` over the whole (1, *latent_shape) tensor:
initial vs optimised noise; two independent N(0, I) noises; the initial noise vs the latent it generates
(the one-step model's output before decoding); the optimised noise vs its latent; and a random noise vs
a generated latent it did not produce.

The two "random" rows draw fresh N(0, I) noises from a fixed generator instead of pairing items with
each other: on Parti-Prompts every prompt is run with the same seed, so two items' initial noises are
identical and pairing them would not be random. A fresh noise is independent of every saved latent.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from reno_exp.analysis.runs import Run
from reno_exp.config import labels

# The seed presentation ("Further analysis"), SD-Turbo on Parti-Prompts.
SEED_VALUES = {
    "initial_vs_optimised_noise": 27.0122,
    "random_vs_random_noise": 180.7667,
    "initial_noise_vs_latent": 123.3377,
    "optimised_noise_vs_latent": 142.3693,
    "random_noise_vs_random_latent": 159.0550,
}
LABELS = {
    "initial_vs_optimised_noise": "initial vs optimised noise",
    "random_vs_random_noise": "two independent random noises",
    "initial_noise_vs_latent": "initial noise vs its generated latent",
    "optimised_noise_vs_latent": "optimised noise vs its generated latent",
    "random_noise_vs_random_latent": "random noise vs a generated latent (unpaired)",
}
RANDOM_SEED = 20241  # the fixed generator of the random-noise rows
PRESENTATION = "seed presentation (SD-Turbo, Parti-Prompts)"  # the reference column's heading


def l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 distance over all but the first dimension."""
    return torch.linalg.vector_norm((a.float() - b.float()).flatten(1), dim=1)


def random_noise_distances(shape: tuple[int, ...], n: int, seed: int = RANDOM_SEED, chunk: int = 64) -> torch.Tensor:
    """``n`` distances between pairs of independent N(0, I) tensors of ``shape`` (fixed generator)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        out.append(l2(torch.randn((m, *shape), generator=g), torch.randn((m, *shape), generator=g)))
    return torch.cat(out) if out else torch.empty(0)


@dataclass
class Row:
    name: str
    mean: float
    std: float
    n: int
    presentation: float | None  # the seed presentation's value, when comparable

    @property
    def label(self) -> str:
        return LABELS[self.name]


def stats(d: torch.Tensor) -> tuple[float, float, int]:
    n = d.numel()
    if n == 0:
        return math.nan, math.nan, 0
    return d.mean().item(), (d.std().item() if n > 1 else math.nan), n  # no spread from one item: blank


def comparable(run: Run) -> tuple[bool, str]:
    """Whether the seed presentation's numbers describe the same experiment: SD-Turbo with its real
    weights on Parti-Prompts, in the paper's setting (read from the run's config). Returns (yes/no, why)."""
    cfg = run.config
    if cfg is None:
        return False, "no run.yaml: configuration unknown"
    model, bench = labels.model_option(run.info.config), labels.suite_option(run.info.config)
    why = []
    if model != "sd_turbo":
        why.append(f"model {model} (seed presentation: SD-Turbo)")
    if cfg.get("random_init", False):
        why.append("random weights (random_init=true)")
    if bench != "parti_prompts":
        why.append(f"benchmark {bench} (seed presentation: Parti-Prompts)")
    if not why and (off := labels.departures(run.info.config, run.info.choices, run.info.overrides)):
        why.append(f"not the paper's setting ({', '.join(off)})")
    if why:
        return False, "not comparable: " + "; ".join(why)
    return True, "comparable: SD-Turbo with real weights on Parti-Prompts, as in the seed presentation"


@dataclass
class Table:
    rows: list[Row]
    note: str  # whether the seed presentation's numbers are comparable, and why
    shape: tuple[int, ...] | None  # the latent shape, None when no item has saved noises


def distances(run: Run, n_random: int = 256, seed: int = RANDOM_SEED) -> Table:
    """The five distances of ``run`` (items without saved noises are left out)."""
    per = {k: [] for k in SEED_VALUES if k != "random_vs_random_noise"}
    g = torch.Generator().manual_seed(seed + 1)
    shape = None
    for record in run.records:  # one item's file at a time: nothing is kept but distances
        t = run.noises(record)
        if t is None:
            continue
        shape = tuple(t["initial_noise"].shape[1:])
        per["initial_vs_optimised_noise"].append(l2(t["initial_noise"], t["best_noise"]))
        per["initial_noise_vs_latent"].append(l2(t["initial_noise"], t["initial_latent"]))
        per["optimised_noise_vs_latent"].append(l2(t["best_noise"], t["best_latent"]))
        fresh = torch.randn(t["initial_latent"].shape, generator=g)
        per["random_noise_vs_random_latent"].append(l2(fresh, t["initial_latent"]))
    values = {k: torch.cat(v) if v else torch.empty(0) for k, v in per.items()}
    values["random_vs_random_noise"] = (random_noise_distances(shape, n_random, seed) if shape is not None
                                        else torch.empty(0))
    ok, note = comparable(run)
    rows = [Row(k, *stats(values[k]), SEED_VALUES[k] if ok else None) for k in SEED_VALUES]
    return Table(rows, note, shape)


def fmt(x: float | None) -> str:
    return "" if x is None or math.isnan(x) else f"{x:.4f}"


def markdown(table: Table) -> str:
    lines = [f"| distance | ours (mean) | sd | n | {PRESENTATION} |", "|---|---|---|---|---|"]
    for r in table.rows:
        theirs = fmt(r.presentation) if r.presentation is not None else "n/c"
        lines.append(f"| {r.label} | {fmt(r.mean)} | {fmt(r.std)} | {r.n} | {theirs} |")
    lines += ["", f"Seed presentation's values: {table.note}"
              + ("" if table.note.startswith("comparable") else " (n/c)") + "."]
    if table.shape is not None:
        d = math.prod(table.shape)
        lines.append(f"Latent shape {table.shape}, d = {d}: independent N(0, I) noises lie about "
                     f"sqrt(2d) = {math.sqrt(2 * d):.1f} apart.")
    return "\n".join(lines) + "\n"


def write(table: Table, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, cs = out_dir / "distances.md", out_dir / "distances.csv"
    md.write_text(markdown(table))
    with cs.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["distance", "label", "mean", "std", "n", "seed_presentation"])
        for r in table.rows:
            w.writerow([r.name, r.label, fmt(r.mean), fmt(r.std), r.n, fmt(r.presentation)])
    return md, cs
