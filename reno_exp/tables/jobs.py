"""The jobs of a sweep, as their own run records say (``run.yaml``), and what sets each one apart.

A job's row in a table is its model, its method (the reward option) and its *variant*: every override
that differs between the sweep's jobs (``optimizer=best_of_n``, ``reward.color.channel=red``,
``optimizer.optim.lr=10``) and an optimiser other than ReNO's even when all jobs share it, except the ones a table lays out as columns (the T2I-CompBench category,
GenEval tags) and the ones that change no result (shards, logging: reno_exp.identity). Jobs that differ
only in their shard have the same variant and merge. Two jobs that would share a row although their
result-affecting configs differ (not by overrides: by defaults, or launched apart) get their config
fingerprint in the variant, so their numbers are never pooled.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from reno_exp import identity
from reno_exp.records import RESULTS, JsonLines, read_records
from reno_exp.rundir import RunInfo, latest_launch, read_info

EVALUATION = "evaluation.jsonl"
COLUMNS = ("benchmark.category", "benchmark.tags")  # laid out as a table's columns, not its rows
CHOSEN = ("model", "reward", "benchmark", "experiment", "transfer")  # a row's model and method, a table's suite


@dataclass
class Job:
    dir: Path
    info: RunInfo
    model: str
    reward: str
    suite: str
    experiment: str | None
    transfer: str | None = None  # the transfer option (transfer=sdxl_base), if its images are rendered
    optimizer: str = "reno"  # the method: a job of another one (best_of_n, ...) is never labelled ReNO
    variant: str = ""  # what sets its ReNO images apart from the other jobs'
    baseline: str = ""  # what sets its initial images (the one-step model's) apart: the model's part of it
    logger: dict = field(default_factory=dict)


def job_of(run: Path, info: RunInfo) -> Job:
    cfg, choices = info.config, info.choices
    model = choices.get("model") or str(cfg["model"]["_target_"]).rsplit(".", 1)[-1]
    reward = choices.get("reward") or ("+".join(cfg.get("reward") or {}) or "none")
    suite = choices.get("benchmark") or str(cfg["benchmark"]["_target_"]).rsplit(".", 2)[-2]
    transfer = (choices.get("transfer") or str(cfg["transfer"]["_target_"]).rsplit(".", 1)[-1]) if cfg.get("transfer") else None
    return Job(run, info, model, reward, suite, choices.get("experiment"), transfer,
               choices.get("optimizer") or "reno", logger=latest_launch(run).get("logger") or {})


def find_jobs(sweep: Path) -> list[Job]:
    jobs = []
    for results in sorted(sweep.rglob(RESULTS)):
        run = results.parent
        info = read_info(run)
        if info is None:
            print(f"skipping {run}: no run.yaml (not a reno_exp run directory)", file=sys.stderr)
            continue
        jobs.append(job_of(run, info))
    label_variants(jobs)
    return jobs


def overrides(job: Job) -> set[str]:
    out = set()
    for o in job.info.overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key not in CHOSEN and key not in COLUMNS and not identity.neutral(key):
            out.add(o.lstrip("+~"))
    return out


def makes_image(key: str) -> bool:
    """Whether a config key changes the one-step model's image of a given noise."""
    return key.startswith("model") or key == "random_init"


def fingerprint_of(job: Job, keep) -> str:
    flat = identity.flatten(job.info.config)
    return identity.fingerprint({k: v for k, v in flat.items() if k not in COLUMNS and keep(k)})


def label_variants(jobs: list[Job]) -> None:
    if not jobs:
        return
    common = set.intersection(*(overrides(j) for j in jobs))
    for job in jobs:
        own = sorted(overrides(job) - common)
        if job.optimizer != "reno" and f"optimizer={job.optimizer}" not in own:
            own.insert(0, f"optimizer={job.optimizer}")  # even when every job shares it: not the paper's ReNO
        job.variant = ", ".join(own)
        job.baseline = ", ".join(o for o in own if makes_image(o.split("=", 1)[0]))
    for attr, keep in (("variant", lambda k: True), ("baseline", makes_image)):
        method = (lambda j: j.reward) if attr == "variant" else (lambda j: "baseline")
        rows = defaultdict(set)
        for job in jobs:
            rows[(job.model, method(job), job.suite, getattr(job, attr))].add(fingerprint_of(job, keep))
        for job in jobs:
            if len(rows[(job.model, method(job), job.suite, getattr(job, attr))]) > 1:
                tag = f"config {fingerprint_of(job, keep)[:6]}"
                setattr(job, attr, ", ".join(filter(None, [getattr(job, attr), tag])))


def read_scores(run: Path) -> dict[tuple[str, str, str], float]:
    """(key, image_set, metric) -> score, the first line of each (a repeated line is counted once)."""
    out = {}
    for row in JsonLines(run / EVALUATION).read():
        at = (row.get("key"), row.get("image_set"), row.get("metric"))
        if at not in out and isinstance(row.get("score"), int | float) and math.isfinite(row["score"]):
            out[at] = float(row["score"])
    return out


def records(job: Job) -> list[dict]:
    return read_records(job.dir)


def group_of(record: dict) -> str | None:
    meta = record.get("meta") or {}
    return meta.get("category") if meta.get("suite") == "t2i_compbench" else meta.get("tag")
