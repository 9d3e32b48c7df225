"""The loop over batches of (prompt, seed) items: conditioning -> noise -> method -> records.

Each prompt is encoded once while its items are in flight; each item draws its noise from its own stream;
the method named by ``optimizer.method`` optimises the batch; every item's images, noises and record are
written as its batch ends (reno_exp.experiment.outputs). An out-of-memory batch is halved and run again
(reno_exp.experiment.batching). Two progress bars: the items, and the iterates of the batch in flight.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from reno_exp.benchmarks.base import Item, PromptSuite
from reno_exp.experiment.batching import Batches, batch_size, predicted_batch
from reno_exp.experiment.outputs import peak_memory, record_of, save_item, transferred
from reno_exp.generators.base import OneStepGenerator
from reno_exp.methods import Objective, method_of
from reno_exp.rewards.base import RewardSet
from reno_exp.store.records import RunRecords

log = logging.getLogger(__name__)


@dataclass
class Work:
    """What the loop needs: the placed config, its parts, and where the results go."""

    cfg: DictConfig
    suite: PromptSuite
    generator: OneStepGenerator
    rewards: RewardSet
    transfer: Any  # reno_exp.transfer.base.PipelineTransfer, or None
    records: RunRecords
    fingerprint: str
    logger: Any  # reno_exp.experiment.loggers.NullLogger or one of its kind


class Conditioning:
    """Each prompt encoded once (generator and rewards), kept while its items are in flight."""

    def __init__(self, generator: OneStepGenerator, rewards: RewardSet):
        self.generator, self.rewards, self.cache = generator, rewards, {}

    def batch(self, items: list[Item]):
        prompts = [item.prompt for item in items]
        self.cache = {p: self.cache.get(p) or (self.generator.encode_prompt(p), self.rewards.prepare(p)) for p in prompts}
        return (self.generator.collate([self.cache[p][0] for p in prompts]),
                self.rewards.collate([self.cache[p][1] for p in prompts]))


def optimise_items(work: Work, todo: list[Item]) -> None:
    cfg, method = work.cfg, method_of(work.cfg.optimizer)
    conditioning = Conditioning(work.generator, work.rewards)
    size = batch_size(cfg.batch_size, cfg.device, len(todo), lambda: predicted_batch(cfg))
    batches = Batches(todo, min(size, method.method.max_batch_size or size))
    items_bar = tqdm(total=len(todo), desc="ReNO items", unit="item", disable=not cfg.progress, dynamic_ncols=True)
    iter_bar = tqdm(total=cfg.optimizer.n_iters, desc="iterates", unit="it", leave=False, disable=not cfg.progress,
                    dynamic_ncols=True)
    gains = []

    def on_iterate(it: int, steps: list[dict]) -> None:
        totals = [s["total"] for s in steps]
        iter_bar.update(1)
        iter_bar.set_postfix(total=f"{sum(totals) / len(totals):.4g}")
        work.logger.log_iterate(it, steps)

    with items_bar, iter_bar:
        for batch in batches:
            objective = Objective(work.generator, work.rewards, *conditioning.batch(batch), cfg.optimizer.reg_weight)
            if cfg.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            iter_bar.reset()
            iter_bar.set_description(f"iterates (batch of {len(batch)})")
            start = time.perf_counter()
            with batches.retry_on_oom(batch):
                noises = [work.generator.noise_stream(item.seed) for item in batch]
                results = method.optimise(objective, noises, cfg.optimizer, on_iterate=on_iterate)
            if batches.retrying:
                continue
            seconds = (time.perf_counter() - start) / len(batch)  # this item's share of the batch's time
            for item, result, more in zip(batch, results, transferred(work.transfer, batch, results)):
                result.events[:0] = batches.events.pop(item.key, [])
                files, images = save_item(work.records, work.suite, item, result, more, cfg.save_images)
                record = record_of(item, result, work.fingerprint, files, seconds, peak_memory(cfg.device))
                work.records.append(record)
                work.logger.log_item(record, images)
                for e in result.events:
                    log.warning("%s (%s, seed %d): %s", item.key, item.prompt[:40], item.seed, e)
                gains.append(result.best.total - result.initial.total)
            items_bar.update(len(batch))
            items_bar.set_postfix(gain=f"{sum(gains) / len(gains):+.4g}", s_per_item=f"{seconds:.1f}")
