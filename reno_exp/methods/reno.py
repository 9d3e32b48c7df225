"""Algorithm 1 of ReNO: gradient ascent on the initial noise of a one-step model, against rewards.

As the authors run it: minimise ``sum_i w_i (offset_i - score_i) + K(z)`` with SGD (lr 5, momentum 0.9,
Nesterov), the noise gradient clipped to norm 0.1 before each step, ``n_iters`` iterates (the initial
noise is iterate 0, no step after the last), and return the best iterate by the weighted reward total
without K. ``best_of_n`` is the equal-compute baseline: a fresh noise at every iterate.

A batch of items runs at once and each item's result is the one it gets alone: every item's noise is a
leaf tensor of its own (so the optimiser's state, a skipped step and the gradient clipping are per item),
the batch's loss is the sum of the items' losses (so no item's gradient is scaled by the batch size), and
an item whose loss or gradient is not finite skips its own step only.

Other methods have loops of their own (``optimizer.loop``: reno_exp.methods.lbfgs, reno_exp.methods.zero_order) on the
same ``score`` and ``tracking.Track``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from hydra.utils import instantiate

from reno_exp.config.schema import Method, OptimizerConfig
from reno_exp.generators.base import OneStepGenerator
from reno_exp.methods import budget
from reno_exp.methods.tracking import Result, Track
from reno_exp.rewards.base import RewardSet


def norm_regulariser(z: torch.Tensor) -> torch.Tensor:
    """K(z) = 0.5 ||z||^2 - (d - 1) log ||z||: the negative log-likelihood of ||z|| under a chi
    distribution with d = numel(z) degrees of freedom, constants dropped; its minimum is at
    ||z|| = sqrt(d - 1). In float32: in float16 ||z||^2 overflows and K becomes -inf."""
    norm = torch.linalg.vector_norm(z.float())
    return 0.5 * norm**2 - (z.numel() - 1) * torch.log(norm)


def optimise(
    generator: OneStepGenerator,
    rewards: RewardSet,
    cond: Any,
    prepared: dict[str, Any],
    noises: list[Callable[[], torch.Tensor]],
    cfg: OptimizerConfig,
    on_iterate: Callable[[int, list[dict[str, float]]], None] | None = None,
) -> list[Result]:
    """Run Algorithm 1 for a batch of items. ``cond`` and ``prepared`` hold the items' conditioning in
    batch order (``generator.collate`` / ``rewards.collate``); ``noises[i]()`` draws the next N(0, I)
    sample of item i's own stream: the first draw is its initial noise, and ``best_of_n`` draws again at
    every iterate."""
    search = cfg.method == Method.best_of_n
    zs = [draw().requires_grad_(not search) for draw in noises]
    opt = None if search else instantiate(cfg.optim)(params=zs)
    tracks = [Track.of(cfg) for _ in zs]
    names = list(rewards.rewards)
    cost = getattr(generator, "evaluations_per_call", 1)

    for it in range(cfg.n_iters):
        if search and it > 0:
            zs = [draw() for draw in noises]
        with torch.set_grad_enabled(not search):
            out, loss, steps = score(generator, rewards, zs, cond, prepared, cfg.reg_weight)
        for i, (track, step) in enumerate(zip(tracks, steps)):
            track.evaluations += cost
            track.observe(it, step, names, zs[i], out.latent[i : i + 1], out.image[i : i + 1])
        if not search and it < cfg.n_iters - 1:
            step_items(opt, zs, loss, steps, tracks, it, cfg.grad_clip, cost)
        if on_iterate is not None:
            on_iterate(it, steps)
    return [track.result() for track in tracks]


def spent(cfg: OptimizerConfig, k: int) -> float:
    """Generator calls an item has cost once its iterate k exists: k + 1 forward passes, and for ReNO k
    backward passes (a forward+backward pass costs ``forward_backward_cost`` forward passes)."""
    if cfg.method == Method.best_of_n:
        return k + 1
    return 1 + k * budget.gradient_cost(cfg)


def score(generator, rewards: RewardSet, zs: list[torch.Tensor], cond, prepared, reg_weight: float):
    """One generator call on the items' noises, scored: the generation, each item's loss (the rewards' loss
    plus K, with its graph when gradients are on) and each item's numbers (each reward, ``total``, ``reg``,
    ``loss``), read back from the device once for the whole batch."""
    out = generator(torch.cat(zs), cond)
    reward_loss, scores = rewards(out.image, prepared)
    reg = (reg_weight * torch.stack([norm_regulariser(z) for z in zs]) if reg_weight
           else torch.zeros(len(zs), device=reward_loss.device))
    loss = reward_loss + reg
    names = list(rewards.rewards)
    total = rewards.total(scores) if names else torch.zeros_like(loss)
    rows = torch.stack([*(scores[n] for n in names), total, reg.detach(), loss.detach()])
    columns = [*names, "total", "reg", "loss"]
    return out, loss, [dict(zip(columns, col)) for col in rows.detach().cpu().T.tolist()]


def step_items(opt, zs, loss, steps, tracks, it: int, max_norm: float, cost: int = 1) -> None:
    """One optimiser step for every item whose loss and gradient are finite; the others keep their noise
    and optimiser state (torch's optimisers skip a parameter without a gradient). ``cost``: generator
    evaluations per call (a backward pass through them is counted per item)."""
    finite = [math.isfinite(s["loss"]) for s in steps]
    opt.zero_grad(set_to_none=True)
    if any(finite):
        loss[torch.tensor(finite, device=loss.device)].sum().backward()
        norms = iter(torch.stack([torch.linalg.vector_norm(z.grad) for z, ok in zip(zs, finite) if ok]).tolist())
    for z, ok, step, track in zip(zs, finite, steps, tracks):
        if not ok:
            track.event(it, "non-finite loss", loss=step["loss"])
            # masked out of the loss but still in the batch's graph: backward left it a gradient (zeros,
            # or NaN through the NaN it scored), and SGD's momentum, Nesterov and Adam would move it
            z.grad = None
            continue
        track.backwards += cost
        step["grad_norm"] = next(norms)
        if not math.isfinite(step["grad_norm"]):
            track.event(it, "non-finite gradient")
            z.grad = None
            continue
        torch.nn.utils.clip_grad_norm_([z], max_norm)  # each item's gradient clipped alone
    opt.step()
