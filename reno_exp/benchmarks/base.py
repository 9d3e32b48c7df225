"""A prompt suite: the ordered list of (prompt, seed) work items a run goes through.

Items are numbered by the prompt's position in the suite and the image number k; the seed of image k
is ``base_seed + seeds[k]``, ``seeds`` being the suite's (a prompt file may give a prompt its own). Sharding takes every ``num_shards``-th item, so shards partition the work
deterministically and need no coordination.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from reno_exp.config.errors import UserError
from reno_exp.config.options import Configured
from reno_exp.store.records import RunRecords


@dataclass(frozen=True)
class Item:
    index: int  # the prompt's position in the (unsharded) suite
    k: int  # image number of this prompt
    prompt: str
    seed: int
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.index:05d}_{self.k:02d}"


class PromptSuite(Configured):
    """Built as ``Suite(**options)`` (what ``hydra.utils.instantiate(cfg.benchmark)`` calls): ``options`` are
    fields of its config dataclass ``schema``, whose defaults fill the rest."""

    name = "suite"

    def __init__(self, **options):
        self.cfg = self.options(options)
        self.seeds = list(self.cfg.seeds)
        self.limit = self.cfg.limit
        self.num_shards = self.cfg.num_shards
        self.shard_index = self.cfg.shard_index

    def prompts(self) -> list[tuple[str, dict[str, Any]]]:
        """(prompt, metadata) in the suite's order."""
        raise NotImplementedError

    def seeds_of(self, index: int) -> list[int]:
        """The seeds of the prompt at ``index``."""
        return self.seeds

    def export(self, item: Item, images: dict[str, torch.Tensor], records: RunRecords) -> None:
        """Also write the images where the suite's official evaluator expects them.

        ``images``: image set name ("initial", "best") -> (1, 3, H, W) in [0, 1]. Default: nothing."""

    def shard(self) -> tuple[int, int]:
        index = self.shard_index
        if index is None and self.num_shards == 1:
            index = 0  # an array task of some other split (e.g. one Hydra job per task) runs everything
        if index is None:
            if "SUBMITIT_EXECUTOR" in os.environ:  # hydra/launcher=slurm: the array index is the job number
                raise UserError("with hydra/launcher=slurm, sweep the shards explicitly: "
                                f"benchmark.shard_index=range(0,{self.num_shards})")
            index = int(os.environ.get("SLURM_ARRAY_TASK_ID", 0))
        if not 0 <= index < self.num_shards:
            raise UserError(f"benchmark.shard_index={index} is outside 0..{self.num_shards - 1} (num_shards)")
        return index, self.num_shards

    def items(self, base_seed: int = 0) -> list[Item]:
        prompts = self.prompts()[: self.limit]
        every = [
            Item(i, k, prompt, base_seed + s, meta)
            for i, (prompt, meta) in enumerate(prompts)
            for k, s in enumerate(self.seeds_of(i))
        ]
        index, n = self.shard()
        return every[index::n]
