"""The runs table: what the records alone say (no evaluator needed), one row per model, method, reward
option, variant (reno_exp.tables.jobs), suite and group.

Images done, the mean reward total before and after ReNO over the items whose totals are finite, how
many were not (a NaN total is reported, never averaged in), and the mean best iterate.
"""

from __future__ import annotations

from collections import defaultdict

from reno_exp.store.summary import ok
from reno_exp.tables.jobs import Job, group_of, records
from reno_exp.tables.numbers import fmt, mean


def total(record: dict, image_set: str) -> float | None:
    return (record.get(image_set) or {}).get("total")


def runs_summary(jobs: list[Job]) -> tuple[str, list[dict]]:
    groups: dict[tuple, dict[tuple, dict]] = defaultdict(dict)
    for job in jobs:
        for r in records(job):
            group = (job.model, job.optimizer, job.reward, job.variant, job.suite, group_of(r) or "")
            groups[group].setdefault((r["key"], r["seed"], r["prompt"]), r)  # shards and repeats: once
    rows = []
    for (model, method, reward, variant, suite, group), recs in sorted(groups.items()):
        rs = list(recs.values())
        good = [r for r in rs if ok(total(r, "initial")) and ok(total(r, "best"))]
        rows.append({"model": model, "method": method, "reward": reward, "variant": variant, "benchmark": suite, "group": group,
                     "images": len(rs), "non_finite": len(rs) - len(good),
                     "initial_total": mean(total(r, "initial") for r in good),
                     "best_total": mean(total(r, "best") for r in good),
                     "best_iteration": mean(r["best_iteration"] for r in rs if r.get("best_iteration") is not None)})
    lines = ["### Runs: mean reward totals from results.jsonl (items with finite totals)", "",
             "| model | method | reward | variant | benchmark | group | images | not finite | initial total "
             "| best total | mean best iterate |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['method']} | {r['reward']} | {r['variant']} | {r['benchmark']} | {r['group']} | {r['images']} | "
              f"{r['non_finite']} | {fmt(r['initial_total'], 4)} | {fmt(r['best_total'], 4)} | "
              f"{fmt(r['best_iteration'], 1)} |" for r in rows]
    return "\n".join(lines) + "\n", rows
