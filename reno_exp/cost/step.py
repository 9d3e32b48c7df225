"""``python -m reno_exp.cost.step [overrides] [--time] [--repeats R] [--iterates N]``: what a ReNO step costs
in forward passes (``optimizer.forward_backward_cost``, for ``experiment=equal_compute``).

A ReNO iterate runs a forward pass of the generator and the rewards with gradient, then the backward pass
to the noise; best-of-N and zero-order search run the forward pass without gradient. Two measures of
forward+backward over forward, both printed:

- FLOPs: one pass of each of the run's config in the CUDA dry run on the meta device (reno_exp.cost.dryrun:
  real architectures at real size and CUDA dtype, nothing allocated; torch's FlopCounterMode), so on any
  machine, for any model. A FLOP count leaves out memory traffic and kernel efficiency.
- Time, on the run's device (CUDA, or ``--time`` to time elsewhere, e.g. model=tiny on a CPU, with
  ``--threads 1`` on a shared one): the run's own build, the median over R interleaved repeats of each
  pass after a warm-up of each, CUDA synchronised around every pass. This is what the machine that runs
  the sweep spends: measure it there.

The override printed is the time ratio when timed, else the FLOP ratio, with the iterates each method
then gets for ReNO's N iterates.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

import torch
from hydra.utils import instantiate
from omegaconf import open_dict
from omegaconf.errors import OmegaConfBaseException
from torch.utils.flop_counter import FlopCounterMode

from reno_exp.config import optimizer as budget
from reno_exp.config.compose import app_config
from reno_exp.config.errors import ArgumentParser, UserError, fail, first_line

COMMAND = "python -m reno_exp.cost.step"
METHODS = ("reno", "best_of_n", "zero_order")


def passes(objective, zs) -> dict[str, Callable[[], None]]:
    """The two passes: ``forward`` (no gradient: a search method's evaluation) and ``forward_backward``
    (a ReNO iterate: forward with gradient, backward to the noises)."""

    def forward():
        with torch.no_grad():
            objective(zs)

    def forward_backward():
        for z in zs:
            z.grad = None
        _, loss, _ = objective(zs)
        loss.sum().backward()

    return {"forward": forward, "forward_backward": forward_backward}


def flops(fn: Callable[[], None]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def dry_flops(cfg) -> dict[str, int]:
    """FLOPs of one item's forward pass and forward+backward pass, in the meta-device dry run of ``cfg``."""
    from reno_exp.cost.dryrun import DryRun

    dry = DryRun.build(cfg)
    cond, prepared = dry.conditioning(1)
    zs = dry.noises(1)
    reg = cfg.optimizer.reg_weight

    def forward():
        with torch.no_grad():
            dry.forward(cond, prepared, zs, reg)

    return {"forward": flops(forward), "forward_backward": flops(lambda: dry.iterate(cond, prepared, zs, reg))}


def times(fns: dict[str, Callable[[], None]], device: str, repeats: int) -> dict[str, float]:
    """Median seconds of each pass: a warm-up of each, then ``repeats`` rounds, interleaved so that a change
    in the machine's load hits both alike."""

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    for fn in fns.values():
        fn()
    out = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            out[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in out.items()}


def timed(cfg, repeats: int) -> tuple[dict[str, float], int]:
    """Seconds of each pass of the run's own build on its device, for its batch size (auto: 1)."""
    from reno_exp.assemble.parts import build
    from reno_exp.methods import Objective
    from reno_exp.weights.needs import require_weights

    size = 1 if cfg.batch_size == "auto" else int(cfg.batch_size)
    items = instantiate(cfg.benchmark).items(cfg.seed)[:size]
    if not cfg.random_init:
        require_weights(cfg)
    generator, rewards = build(cfg, cfg.device)
    cond = generator.collate([generator.encode_prompt(i.prompt) for i in items])
    prepared = rewards.collate([rewards.prepare(i.prompt) for i in items])
    zs = [generator.sample_noise(i.seed).requires_grad_() for i in items]
    objective = Objective(generator, rewards, cond, prepared, cfg.optimizer.reg_weight)
    return times(passes(objective, zs), cfg.device, repeats), len(items)


def iterates_for(overrides: list[str], cost: float, reno_iterates: int) -> dict[str, int]:
    """Each method's n_iters under experiment=equal_compute at this cost."""
    out = {}
    for method in METHODS:
        cfg = app_config([*overrides, f"optimizer={method}"], COMMAND)
        with open_dict(cfg):
            cfg.optimizer.forward_backward_cost = cost
        out[method] = budget.equal_compute(reno_iterates, _parent_=cfg.optimizer)
    return out


def main(argv=None) -> int:
    p = ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="the run's overrides (model=..., reward=..., model.dtype=...)")
    p.add_argument("--time", action=argparse.BooleanOptionalAction, default=None,
                   help="time the passes on the run's device (default: on CUDA only)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch CPU threads (on a CPU shared with other work, 1 is steadiest)")
    p.add_argument("--iterates", type=int, default=50, help="ReNO's iterates in the equal-compute sweep")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from reno_exp.config.optimizer import MAX_ITERATES
    from reno_exp.config.placement import placed
    from reno_exp.config.rules import check_arg

    keep = [o for o in args.overrides if not o.startswith(("optimizer=", "optimizer.n_iters"))]
    try:
        check_arg("--repeats", args.repeats, ge=1)
        check_arg("--threads", args.threads, ge=1)
        check_arg("--iterates", args.iterates, ge=1, le=MAX_ITERATES)
        if args.threads:
            torch.set_num_threads(args.threads)
        cfg = app_config([*args.overrides, "logger=none", "progress=false"], COMMAND)
        counted = dry_flops(cfg)
        ratios = {"FLOPs (meta dry run)": counted["forward_backward"] / counted["forward"]}
        lines = [f"FLOPs per item, dry run at real size: forward {counted['forward']:.4g}, "
                 f"forward+backward {counted['forward_backward']:.4g}"]
        cfg = placed(cfg)
        if args.time or (args.time is None and cfg.device.startswith("cuda")):
            seconds, n = timed(cfg, args.repeats)
            ratios[f"time on {cfg.device}"] = seconds["forward_backward"] / seconds["forward"]
            lines.append(f"seconds, {n} item(s) on {cfg.device}, median of {args.repeats}: forward "
                         f"{seconds['forward']:.4g}, forward+backward {seconds['forward_backward']:.4g}")
        used = list(ratios)[-1]
        if ratios[used] < 1:  # a forward pass without gradient slower than one with: the timing is not usable
            lines.append(f"the {used} ratio is below 1 (a timing disturbed by other work?): using the FLOP ratio")
            used = next(iter(ratios))
        cost = round(ratios[used], 2)
        iterates = iterates_for(keep, cost, args.iterates)
    except (UserError, OmegaConfBaseException) as e:
        return fail(first_line(e))
    lines.append("forward+backward / forward: " + ", ".join(f"{v:.3f} ({k})" for k, v in ratios.items()))
    lines.append(f"optimizer.forward_backward_cost={cost} ({used}); equal compute for ReNO's "
                 f"{args.iterates} iterates: " + ", ".join(f"{k} {v}" for k, v in iterates.items()) + " iterates")
    lines.append(f"python -m reno_exp -m experiment=equal_compute {' '.join(keep)} optimizer.forward_backward_cost="
                 f"{cost}" + ("" if args.iterates == 50 else f" 'optimizer.n_iters=${{equal_compute:{args.iterates}}}'"))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
