"""``make gpu-check``: every generator with random weights at its real resolution and CUDA dtype, with
``reward=all``, 3 iterates, at batch 1 and at the largest batch the cost model predicts to fit, eager and
compiled: s/iterate, items/hour (at 50 iterates), achieved TFLOP/s and share of the GPU's peak, predicted
and measured peak memory, the warm-up run's seconds (compilation shows there), as one Markdown table.

Steps run in the order that matters most when a GPU is lent for minutes: every model eager (SD-Turbo
first, each at batch 1, then its largest batch), then every model compiled (its largest batch first: the
batch a sweep runs at; another batch size compiles again). Each row is printed and written to ``--out``
as soon as it is measured. The plan comes first: each step's seconds by the cost model (its FLOPs at an
assumed share of the GPU's peak, plus the allowances below for what FLOPs do not count).

  --budget-s S    skip a step whose estimate exceeds what is left of S seconds (counted from the start);
                  if the clock runs out during a step anyway, print what was measured and exit 0 there
  --out DIR       DIR/gpu_check.md (the table, a row at a time) and DIR/gpu_check.jsonl (the numbers)
  --estimates F   the cost model's estimates of the models (a JSON file; ``make device-kit`` writes
                  .whl/gpu_check_estimates.json here, so the device spends no minutes on meta dry runs);
                  one missing, or whose config or code changed since, is computed first
  --estimate      compute the estimates into --estimates and print the plan (no GPU needed)
  --plan          print the plan from --estimates (no GPU needed); a missing estimate is an error
  --dry           ``model=tiny reward=all tiny=true``, batches 1 and 2, eager, on the CPU through the
                  measurement code with the CPU standing in for CUDA (reno_exp.bench.cuda.StandIn)

Without a GPU and without --dry, --plan or --estimate: one line saying so, exit code 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from reno_exp.bench.commands import say
from reno_exp.bench.report import gib, table
from reno_exp.config.exits import ArgumentParser, fail

MODELS = ("sd_turbo", "sdxl_turbo", "hyper_sdxl", "pixart_dmd", "flux_schnell", "sana_sprint")
REWARDS = ["reward=all"]
DRY = {"models": ("tiny",), "overrides": ["reward=all", "tiny=true"], "n_iters": 2, "max_batch": 2}
N_ITERS = 3
HEADER = ["model", "batch", "compile", "s/iterate", "items/hour", "TFLOP/s", "share of peak",
          "predicted GiB", "measured GiB", "warm-up s", "step s (estimated)", "notes"]
PROTOCOL_ITERATES = 50
OUT_MD, OUT_JSONL = "gpu_check.md", "gpu_check.jsonl"

# What the estimate adds to the FLOPs, none of it counted by the cost model: allowances until a GPU has
# measured them (the table's "warm-up s" and "step s" columns are those measurements).
ASSUMED_SHARE = 0.25  # of the dense half-precision peak, for 3-iterate runs with small batches
START_S = 30.0  # imports (torch, diffusers, transformers, open_clip), CUDA context, composing
BUILD_S = 20.0  # random weights initialised on the GPU, the reward towers with them; FLUX: 17B parameters
COMPILE_S = 150.0  # torch.compile of denoiser, VAE decoder and four reward towers, forward and backward, a batch size
RUN_S = 3.0  # each app run beside its iterates: run directory, prompt encoding, records
DEFAULT_GPU, DEFAULT_GPU_GIB = "H100", 80.0  # the plan's GPU where there is none


@dataclass(frozen=True)
class Step:
    model: str
    compiled: bool
    batch: int | str  # "auto": the cost model's largest batch on the GPU's memory


def order(models, batches, compile_modes) -> list[Step]:
    """Eager before compiled, models in the given order; compiled steps at the largest batch first."""
    return [Step(m, c, b) for c in compile_modes for m in models for b in (batches[::-1] if c else batches)]


# --- the cost model's estimates, computed once per config and code ------------------------------------

def code_digest() -> str:
    """What the cost model counts besides the config: this package's code and configs (bench/ measures and
    counts nothing, so editing it keeps the estimates)."""
    import reno_exp
    from reno_exp.config.compose import CONF

    package = Path(reno_exp.__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted([*package.rglob("*.py"), *CONF.rglob("*.yaml")]):
        rel = p.relative_to(package.parent).as_posix()
        if not rel.startswith("reno_exp/bench/"):
            h.update(rel.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def estimate_key(cfg) -> str:
    """The config as CUDA runs it, the code, and the architectures' libraries that the kit pins (torch and
    transformers differ between here and the device by minor versions that count the same)."""
    from importlib.metadata import version

    from omegaconf import OmegaConf

    parts = [OmegaConf.to_yaml(cfg), code_digest(), version("diffusers"), version("open_clip_torch")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def to_data(est) -> dict:
    return asdict(est)


def from_data(data: dict):
    from reno_exp.cost.estimate import Estimate, Linear, MemoryPrediction, PartMemory

    m = data["memory"]
    parts = {name: PartMemory(p["params"], Linear(**p["kept"]), Linear(**p["transient"]))
             for name, p in m["parts"].items()}
    return Estimate(MemoryPrediction(parts, Linear(**m["peak"]), m["checkpointing"]), data["flops"])


class Estimates:
    """Estimates by model, kept in ``path`` (when given) under each config's ``estimate_key``."""

    def __init__(self, path: str | None):
        self.path = Path(path) if path else None
        self.data = json.loads(self.path.read_text()) if self.path and self.path.exists() else {}

    def cached(self, model: str, cfg):
        entry = self.data.get(model)
        return from_data(entry["estimate"]) if entry and entry["key"] == estimate_key(cfg) else None

    def compute(self, model: str, cfg):
        from reno_exp.cost import estimate

        start = time.perf_counter()
        est = estimate(cfg)
        say(f"{model}: the cost model's meta dry run, {time.perf_counter() - start:.0f} s")
        if self.path:
            self.data[model] = {"key": estimate_key(cfg), "estimate": to_data(est)}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, indent=1) + "\n")
        return est


