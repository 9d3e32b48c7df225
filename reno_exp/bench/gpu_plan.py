"""What ``make gpu-check`` will measure and how long each step should take, before anything is measured:
the steps in the order that matters most (every model eager, SD-Turbo first; then compiled), each model's
cost-model estimate (the meta-device dry run; cached in a file, keyed by its config and the code), each
step's batch and its seconds (its FLOPs at an assumed share of the GPU's peak, plus allowances for what
FLOPs do not count), the plan's table, and the cells of a measured step's row."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from reno_exp.bench.commands import say
from reno_exp.bench.report import gib, table

MODELS = ("sd_turbo", "sdxl_turbo", "hyper_sdxl", "pixart_dmd", "flux_schnell", "sana_sprint")
REWARDS = ["reward=all"]
DRY = {"models": ("tiny",), "overrides": ["reward=all", "tiny=true"], "n_iters": 2, "max_batch": 2}
N_ITERS = 3
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


HEADER = ["model", "batch", "compile", "s/iterate", "items/hour", "TFLOP/s", "share of peak",
          "predicted GiB", "measured GiB", "warm-up s", "step s (estimated)", "notes"]


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
