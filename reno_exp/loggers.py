"""Where a run reports as it goes: nowhere (``logger=none``) or Weights & Biases (``logger=wandb``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from reno_exp.records import to_pil

log = logging.getLogger(__name__)


class NullLogger:
    def start(self, config: dict, run_dir: Path, group: str | None, job_type: str) -> None:
        pass

    def log_iterate(self, key: str, iteration: int, values: dict[str, float]) -> None:
        pass

    def log_item(self, record: dict, images: dict[str, Any]) -> None:
        pass

    def finish(self) -> None:
        pass


class WandbLogger(NullLogger):
    """Full resolved config, a curve per reward over the iterates, initial-vs-best images per item.

    If W&B cannot be reached (no key, no network), the run goes on offline with one warning; the
    offline run can be uploaded later with ``wandb sync``.
    """

    def __init__(self, project="reno_exp", entity=None, mode="online", group=None, job_type=None, tags=(),
                 log_images=True):
        if mode not in ("online", "offline", "disabled"):
            raise ValueError(f"logger.mode must be online, offline or disabled, got {mode!r}")
        self.kw = {"project": project, "entity": entity, "group": group, "job_type": job_type, "tags": list(tags)}
        self.mode = mode
        self.log_images = log_images
        self.run = None

    def start(self, config, run_dir, group, job_type):
        import wandb

        kw = {**self.kw, "config": config, "dir": str(run_dir), "name": Path(run_dir).name}
        kw["group"] = kw["group"] or group
        kw["job_type"] = kw["job_type"] or job_type
        settings = wandb.Settings(init_timeout=60, silent=True)
        try:
            self.run = wandb.init(mode=self.mode, settings=settings, **kw)
        except Exception as e:  # wandb raises several types for "no key" and "no network"
            if self.mode != "online":
                raise
            log.warning("W&B unreachable (%s); logging offline to %s (upload later with `wandb sync`)",
                        str(e).splitlines()[0][:120], run_dir)
            self.run = wandb.init(mode="offline", settings=settings, **kw)
        self.run.define_metric("iterate/*", step_metric="iterate/step")
        self._step = 0

    def log_iterate(self, key, iteration, values):
        self._step += 1
        self.run.log({**{f"iterate/{k}": v for k, v in values.items()}, "iterate/iteration": iteration,
                      "iterate/step": self._step})

    def log_item(self, record, images):
        import wandb

        data = {f"initial/{k}": v for k, v in record["initial"].items()}
        data |= {f"best/{k}": v for k, v in record["best"].items()}
        data |= {"gain": record["best"]["total"] - record["initial"]["total"], "best_iteration": record["best_iteration"]}
        if self.log_images:
            data["images"] = [wandb.Image(to_pil(img), caption=f"{name}: {record['prompt'][:80]}")
                              for name, img in images.items()]
        self.run.log(data)

    def finish(self):
        if self.run is not None:
            self.run.finish()
