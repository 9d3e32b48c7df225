"""What the report reads from the rest of reno_exp, imported here and nowhere else in the package: when a
module moves, only these imports change.

The report never recomputes what another command owns: the tables are ``python -m reno_exp.tables``'s own
Markdown (its ``main``, run into a scratch directory), the per-iterate means and the run-level means are
reno_exp.store.summary's, a job's label is the tables' variant (reno_exp.tables.jobs), and the noise analysis is
whatever ``python -m reno_exp.analysis`` left under each directory's ``analysis/``.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path

from reno_exp.config.errors import ArgumentParser, UserError, guarded, sizes
from reno_exp.store.evaluations import read_scores
from reno_exp.store.files import check_run, ours, runs_under
from reno_exp.store.names import ANALYSIS, EVALUATION, RESULTS
from reno_exp.store.records import Record, read_records
from reno_exp.store.rundir import RunInfo, writable
from reno_exp.store.summary import curves, means, ok
from reno_exp.tables import main as tables_main
from reno_exp.tables.jobs import Job, find_jobs, group_of

__all__ = ["ANALYSIS", "EVALUATION", "RESULTS", "ArgumentParser", "Job", "RunInfo", "UserError", "analysis_dirs", "sizes",
           "category", "checked_jobs", "curves", "guarded", "image_of", "means", "ok", "read_records",
           "read_scores", "tables_markdown", "writable"]

IMAGE_SETS = ("initial", "best")  # the gallery's pair; evaluate names the record field of each


def checked_jobs(path: Path) -> list[Job]:
    """The jobs under ``path`` after the checks every reader makes (missing, a file, no run, another
    program's results.jsonl, a damaged run.yaml or record): a UserError naming the file, nothing written."""
    runs = ours(runs_under(path, "run or sweep directory"), path)
    for run in runs:
        check_run(run)
    with contextlib.redirect_stderr(io.StringIO()):  # find_jobs names each foreign directory it skips
        return find_jobs(path)


def image_of(record: Record, image_set: str) -> str | None:
    """The record's image of ``initial`` or ``best``, relative to its run directory."""
    return record.image(image_set)


def category(record: dict) -> str | None:
    """The tables' group (T2I-CompBench category, GenEval tag), else the suite's own category (Parti)."""
    return group_of(record) or (record.get("meta") or {}).get("category")


def tables_markdown(path: Path) -> tuple[str, list[tuple[str, bytes]]]:
    """``python -m reno_exp.tables <path>``'s Markdown and figures, made in a scratch directory (the sweep's
    own tables.md is left as the last ``tables`` run wrote it) and without W&B."""
    scratch = Path(tempfile.mkdtemp(prefix="reno_exp_report_tables_"))
    try:
        printed, errors = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
            code = tables_main([str(path), "--out", str(scratch), "--no-wandb"])
        if code:
            raise UserError(f"the tables of {path} could not be made: {errors.getvalue().strip()[:300]}")
        text = "\n".join(line for line in (scratch / "tables.md").read_text().splitlines()
                         if not line.startswith("Figure: "))  # the figure comes along as a file instead
        figures = [(p.name, p.read_bytes()) for p in sorted(scratch.glob("*.png"))]
        return text, figures
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def analysis_dirs(path: Path, jobs: list[Job]) -> list[tuple[Job | None, Path]]:
    """(job, folder) of each noise analysis present: the sweep's across its jobs (job None), then each job's."""
    sweep = path / ANALYSIS
    found = [(None, sweep)] if sweep.is_dir() and all(j.dir != path for j in jobs) else []
    return found + [(j, j.dir / ANALYSIS) for j in jobs if (j.dir / ANALYSIS).is_dir()]
