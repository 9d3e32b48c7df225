"""``make gpu-check``: every generator with random weights at its real resolution and CUDA dtype, with
``reward=all``, 3 iterates, at batch 1 and at the largest batch the cost model predicts to fit, eager and
compiled: s/iterate, items/hour (at 50 iterates), achieved TFLOP/s and share of the GPU's peak, predicted
and measured peak memory, the warm-up run's seconds (compilation shows there), as one Markdown table.

Steps run in the order that matters most when a GPU is lent for minutes: every model eager (SD-Turbo
first, each at batch 1, then its largest batch), then every model compiled (its largest batch first: the
batch a sweep runs at; another batch size compiles again). Each row is printed and written to ``--out``
as soon as it is measured. The plan comes first: each step's seconds by the cost model (its FLOPs at an
assumed share of the GPU's peak, plus the allowances below for what FLOPs do not count).

Options: ``--help`` (a time budget, an output folder written as rows are measured, cached estimates, a
plan without a GPU, a dry run on the CPU through the measurement code).

Without a GPU and without --dry, --plan or --estimate: one line saying so, exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
from pathlib import Path

from reno_exp.bench.commands import say
from reno_exp.bench.gpu_plan import (
    DEFAULT_GPU,
    DEFAULT_GPU_GIB,
    DRY,
    HEADER,
    MODELS,
    N_ITERS,
    OUT_JSONL,
    OUT_MD,
    REWARDS,
    Estimates,
    Planned,
    assumptions,
    cells,
    failed,
    order,
    plan,
    plan_table,
)
from reno_exp.bench.report import table
from reno_exp.config.errors import ArgumentParser, fail, first_line


class Budget:
    """``seconds`` from ``start``; ``arm`` calls back once when they have run out."""

    def __init__(self, seconds: float | None, start: float):
        self.seconds, self.start = seconds, start
        self.timer = None

    def left(self) -> float:
        return math.inf if self.seconds is None else self.seconds - (time.monotonic() - self.start)

    def arm(self, on_expiry) -> None:
        if self.seconds is not None:
            self.timer = threading.Timer(max(self.left(), 0), on_expiry)
            self.timer.daemon = True
            self.timer.start()

    def disarm(self) -> None:
        if self.timer:
            self.timer.cancel()


class Table:
    """The rows, each printed and appended to ``out``'s files as soon as it is measured, so that a run
    stopped at the device's limit keeps what it measured."""

    def __init__(self, out: str | None):
        self.rows: list[list[str]] = []
        self.current: str | None = None  # the step being measured
        self.out = Path(out) if out else None
        self.lock = threading.Lock()
        if self.out:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / OUT_JSONL).write_text("")
            self.write(OUT_MD, table(HEADER, []) + "\n", "w")

    def write(self, name: str, text: str, mode: str = "a") -> None:
        with open(self.out / name, mode) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def add(self, cells: list[str], numbers: dict) -> None:
        with self.lock:
            self.rows.append(cells)
            line = "| " + " | ".join(cells) + " |"
            say(line)
            if self.out:
                self.write(OUT_MD, line + "\n")
                self.write(OUT_JSONL, json.dumps(numbers) + "\n")

    def end(self, lines: list[str]) -> None:
        """The whole table on stdout, and the closing lines after it (in the .md file too)."""
        with self.lock:
            say("")
            say(table(HEADER, self.rows))
            for line in lines:
                say(line)
            if self.out:
                self.write(OUT_MD, "".join(f"\n{line}\n" for line in lines))


class Warnings(logging.Handler):
    """The warnings of one logger while it is attached."""

    def __init__(self, name: str):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self.logger = logging.getLogger(name)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def close(self) -> None:
        self.logger.removeHandler(self)
        super().close()


def run(planned: list[Planned], gpu, budget: Budget, out: Table, n_iters: int, peak: float | None) -> list[str]:
    """Measure the planned steps in order; returns the closing lines (skips, failures)."""
    from reno_exp.assemble.parts import build
    from reno_exp.bench.cuda import measure
    from reno_exp.weights import hub

    notes, parts, built, broken = [], None, None, set()
    for p in planned:
        step = p.step
        label = f"{step.model} {'compiled' if step.compiled else 'eager'} batch {step.batch}"
        if p.batch is None:
            notes.append(f"{label}: not run ({p.note})")
            continue
        if (step.model, step.compiled) in broken:
            notes.append(f"{label}: not run (its build failed)")
            continue
        estimated = p.cost(built)
        if estimated > budget.left():
            notes.append(f"{label}: skipped, estimated {estimated:.0f} s and {budget.left():.0f} s left")
            continue
        out.current = label
        say(f"== {label}: batch {p.batch}, estimated {estimated:.0f} s, {budget.left():.0f} s left")
        cfg = p.cfg.copy()
        cfg.compile = step.compiled
        start = time.perf_counter()
        fallbacks = Warnings("reno_exp.assemble.compiling")  # a part that failed to compile ran eagerly: say so in its row
        try:
            if (step.model, step.compiled) != built:
                parts = built = None
                gpu.release()
                with hub.random_init_on(cfg.device):
                    parts = build(cfg, cfg.device)
                built = (step.model, step.compiled)
            m = measure(cfg, p.batch, n_iters, parts, gpu)
            m = m._replace(events=[*m.events, *fallbacks.lines])
            out.add(*cells(p, m, peak, time.perf_counter() - start, estimated))
        except Exception as e:  # one model's failure must not cost the others their rows
            traceback.print_exc()
            why = f"{type(e).__name__}: {first_line(e, 160) if str(e).strip() else ''}"
            out.add(*failed(p, why, time.perf_counter() - start))
            notes.append(f"{label}: failed ({why})")
            if built is None:
                broken.add((step.model, step.compiled))
            parts = built = None
            gpu.release()
        finally:
            fallbacks.close()
    out.current = None
    return notes


