"""What every method maximises for a batch of items: the weighted reward total of each generated image,
as a loss with the noise-norm regulariser K added (the paper's objective), scored in one generator call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.generators.base import Generation, OneStepGenerator
from reno_exp.methods.tracking import Result
from reno_exp.rewards.base import RewardSet

Noises = list[Callable[[], torch.Tensor]]  # each item's own N(0, I) stream (OneStepGenerator.noise_stream)
OnIterate = Callable[[int, list[dict[str, float]]], None]  # (iterate, each item's numbers): progress, loggers


def norm_regulariser(z: torch.Tensor) -> torch.Tensor:
    """K(z) = 0.5 ||z||^2 - (d - 1) log ||z||: the negative log-likelihood of ||z|| under a chi
    distribution with d = numel(z) degrees of freedom, constants dropped; its minimum is at
    ||z|| = sqrt(d - 1). In float32: in float16 ||z||^2 overflows and K becomes -inf."""
    norm = torch.linalg.vector_norm(z.float())
    return 0.5 * norm**2 - (z.numel() - 1) * torch.log(norm)


@dataclass
class Objective:
    """The generator and the rewards with a batch's conditioning, in batch order (``generator.collate``,
    ``rewards.collate``): ``objective(zs)`` scores the items' noises."""

    generator: OneStepGenerator
    rewards: RewardSet
    cond: Any
    prepared: dict[str, Any]
    reg_weight: float

    @property
    def names(self) -> list[str]:
        return list(self.rewards.rewards)

    @property
    def evaluations_per_call(self) -> int:
        """Denoiser evaluations per generator call (k-step generators cost k)."""
        return getattr(self.generator, "evaluations_per_call", 1)

    def __call__(self, zs: list[torch.Tensor]) -> tuple[Generation, torch.Tensor, list[dict[str, float]]]:
        """One generator call on the items' noises: the generation, each item's loss (the rewards' loss plus
        K, with its graph when gradients are on) and each item's numbers (each reward, ``total``, ``reg``,
        ``loss``), read back from the device once for the whole batch."""
        out = self.generator(torch.cat(zs), self.cond)
        reward_loss, scores = self.rewards(out.image, self.prepared)
        reg = (self.reg_weight * torch.stack([norm_regulariser(z) for z in zs]) if self.reg_weight
               else torch.zeros(len(zs), device=reward_loss.device))
        loss = reward_loss + reg
        names = self.names
        total = self.rewards.total(scores) if names else torch.zeros_like(loss)
        rows = torch.stack([*(scores[n] for n in names), total, reg.detach(), loss.detach()])
        columns = [*names, "total", "reg", "loss"]
        return out, loss, [dict(zip(columns, col)) for col in rows.detach().cpu().T.tolist()]


class NoiseOptimiser(Protocol):
    """An optimisation method: the items of a batch in, each item's result (the one it gets alone) out.
    Its batch limit and its cost per iterate are declared with its name in the config
    (``method.max_batch_size``, ``method.iterate_cost``: reno_exp.config.optimizer.Method), where the
    validator and the equal-compute budgets read them before any of this code is imported."""

    method: Method

    def optimise(self, objective: Objective, noises: Noises, cfg: OptimizerConfig,
                 on_iterate: OnIterate | None = None) -> list[Result]: ...
