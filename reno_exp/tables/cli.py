"""``python -m reno_exp.tables <sweep dir>``: a sweep's results as tables, Markdown + CSV (+ W&B).

Reads every run directory under the sweep (reno_exp.tables.jobs): its own record of its config
(``run.yaml``), its records and the evaluators' scores (``evaluation.jsonl``). Writes ``tables.md``,
``tables.csv`` (one row per cell: ours, paper, number of images) and ``runs.csv`` (from the records
alone) into the sweep directory (or ``--out``) and prints the Markdown. Table families: the paper's
Tables 1-3 (reno_exp.tables.paper), the runs table (reno_exp.tables.runs) and ``FAMILIES`` (equal compute,
reno_exp.tables.equal_compute, with its figure beside the tables). The tables also go to W&B
when the jobs logged there (``logger=wandb``) or with ``--wandb``; ``--no-wandb`` stops it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from reno_exp.records import RESULTS
from reno_exp.tables import equal_compute, paper, wandb_log
from reno_exp.tables.jobs import EVALUATION, find_jobs, read_scores
from reno_exp.tables.runs import runs_summary

CELLS = ["table", "row", "model", "method", "variant", "column", "ours", "paper", "n_images"]
# table families beside the paper's: name -> module with applies(jobs), build(jobs) (rows of CELLS),
# markdown(rows), wandb_table(rows) and figure(jobs, path) (None: no figure)
FAMILIES = {equal_compute.NAME: equal_compute}


def footer(jobs, tables: dict[str, list[dict]]) -> str:
    """What the tables rest on: runs, runs scored, and cells with and without scores."""
    scored = [j for j in jobs if read_scores(j.dir)]
    cells = [r for rows in tables.values() for r in rows if r["method"] != "reference"]
    filled = sum(r["ours"] is not None for r in cells)
    text = f"{len(jobs)} runs; {len(scored)} with scores in {EVALUATION}"
    if cells:
        text += f"; {filled} of {len(cells)} table cells have scores ({sum(r['n_images'] for r in cells)} images)"
    if len(scored) < len(jobs):
        text += ". Score the others with `python -m reno_exp.evaluate <sweep dir>`"
    return text + ".\n"


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows({k: "" if r.get(k) is None else r[k] for k in fields} for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reno_exp.tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory (or one run directory)")
    parser.add_argument("--tables", nargs="+", choices=[*sorted(paper.LAYOUTS), *FAMILIES],
                        help="default: from the sweep's experiment")
    parser.add_argument("--out", type=Path, help="where tables.md and tables.csv go (default: the sweep dir)")
    parser.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=None,
                        help="log the tables to W&B (default: when the sweep's jobs used logger=wandb)")
    args = parser.parse_args(argv)
    if not args.sweep.is_dir():
        parser.error(f"{args.sweep} is not a directory")
    jobs = find_jobs(args.sweep)
    if not jobs:
        print(f"no runs (directories with {RESULTS} and run.yaml) under {args.sweep}", file=sys.stderr)
        return 1
    cells, numbers = paper.collect(jobs), paper.read_paper()
    chosen = args.tables or [*paper.choose_layouts(jobs), *(n for n, f in FAMILIES.items() if f.applies(jobs))]
    tables = {n: FAMILIES[n].build(jobs) if n in FAMILIES else paper.build(paper.LAYOUTS[n], jobs, cells, numbers)
              for n in chosen}
    runs_text, runs = runs_summary(jobs)
    text = "\n".join(FAMILIES[n].markdown(rows) if n in FAMILIES else paper.markdown(paper.LAYOUTS[n], rows)
                     for n, rows in tables.items())
    text += "\n" + runs_text + "\n" + footer(jobs, tables)
    out = args.out or args.sweep
    out.mkdir(parents=True, exist_ok=True)
    for n in tables.keys() & FAMILIES.keys():
        if (path := FAMILIES[n].figure(jobs, out / f"{n}.png")) is not None:
            text += f"Figure: {path}\n"
    write_csv(out / "runs.csv", list(runs[0]) if runs else ["model"], runs)
    write_csv(out / "tables.csv", CELLS, [r for rows in tables.values() for r in rows])
    (out / "tables.md").write_text(text)
    print(text)
    settings = wandb_log.wandb_settings(jobs)
    if args.wandb or (args.wandb is None and settings is not None):
        named = {n if n in FAMILIES else f"table{n}":
                 FAMILIES[n].wandb_table(rows) if n in FAMILIES else paper.wandb_table(paper.LAYOUTS[n], rows)
                 for n, rows in tables.items()}
        named["runs"] = (list(runs[0]), [list(r.values()) for r in runs]) if runs else (["model"], [])
        wandb_log.log_tables(named, args.sweep, settings)
    return 0
