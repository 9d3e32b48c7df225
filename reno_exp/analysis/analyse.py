"""The analysis of a run directory (and of a sweep: each job, then one table and one image grid across jobs).

Writes under ``<run>/analysis/``: distances.md/.csv, coherence.png/.csv, spectrum.png/.csv,
noise/<key>.png (one per item, up to ``max_figures``), curves.png, iterates.png, figure5.png/.csv
(when ``evaluation.jsonl`` scores saved iterates) and summary.md, which lists them with the numbers.
A sweep also gets ``<sweep>/analysis/``: distances.md/.csv with a column per job, and grid.png (a row per
item: the initial image, then each job's best image with its gain; see ``grid``).
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reno_exp.analysis import distances as dist
from reno_exp.analysis import figure5, figures, grid
from reno_exp.analysis.coherence import Coherence, band_means, coherence
from reno_exp.analysis.layout import spatial
from reno_exp.analysis.runs import Run, run_dirs
from reno_exp.analysis.spectra import LOW, Spectra, spectra
from reno_exp.store.rundir import writable

log = logging.getLogger(__name__)


@dataclass
class Outputs:
    run_dir: Path
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: dist.Table | None = None
    run: Run | None = None  # what was analysed (its records read once)
    coherence: Coherence | None = None
    spectra: Spectra | None = None

    @property
    def pictures(self) -> list[Path]:
        return [p for p in self.files if p.suffix == ".png"]


def write_rows(path: Path, header: list[str], rows) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def analyse_run(run_dir: str | Path, out_dir: str | Path | None = None, max_figures: int = 16,
                n_random: int = 256, wandb: bool = False, wandb_mode: str | None = None) -> Outputs:
    run = Run.load(run_dir)
    if not run.records:
        raise FileNotFoundError(f"{run.dir}: no records (results.jsonl missing or empty)")
    out = Outputs(run.dir, Path(out_dir) if out_dir else run.dir / "analysis", run=run)
    writable(out.out_dir, folder=True)
    out.out_dir.mkdir(parents=True, exist_ok=True)

    out.table = dist.distances(run, n_random=n_random)
    out.files += dist.write(out.table, out.out_dir)

    # Noise files are read again by each pass instead of held: a full Parti-Prompts run has 1632 of them.
    layout_notes: set[str] = set()

    def noise_pairs():
        """(record, initial, optimised) in (C, H, W), one item at a time."""
        for record in run.records:
            t = run.noises(record)
            if t is None:
                continue
            a, note = spatial(t["initial_noise"])
            if note:
                layout_notes.add(note)
            if a is not None:
                yield record, a, spatial(t["best_noise"])[0]

    n_pairs = sum(1 for _ in noise_pairs())
    missing = sum(run.noises(r) is None for r in run.records)
    out.notes += sorted(layout_notes)
    if missing:
        out.notes.append(f"{missing} item(s) without a saved noise file are left out")

    if n_pairs:
        out.coherence = c = coherence((a, b) for _, a, b in noise_pairs())
        out.files.append(figures.coherence_figure(c, out.out_dir / "coherence.png",
                                                  f"{run.label}: coherence of initial and optimised noise "
                                                  f"(Welch, {c.nperseg}-sample segments)"))
        lo, hi = c.band()
        out.files.append(write_rows(out.out_dir / "coherence.csv", ["freq", "mean", "p25", "p75", "independent_floor"],
                                    zip(c.freqs, c.mean, lo, hi, c.floor)))
        out.spectra = s = spectra((a, b) for _, a, b in noise_pairs())
        out.files.append(figures.spectrum_figure(s, out.out_dir / "spectrum.png",
                                                 f"{run.label}: radial power spectrum of the change"))
        out.files.append(write_rows(out.out_dir / "spectrum.csv", ["radius", "change_mean", "initial_mean"],
                                    zip(s.radii, s.change.mean(0), s.initial.mean(0))))
        note = next(iter(layout_notes), None)
        for _, (record, a, b) in zip(range(max_figures), noise_pairs()):
            images = [run.dir / record.image(s) if record.image(s) else None for s in ("initial", "best")]
            title = f"{run.label}\n{record['key']} (seed {record.get('seed')}): {figures.short(record['prompt'], 90)}"
            out.files.append(figures.noise_figure(a, b, images, title, out.out_dir / "noise" / f"{record['key']}.png",
                                                  note))
        if n_pairs > max_figures:
            out.notes.append(f"per-prompt figures for the first {max_figures} of {n_pairs} items (--max-figures)")

    with_curves = [r for r in run.records if r.get("curves")]
    if with_curves:
        out.files.append(figures.curves_figure(with_curves, out.out_dir / "curves.png",
                                               f"{run.label}: per-iteration values ({len(with_curves)} item(s); "
                                               "dots: best iterate)"))
    iterates = figures.iterates_figure(run.dir, run.records[:max_figures], out.out_dir / "iterates.png",
                                       f"{run.label}: images along the iterations")
    if iterates:
        out.files.append(iterates)

    ps = figure5.points(run.evaluations(), run.records)
    if figure5.saved_iterates(ps):
        out.files.append(figure5.write_csv(ps, out.out_dir / "figure5.csv"))
        out.files.append(figure5.figure(ps, out.out_dir / "figure5.png", f"{run.label}: metric against ReNO iterations"))
    elif ps:
        out.notes.append("evaluation.jsonl has no scores of saved iterates (iter_XXX; optimizer.save_every=k, "
                         "then evaluate iterates=true): no Figure 5")

    out.files.append(write_summary(run, out))
    if wandb:
        from reno_exp.analysis.wandb_log import publish

        publish(run, out.out_dir, out.pictures, out.table, wandb_mode)
    return out


def write_summary(run: Run, out: Outputs) -> Path:
    lines = [f"# Noise analysis of {run.dir}", "", f"{len(run.records)} item(s).", "", "## Distances", "",
             dist.markdown(out.table)]
    if out.coherence is not None:
        lo, hi = band_means(out.coherence)
        floor_lo, floor_hi = float(out.coherence.floor[out.coherence.freqs < 0.25].mean()), float(
            out.coherence.floor[out.coherence.freqs >= 0.25].mean())
        s = out.spectra
        lines += ["## Frequency analysis", "",
                  f"- Mean coherence of initial and optimised noise: {lo:.4f} below 0.25 cycles/pixel, "
                  f"{hi:.4f} from 0.25 up (independent noises: {floor_lo:.4f} / {floor_hi:.4f}).",
                  f"- Share of the change's power below {LOW} cycles/pixel: {100 * np.mean(s.low_share):.1f}% "
                  f"(white noise: {100 * s.white_share:.1f}%).", ""]
    if out.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in out.notes] + [""]
    lines += ["## Files", ""] + [f"- {p.relative_to(out.out_dir)}" for p in out.files] + [""]
    path = out.out_dir / "summary.md"
    path.write_text("\n".join(lines))
    return path




def analyse(path: str | Path, **kw) -> list[Outputs]:
    """A run directory, or every job of a sweep; a sweep also gets ``<sweep>/analysis/distances.md/.csv``
    with one column per job."""
    path = Path(path)
    dirs = run_dirs(path)
    if not dirs:
        raise FileNotFoundError(f"{path}: no results.jsonl here or below")
    outputs = []
    for d in dirs:
        try:
            outputs.append(analyse_run(d, **kw))
        except FileNotFoundError as e:
            log.warning("%s", e)
    if dirs != [path] and outputs:
        write_sweep_table(path, outputs)
        made = grid.grid_figure([o.run for o in outputs], path / "analysis" / "grid.png", kw.get("max_figures", 16))
        if made:
            log.info("%s: initial and best image of each job (%s)", made[0], "; ".join(made[1]) or "same initial images")
    return outputs


def write_sweep_table(sweep: Path, outputs: list[Outputs]) -> tuple[Path, Path]:
    out_dir = sweep / "analysis"
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [str(o.run_dir.relative_to(sweep)) for o in outputs]
    rows = outputs[0].table.rows
    any_comparable = any(o.table.note.startswith("comparable") for o in outputs)
    md = ["| distance | " + " | ".join(names) + f" | {dist.PRESENTATION} |", "|---" * (len(names) + 2) + "|"]
    for i, r in enumerate(rows):
        vals = [dist.fmt(o.table.rows[i].mean) for o in outputs]
        theirs = dist.fmt(dist.SEED_VALUES[r.name]) if any_comparable else "n/c"
        md.append(f"| {r.label} | " + " | ".join(vals) + f" | {theirs} |")
    md += ["", "Jobs:"] + [f"- {n}: {o.run.label}; seed presentation's values {o.table.note}"
                          for n, o in zip(names, outputs)]
    (out_dir / "distances.md").write_text("\n".join(md) + "\n")
    write_rows(out_dir / "distances.csv", ["job", "configuration", "distance", "mean", "std", "n", "seed_presentation"],
               [[n, o.run.label, r.name, dist.fmt(r.mean), dist.fmt(r.std), r.n, dist.fmt(r.presentation)]
                for n, o in zip(names, outputs) for r in o.table.rows])
    return out_dir / "distances.md", out_dir / "distances.csv"
