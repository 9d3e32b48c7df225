"""``python -m reno_exp.bench [overrides] [--items N] [--repeats R]``: what one ReNO iteration costs.

Prints seconds per iteration, peak memory, and the overhead of the full app (records, images, noises,
logging, progress bar) over a bare loop of the same models written inline here. Both run the same items
on the same built models, interleaved R times; the fastest repeat of each is compared.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from reno_exp import reno
from reno_exp.config import register
from reno_exp.run import build, peak_memory, resolve_device, run

CONF = __import__("pathlib").Path(__file__).resolve().parents[1] / "conf"


def bare_loop(generator, rewards, cfg, seeds) -> None:
    """Algorithm 1 with nothing around it: the floor the app is measured against."""
    prompt = cfg.benchmark.prompt
    cond, prepared = generator.encode_prompt(prompt), rewards.prepare(prompt)
    for seed in seeds:
        z = generator.sample_noise(seed).requires_grad_()
        opt = instantiate(cfg.optimizer.optim)(params=[z])
        best = -float("inf")
        for it in range(cfg.optimizer.n_iters):
            out = generator(z, cond)
            loss, scores = rewards(out.image, prepared)
            best = max(best, rewards.total(scores).item())
            if it == cfg.optimizer.n_iters - 1:
                break
            loss = loss + cfg.optimizer.reg_weight * reno.norm_regulariser(z)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([z], cfg.optimizer.grad_clip)
            opt.step()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*")
    p.add_argument("--items", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    register()
    seeds = list(range(args.items))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[*args.overrides, f"benchmark.seeds={seeds}", "benchmark=single",
                                           "logger=none", "progress=false"])
    cfg.device = device = resolve_device(cfg.device)
    t = time.perf_counter()
    parts = build(cfg, device)
    built = time.perf_counter() - t
    bare_loop(*parts, cfg, seeds[:1])  # warm-up: allocator, kernels, caches

    bare, app = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        bare_loop(*parts, cfg, seeds)
        bare.append(time.perf_counter() - t)
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            run(cfg, d, parts=parts)
            app.append(time.perf_counter() - t)

    iters = args.items * cfg.optimizer.n_iters
    b, a = min(bare), min(app)
    print(f"config: model={cfg.model._target_.rsplit('.', 1)[-1]} resolution={cfg.model.resolution} "
          f"rewards={list(cfg.reward) or 'none'} n_iters={cfg.optimizer.n_iters} device={device}")
    print(f"build: {built:.1f} s")
    print(f"bare loop: {b / iters:.4f} s/iteration   app: {a / iters:.4f} s/iteration "
          f"({args.items} items x {cfg.optimizer.n_iters} iterates, best of {args.repeats})")
    print(f"peak memory: {peak_memory(device) / 2**30:.2f} GiB ({'CUDA allocated' if device.startswith('cuda') else 'process RSS'})")
    print(f"app / bare: {a / b:.3f}  (overhead {100 * (a / b - 1):+.1f} %, target < 5 %)")


if __name__ == "__main__":
    main()
