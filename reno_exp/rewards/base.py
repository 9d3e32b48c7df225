"""What a reward model is to ReNO, and the weighted set of them that Algorithm 1 maximises.

A reward maps an image in [0, 1] (differentiably) and a prompt to one score per image. Its text side
is prepared once per prompt (``prepare``) and reused at every iteration. Its loss is
``offset - score``: the offset only shifts the loss, so the best iterate and the gradient do not
depend on it, but it keeps the logged losses on the scale the authors report.
"""

from __future__ import annotations

import zlib
from typing import Any

import torch
from hydra.utils import instantiate
from torch import nn

from reno_exp.config.options import Configured
from reno_exp.generators.collate import collate
from reno_exp.weights.hub import seeded_init


class Reward(Configured, nn.Module):
    """Built as ``Reward(random_init=..., tiny=..., device=..., **options)`` (what ``RewardSet.from_config``
    calls): ``options`` are fields of its config dataclass ``schema``, whose defaults fill the rest."""

    offset: float = 0.0

    @torch.no_grad()
    def prepare(self, prompt: str) -> Any:
        """Everything about the prompt the score needs (text features, tokens); once per prompt."""
        return prompt

    def forward(self, image: torch.Tensor, prepared: Any) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) scores, higher is better."""
        raise NotImplementedError


class RewardSet(nn.Module):
    """Named rewards with weights. ``total = sum_i w_i * score_i``; ``loss = sum_i w_i * (offset_i - score_i)``."""

    def __init__(self, rewards: dict[str, Reward], weights: dict[str, float]):
        super().__init__()
        self.rewards = nn.ModuleDict(rewards)
        self.weights = dict(weights)

    @classmethod
    def from_config(cls, cfg, **build_kwargs) -> RewardSet:
        """``cfg``: name -> reward config with ``_target_`` and ``weight``; ``build_kwargs`` go to every reward."""
        rewards, weights = {}, {}
        for name, node in cfg.items():
            params = {k: v for k, v in node.items() if k != "weight"}
            with seeded_init(zlib.crc32(name.encode())):  # random_init: the same weights in every run
                rewards[name] = instantiate(params, **build_kwargs)
            # a reward added whole (+reward.<name>={_target_: ...}) may leave its weight to the schema's default
            weight = node["weight"] if "weight" in node else type(rewards[name]).options({}).weight
            weights[name] = float(weight)
        return cls(rewards, weights)

    def prepare(self, prompt: str) -> dict[str, Any]:
        return {name: r.prepare(prompt) for name, r in self.rewards.items()}

    def collate(self, prepared: list[dict[str, Any]]) -> dict[str, Any]:
        """The prepared text of a batch's items (in batch order), for one call."""
        return {name: collate([p[name] for p in prepared]) for name in self.rewards}

    def forward(self, image: torch.Tensor, prepared: dict[str, Any]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns each image's weighted loss ((B,) float32) and each reward's (B,) scores. A reward of
        weight 0 (a metric, or a held-out reward) is scored without a graph: it steers nothing."""
        scores = {}
        for name, r in self.rewards.items():
            with torch.set_grad_enabled(torch.is_grad_enabled() and self.weights[name] != 0):
                scores[name] = r(image, prepared[name]).float()
        loss = image.new_zeros(image.shape[0], dtype=torch.float32)
        for name, s in scores.items():
            if self.weights[name] != 0:
                loss = loss + self.weights[name] * (self.rewards[name].offset - s)
        return loss, scores

    def total(self, scores: dict[str, torch.Tensor]) -> torch.Tensor:
        """The weighted reward total, without the regulariser: what the best iterate is chosen on. A reward
        of weight 0 is left out, not multiplied by 0: its NaN must not make an iterate ineligible."""
        parts = [self.weights[name] * s.detach() for name, s in scores.items() if self.weights[name] != 0]
        return sum(parts[1:], parts[0]) if parts else torch.zeros_like(next(iter(scores.values())).detach())
