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
work, torch's threads wait on each other: on a CPU the timings run on one thread per process unless
--threads N says otherwise (the header prints the count).
Predictions come from a dry run of the real architectures on the meta device (reno_exp.cost), at each
model's CUDA dtype.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

from reno_exp.config.errors import ArgumentParser, fail, sizes


def positive(kind, minimum=1):
    def check(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value >= minimum or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number of at least {minimum}, got {text}"
                                             if kind is float else f"must be at least {minimum}, got {text}")
        return value
    return check


def share(text: str) -> float:
    value = positive(float, 0)(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"a share of peak in (0, 1], got {text}")
    return value


def parse(argv) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m reno_exp.bench", description=__doc__.splitlines()[0],
               formatter_class=argparse.RawDescriptionHelpFormatter, epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("overrides", nargs="*")
    p.add_argument("--items", type=positive(int), help="items timed per repeat (default 3; the largest batch size)")
    p.add_argument("--repeats", type=positive(int), help="timed repeats of each variant (default 3)")
    p.add_argument("--warmup", type=positive(int, 0), help="untimed runs first (default 1)")
    p.add_argument("--threads", type=positive(int), help="torch CPU threads (default on a CPU: 1, far steadier on a shared one)")
    p.add_argument("--batch-sizes", type=sizes)
    p.add_argument("--memory", action="store_true")
    p.add_argument("--gpu-gib", type=positive(float, 0.001), help="with --memory: the GPU's memory (default 80)")
    p.add_argument("--flops", action="store_true")
    p.add_argument("--plan", action="store_true")
    p.add_argument("--items-per-hour", type=positive(float, 0.001))
    p.add_argument("--peak-share", type=share, help="with --plan: hours at this share of --gpu's peak, from FLOPs")
    p.add_argument("--gpu", help="with --peak-share: a GPU of reno_exp.cost.gpus (default H100)")
    args = p.parse_args(argv)
    check_applies(p, args)
    args.repeats, args.warmup = args.repeats or 3, 1 if args.warmup is None else args.warmup
    args.gpu_gib, args.gpu = args.gpu_gib or 80.0, args.gpu or "H100"
    if args.peak_share is not None:
        from reno_exp.cost.gpus import peak_tflops

        if peak_tflops(args.gpu) is None:
            p.error(f"--gpu {args.gpu!r}: no known peak rate (known: A100, H100, H100 PCIe, H200, L40S, L4, A10, ...)")
    return args


# the options each command reads: any other one given is refused, never ignored
READS = {"--plan": {"--items-per-hour", "--peak-share", "--gpu", "--threads"},
         "--memory": {"--gpu-gib", "--threads"}, "--flops": {"--threads"},
         "--batch-sizes": {"--items", "--repeats", "--warmup", "--threads"},
         "timing": {"--items", "--repeats", "--warmup", "--threads"}}


def check_applies(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """One command at a time (--plan; --memory and/or --flops; --batch-sizes; else the timing), and only
    the options it reads; --items no fewer than the largest batch size."""
    given = {f"--{k.replace('_', '-')}" for k, v in vars(args).items() if v not in (None, False) and k != "overrides"}
    commands = [c for c in ("--plan", "--memory", "--flops", "--batch-sizes") if c in given]
    if len({"--memory" if c == "--flops" else c for c in commands}) > 1:  # --memory --flops: one dry run
        p.error(f"{' and '.join(commands)} are separate commands: run one at a time")
    reads = set.union(*(READS[c] for c in commands)) if commands else READS["timing"]
    for option in sorted(given - set(commands) - reads):
        readers = [c if c != "timing" else "the timing (no command option)" for c, r in READS.items() if option in r]
        p.error(f"{option} does not apply to {' '.join(commands) or 'the timing (no command option)'}: it is read "
                f"by {', '.join(readers)}")
    if "--gpu" in given and "--peak-share" not in given:
        p.error("--gpu applies with --peak-share (hours at a share of that GPU's peak)")
    if args.items is not None and args.batch_sizes and args.items < max(args.batch_sizes):
        p.error(f"--items {args.items} is fewer than the largest batch size ({max(args.batch_sizes)}): each batch "
                "size times the same items")


def main(argv=None) -> int:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from reno_exp.bench.commands import batch_sizes, memory_and_flops, overhead, plan
    from reno_exp.config.errors import UserError

    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:  # the dry runs and the plan too; a timing sets its own (bench.commands.threads)
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
        return fail(first)
    return 0


if __name__ == "__main__":
    sys.exit(main())
