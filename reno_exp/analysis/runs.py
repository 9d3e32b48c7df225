"""What the analysis reads: run directories (one ``results.jsonl`` each) and sweeps of them.

Data flows one way: everything here comes from files a run wrote (records, noises, images, the Hydra
config, ``evaluation.jsonl``); no model is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from omegaconf import DictConfig
from safetensors.torch import load_file

from reno_exp.config import labels
from reno_exp.store.evaluations import Score, read_evaluations
from reno_exp.store.files import own_records
from reno_exp.store.names import RESULTS
from reno_exp.store.rundir import RunInfo, read_info

NOISE_KEYS = ("initial_noise", "best_noise", "initial_latent", "best_latent")


@dataclass
class Run:
    dir: Path
    records: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, run_dir: str | Path) -> Run:
        """The run's own records (those its run.yaml's config produced; others are left out, said once)."""
        run_dir = Path(run_dir)
        return cls(run_dir, own_records(run_dir))

    @property
    def name(self) -> str:
        return self.dir.name

    @cached_property
    def info(self) -> RunInfo | None:
        """Its run.yaml (None when the run was not made by the app)."""
        return read_info(self.dir)

    @cached_property
    def setup(self) -> RunConfig | None:
        """What the run was made with (None when the run was not made by the app)."""
        return None if self.info is None else RunConfig(self.info.cfg(), self.info.choices, self.info.overrides)

    @property
    def config(self) -> DictConfig | None:
        return self.setup.config if self.setup else None

    @cached_property
    def label(self) -> str:
        """The configuration in a few words, for figure titles, from its resolved config (reno_exp.config.labels):
        generator, rewards with weights, method, and how it departs from the paper's setting (the directory
        name without a config)."""
        if self.info is None:
            return self.name
        off = labels.departures(self.info.config, self.info.choices, self.info.overrides)
        return labels.describe(self.info.config, self.info.choices) + (f" [{', '.join(off)}]" if off else "")

    def noises(self, record: dict) -> dict[str, torch.Tensor] | None:
        """initial/best noise and latent of one item, each (1, *latent_shape) float32; None if absent."""
        rel = record.get("noise")
        if not rel or not (self.dir / rel).exists():
            return None
        tensors = load_file(self.dir / rel)
        return tensors if all(k in tensors for k in NOISE_KEYS) else None

    def evaluations(self) -> list[Score]:
        """The evaluators' scores, one per (key, image_set, metric) line."""
        return read_evaluations(self.dir)


@dataclass(frozen=True)
class RunConfig:
    """What a run was made with: its composed config, the option chosen in each config group (model:
    sd_turbo) and the command line's overrides."""

    config: DictConfig
    choices: dict[str, str]
    overrides: list[str]


def read_config(run_dir: str | Path) -> RunConfig | None:
    """A run's configuration as its own run.yaml holds it: the result-affecting config, the option chosen
    in each config group and the command line's overrides. None when there is none; a damaged or
    foreign file is a UserError naming it."""
    info = read_info(run_dir)
    return None if info is None else RunConfig(info.cfg(), info.choices, info.overrides)


def run_dirs(path: str | Path) -> list[Path]:
    """A run directory itself, or the job directories of a sweep (numbered sub-directories, in number
    order), or any directories below ``path`` holding a ``results.jsonl``."""
    path = Path(path)
    if (path / RESULTS).exists():
        return [path]
    found = [p.parent for p in path.rglob(RESULTS)]

    def order(p: Path):
        rel = p.relative_to(path).parts
        return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in rel)

    return sorted(found, key=order)