# --- the plan ----------------------------------------------------------------------------------------

@dataclass
class Planned:
    step: Step
    cfg: object  # the composed config, placed on the GPU's device
    batch: int | None  # None: not run (see note)
    seconds: float  # the estimate, its model's build aside
    note: str
    est: object  # the cost model's Estimate

    def cost(self, built: tuple | None) -> float:
        """The estimate after the step run before it, whose build (model, compiled) is ``built``."""
        return self.seconds + (BUILD_S if (self.step.model, self.step.compiled) != built else 0)


def step_seconds(step: Step, batch: int, flops: float, peak_tflops: float, n_iters: int) -> float:
    compute = 2 * n_iters * batch * flops / (ASSUMED_SHARE * peak_tflops * 1e12)  # warm-up and timed run
    return compute + 2 * RUN_S + (COMPILE_S if step.compiled else 0)


def plan(steps, configs, estimates: dict, gpu_bytes: int, peak_tflops: float, n_iters: int,
         cap: int | None) -> list[Planned]:
    """Each step's batch and estimated seconds; a step whose batch another step of its model already runs,
    or that the cost model predicts not to fit, is kept with a note and no batch."""
    from reno_exp.cost import max_batch
    from reno_exp.cost.estimate import HEADROOM

    out, runs = [], set()
    for step in steps:
        cfg, est = configs[step.model], estimates.get(step.model)
        size = max_batch(est.memory, gpu_bytes) if step.batch == "auto" else step.batch
        size = min(size, cap) if cap else size
        fits = est.memory.total(1) <= gpu_bytes * (1 - HEADROOM)
        if not fits or size < 1:
            note = f"predicted {gib(est.memory.total(1))} GiB at batch 1: does not fit {gib(gpu_bytes)} GiB"
            out.append(Planned(step, cfg, None, 0.0, note, est))
        elif (step.model, step.compiled, size) in runs:
            out.append(Planned(step, cfg, None, 0.0, f"batch {size}: the same as the step before", est))
        else:
            runs.add((step.model, step.compiled, size))
            seconds = step_seconds(step, size, sum(est.flops.values()), peak_tflops, n_iters)
            out.append(Planned(step, cfg, size, seconds, "", est))
    return out


