"""The checks a launch passes before Hydra makes a directory or starts a job (a Hydra callback).

``hydra.callbacks.preflight`` in conf/config.yaml: for a run, the composed config is validated
(reno_exp.config.rules) and its device must exist here; for a sweep (``-m``), every job's config is composed
and validated before the first job starts (a bad value in job 17 of 24 is found now, not after 16 jobs'
compute), every swept group option must exist, and a SLURM launcher needs ``sbatch``. Last, it makes
the run (sweep) directory Hydra would make next, so that failing to is one line too. A problem is
one line on stderr and exit code 2: Hydra turns an exception of a callback into a warning and goes on,
so the callback ends the process itself (SystemExit is not an Exception).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from reno_exp.config.compose import check_options, first_line
from reno_exp.config.errors import UserError, fail
from reno_exp.config.placement import check_device
from reno_exp.config.rules import all_problems


def refusing(check):
    """``check`` with its UserError printed as one line, ending the process with exit code 2."""

    def wrapped(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check(self, config, **kwargs)
        except UserError as e:
            raise SystemExit(fail(e)) from None
        except OmegaConfBaseException as e:  # a value that cannot be read (an interpolation to nothing)
            raise SystemExit(fail(first_line(e))) from None

    return wrapped


class Preflight(Callback):
    @refusing
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_options([*searchpath_overrides(config), *task_overrides(config)])
        report([(problem, 0) for problem in all_problems(config)])
        check_device(config.get("device"))
        make_dir(config.hydra.run.dir, "hydra.run.dir")

    @refusing
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = swept(config)
        check_options([*searchpath_overrides(config), *sweep])
        check_launcher(config)
        jobs = job_overrides(config, sweep)
        if jobs is not None:  # another sweeper: each job checks its own config when it starts
            check_jobs(config, jobs)
        make_dir(config.hydra.sweep.dir, "hydra.sweep.dir")


def check_jobs(config: DictConfig, jobs: list[list[str]]) -> None:
    """Every job's config, composed as the launcher will compose it, against the schemas' rules."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    found = []
    for i, job in enumerate(jobs):
        found += [(problem, i) for problem in all_problems(loader.load_sweep_config(config, job))]
    report(found, varying(jobs))


EXISTED: set[str] = set()  # the run directories that were there before this launch made them


def make_dir(path: str, key: str) -> None:
    """The directory Hydra makes next, made here, where a failure is one line (Hydra's is a traceback)."""
    if Path(path).is_dir():
        EXISTED.add(str(Path(path).resolve()))
    if not str(path).strip():  # Hydra would write into the current directory without a word
        raise UserError(f"{key} is empty: give a directory, or leave {key} out for a new dated one")
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"{key}={path} is a file, not a directory; choose another")
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{key}={path}: cannot make it ({e.strerror or e}); choose another") from None


def swept(config: DictConfig) -> list[str]:
    """The command line's overrides and the sweeper's ``params`` (an experiment's sweep), as overrides."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return [f"{k}={v}" for k, v in params.items()] + task_overrides(config)


def task_overrides(config: DictConfig) -> list[str]:
    """The command line's overrides as typed (an override's ``${...}`` is not resolved here)."""
    return list(OmegaConf.to_container(config.hydra.overrides.task, resolve=False))


def searchpath_overrides(config: DictConfig) -> list[str]:
    """The command line's ``hydra.searchpath=...``: the users' folders it adds have options too."""
    hydra = OmegaConf.to_container(config.hydra.overrides.hydra, resolve=False)
    return [o for o in hydra if o.startswith("hydra.searchpath=")]


def job_overrides(config: DictConfig, sweep: list[str]) -> list[list[str]] | None:
    """Each job's overrides, as Hydra's basic sweeper makes them; None for another sweeper."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    if not str(OmegaConf.select(config, "hydra.sweeper._target_")).endswith("BasicSweeper"):
        return None
    parsed = OverridesParser.create().parse_overrides(sweep)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def varying(jobs: list[list[str]]) -> list[set[str]]:
    """What sets each job apart: its overrides that not every job has."""
    common = set.intersection(*(set(j) for j in jobs)) if jobs else set()
    return [set(j) - common for j in jobs]


def report(found: list[tuple[str, int]], own: list[set[str]] | None = None, limit: int = 3) -> None:
    """One line: each distinct problem, naming a job it is in when it is not in every job. ``found``:
    (problem, job number); ``own``: each job's overrides that set it apart (sweeps)."""
    if not found:
        return
    by_problem: dict[str, list[int]] = {}
    for problem, job in found:
        by_problem.setdefault(problem, []).append(job)
    parts = []
    for problem, jobs in list(by_problem.items())[:limit]:
        if own and len(set(jobs)) < len(own):
            more = f" and {len(set(jobs)) - 1} more" if len(set(jobs)) > 1 else ""
            problem += f" (in job {jobs[0]}: {' '.join(sorted(own[jobs[0]]))}{more})"
        parts.append(problem)
    more = f"; and {len(by_problem) - limit} more" if len(by_problem) > limit else ""
    raise UserError("; ".join(parts) + more)


def check_launcher(config: DictConfig) -> None:
    """submitit submits with sbatch and refuses to start without srun (a traceback): both must be here."""
    target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
    missing = [c for c in ("sbatch", "srun") if shutil.which(c) is None]
    if target.endswith("SlurmLauncher") and missing:
        raise UserError(f"hydra/launcher=slurm: SLURM's {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'}"
                        " not on this machine (not a cluster login node?); run the sweep here with "
                        "hydra/launcher=submitit_local, or without hydra/launcher")


def unmake_dir(path: str) -> None:
    """After a refused launch: the run directory this launch made (Hydra or the preflight), if nothing is in
    it, is removed, so that a refusal leaves the file system as it was."""
    p = Path(path).resolve()
    if str(p) not in EXISTED and p.is_dir() and not any(p.iterdir()):
        p.rmdir()
