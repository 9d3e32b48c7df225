"""The jobs of a sweep, as their own run records say (``run.yaml``, verified), and what sets each one apart.

A job's row in a table is its model, its method (the reward option) and its *variant*, all read from its
resolved config (reno_exp.config.labels), never from the option names or overrides it was launched with: the
optimisation method when it is not ReNO (``optimizer=best_of_n``), then every way its config departs from
the paper's setting of its model, rewards and suite (``random_init=true``, ``model.resolution=64``,
``optimizer.optim.lr=10``), except the keys a table lays out as columns (the T2I-CompBench category,
GenEval tags) and the ones that change no result (shards, logging: reno_exp.config.identity). A row without a
variant is the paper's setting, and only such a row is printed beside the paper's numbers. Jobs that
differ only in their shard have the same variant and merge; two jobs with the same variant have the same
result config (outside the columns), and if they somehow do not, their config fingerprint is added, so
their numbers are never pooled.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from reno_exp.config import identity, labels
from reno_exp.config.labels import COLUMNS
from reno_exp.store.files import own_records
from reno_exp.store.records import RESULTS, JsonLines
from reno_exp.store.rundir import RunInfo, latest_launch, read_info

EVALUATION = "evaluation.jsonl"


@dataclass
class Job:
    dir: Path
    info: RunInfo
    model: str  # the model option whose generator the config builds
    reward: str  # the reward option (a table's method)
    suite: str
    experiment: str | None
    transfer: str | None = None  # the transfer option (transfer=sdxl_base), if its images are rendered
    optimizer: str = "reno"  # the method that ran (labels.method_option): never labelled ReNO when it is not
    departures: list[str] = field(default_factory=list)  # from the paper's setting (labels.departures)
    variant: str = ""  # what sets its ReNO images apart from the paper's setting
    baseline: str = ""  # what sets its initial images (the one-step model's) apart: the model's part of it
    logger: dict = field(default_factory=dict)

    @cached_property
    def records(self) -> list[dict]:
        """The records its own config produced, read once (the others are left out, said once)."""
        return own_records(self.dir, self.info)


def job_of(run: Path, info: RunInfo) -> Job:
    cfg, choices = info.config, info.choices
    return Job(run, info, labels.model_option(cfg, choices), labels.reward_option(cfg, choices, info.overrides),
               labels.suite_option(cfg, choices), choices.get("experiment"), labels.transfer_option(cfg, choices),
               labels.method_option(cfg), labels.departures(cfg, choices, info.overrides),
               logger=latest_launch(run).get("logger") or {})


def find_jobs(sweep: Path) -> list[Job]:
    """The sweep's run directories with a run.yaml (callers refuse foreign and damaged ones first)."""
    jobs = []
    for results in sorted(sweep.rglob(RESULTS)):
        info = read_info(results.parent)
        if info is None:
            print(f"skipping {results.parent}: no run.yaml (not a reno_exp run directory)", file=sys.stderr)
            continue
        jobs.append(job_of(results.parent, info))
    label_variants(jobs)
    return jobs


def makes_image(key: str) -> bool:
    """Whether a config key changes the one-step model's image of a given noise."""
    return key.startswith("model") or key in ("random_init", "config")


def fingerprint_of(job: Job, keep) -> str:
    flat = identity.flatten(job.info.config)
    return identity.fingerprint({k: v for k, v in flat.items() if k not in COLUMNS and keep(k)})


def label_variants(jobs: list[Job]) -> None:
    for job in jobs:
        method = [] if job.optimizer == "reno" else [f"optimizer={job.optimizer}"]
        job.variant = ", ".join(method + job.departures)
        job.baseline = ", ".join(d for d in job.departures if makes_image(d.split("=", 1)[0].split(" ", 1)[0]))
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
    return job.records


def group_of(record: dict) -> str | None:
    meta = record.get("meta") or {}
    return meta.get("category") if meta.get("suite") == "t2i_compbench" else meta.get("tag")
