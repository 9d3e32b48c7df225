"""The equal-compute table (``experiment=equal_compute``): each method's best image within a budget of
generator evaluations, averaged over items, with a figure of the reward total against evaluations.

An iterate's cost is read from its record: ``curves.evaluations`` (generator evaluations so far) plus
``curves.backwards`` (backward passes so far) times ``forward_backward_cost - 1``, the job's measured cost
of a forward+backward pass in forward passes (``optimizer.forward_backward_cost``). The best iterate within
a budget of e evaluations is the one with the highest reward total (the first of equals) among those
that cost at most e, the rule the run's ``Track`` keeps images by (``optimizer.save_at_evaluations``).
Its reward total and scores come from the record; its evaluator scores from ``evaluation.jsonl``: of
``initial`` (iterate 0), ``best`` (the run's best iterate) or ``iter_XXX`` (a saved iterate). An item with
no iterate within a budget, or no score of that iterate's image, is left out of that cell (``n_images``).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure

from reno_exp.store.evaluations import read_scores
from reno_exp.store.summary import ok
from reno_exp.tables.jobs import Job, records
from reno_exp.tables.numbers import fmt, mean

NAME = "equal_compute"
BUDGETS = (1, 5, 10, 20, 50)
RUN = "run"  # the column of each item's whole run (its best image)
LABELS = {"reno": "ReNO", "best_of_n": "best-of-N", "zero_order": "zero-order search", "lbfgs": "L-BFGS",
          "adam": "ReNO (Adam)"}


FIELDS = ["model", "reward", "benchmark", "variant", "method", "metric", "budget", "mean", "n_images", "evaluations",
          "skipped"]


def choose(jobs: list[Job]) -> list[str]:
    """This table by default when the sweep is the equal-compute experiment."""
    return [NAME] if any(j.experiment == NAME for j in jobs) else []


def costs(record: dict, forward_backward_cost: float | None) -> list[float] | None:
    """Each iterate's cost in generator evaluations; None for a record without per-iterate counts, or a
    gradient method's record without a measured forward+backward cost."""
    curves = record.get("curves") or {}
    evaluations, backwards = curves.get("evaluations"), curves.get("backwards")
    if not evaluations or backwards is None:
        return None
    if any(backwards) and forward_backward_cost is None:
        return None
    return [e + (b and b * (forward_backward_cost - 1)) for e, b in zip(evaluations, backwards)]


def running_best(history: list) -> list[int | None]:
    """For each k, the first iterate with the highest finite total among 0..k (None while none is finite)."""
    out, best = [], None
    for k, total in enumerate(history):
        if ok(total) and (best is None or total > history[best]):
            best = k
        out.append(best)
    return out


def image_sets(record: dict, k: int) -> list[str]:
    """The evaluated image sets that hold iterate k's image."""
    sets = [f"iter_{k:03d}"]
    if k == 0:
        sets.append("initial")
    if k == record.get("best_iteration"):
        sets.append("best")
    return sets


class Item:
    def __init__(self, record: dict, cost: list[float], scores: dict):
        self.record, self.cost, self.scores = record, cost, scores
        self.best = running_best(record["history"])

    def within(self, budget) -> int | None:
        """The best iterate among those that cost at most ``budget`` (``RUN``: the run's best); None when
        the run stopped short of the budget (what it would have reached is unknown)."""
        if budget == RUN:
            return self.record.get("best_iteration")
        if budget > self.cost[-1] + 1e-9:
            return None
        n = bisect.bisect_right(self.cost, budget + 1e-9)  # costs grow with the iterate
        return self.best[n - 1] if n else None

    def value(self, metric: tuple[str, str], k: int) -> float | None:
        source, name = metric
        if source == "reward":
            return self.record["history"][k] if name == "total" else ((self.record.get("curves") or {}).get(name) or [])[k]
        key = self.record["key"]
        return next((self.scores[(key, s, name)] for s in image_sets(self.record, k) if (key, s, name) in self.scores),
                    None)


class Row:
    """The items of one method on one (model, reward, suite, variant)."""

    def __init__(self):
        self.items: dict[tuple, Item] = {}  # image identity -> item
        self.skipped = 0  # records without per-iterate costs

    def value(self, metric: tuple[str, str], budget) -> tuple[float | None, int]:
        values = []
        for item in self.items.values():
            k = item.within(budget)
            v = None if k is None else item.value(metric, k)
            if ok(v):
                values.append(v)
        return mean(values), len(values)


def label(metric: tuple[str, str]) -> str:
    source, name = metric
    return "reward total" if metric == ("reward", "total") else f"{name} ({source})"