def parse(argv) -> argparse.Namespace:
    p = ArgumentParser(prog="python -m reno_exp.bench.gpu_check", description=__doc__.splitlines()[0],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("overrides", nargs="*", help="the app's overrides, after the models' (e.g. reward=color)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry", action="store_true", help="model=tiny on the CPU standing in for CUDA")
    mode.add_argument("--plan", action="store_true", help="the steps and their estimates; measure nothing")
    mode.add_argument("--estimate", action="store_true", help="compute the estimates into --estimates, then --plan")
    p.add_argument("--models", help=f"comma-separated (default {','.join(MODELS)}; with --dry, tiny)")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--budget-s", type=float, help="stop cleanly after this many seconds")
    p.add_argument("--max-batch", type=int, help="cap the cost model's largest batch")
    p.add_argument("--out", help=f"write {OUT_MD} and {OUT_JSONL} here as rows are measured")
    p.add_argument("--estimates", help="the cost model's estimates (JSON), read and kept up to date")
    p.add_argument("--gpu", default=DEFAULT_GPU, help="without a GPU: the GPU whose peak the plan assumes")
    p.add_argument("--gpu-gib", type=float, default=DEFAULT_GPU_GIB, help="without a GPU: its memory")
    args = p.parse_args(argv)
    if args.budget_s is not None and args.budget_s <= 0:
        p.error(f"--budget-s must be positive, got {args.budget_s:g}")
    if args.max_batch is not None and args.max_batch < 1:
        p.error(f"--max-batch must be at least 1, got {args.max_batch}")
    if args.estimate and not args.estimates:
        p.error("--estimate writes to --estimates FILE: name one")
    return args


NO_GPU = ("no CUDA device here: gpu-check measures on a GPU; --dry checks it on the CPU (model=tiny), "
          "make device-rehearsal rehearses the device command")


def main(argv=None) -> int:
    start = time.monotonic()
    args = parse(argv)
    logging.basicConfig(level=logging.WARNING)
    from reno_exp.bench.cuda import Cuda, StandIn
    from reno_exp.config.errors import UserError
    from reno_exp.cost.gpus import peak_tflops

    measuring = not (args.plan or args.estimate)
    gpu = StandIn(args.gpu_gib) if args.dry else Cuda()
    if measuring and not gpu.available():
        return fail(NO_GPU)
    models = args.models.split(",") if args.models else (DRY["models"] if args.dry else MODELS)
    overrides = [*(DRY["overrides"] if args.dry else REWARDS), *args.overrides]
    n_iters = DRY["n_iters"] if args.dry else N_ITERS
    cap = args.max_batch or (DRY["max_batch"] if args.dry else None)
    compile_modes = [False] if args.dry or args.no_compile else [False, True]
    name = gpu.name() if measuring else args.gpu
    peak = peak_tflops(name) if measuring and not args.dry else None  # a share of a CPU's peak means nothing
    peak_for_estimate = peak or peak_tflops(name) or peak_tflops(DEFAULT_GPU)
    gpu_bytes = gpu.total_bytes() if measuring else int(args.gpu_gib * 2**30)
    say(f"device: {gpu.describe()}" if measuring else f"plan for an {name} of {args.gpu_gib:g} GiB")
    out = Table(args.out if measuring else None)
    budget = Budget(args.budget_s, start)

    def stop() -> None:  # the main thread may be inside CUDA work that cannot be interrupted
        out.end([f"stopped: --budget-s {args.budget_s:g} ran out during {out.current or 'the plan'}; "
                 "the rows above were measured"])
        sys.stdout.flush()
        os._exit(0)

    if measuring:
        budget.arm(stop)
    try:
        from reno_exp.bench.commands import compose_run

        device = gpu.device if measuring else "cuda"  # the plan counts CUDA's dtypes
        configs = {m: compose_run([f"model={m}", "random_init=true", *overrides], 1, device) for m in models}
        estimates = Estimates(None if args.dry else args.estimates)
        known = {m: estimates.cached(m, cfg) for m, cfg in configs.items()}
        missing = [m for m, est in known.items() if est is None]
        if missing and args.plan:
            return fail(f"no estimate of {', '.join(missing)} in {args.estimates} for this config and code: "
                        "make device-kit computes them (minutes, no GPU needed)")
        if missing and not args.dry:
            say(f"no estimate of {', '.join(missing)} in {args.estimates}: the cost model's meta dry runs first "
                "(about a minute of a CPU core each; make device-kit does them beforehand)")
        known |= {m: estimates.compute(m, configs[m]) for m in missing}
        steps = order(models, [1, "auto"], compile_modes)
        planned = plan(steps, configs, known, gpu_bytes, peak_for_estimate, n_iters, cap)
        say(assumptions(peak_for_estimate, name if peak_tflops(name) else DEFAULT_GPU))
        say(plan_table(planned, args.budget_s))
        if not measuring:
            return 0
        notes = run(planned, gpu, budget, out, n_iters, peak)
        budget.disarm()
        out.end([*notes, f"done: {len(out.rows)} rows in {time.monotonic() - start:.0f} s"
                 + (f" of --budget-s {args.budget_s:g}" if args.budget_s else "")])
        return 1 if any(": failed (" in n for n in notes) else 0
    except UserError as e:
        return fail(first_line(e))
    finally:
        budget.disarm()


if __name__ == "__main__":
    sys.exit(main())
