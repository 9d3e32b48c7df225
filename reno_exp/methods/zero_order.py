"""Zero-order search over the noise (Ma et al. 2025, "Inference-time scaling for diffusion models beyond
scaling denoising steps"): no gradient, only evaluations.

Iterate 0 scores the initial noise, the first pivot. Each later iterate scores ``candidates`` (N)
neighbours of the pivot: the pivot plus a random perturbation orthogonal to it, rescaled to the pivot's
norm, at cosine ``similarity`` to the pivot (``|p| (s u + sqrt(1 - s^2) w)``, u = p / |p|, w a random unit
vector orthogonal to u: the neighbourhood as Ma et al.'s reviewed implementation draws it,
sayakpaul/tt-scale-flux ``generate_neighbors``). The best neighbour (by reward total) becomes the pivot
if it beats the pivot; otherwise the pivot stays. Every noise keeps the initial noise's norm.

The record's ``history`` has one entry per iterate: the best neighbour's numbers (iterate 0: the initial
noise's), with the evaluations spent so far (1 + N k after iterate k). The pivot is always the best
iterate so far, so the best image is the search's result.

Each item's perturbations are drawn from that item's own noise stream (N draws per iterate, in order),
so its result does not depend on the run's order or on the other items of its batch. A batch's
neighbour j of every item goes through the generator together: N calls per iterate, each the size of
the batch (what a ReNO iterate holds).
"""

from __future__ import annotations

import math

import torch

from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.methods.objective import Noises, Objective, OnIterate
from reno_exp.methods.tracking import Result, Track


def neighbour(pivot: torch.Tensor, direction: torch.Tensor, similarity: float) -> torch.Tensor:
    """A noise of the pivot's norm at cosine ``similarity`` to it, towards ``direction`` (N(0, I))."""
    p, v = pivot.double().flatten(), direction.double().flatten()
    norm = torch.linalg.vector_norm(p)
    u = p / norm
    w = v - (v @ u) * u
    w = w / torch.linalg.vector_norm(w)
    return (norm * (similarity * u + math.sqrt(1 - similarity**2) * w)).reshape(pivot.shape).to(pivot.dtype)


class ZeroOrder:
    method = Method.zero_order

    def optimise(self, objective: Objective, noises: Noises, cfg: OptimizerConfig,
                 on_iterate: OnIterate | None = None) -> list[Result]:
        n = len(noises)
        pivots = [draw() for draw in noises]
        tracks = [Track.of(cfg) for _ in range(n)]
        names, cost = objective.names, objective.evaluations_per_call

        with torch.no_grad():
            out, _, steps = objective(pivots)
            for i, (track, step) in enumerate(zip(tracks, steps)):
                track.observe(0, step, names, pivots[i], out, i, cost)
            pivot_totals = [s["total"] for s in steps]
            if on_iterate is not None:
                on_iterate(0, steps)

            for it in range(1, cfg.n_iters):
                directions = [[draw() for _ in range(cfg.candidates)] for draw in noises]  # each item's own stream
                best: list[tuple | None] = [None] * n  # per item: (values, noise, generation, index) of its best
                failed = [0] * n
                for j in range(cfg.candidates):
                    zs = [neighbour(pivots[i], directions[i][j], cfg.similarity) for i in range(n)]
                    out, _, steps = objective(zs)
                    for i, step in enumerate(steps):
                        failed[i] += not math.isfinite(step["total"])
                        if best[i] is None or beats(step["total"], best[i][0]["total"]):
                            best[i] = (step, zs[i], out, i)
                for i, (step, z, out_i, at) in enumerate(best):
                    if failed[i]:
                        tracks[i].event(it, f"non-finite reward total for {failed[i]} of {cfg.candidates} neighbours")
                    tracks[i].observe(it, step, names, z, out_i, at, cost * cfg.candidates)  # N calls an iterate
                    if beats(step["total"], pivot_totals[i]):
                        pivots[i], pivot_totals[i] = z, step["total"]
                if on_iterate is not None:
                    on_iterate(it, [b[0] for b in best])
        return [track.result() for track in tracks]


def beats(total: float, other: float) -> bool:
    """A finite total above ``other`` (a non-finite one never wins, and anything finite beats it)."""
    return math.isfinite(total) and (not math.isfinite(other) or total > other)