def collect(jobs: list[Job]) -> tuple[dict[tuple, Row], dict[tuple, list[tuple[str, str]]]]:
    """(model, reward, suite, variant, method) -> Row; (model, reward, suite, variant) -> metrics, each
    (``reward``, name) from the records or (``evaluator``, metric) from evaluation.jsonl."""
    rows: dict[tuple, Row] = defaultdict(Row)
    metrics: dict[tuple, list[tuple[str, str]]] = defaultdict(lambda: [("reward", "total")])
    for job in jobs:
        method = job.optimizer
        # the method is this table's row and the budget sets each method's iterates: the rest sets groups apart
        variant = ", ".join(d for d in job.departures if not d.startswith("optimizer.n_iters="))
        group = (job.model, job.reward, job.suite, variant)
        row = rows[(*group, method)]
        fb_cost = job.info.config["optimizer"].get("forward_backward_cost")
        scores = read_scores(job.dir)
        for record in records(job):
            cost = costs(record, fb_cost)
            if cost is None or not record.get("history"):
                row.skipped += 1
                continue
            row.items.setdefault((record["key"], record["seed"], record["prompt"]), Item(record, cost, scores))
            found = [("reward", n) for n in record.get("initial", {}) if n != "total"]
            metrics[group] += [m for m in found if m not in metrics[group]]
        found = [("evaluator", m) for m in sorted({m for (_, _, m) in scores})]
        metrics[group] += [m for m in found if m not in metrics[group]]
    return rows, metrics


def build(jobs: list[Job]) -> list[dict]:
    """Rows of ``equal_compute.csv`` (``FIELDS``): one per method, metric and budget (``run``: the whole run)."""
    rows, metrics = collect(jobs)
    out = []
    for (model, reward, suite, variant, method), row in sorted(rows.items(), key=lambda kv: order(kv[0])):
        spent = mean(item.cost[-1] for item in row.items.values())
        for metric in metrics[(model, reward, suite, variant)]:
            for budget in (*BUDGETS, RUN):
                value, n = row.value(metric, budget)
                out.append({"model": model, "reward": reward, "benchmark": suite, "variant": variant, "method": method,
                            "metric": label(metric), "budget": str(budget), "mean": value, "n_images": n,
                            "evaluations": spent, "skipped": row.skipped})
    return out


def order(key: tuple) -> tuple:
    *group, method = key
    return (*group, list(LABELS).index(method) if method in LABELS else len(LABELS), method)


def markdown(rows: list[dict]) -> str:
    lines = [f"### Equal compute: the best image within a budget of generator evaluations ({NAME})", "",
             "Mean over items of the best iterate (by reward total) among those that cost at most the budget; a "
             "forward+backward pass counts as optimizer.forward_backward_cost evaluations. `run`: the whole run "
             "(its mean evaluations in the last column). — = the runs spent less, no iterate fits, or no score.", ""]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["reward"], r["benchmark"], r["variant"])].append(r)
    for (model, reward, suite, variant), rs in groups.items():
        lines += [f"{model}, reward={reward}, {suite}" + (f", {variant}" if variant else ""), "",
                  "| metric | method | " + " | ".join(map(str, (*BUDGETS, RUN))) + " | evaluations |",
                  "|---|---|" + "---|" * (len(BUDGETS) + 2)]
        cells: dict[tuple, dict] = defaultdict(dict)
        for r in rs:
            cells[(r["metric"], r["method"])][r["budget"]] = r
        for (metric, method), by_budget in cells.items():
            first = next(iter(by_budget.values()))
            skipped = f" ({first['skipped']} records without per-iterate costs)" if first["skipped"] else ""
            lines.append(f"| {metric} | {LABELS.get(method, method)}{skipped} | "
                         + " | ".join(fmt(by_budget[str(b)]["mean"], 4) for b in (*BUDGETS, RUN))
                         + f" | {fmt(first['evaluations'], 1)} |")
        lines.append("")
    return "\n".join(lines)


def wandb_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    columns = ["model", "reward", "benchmark", "variant", "metric", "method", *map(str, BUDGETS), RUN, "evaluations"]
    table: dict[tuple, dict] = defaultdict(dict)
    for r in rows:
        table[(r["model"], r["reward"], r["benchmark"], r["variant"], r["metric"], r["method"])][r["budget"]] = r
    data = [[*key, *(cs[str(b)]["mean"] for b in (*BUDGETS, RUN)), next(iter(cs.values()))["evaluations"]]
            for key, cs in table.items()]
    return columns, data


def figure(jobs: list[Job], path: Path) -> Path | None:
    """Mean reward total of the best iterate within e evaluations, against e: a curve per method (and a
    panel per model, reward, suite and variant)."""
    rows, _ = collect(jobs)
    panels: dict[tuple, list] = defaultdict(list)
    for (*group, method), row in sorted(rows.items(), key=lambda kv: order(kv[0])):
        if row.items:
            panels[tuple(group)].append((method, row))
    if not panels:
        return None
    fig = Figure(figsize=(6.4 * len(panels), 4.2), layout="constrained")
    for ax, ((model, reward, suite, variant), methods) in zip(fig.subplots(1, len(panels), squeeze=False)[0],
                                                              panels.items()):
        for method, row in methods:
            xs = sorted({c for item in row.items.values() for c in item.cost})  # where a curve can step
            ys = [row.value(("reward", "total"), e)[0] for e in xs]
            ax.plot([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None],
                    drawstyle="steps-post", label=f"{LABELS.get(method, method)} ({len(row.items)} items)")
        ax.set_xscale("log")
        ax.set_xlabel("generator evaluations (a forward+backward pass = forward_backward_cost)")
        ax.set_ylabel("mean reward total of the best image so far")
        ax.set_title(f"{model}, reward={reward}, {suite}" + (f"\n{variant}" if variant else ""), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path
