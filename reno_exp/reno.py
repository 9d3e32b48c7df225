"""Algorithm 1 of ReNO: gradient ascent on the initial noise of a one-step model, against rewards.

As the authors run it: minimise ``sum_i w_i (offset_i - score_i) + K(z)`` with SGD (lr 5, momentum 0.9,
Nesterov), the noise gradient clipped to global norm 0.1 before each step, ``n_iters`` iterates (the
initial noise is iterate 0, no step after the last), and return the best iterate by the weighted
reward total without K. ``best_of_n`` is the equal-compute baseline: a fresh noise at every iterate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from hydra.utils import instantiate

from reno_exp.config import Method, OptimizerConfig
from reno_exp.generators.base import OneStepGenerator
from reno_exp.rewards.base import RewardSet


def norm_regulariser(z: torch.Tensor) -> torch.Tensor:
    """K(z) = 0.5 ||z||^2 - (d - 1) log ||z||: the negative log-likelihood of ||z|| under a chi
    distribution with d = numel(z) degrees of freedom, constants dropped; its minimum is at
    ||z|| = sqrt(d - 1). In float32: in float16 ||z||^2 overflows and K becomes -inf."""
    norm = torch.linalg.vector_norm(z.float())
    return 0.5 * norm**2 - (z.numel() - 1) * torch.log(norm)


@dataclass
class Iterate:
    iteration: int
    scores: dict[str, float]
    total: float
    noise: torch.Tensor  # (1, *latent_shape), float32, on the CPU
    latent: torch.Tensor
    image: torch.Tensor  # (1, 3, H, W) in [0, 1], on the CPU


@dataclass
class Result:
    initial: Iterate
    best: Iterate
    history: list[dict[str, float]] = field(default_factory=list)  # per iterate: scores, total, reg, grad_norm
    events: list[dict[str, Any]] = field(default_factory=list)  # skipped steps and why
    saved: list[Iterate] = field(default_factory=list)  # every `save_every`-th iterate


def optimise(
    generator: OneStepGenerator,
    rewards: RewardSet,
    cond: Any,
    prepared: dict[str, Any],
    noise: Callable[[], torch.Tensor],
    cfg: OptimizerConfig,
    on_iterate: Callable[[int, dict[str, float]], None] | None = None,
) -> Result:
    """Run Algorithm 1 for one (prompt, seed). ``noise()`` draws the next N(0, I) sample of this item's
    own stream: the first draw is the initial noise; ``best_of_n`` draws a fresh one at every iterate."""
    search = cfg.method == Method.best_of_n
    z = noise().requires_grad_(not search)
    opt = None if search else instantiate(cfg.optim)(params=[z])
    initial = best = None
    history, events, saved = [], [], []

    for it in range(cfg.n_iters):
        last = it == cfg.n_iters - 1
        if search and it > 0:
            z = noise()
        with torch.set_grad_enabled(not search):
            out = generator(z, cond)
            reward_loss, scores = rewards(out.image, prepared)
            reg = cfg.reg_weight * norm_regulariser(z) if cfg.reg_weight else torch.zeros((), device=z.device)
            loss = reward_loss + reg

        values = {name: s.mean().item() for name, s in scores.items()}
        total = rewards.total(scores).mean().item()
        step = {**values, "total": total, "reg": reg.item(), "loss": loss.item()}
        history.append(step)
        if on_iterate is not None:
            on_iterate(it, step)

        is_best = math.isfinite(total) and (best is None or total > best.total)
        keep = bool(cfg.save_every) and it % cfg.save_every == 0
        if it == 0 or is_best or keep:
            snap = Iterate(it, values, total, z.detach().cpu().clone(), out.latent.detach().float().cpu(),
                           out.image.detach().float().cpu())
            initial = snap if it == 0 else initial
            best = snap if is_best else best
            if keep:
                saved.append(snap)

        if search or last:
            continue
        if not math.isfinite(step["loss"]):
            events.append({"iteration": it, "event": "non-finite loss", "loss": step["loss"]})
            continue
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.linalg.vector_norm(z.grad).item()
        step["grad_norm"] = grad_norm
        if not math.isfinite(grad_norm):
            events.append({"iteration": it, "event": "non-finite gradient"})
            continue
        torch.nn.utils.clip_grad_norm_([z], cfg.grad_clip)
        opt.step()

    if best is None:  # no finite iterate at all: report the initial one, flagged
        events.append({"iteration": None, "event": "no finite reward total; best = initial"})
        best = initial
    return Result(initial=initial, best=best, history=history, events=events, saved=saved)
