"""Schemas of the `benchmark` config group: one dataclass per prompt suite, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING


@dataclass
class BenchmarkConfig:
    _target_: str = MISSING
    seeds: list[int] = field(default_factory=lambda: [0])  # one image per seed, offset by the top-level seed
    limit: int | None = None  # keep the first `limit` prompts (smoke runs)
    num_shards: int = 1
    shard_index: int | None = None  # None: SLURM_ARRAY_TASK_ID when set, else 0


@dataclass
class SinglePromptConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.single.SinglePrompt"
    prompt: str = "A red dog and a green cat"

SCHEMAS = {"single": SinglePromptConfig}
