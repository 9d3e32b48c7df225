"""Algorithm 1 of ReNO: gradient ascent on the initial noise of a one-step model, against rewards.

As the authors run it: minimise ``sum_i w_i (offset_i - score_i) + K(z)`` with SGD (lr 5, momentum 0.9,
Nesterov), the noise gradient clipped to norm 0.1 before each step, ``n_iters`` iterates (the initial
noise is iterate 0, no step after the last), and keep the best iterate by the weighted reward total
without K (``Track.observe``). Adam is the same loop with another torch optimiser.

A batch of items runs at once and each item's result is the one it gets alone: every item's noise is a
leaf tensor of its own (so the optimiser's state, a skipped step and the gradient clipping are per item),
the batch's loss is the sum of the items' losses (so no item's gradient is scaled by the batch size), and
an item whose loss or gradient is not finite skips its own step, its noise and optimiser state untouched.
"""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate

from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.methods.objective import Noises, Objective, OnIterate
from reno_exp.methods.tracking import Result, Track


class ReNO:
    method = Method.reno

    def optimise(self, objective: Objective, noises: Noises, cfg: OptimizerConfig,
                 on_iterate: OnIterate | None = None) -> list[Result]:
        zs = [draw().requires_grad_() for draw in noises]  # each item's noise: a leaf of its own
        opt = instantiate(cfg.optim)(params=zs)
        tracks = [Track.of(cfg) for _ in zs]
        cost = objective.evaluations_per_call
        for it in range(cfg.n_iters):
            out, loss, steps = objective(zs)
            for i, (track, step) in enumerate(zip(tracks, steps)):
                track.observe(it, step, objective.names, zs[i], out, i, cost)  # keeps the best iterate
            if it < cfg.n_iters - 1:  # no step after the last iterate
                opt.zero_grad(set_to_none=True)
                ok = [math.isfinite(s["loss"]) for s in steps]
                if any(ok):  # the sum, not the mean: no item's gradient is scaled by the batch size
                    loss[torch.tensor(ok, device=loss.device)].sum().backward()
                    norms = iter(torch.stack([z.grad.norm() for z, f in zip(zs, ok) if f]).tolist())  # one read
                for z, fine, step, track in zip(zs, ok, steps, tracks):
                    if fine:
                        track.backwards += cost
                        step["grad_norm"] = next(norms)
                    if not (fine and math.isfinite(step["grad_norm"])):
                        track.event(it, "non-finite gradient" if fine else "non-finite loss",
                                    **({} if fine else {"loss": step["loss"]}))
                        # no gradient, no step: a masked item still in the batch's graph got one (zeros,
                        # or NaN through its NaN), which momentum, Nesterov and Adam would act on
                        z.grad = None
                        continue
                    torch.nn.utils.clip_grad_norm_([z], cfg.grad_clip)  # each item's gradient clipped alone
                opt.step()  # torch's optimisers pass over a parameter without a gradient
            if on_iterate is not None:
                on_iterate(it, steps)
        return [track.result() for track in tracks]
