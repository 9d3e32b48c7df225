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

from collections import defaultdict
from pathlib import Path

from reno_exp.config import identity
from reno_exp.config.labels import COLUMNS
from reno_exp.store.jobs import Job
from reno_exp.store.jobs import find_jobs as store_find_jobs


def find_jobs(sweep: Path) -> list[Job]:
    """The sweep's jobs (reno_exp.store.jobs), each with the variant its table rows are labelled by."""
    jobs = store_find_jobs(sweep)
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


def records(job: Job) -> list[dict]:
    return job.records


BY_CATEGORY = ("t2i_compbench", "prompts")  # the suites whose rows split by category (a prompt file's own)


def group_of(record: dict) -> str | None:
    meta = record.get("meta") or {}
    return meta.get("category") if meta.get("suite") in BY_CATEGORY else meta.get("tag")
