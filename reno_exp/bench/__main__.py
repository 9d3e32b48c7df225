"""``python -m reno_exp.bench [overrides] [options]``: what a run costs, before and while it runs.

  (no option)            s/iterate, peak memory, and the app's overhead over a bare loop of Algorithm 1
  --batch-sizes 1,4,8    items/hour at each batch size, and the ratio to batch 1
  --memory [--gpu-gib G] predicted memory by part, gradient checkpointing off and on, the largest batch
                         that fits G GiB (on CUDA, beside the measured peak)
  --flops                FLOPs per iterate per item by part (generator, each reward)
  --plan                 jobs, items, iterates and device-hours of the sweep of the overrides
                         (e.g. --plan experiment=table2); --items-per-hour, --peak-share/--gpu for hours

Timings: warm-up, interleaved repeats, the fastest repeat of each variant and the repeats' spread; a
ratio whose distance from 1 is within its spread is printed as "within noise". On a CPU shared with other
work, --threads 1 keeps torch's threads from waiting on each other (ten times steadier here).
Predictions come from a dry run of the real architectures on the meta device (reno_exp.cost), at each
model's CUDA dtype.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

CONF = str(Path(__file__).resolve().parents[2] / "conf")


def say(line: str) -> None:
    print(line, flush=True)


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit code 2, as every entry point's bad input
        print(f"bench: {message}", file=sys.stderr)
        sys.exit(2)


def positive(kind, minimum=1):
    def check(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value
    return check


def sizes(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"batch sizes must be at least 1, got {text!r}")
    return sorted(set(values))


def share(text: str) -> float:
    value = positive(float, 0)(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a share of peak in (0, 1], got {text}")
    return value


def parse(argv) -> argparse.Namespace:
    p = Parser(prog="python -m reno_exp.bench", description=__doc__.splitlines()[0],
               formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("overrides", nargs="*")
    p.add_argument("--items", type=positive(int), help="items timed per repeat (default 3; the largest batch size)")
    p.add_argument("--repeats", type=positive(int), default=3)
    p.add_argument("--warmup", type=positive(int, 0), default=1)
    p.add_argument("--threads", type=positive(int), help="torch CPU threads (a shared CPU: 1 is far steadier)")
    p.add_argument("--batch-sizes", type=sizes)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--gpu-gib", type=positive(float, 0.001), default=80.0)
    p.add_argument("--flops", action="store_true")
    p.add_argument("--plan", action="store_true")
    p.add_argument("--items-per-hour", type=positive(float, 0.001))
    p.add_argument("--peak-share", type=share, help="with --plan: hours at this share of --gpu's peak, from FLOPs")
    p.add_argument("--gpu", default="H100", help="with --peak-share: a GPU of reno_exp.cost.gpus (default H100)")
    args = p.parse_args(argv)
    if args.peak_share is not None:
        from reno_exp.cost.gpus import peak_tflops

        if peak_tflops(args.gpu) is None:
            p.error(f"--gpu {args.gpu!r}: no known peak rate (known: A100, H100, H100 PCIe, H200, L40S, L4, A10, ...)")
    return args


def compose_run(overrides: list[str], items: int):
    """The config of a timed run: the overrides on ``items`` seeds of one prompt, no logger or progress bar."""
    from omegaconf import open_dict

    from reno_exp import run as app
    from reno_exp.cost.plan import compose_config

    cfg = compose_config(CONF, [*overrides, "benchmark=single", "logger=none", "progress=false"])
    with open_dict(cfg):
        cfg.benchmark.seeds = list(range(items))
        cfg.device = app.resolve_device(cfg.device)
    return app.placed(cfg) if hasattr(app, "placed") else cfg  # the batched app decides dtypes up front


def describe(cfg) -> str:
    return (f"model={cfg.model._target_.rsplit('.', 1)[-1]} resolution={cfg.model.resolution} "
            f"dtype={cfg.model.get('dtype')} rewards={list(cfg.reward) or 'none'} n_iters={cfg.optimizer.n_iters} "
            f"device={cfg.device}")


def build(cfg):
    from reno_exp import run as app

    say(f"config: {describe(cfg)}")
    start = time.perf_counter()
    parts = app.build(cfg, cfg.device)
    say(f"build: {time.perf_counter() - start:.1f} s")
    return parts


def hardware_share(cfg, seconds_per_iterate_item: float) -> None:
    """On CUDA: the achieved TFLOP/s (FLOPs of the meta dry run) and its share of the GPU's peak."""
    import torch

    from reno_exp.cost import estimate
    from reno_exp.cost.gpus import peak_tflops

    if not cfg.device.startswith("cuda"):
        return
    flops = sum(estimate(cfg).flops.values())
    achieved = flops / seconds_per_iterate_item / 1e12
    name = torch.cuda.get_device_name()
    peak = peak_tflops(name)
    tail = f" ({100 * achieved / peak:.1f} % of the {name}'s {peak:g} dense half-precision peak)" if peak else ""
    say(f"FLOPs: {flops / 1e12:.2f} TFLOP per iterate per item; achieved {achieved:.1f} TFLOP/s{tail}")


