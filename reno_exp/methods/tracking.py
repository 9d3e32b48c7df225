"""Per-item bookkeeping for Algorithm 1 on a batch: each item's history, events and kept iterates.

Every method (``reno.py``, ``best_of_n.py``, ``lbfgs.py``, ``zero_order.py``) hands every iterate of every
item to its ``Track``; the track keeps the initial iterate, the best one by reward total (the first of equal totals; non-finite
totals never count), every ``save_every``-th, and the best within each ``save_at`` budget it reaches. It
counts the item's generator evaluations and backward passes, and stamps both (so far) on each iterate's
values: the record says what every iterate had cost. Snapshots stay on the model's device until the item
ends, so keeping one costs a device copy, not a synchronisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch


@dataclass
class Iterate:
    iteration: int
    scores: dict[str, float]
    total: float
    noise: torch.Tensor  # (1, *latent_shape), float32; on the CPU once the item ends
    latent: torch.Tensor
    image: torch.Tensor  # (1, 3, H, W) in [0, 1]


@dataclass
class Result:
    initial: Iterate
    best: Iterate
    history: list[dict[str, float]] = field(default_factory=list)  # per iterate: scores, total, reg, loss, grad_norm
    events: list[dict[str, Any]] = field(default_factory=list)  # skipped steps and why
    saved: list[Iterate] = field(default_factory=list)  # every `save_every`-th iterate
    evaluations: int = 0  # generator evaluations spent on this item (denoiser calls x steps)


def on_cpu(it: Iterate) -> Iterate:
    return replace(it, noise=it.noise.float().cpu(), latent=it.latent.float().cpu(), image=it.image.float().cpu())


class Track:
    def __init__(self, save_every: int = 0, save_at=(), forward_backward_cost: float | None = None):
        self.save_every = save_every
        self.history: list[dict[str, float]] = []
        self.events: list[dict[str, Any]] = []
        self.saved: list[Iterate] = []
        self.initial: Iterate | None = None
        self.best: Iterate | None = None
        self.evaluations = 0  # generator evaluations so far (forward passes x evaluations_per_call)
        self.backwards = 0  # backward passes through the generator so far (x evaluations_per_call)
        self.budgets = sorted(save_at)  # budgets (generator evaluations) whose best iterate is still to keep
        self.forward_backward_cost = forward_backward_cost

    @classmethod
    def of(cls, cfg) -> Track:
        """A track for an item optimised with ``cfg`` (an OptimizerConfig)."""
        return cls(cfg.save_every, cfg.save_at_evaluations, cfg.forward_backward_cost)

    def spent(self) -> float:
        """Generator evaluations so far, a backward pass counted as ``forward_backward_cost - 1`` of them."""
        if not self.backwards:
            return float(self.evaluations)
        return self.evaluations + self.backwards * (self.forward_backward_cost - 1)

    def observe(self, it: int, values: dict[str, float], scores: list[str], noise: torch.Tensor, out, i: int,
                cost: int = 1) -> None:
        """Iterate ``it`` of this item, item ``i`` of the generation ``out``; ``values``: its numbers
        (``scores`` names the reward ones); ``cost``: the generator evaluations the call spent. Keeps the
        initial iterate, the best one by reward total (the first of equal totals, never a non-finite one:
        the regulariser is not part of it), every ``save_every``-th, and the best within each budget."""
        self.evaluations += cost
        values["evaluations"], values["backwards"] = self.evaluations, self.backwards
        self.history.append(values)
        if self.budgets:
            spent = self.spent()
            while self.budgets and self.budgets[0] + 1e-9 < spent:  # this iterate is over that budget
                self.budgets.pop(0)
                self.keep(self.best)
        total = values["total"]
        is_best = math.isfinite(total) and (self.best is None or total > self.best.total)
        keep = bool(self.save_every) and it % self.save_every == 0
        if it == 0 or is_best or keep:
            snap = Iterate(it, {k: values[k] for k in scores}, total, noise.detach().clone(),
                           out.latent[i : i + 1].detach().clone(), out.image[i : i + 1].detach().clone())
            self.initial = snap if it == 0 else self.initial
            self.best = snap if is_best else self.best
            if keep:
                self.keep(snap)

    def keep(self, snap: Iterate | None) -> None:
        """Save ``snap``'s image with the item (once; None: no iterate fits the budget)."""
        if snap is not None and all(s.iteration != snap.iteration for s in self.saved):
            self.saved.append(snap)

    def event(self, it: int | None, what: str, **info) -> None:
        self.events.append({"iteration": it, "event": what, **info})

    def result(self) -> Result:
        best = self.best
        if best is None:  # no finite iterate at all: report the initial one, flagged
            self.event(None, "no finite reward total; best = initial")
            best = self.initial
        if any(b <= self.spent() + 1e-9 for b in self.budgets):  # met by the end: the best is the best within
            self.keep(self.best)
        initial = on_cpu(self.initial)
        saved = sorted(self.saved, key=lambda s: s.iteration)
        return Result(initial=initial, best=initial if best is self.initial else on_cpu(best),
                      history=self.history, events=self.events, saved=[on_cpu(s) for s in saved],
                      evaluations=self.evaluations)
