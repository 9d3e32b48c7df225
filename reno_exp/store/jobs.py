"""The runs of a sweep as their own records say (``run.yaml``, verified): each job's directory, config, the
options it was made of and how it departs from the paper's setting (reno_exp.config.labels)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from reno_exp.config import labels
from reno_exp.store.files import own_records
from reno_exp.store.names import RESULTS
from reno_exp.store.rundir import RunInfo, latest_launch, read_info


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
    return jobs
