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


@dataclass
class T2ICompBenchConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.t2i_compbench.T2ICompBench"
    # color | shape | texture | spatial | non_spatial | complex (the paper's six) | 3d_spatial | numeracy (++)
    category: str = "color"
    split: str = "val"  # val (300 prompts) | seen | unseen (color, shape, texture) | action | spatial | spatialaction (complex)
    seeds: list[int] = field(default_factory=lambda: list(range(10)))  # the protocol: 10 images per prompt


@dataclass
class GenEvalConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.geneval.GenEval"
    tags: list[str] | None = None  # None: all six (single_object two_object counting colors position color_attr)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3])  # the protocol (and the authors' seeds)


@dataclass
class PartiPromptsConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.parti_prompts.PartiPrompts"
    categories: list[str] | None = None  # None: all 12
    challenges: list[str] | None = None  # None: all 11
    seeds: list[int] = field(default_factory=lambda: [0])


@dataclass
class ExamplePromptsConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.example_prompts.ExamplePrompts"
    seeds: list[int] = field(default_factory=lambda: [0])  # one image per prompt, as the authors


SCHEMAS = {
    "single": SinglePromptConfig,
    "t2i_compbench": T2ICompBenchConfig,
    "geneval": GenEvalConfig,
    "parti_prompts": PartiPromptsConfig,
    "example_prompts": ExamplePromptsConfig,
}
