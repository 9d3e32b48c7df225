"""The bench's commands: each reads the parsed arguments and prints as it goes."""

from __future__ import annotations

import time

from reno_exp.config.compose import CONF


def say(line: str) -> None:
    print(line, flush=True)


def compose_run(overrides: list[str], items: int, device: str | None = None):
    """The config of a timed run: the overrides on ``items`` seeds of one prompt, no logger or progress bar,
    placed on ``device`` (default: the config's, else CUDA when present; "cuda" without a GPU gives the
    CUDA dtypes that the cost model counts)."""
    from omegaconf import open_dict

    from reno_exp.config.compose import app_config
    from reno_exp.config.placement import placed, resolve_device

    cfg = app_config([*overrides, "benchmark=single", "logger=none", "progress=false"], "bench")
    with open_dict(cfg):
        cfg.benchmark.seeds = list(range(items))
        cfg.device = device or resolve_device(cfg.device)
    return placed(cfg)


def describe(cfg) -> str:
    return (f"model={cfg.model._target_.rsplit('.', 1)[-1]} resolution={cfg.model.resolution} "
            f"dtype={cfg.model.get('dtype')} rewards={list(cfg.reward) or 'none'} n_iters={cfg.optimizer.n_iters} "
            f"device={cfg.device}")


def threads(device: str, requested: int | None) -> int:
    """torch's CPU threads for a timing: ``requested``, else one on a CPU (torch's default, a thread per
    core, makes threads wait on each other on a CPU other work shares: slower and far less steady)."""
    import torch

    if requested or device == "cpu":
        torch.set_num_threads(requested or 1)
    return torch.get_num_threads()


def build(cfg, requested_threads: int | None = None):
    from reno_exp.assemble import parts as app

    say(f"config: {describe(cfg)} threads={threads(cfg.device, requested_threads)}")
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
    from reno_exp.experiment.outputs import peak_memory

    items = args.items or 3
    cfg = compose_run(args.overrides, items)
    parts = build(cfg, args.threads)
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
    parts = build(cfg, args.threads)
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
    from reno_exp.config.compose import app_config
    from reno_exp.cost import estimate

    cfg = app_config(args.overrides, "bench")
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

    p = make_plan(str(CONF), args.overrides)
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
