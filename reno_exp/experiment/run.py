"""The experiment: config -> parts -> for each batch of (prompt, seed) items: noise -> method -> records.

The run directory is checked, locked and given its config record (reno_exp.store.rundir) before anything
is built. Items already recorded there with the same identity (prompt, seed, config fingerprint) are
skipped, so a killed run resumes where it stopped by running the same command again with the same
``hydra.run.dir``; batches may form differently on a resume, and each item's result is the same.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from reno_exp.assemble import parts as factory
from reno_exp.config import labels
from reno_exp.config.placement import placed
from reno_exp.experiment.loop import Work, optimise_items
from reno_exp.store import summary
from reno_exp.store.records import RunRecords, pending, read_records
from reno_exp.store.rundir import RunDir
from reno_exp.weights.needs import require_weights

log = logging.getLogger(__name__)


def hydra_launch() -> dict | None:
    """This launch's Hydra files, choices and overrides; None outside a Hydra app (tests, bench)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    task = list(hc.overrides.task)
    return {"hydra.yaml": {"hydra": OmegaConf.to_container(hc, enum_to_str=True)}, "overrides.yaml": task,
            "choices": dict(hc.runtime.choices), "overrides": task}


def run(cfg: DictConfig, run_dir: str | Path, group: str | None = None, parts=None) -> RunRecords:
    """``parts``: an already built (generator, rewards) pair for ``cfg`` (bench reuses them)."""
    cfg = placed(cfg)
    suite = instantiate(cfg.benchmark)
    items = suite.items(cfg.seed)
    launch = hydra_launch()
    if launch is not None:
        launch["config.yaml"] = OmegaConf.to_container(cfg, enum_to_str=True)

    def check(info) -> None:
        """Every refusal, before anything is written or built: records of another item or config, and
        (when there is work left) every missing checkpoint named at once."""
        if pending(read_records(run_dir), items, info.fingerprint) and parts is None:
            require_weights(cfg)

    with RunDir.open(run_dir, cfg, launch, check=check) as rd:
        records = RunRecords(run_dir)
        todo = pending(records.done, items, rd.info.fingerprint)
        if not todo:
            log.info("all %d items of this run are already recorded in %s", len(items), records.path)
            return records
        factory.warn_slow_device(cfg)
        log.info("%d items to run (%d already recorded); model.dtype %s", len(todo), len(records.done), cfg.model.get("dtype"))
        generator, rewards = parts or factory.build(cfg, cfg.device)
        logger = instantiate(cfg.logger)
        job_type, name = labels.wandb_names(rd.info.config, rd.info.choices, rd.info.overrides, records.dir)
        logger.start(OmegaConf.to_container(cfg, resolve=True), records.dir, group, job_type, name)
        work = Work(cfg, suite, generator, rewards, factory.build_transfer(cfg, generator), records, rd.info.fingerprint, logger)
        try:
            optimise_items(work, todo)
        finally:
            done = read_records(records.path)
            logger.finish(summary.means(done), summary.curves(done))
    return records
