"""Schemas of the `benchmark` config group: one dataclass per prompt suite, checked by OmegaConf."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omegaconf import MISSING

from reno_exp.config import prompt_files
from reno_exp.config.rules import Rule, rule

CATEGORIES = ("color", "shape", "texture", "spatial", "non_spatial", "complex", "3d_spatial", "numeracy")
GENEVAL_TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
# PartiPrompts' categories and challenges, as in its file (a name may also be given in snake case)
PARTI_CATEGORIES = ("Abstract", "Animals", "Artifacts", "Arts", "Food & Beverage", "Illustrations", "Indoor Scenes",
                    "Outdoor Scenes", "People", "Produce & Plants", "Vehicles", "World Knowledge")
PARTI_CHALLENGES = ("Basic", "Complex", "Fine-grained Detail", "Imagination", "Linguistic Structures", "Perspective",
                    "Properties & Positioning", "Quantity", "Simple Detail", "Style & Format", "Writing & Symbols")


def snake(name: str) -> str:
    """'Food & Beverage' -> 'food_beverage'."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")

SEEDS = rule(nonempty=True, unique=True, each=Rule(ge=0))


@dataclass
class BenchmarkConfig:
    _target_: str = MISSING
    # one image per seed, offset by the top-level seed
    seeds: list[int] = field(default_factory=lambda: [0], metadata=SEEDS)
    limit: int | None = field(default=None, metadata=rule(ge=1))  # keep the first `limit` prompts (smoke runs)
    num_shards: int = field(default=1, metadata=rule(ge=1))
    # None: SLURM_ARRAY_TASK_ID when set, else 0
    shard_index: int | None = field(default=None, metadata=rule(ge=0, lt="num_shards"))


@dataclass
class SinglePromptConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.single.SinglePrompt"
    prompt: str = field(default="A red dog and a green cat", metadata=rule(nonempty=True))


@dataclass
class T2ICompBenchConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.t2i_compbench.T2ICompBench"
    # color | shape | texture | spatial | non_spatial | complex (the paper's six) | 3d_spatial | numeracy (++)
    category: str = field(default="color", metadata=rule(choices=CATEGORIES))
    split: str = "val"  # val (300 prompts) | seen | unseen (color, shape, texture) | action | spatial | spatialaction (complex)
    # the protocol: 10 images per prompt
    seeds: list[int] = field(default_factory=lambda: list(range(10)), metadata=SEEDS)


@dataclass
class GenEvalConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.geneval.GenEval"
    # None: all six (single_object two_object counting colors position color_attr)
    tags: list[str] | None = field(default=None, metadata=rule(nonempty=True, each=Rule(choices=GENEVAL_TAGS)))
    # the protocol (and the authors' seeds)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3], metadata=SEEDS)


@dataclass
class PartiPromptsConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.parti_prompts.PartiPrompts"
    categories: list[str] | None = field(  # None: all 12
        default=None, metadata=rule(nonempty=True, unique=True, each=Rule(choices=PARTI_CATEGORIES, normalize=snake)))
    challenges: list[str] | None = field(  # None: all 11
        default=None, metadata=rule(nonempty=True, unique=True, each=Rule(choices=PARTI_CHALLENGES, normalize=snake)))
    seeds: list[int] = field(default_factory=lambda: [0], metadata=SEEDS)


@dataclass
class ExamplePromptsConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.example_prompts.ExamplePrompts"
    # one image per prompt, as the authors
    seeds: list[int] = field(default_factory=lambda: [0], metadata=SEEDS)


@dataclass
class PromptFileConfig(BenchmarkConfig):
    _target_: str = "reno_exp.benchmarks.prompts.PromptFile"
    # .txt, .jsonl or .csv (formats: reno_exp/config/prompt_files.py), relative to the launch directory; the
    # run records it absolute
    path: str = field(default=MISSING, metadata=rule(nonempty=True, relation=prompt_files.problems))
    # the file's SHA-256, part of the run's identity: null is filled from the file when the run starts; a
    # given one pins the file (a file that does not match it is refused)
    sha256: str | None = field(default=None, metadata=rule(pattern="[0-9a-f]{64}", hint="64 lowercase hex digits"))


SCHEMAS = {
    "single": SinglePromptConfig,
    "t2i_compbench": T2ICompBenchConfig,
    "geneval": GenEvalConfig,
    "parti_prompts": PartiPromptsConfig,
    "example_prompts": ExamplePromptsConfig,
    "prompts": PromptFileConfig,
}
