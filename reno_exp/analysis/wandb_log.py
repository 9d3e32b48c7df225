"""Optional: send the analysis of a run to Weights & Biases, as a run of its own (job type "analysis").

The project, entity and mode come from the run's own logger config when it logged to W&B
(``logger=wandb``); ``mode`` may be overridden (e.g. "offline"). As in the app's logger, an online
init that fails (no key, no network) falls back to offline with one warning.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from reno_exp.analysis.distances import Table
from reno_exp.analysis.runs import Run
from reno_exp.experiment.loggers import open_wandb, wandb_settings
from reno_exp.store.rundir import latest_launch

log = logging.getLogger(__name__)


def settings_of(run: Run) -> dict | None:
    """project/entity/mode/group of the run's W&B logger, or None when the run did not use W&B."""
    return wandb_settings(latest_launch(run.dir).get("logger") or {})


def publish(run: Run, out_dir: Path, pictures: list[Path], table: Table | None, mode: str | None = None) -> bool:
    """Log the pictures and the distance table; False (and a warning) when the run did not use W&B."""
    settings = settings_of(run)
    if settings is None:
        log.warning("%s: the run's config has no W&B logger (logger=wandb); nothing sent to W&B", run.dir)
        return False
    import wandb

    mode = mode or settings["mode"] or "online"
    kw = {"project": settings["project"] or "reno_exp", "entity": settings["entity"], "group": settings["group"],
          "job_type": "analysis", "name": f"{run.name}-analysis: {run.label}"[:128], "dir": str(out_dir),
          "config": {"run_dir": str(run.dir)}}
    wb = open_wandb(mode, out_dir, **kw)
    try:
        data = {f"analysis/{p.relative_to(out_dir).with_suffix('').as_posix()}": wandb.Image(str(p))
                for p in pictures}
        if table is not None:
            cols = ["distance", "ours_mean", "ours_sd", "n", "seed_presentation"]
            blank = lambda x: None if x is None or math.isnan(x) else x  # noqa: E731 (no sd from one item)
            data["analysis/distances"] = wandb.Table(
                columns=cols, data=[[r.label, blank(r.mean), blank(r.std), r.n, r.presentation] for r in table.rows]
            )
        wb.log(data)
    finally:
        wb.finish()
    return True
