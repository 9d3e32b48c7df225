"""``python -m reno_exp.cost [overrides] [--repeats R] [--iterates N]``: what a ReNO step costs in forward passes.

``experiment=equal_compute`` counts compute in generator evaluations, and a ReNO iterate runs a forward
pass with gradient and a backward pass to the noise. This measures that cost, relative to the forward
pass without gradient that best-of-N and zero-order search run, on this machine with the run's own
config (model, rewards, dtype, gradient checkpointing, device, batch size): the median wall time over
R repeats of each, after one warm-up of each, with CUDA synchronised around every pass. The ratio of
the times is ``optimizer.forward_backward_cost``; the FLOPs of one pass of each (torch's FlopCounterMode)
are printed beside it (a FLOP count leaves out memory traffic and kernel efficiency, so the time is
what the comparison uses). It also prints the iterates each method gets for ReNO's N iterates.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import open_dict
from omegaconf.errors import OmegaConfBaseException
from torch.utils.flop_counter import FlopCounterMode

from reno_exp import budget
from reno_exp.config import register
from reno_exp.errors import UserError
from reno_exp.reno import score

CONF = Path(__file__).resolve().parents[1] / "conf"
METHODS = ("reno", "best_of_n", "zero_order")


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(generator, rewards, zs, cond, prepared, reg_weight: float, device: str, repeats: int) -> dict:
    """Seconds (median) and FLOPs of a forward pass without gradient and of a forward+backward pass."""

    def forward():
        with torch.no_grad():
            score(generator, rewards, zs, cond, prepared, reg_weight)

    def forward_backward():
        for z in zs:
            z.grad = None
        _, loss, _ = score(generator, rewards, zs, cond, prepared, reg_weight)
        loss.sum().backward()

    passes = {"forward": forward, "forward_backward": forward_backward}
    flops, times = {}, {name: [] for name in passes}
    for name, fn in passes.items():
        with FlopCounterMode(display=False) as counter:
            fn()  # also the warm-up
        flops[name] = counter.get_total_flops()
    for _ in range(repeats):  # interleaved, so that a change in the machine's load hits both alike
        for name, fn in passes.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), flops[name]) for name in passes}


def iterates_for(overrides: list[str], cost: float, reno_iterates: int) -> dict[str, int]:
    """Each method's n_iters under experiment=equal_compute with this cost."""
    out = {}
    for method in METHODS:
        cfg = compose("config", overrides=[*overrides, f"optimizer={method}"])
        with open_dict(cfg):
            cfg.optimizer.forward_backward_cost = cost
        out[method] = budget.equal_compute(reno_iterates, _parent_=cfg.optimizer)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m reno_exp.cost", description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="the run's overrides (model=..., reward=..., model.dtype=...)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--iterates", type=int, default=50, help="ReNO's iterates in the equal-compute sweep")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from reno_exp.prefetch import require_weights
    from reno_exp.run import build, noise_stream, placed

    register()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = placed(compose("config", overrides=[*args.overrides, "logger=none", "progress=false"]))
            size = 1 if cfg.batch_size == "auto" else int(cfg.batch_size)
            items = instantiate(cfg.benchmark).items(cfg.seed)[:size]
            if not cfg.random_init:
                require_weights(cfg)
            generator, rewards = build(cfg, cfg.device)
            cond = generator.collate([generator.encode_prompt(i.prompt) for i in items])
            prepared = rewards.collate([rewards.prepare(i.prompt) for i in items])
            zs = [noise_stream(generator, i.seed)().requires_grad_() for i in items]
            m = measure(generator, rewards, zs, cond, prepared, cfg.optimizer.reg_weight, cfg.device, args.repeats)
            (tf, ff), (tb, fb) = m["forward"], m["forward_backward"]
            cost = round(tb / tf, 2)
            keep = [o for o in args.overrides if not o.startswith(("optimizer=", "optimizer.n_iters"))]
            iterates = iterates_for(keep, cost, args.iterates)
    except (UserError, ConfigCompositionException, OmegaConfBaseException) as e:
        print(f"Error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    flop_ratio = f"{fb / ff:.2f}" if ff else "n/a"
    print(f"{len(items)} item(s) on {cfg.device}, median of {args.repeats}:\n"
          f"  forward (no gradient):  {tf * 1e3:10.2f} ms  {ff:.3e} FLOP\n"
          f"  forward + backward:     {tb * 1e3:10.2f} ms  {fb:.3e} FLOP\n"
          f"optimizer.forward_backward_cost={cost}   (time ratio; FLOP ratio {flop_ratio})\n"
          f"equal compute for ReNO's {args.iterates} iterates: "
          + ", ".join(f"{k} {v}" for k, v in iterates.items()) + " iterates\n"
          f"python -m reno_exp -m experiment=equal_compute {' '.join(keep)} optimizer.forward_backward_cost={cost}"
          + ("" if args.iterates == 50 else f" 'optimizer.n_iters=${{equal_compute:{args.iterates}}}'"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
