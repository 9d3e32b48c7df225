"""``python -m reno_exp.tables <sweep dir>``: a sweep's results as tables, Markdown + CSV (+ W&B).

Reads every run directory under the sweep (reno_exp.tables.jobs): its own record of its config
(``run.yaml``), its records and the evaluators' scores (``evaluation.jsonl``). Writes ``tables.md``,
``tables.csv`` (one row per cell: ours, paper, number of images) and ``runs.csv`` (from the records
alone) into the sweep directory (or ``--out``) and prints the Markdown. Table families: the paper's
Tables 1-3 (reno_exp.tables.paper), leave one reward out on Parti-Prompts (reno_exp.tables.parti_loo,
``parti_loo.csv``), equal compute (reno_exp.tables.equal_compute, ``equal_compute.csv`` and
``equal_compute.png``) and the runs table (reno_exp.tables.runs). The tables also go to W&B when the jobs
logged there (``logger=wandb``) or with ``--wandb``; ``--no-wandb`` stops it.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from reno_exp.config.errors import ArgumentParser, UserError, guarded
from reno_exp.store.evaluations import read_scores
from reno_exp.store.files import check_run, ours, runs_under
from reno_exp.store.names import EVALUATION
from reno_exp.tables import equal_compute, paper, parti_loo, wandb_log
from reno_exp.tables.jobs import find_jobs
from reno_exp.tables.runs import runs_summary

CELLS = ["table", "row", "model", "method", "variant", "column", "ours", "paper", "n_images"]


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
    parser = ArgumentParser(prog="python -m reno_exp.tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory (or one run directory)")
    parser.add_argument("--tables", nargs="+", choices=[*sorted(paper.LAYOUTS), parti_loo.NAME, equal_compute.NAME],
                        help="default: from the sweep's experiment")
    parser.add_argument("--out", type=Path, help="where tables.md and tables.csv go (default: the sweep dir)")
    parser.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=None,
                        help="log the tables to W&B (default: when the sweep's jobs used logger=wandb)")
    args = parser.parse_args(argv)
    return guarded(lambda: write_tables(args))


def checked_jobs(sweep: Path, out: Path | None):
    """The sweep's jobs, after one-line refusals: no runs, another program's directory, a damaged file."""
    for run in ours(runs_under(sweep, "sweep or run directory"), sweep):
        check_run(run)
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a directory")
    return find_jobs(sweep)


def write_tables(args) -> int:
    jobs = checked_jobs(args.sweep, args.out)
    cells, numbers = paper.collect(jobs), paper.read_paper()
    chosen = args.tables or paper.choose_layouts(jobs) + parti_loo.choose(jobs) + equal_compute.choose(jobs)
    tables = {n: paper.build(paper.LAYOUTS[n], jobs, cells, numbers) for n in chosen if n in paper.LAYOUTS}
    loo = parti_loo.build(jobs) if parti_loo.NAME in chosen else None
    compute = equal_compute.build(jobs) if equal_compute.NAME in chosen else None
    runs_text, runs = runs_summary(jobs)
    text = "\n".join(paper.markdown(paper.LAYOUTS[n], rows) for n, rows in tables.items())
    text += ("\n" + parti_loo.markdown(loo) if loo is not None else "")
    text += ("\n" + equal_compute.markdown(compute) if compute is not None else "")
    text += "\n" + runs_text + "\n" + footer(jobs, tables)
    out = args.out or args.sweep
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "runs.csv", list(runs[0]) if runs else ["model"], runs)
    write_csv(out / "tables.csv", CELLS, [r for rows in tables.values() for r in rows])
    if loo is not None:
        write_csv(out / f"{parti_loo.NAME}.csv", parti_loo.FIELDS, loo)
    if compute is not None:
        write_csv(out / f"{equal_compute.NAME}.csv", equal_compute.FIELDS, compute)
        if (figure := equal_compute.figure(jobs, out / f"{equal_compute.NAME}.png")) is not None:
            text += f"Figure: {figure}\n"
    (out / "tables.md").write_text(text)
    print(text)
    settings = wandb_log.wandb_settings(jobs)
    if args.wandb or (args.wandb is None and settings is not None):
        named = {f"table{n}": paper.wandb_table(paper.LAYOUTS[n], rows) for n, rows in tables.items()}
        named |= {parti_loo.NAME: parti_loo.wandb_table(loo)} if loo is not None else {}
        named |= {equal_compute.NAME: equal_compute.wandb_table(compute)} if compute is not None else {}
        named["runs"] = (list(runs[0]), [list(r.values()) for r in runs]) if runs else (["model"], [])
        wandb_log.log_tables(named, args.sweep, settings)
    return 0