def overhead(args) -> None:
    from reno_exp.bench.overhead import app_run, bare_loop
    from reno_exp.bench.timing import interleave, ratio
    from reno_exp.run import peak_memory

    items = args.items or 3
    cfg = compose_run(args.overrides, items)
    parts = build(cfg)
    seeds = list(range(items))
    samples = interleave({"bare": lambda: bare_loop(*parts, cfg, seeds), "app": lambda: app_run(cfg, parts)},
                         args.repeats, args.warmup, say)
    iters = items * cfg.optimizer.n_iters
    bare, app = samples["bare"], samples["app"]
    say(f"bare loop: {bare.best / iters:.4f} s/iterate (spread {100 * bare.spread:.1f} %)   "
        f"app: {app.best / iters:.4f} s/iterate (spread {100 * app.spread:.1f} %)   "
        f"({items} items x {cfg.optimizer.n_iters} iterates, best of {args.repeats})")
    where = "CUDA allocated" if cfg.device.startswith("cuda") else "process RSS"
    say(f"peak memory: {peak_memory(cfg.device) / 2**30:.2f} GiB ({where})")
    say(f"app / bare: {ratio(app, bare)}   (overhead target < 5 %)")
    hardware_share(cfg, app.best / iters)


def batch_sizes(args) -> None:
    from omegaconf import open_dict

    from reno_exp.bench.overhead import app_run
    from reno_exp.bench.timing import interleave

    items = args.items or max(args.batch_sizes)
    cfg = compose_run(args.overrides, items)
    parts = build(cfg)
    variants = {}
    for b in args.batch_sizes:
        cfg_b = cfg.copy()
        with open_dict(cfg_b):
            cfg_b.batch_size = b
        variants[f"batch {b}"] = lambda c=cfg_b: app_run(c, parts)
    samples = interleave(variants, args.repeats, args.warmup, say)
    say(batch_table(samples, items))


def batch_table(samples, items: int) -> str:
    """items/hour of each batch size and its ratio to the first (the same items at every size)."""
    from reno_exp.bench.report import table
    from reno_exp.bench.timing import ratio

    first = next(iter(samples.values()))
    rows = [[name.removeprefix("batch "), f"{s.best:.3f}", f"{100 * s.spread:.1f} %", f"{items / s.best * 3600:,.0f}",
             str(ratio(first, s))] for name, s in samples.items()]
    return table(["batch size", "best s", "spread", "items/hour", f"vs {next(iter(samples))}"], rows)


def memory_and_flops(args) -> None:
    import torch

    from reno_exp.bench.report import flops_table, memory_table
    from reno_exp.cost import estimate
    from reno_exp.cost.plan import compose_config

    cfg = compose_config(CONF, args.overrides)
    say(f"dry run on the meta device: {describe(cfg)}")
    results = {}
    for setting, ckpt in (("off", False), ("on", True)) if args.memory else (("as configured", None),):
        start = time.perf_counter()
        results[setting] = estimate(cfg, ckpt)
        say(f"gradient checkpointing {setting}: counted in {time.perf_counter() - start:.1f} s")
    if args.memory:
        measured = None
        if torch.cuda.is_available():
            from reno_exp.bench.cuda import measure

            measured = {}
            for setting, ckpt in (("off", False), ("on", True)):
                cfg_s = compose_run([*args.overrides, "random_init=true", *checkpoint_overrides(cfg, ckpt)], 1)
                measured[setting] = measure(cfg_s, 1, n_iters=2)[1]
        say(memory_table(results, args.gpu_gib, measured))
    if args.flops:
        say(flops_table(next(iter(results.values()))))


def checkpoint_overrides(cfg, on: bool) -> list[str]:
    keys = [f"model.{k}" for k in ("gradient_checkpointing", "vae_checkpointing") if k in cfg.model]
    keys += [f"reward.{n}.gradient_checkpointing" for n, node in cfg.reward.items() if "gradient_checkpointing" in node]
    return [f"{k}={str(on).lower()}" for k in keys]


def plan(args) -> None:
    from reno_exp.bench.report import plan_table
    from reno_exp.cost import estimate
    from reno_exp.cost.gpus import peak_tflops
    from reno_exp.cost.plan import plan as make_plan

    p = make_plan(CONF, args.overrides)
    say(f"sweep: {len(p.jobs)} jobs, {p.items:,} items")
    flop_hours = {}
    if args.peak_share:
        rate = args.peak_share * peak_tflops(args.gpu) * 1e12
        seconds, cache = 0.0, {}
        for job in p.jobs:
            key = str((job.cfg.model, job.cfg.reward))
            if key not in cache:
                say(f"FLOPs of {describe(job.cfg)} (meta dry run)")
                cache[key] = sum(estimate(job.cfg).flops.values())
            seconds += job.iterates * cache[key] / rate
        flop_hours[f"{100 * args.peak_share:g} % of an {args.gpu}'s peak (from FLOPs)"] = seconds / 3600
    say(plan_table(p, args.items_per_hour, flop_hours))


def main(argv=None) -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from reno_exp.errors import UserError

    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        if args.plan:
            plan(args)
        elif args.memory or args.flops:
            memory_and_flops(args)
        elif args.batch_sizes:
            batch_sizes(args)
        else:
            overhead(args)
    except (UserError, HydraException, OmegaConfBaseException) as e:
        first = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        print(f"bench: {first}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