def plan_table(planned: list[Planned], budget_s: float | None) -> str:
    """The steps, each estimate counted as it would run after the planned steps before it."""
    rows, total, built = [], START_S, None
    for p in planned:
        if p.batch is None:
            rows.append([p.step.model, "yes" if p.step.compiled else "no", str(p.step.batch), "—", "—", p.note])
            continue
        seconds = p.cost(built)
        within = budget_s is None or total + seconds <= budget_s
        if within:
            total, built = total + seconds, (p.step.model, p.step.compiled)
        rows.append([p.step.model, "yes" if p.step.compiled else "no", str(p.batch),
                     gib(p.est.memory.total(p.batch)), f"{seconds:.0f}",
                     (p.note or "planned") if within else "over the budget: skipped unless time is left"])
    lines = [table(["model", "compile", "batch", "predicted GiB", "estimated s", ""], rows), "",
             f"estimated: {total:.0f} s ({total / 60:.1f} min) for the planned steps, with {START_S:.0f} s to start"
             + (f", within --budget-s {budget_s:g}" if budget_s else "")]
    return "\n".join(lines)


def assumptions(peak_tflops: float, gpu: str) -> str:
    return (f"cost model: each step's FLOPs at {100 * ASSUMED_SHARE:g} % of the {gpu}'s {peak_tflops:g} TFLOP/s, "
            f"a warm-up and a timed run; allowances: {BUILD_S:g} s a build, {COMPILE_S:g} s to compile a batch "
            f"size, {RUN_S:g} s a run")


# --- the run --------------------------------------------------------------------------------------------

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


def cells(p: Planned, m, peak: float | None, step_s: float, estimated: float) -> tuple[list[str], dict]:
    flops = sum(p.est.flops.values())
    achieved = flops * p.batch / m.seconds / 1e12
    predicted = p.est.memory.total(p.batch)
    row = [p.step.model, str(p.batch), "yes" if p.step.compiled else "no", f"{m.seconds:.3f}",
           f"{p.batch * 3600 / (m.seconds * PROTOCOL_ITERATES):,.0f}", f"{achieved:.3g}",
           f"{100 * achieved / peak:.1f} %" if peak else "—", gib(predicted),
           gib(m.peak) if m.peak is not None else "—", f"{m.warmup:.1f}",
           f"{step_s:.0f} ({estimated:.0f})", "; ".join(m.events)]
    numbers = {"model": p.step.model, "batch": p.batch, "compiled": p.step.compiled,
               "seconds_per_iterate": m.seconds, "flops_per_item_iterate": flops, "tflops": achieved,
               "peak_tflops": peak, "predicted_bytes": predicted, "measured_bytes": m.peak,
               "warmup_seconds": m.warmup, "step_seconds": step_s, "estimated_seconds": estimated, "events": m.events}
    return row, numbers


def failed(p: Planned, why: str, step_s: float) -> tuple[list[str], dict]:
    row = [p.step.model, str(p.batch), "yes" if p.step.compiled else "no", *["—"] * 7, f"{step_s:.0f}", why]
    return row, {"model": p.step.model, "batch": p.batch, "compiled": p.step.compiled, "error": why}


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
    from reno_exp.bench.cuda import measure
    from reno_exp.experiment import run as app
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
        fallbacks = Warnings("reno_exp.build.compiling")  # a part that failed to compile ran eagerly: say so in its row
        try:
            if (step.model, step.compiled) != built:
                parts = built = None
                gpu.release()
                with hub.random_init_on(cfg.device):
                    parts = app.build(cfg, cfg.device)
                built = (step.model, step.compiled)
            m = measure(cfg, p.batch, n_iters, parts, gpu)
            m = m._replace(events=[*m.events, *fallbacks.lines])
            out.add(*cells(p, m, peak, time.perf_counter() - start, estimated))
        except Exception as e:  # one model's failure must not cost the others their rows
            traceback.print_exc()
            why = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:160] if str(e).strip() else ''}"
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
        return fail(str(e).splitlines()[0])
    finally:
        budget.disarm()


if __name__ == "__main__":
    sys.exit(main())
