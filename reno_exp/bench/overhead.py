"""The app's overhead: the full run (records, images, noises, logging) against a bare loop of
Algorithm 1 written inline here, on the same items and the same built models."""

from __future__ import annotations

import tempfile

import torch
from hydra.utils import instantiate

from reno_exp.experiment.run import run
from reno_exp.methods import norm_regulariser


def bare_loop(generator, rewards, cfg, seeds) -> None:
    """Algorithm 1 with nothing around it, one item at a time: the floor the app is measured against."""
    prompt = cfg.benchmark.prompt
    cond, prepared = generator.encode_prompt(prompt), rewards.prepare(prompt)
    for seed in seeds:
        z = generator.sample_noise(seed).requires_grad_()
        opt = instantiate(cfg.optimizer.optim)(params=[z])
        best = -float("inf")
        for it in range(cfg.optimizer.n_iters):
            out = generator(z, cond)
            loss, scores = rewards(out.image, prepared)
            best = max(best, rewards.total(scores).max().item())
            if it == cfg.optimizer.n_iters - 1:
                break
            loss = loss.sum() + cfg.optimizer.reg_weight * norm_regulariser(z)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([z], cfg.optimizer.grad_clip)
            opt.step()


def app_run(cfg, parts) -> None:
    with tempfile.TemporaryDirectory() as d:
        run(cfg, d, parts=parts)
