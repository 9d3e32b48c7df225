"""The tables on W&B: one ``wandb.Table`` each, in the sweep's group, when the jobs logged there."""

from __future__ import annotations

import sys
from pathlib import Path

from reno_exp.tables.jobs import Job


def wandb_settings(jobs: list[Job]) -> dict | None:
    """The W&B logger settings of the sweep's jobs, if they logged there."""
    return next((j.logger for j in jobs if "Wandb" in str(j.logger.get("_target_", ""))
                 and j.logger.get("mode") != "disabled"), None)


def log_tables(tables: dict[str, tuple[list[str], list[list]]], sweep: Path, settings: dict | None) -> None:
    """``tables``: name -> (column headings, rows)."""
    import wandb

    settings = settings or {}
    kw = {"project": settings.get("project") or "reno_exp", "entity": settings.get("entity"), "group": sweep.name,
          "job_type": "tables", "name": f"tables-{sweep.name}", "dir": str(sweep)}
    try:
        run = wandb.init(mode=settings.get("mode", "online"), **kw)
    except Exception as e:  # no key or no network: as the runs do, go on offline (upload with `wandb sync`)
        print(f"W&B unreachable ({str(e).splitlines()[0][:120]}); logging offline", file=sys.stderr)
        run = wandb.init(mode="offline", **kw)
    for name, (columns, data) in tables.items():
        run.log({name: wandb.Table(columns=columns, data=data)})
    run.finish()
