"""What the analysis reads: run directories (one ``results.jsonl`` each) and sweeps of them.

Data flows one way: everything here comes from files a run wrote (records, noises, images, the Hydra
config, ``evaluation.jsonl``); no model is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import load_file

from reno_exp.records import RESULTS, read_records
from reno_exp.rundir import read_info

EVALUATION = "evaluation.jsonl"
NOISE_KEYS = ("initial_noise", "best_noise", "initial_latent", "best_latent")


@dataclass
class Run:
    dir: Path
    records: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, run_dir: str | Path) -> Run:
        run_dir = Path(run_dir)
        return cls(run_dir, read_records(run_dir / RESULTS))

    @property
    def name(self) -> str:
        return self.dir.name

    @cached_property
    def setup(self) -> RunConfig | None:
        """What the run was made with (None when the run was not made by the app)."""
        return read_config(self.dir)

    @property
    def config(self) -> DictConfig | None:
        return self.setup.config if self.setup else None

    @property
    def label(self) -> str:
        """The configuration in a few words, for figure titles (the directory name without a config)."""
        return describe(self.setup) if self.setup else self.name

    def noises(self, record: dict) -> dict[str, torch.Tensor] | None:
        """initial/best noise and latent of one item, each (1, *latent_shape) float32; None if absent."""
        rel = record.get("noise")
        if not rel or not (self.dir / rel).exists():
            return None
        tensors = load_file(self.dir / rel)
        return tensors if all(k in tensors for k in NOISE_KEYS) else None

    def evaluations(self) -> list[dict]:
        """The evaluators' scores: one dict per (key, image_set, metric), torn lines skipped."""
        path = self.dir / EVALUATION
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and {"key", "image_set", "metric", "score"} <= set(row):
                rows.append(row)
        return rows


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


def describe(rc: RunConfig) -> str:
    """'sd_turbo | hpsv2 5 + imagereward 1 | reno, 50 iterates': model, rewards with weights, method."""
    cfg = rc.config
    model = rc.choices.get("model") or str(OmegaConf.select(cfg, "model._target_", default="?")).rsplit(".", 1)[-1]
    if OmegaConf.select(cfg, "random_init", default=False):
        model += " (random weights)"
    rewards = OmegaConf.select(cfg, "reward", default=None) or {}

    def weight(r) -> str:
        w = OmegaConf.select(r, "weight", default=None) if isinstance(r, DictConfig) else None
        return f" {w:g}" if isinstance(w, (int, float)) else ""

    weights = " + ".join(f"{name}{weight(r)}" for name, r in rewards.items()) or "no reward"
    method = str(OmegaConf.select(cfg, "optimizer.method", default="") or rc.choices.get("optimizer", "?"))
    n = OmegaConf.select(cfg, "optimizer.n_iters", default=None)
    return f"{model} | {weights} | {method}" + (f", {n} iterates" if n is not None else "")


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
