"""``python -m reno_exp [overrides]``: one ReNO experiment; ``-m`` sweeps (SLURM with hydra/launcher=slurm)."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from reno_exp.config import register
from reno_exp.errors import UserError

register()
log = logging.getLogger("reno_exp")


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from reno_exp.run import run  # heavy imports (torch, diffusers) after the config is validated

    hc = HydraConfig.get()
    group = hc.sweep.dir.rstrip("/").rsplit("/", 1)[-1] if hc.mode == RunMode.MULTIRUN else None
    try:
        records = run(cfg, hc.runtime.output_dir, group)
    except Exception as e:
        user_error = next((c for c in causes(e) if isinstance(c, UserError)), None)
        if user_error is None:
            raise
        # bad input: one line, no traceback; printed, not logged, so a refused launch writes no log file
        # into a run directory it must leave untouched
        print(f"Error: {user_error}", file=sys.stderr)
        sys.exit(2)
    from reno_exp import summary
    from reno_exp.records import read_records

    print(summary.text(read_records(records.path), str(records.path)))


def causes(e: BaseException):
    """The exception and what it wraps (hydra.utils.instantiate wraps errors of the built class)."""
    while e is not None:
        yield e
        e = e.__cause__ or e.__context__


if __name__ == "__main__":
    main()
