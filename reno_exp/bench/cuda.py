"""Measurements on a GPU: a short run of the app with random weights, its seconds per iterate and peak
memory. Random weights are initialised on the GPU (``hub.random_init_on``): a 12B model in seconds."""

from __future__ import annotations

import time

import torch
from omegaconf import DictConfig, open_dict

from reno_exp import hub


def measure(cfg: DictConfig, batch: int, n_iters: int = 3, parts=None) -> tuple[float, int]:
    """(seconds per iterate, peak allocated bytes) of ``batch`` items of ``n_iters`` iterates, after an
    untimed warm-up batch (kernel selection, compilation)."""
    import tempfile

    from reno_exp import run as app

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.benchmark.seeds = list(range(batch))
        cfg.batch_size = batch
        cfg.optimizer.n_iters = n_iters
        cfg.save_images = False
    cfg = app.placed(cfg) if hasattr(app, "placed") else cfg  # the batched app decides dtypes up front
    if parts is None:
        with hub.random_init_on(cfg.device):
            parts = app.build(cfg, cfg.device)
    with tempfile.TemporaryDirectory() as d:
        app.run(cfg, d, parts=parts)  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        app.run(cfg, d, parts=parts)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return seconds / n_iters, torch.cuda.max_memory_allocated()
