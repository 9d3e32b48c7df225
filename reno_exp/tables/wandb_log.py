"""The tables on W&B: one ``wandb.Table`` each, in the sweep's group, when the jobs logged there."""

from __future__ import annotations

from pathlib import Path

from reno_exp.experiment.loggers import open_wandb
from reno_exp.experiment.loggers import wandb_settings as logger_settings
from reno_exp.tables.jobs import Job


def wandb_settings(jobs: list[Job]) -> dict | None:
    """The W&B logger settings of the sweep's jobs, if they logged there."""
    return next(filter(None, (logger_settings(j.logger) for j in jobs)), None)


def log_tables(tables: dict[str, tuple[list[str], list[list]]], sweep: Path, settings: dict | None) -> None:
    """``tables``: name -> (column headings, rows)."""
    import wandb

    settings = settings or {}
    kw = {"project": settings.get("project") or "reno_exp", "entity": settings.get("entity"), "group": sweep.name,
          "job_type": "tables", "name": f"tables-{sweep.name}", "dir": str(sweep)}
    run = open_wandb(settings.get("mode") or "online", sweep, **kw)
    for name, (columns, data) in tables.items():
        run.log({name: wandb.Table(columns=columns, data=data)})
    run.finish()
