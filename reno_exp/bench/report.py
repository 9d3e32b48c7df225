"""The cost model's numbers as Markdown tables: memory by part, FLOPs by part, a sweep's plan."""

from __future__ import annotations

from reno_exp.cost.estimate import Estimate, GiB, max_batch
from reno_exp.cost.plan import AUTHORS_SECONDS_PER_ITEM, Plan

GENERATOR_PARTS = ("denoiser", "vae", "text encoders")


def gib(n: float) -> str:
    return f"{n / GiB:.3f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def memory_table(by_setting: dict[str, Estimate], gpu_gib: float, measured: dict[str, int] | None = None) -> str:
    """``by_setting``: "off"/"on" (gradient checkpointing) -> estimate. Per-item columns are the slope in
    the batch size; params are per run. ``measured``: setting -> peak bytes of a CUDA run at batch 1."""
    settings = list(by_setting)
    first = by_setting[settings[0]].memory
    header = ["part", "params GiB"] + [f"kept GiB/item ({s})" for s in settings] + \
             [f"transient GiB/item ({s})" for s in settings]
    rows = []
    for part, pm in first.parts.items():
        kept = [gib(by_setting[s].memory.parts[part].kept.per_item) if part in by_setting[s].memory.parts else "—"
                for s in settings]
        trans = [gib(by_setting[s].memory.parts[part].transient.per_item)
                 if part in by_setting[s].memory.parts else "—" for s in settings]
        rows.append([part, gib(pm.params), *kept, *trans])
    out = [table(header, rows), ""]
    gpu = int(gpu_gib * GiB)
    for s in settings:
        m = by_setting[s].memory
        line = (f"checkpointing {s}: {gib(m.peak.per_item)} GiB per item (peak), fixed {gib(m.params + m.peak.fixed)} "
                f"GiB; batch 1: {gib(m.total(1))} GiB predicted")
        if measured and s in measured:
            line += f", {gib(measured[s])} GiB measured"
        line += f"; largest batch on {gpu_gib:g} GiB: {max_batch(m, gpu)}"
        out.append(line)
    return "\n".join(out)


def flops_table(est: Estimate) -> str:
    total = sum(est.flops.values())
    rows = [[part, f"{n / 1e12:.3f}", f"{100 * n / total:.1f} %"] for part, n in est.flops.items()]
    gen = sum(n for p, n in est.flops.items() if p in GENERATOR_PARTS)
    rows.append(["generator (denoiser + vae)", f"{gen / 1e12:.3f}", f"{100 * gen / total:.1f} %"])
    rows.append(["rewards", f"{(total - gen - est.flops.get('other', 0)) / 1e12:.3f}",
                 f"{100 * (total - gen - est.flops.get('other', 0)) / total:.1f} %"])
    rows.append(["total", f"{total / 1e12:.3f}", "100 %"])
    return table(["part", "TFLOP per item per iterate", "share"], rows)


def plan_table(p: Plan, items_per_hour: float | None = None, flop_hours: dict[str, float] | None = None) -> str:
    rows = [[str(i), " ".join(j.overrides) or "(one job)", str(j.items), str(j.iterates)]
            for i, j in enumerate(p.jobs)]
    rows.append(["total", f"{len(p.jobs)} jobs", str(p.items), str(p.iterates)])
    out = [table(["job", "overrides", "items", "iterates"], rows), ""]
    fast, slow = AUTHORS_SECONDS_PER_ITEM
    out.append(f"device-hours at the authors' speed ({fast:g}-{slow:g} s per 50-iterate image on an A100): "
               f"{p.hours(fast):,.0f}-{p.hours(slow):,.0f}")
    if items_per_hour:
        out.append(f"device-hours at {items_per_hour:g} items/hour: {p.items / items_per_hour:,.1f}")
    for label, hours in (flop_hours or {}).items():
        out.append(f"device-hours at {label}: {hours:,.1f}")
    return "\n".join(out)
