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
from omegaconf import DictConfig
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
    def config(self) -> DictConfig | None:
        """The run's result-affecting config as its run.yaml holds it (None when the app did not make it)."""
        info = read_info(self.dir)
        return None if info is None else info.cfg()

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
