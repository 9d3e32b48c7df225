"""Best-of-N ("image select"), the paper's equal-compute baseline: a fresh noise from each item's own stream
at every iterate, no gradient, the best image by reward total kept."""

from __future__ import annotations

import torch

from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.methods.objective import Noises, Objective, OnIterate
from reno_exp.methods.tracking import Result, Track


class BestOfN:
    method = Method.best_of_n

    def optimise(self, objective: Objective, noises: Noises, cfg: OptimizerConfig,
                 on_iterate: OnIterate | None = None) -> list[Result]:
        tracks = [Track.of(cfg) for _ in noises]
        with torch.no_grad():
            for it in range(cfg.n_iters):
                zs = [draw() for draw in noises]
                out, _, steps = objective(zs)
                for i, (track, step) in enumerate(zip(tracks, steps)):
                    track.observe(it, step, objective.names, zs[i], out, i, objective.evaluations_per_call)
                if on_iterate is not None:
                    on_iterate(it, steps)
        return [track.result() for track in tracks]
