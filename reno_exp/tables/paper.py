"""The paper's Tables 1-3: a sweep's evaluator scores in their layouts, the paper's numbers beside them.

Rows are (model, method, variant): ``baseline`` is the one-step model's image, i.e. the ``initial`` image
set of any job (the same noise gives the same image whatever the reward, so baseline rows need no job of
their own; a ``reward=none`` job's images count as baseline too), and a reward option (``all`` = ReNO
with the paper's four) is that job's ``best`` image set; the variant keeps apart jobs that differ in
anything else (reno_exp.tables.jobs). A cell is the mean score over its images (GenEval "mean" = the
mean of the six tag scores); an image counted by several jobs (shards, or the initial image of several
reward runs) counts once. The paper's number stands beside each cell; a cell with no scores shows as
missing, never as zero.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from reno_exp.store.evaluations import read_scores
from reno_exp.tables.jobs import Job, group_of
from reno_exp.tables.numbers import fmt, mean

PAPER = Path(__file__).resolve().parent / "paper_tables.csv"

MODELS = {"pixart_dmd": "PixArt-α DMD", "sd_turbo": "SD-Turbo", "sdxl_turbo": "SDXL-Turbo", "hyper_sdxl": "HyperSDXL"}
TRANSFERS = {"sdxl_base": "SDXL", "sd21_base": "SD 2.1", "flux_schnell": "FLUX.1-schnell (4 steps)"}
METHODS = {"best_of_n": "best-of-N", "zero_order": "zero-order search", "adam": "Adam", "lbfgs": "L-BFGS"}
REWARDS = {"clip": "CLIPScore", "hpsv2": "HPSv2", "imagereward": "ImageReward", "pickscore": "PickScore", "all": "All"}
T2I = ["color", "shape", "texture", "spatial", "non_spatial", "complex"]
TAGS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]


@dataclass(frozen=True)
class Layout:
    number: str
    title: str
    suite: str
    columns: dict[str, str]  # column -> heading
    metric: dict[str, str]  # column -> evaluation metric it averages ("mean": derived)


LAYOUTS = {
    "1": Layout("1", "Table 1: SD-Turbo + ReNO with each reward, T2I-CompBench attribute binding and LAION aesthetic",
                "t2i_compbench", {"color": "Color", "shape": "Shape", "texture": "Texture", "aesthetic": "Aesthetic"},
                {"color": "t2i_compbench", "shape": "t2i_compbench", "texture": "t2i_compbench", "aesthetic": "aesthetic"}),
    "2": Layout("2", "Table 2: T2I-CompBench", "t2i_compbench",
                {"color": "Color", "shape": "Shape", "texture": "Texture", "spatial": "Spatial",
                 "non_spatial": "Non-Spatial", "complex": "Complex"}, {c: "t2i_compbench" for c in T2I}),
    "3": Layout("3", "Table 3: GenEval", "geneval",
                {"mean": "Mean", "single_object": "Single", "two_object": "Two", "counting": "Counting",
                 "colors": "Colors", "position": "Position", "color_attr": "Color Attribution"},
                {"mean": "mean", **{t: "geneval" for t in TAGS}}),
}


def collect(jobs: list[Job]) -> dict[tuple, dict[tuple, float]]:
    """(model, method, variant, suite, group, metric) -> {image identity: score}, one score per image."""
    cells: dict[tuple, dict[tuple, float]] = defaultdict(dict)
    for job in jobs:
        records = {r["key"]: r for r in job.records}
        for (key, image_set, metric), score in read_scores(job.dir).items():
            record = records.get(key)
            if record is None or image_set not in IMAGE_SETS:
                continue  # scores of a record that is gone, or of an intermediate iterate
            row = row_of(job, image_set)
            image = (record["key"], record["seed"], record["prompt"])
            cells[(*row, job.suite, group_of(record), metric)][image] = score
    return cells


IMAGE_SETS = ("initial", "best", "initial_transfer", "best_transfer")


def row_of(job: Job, image_set: str) -> tuple[str, str, str]:
    """(model, method, variant) of one image set of a job: ``initial`` is the one-step baseline, ``best``
    the reward option's ReNO image, ``*_transfer`` the same noises rendered by the transfer model."""
    baseline = image_set.startswith("initial") or job.reward == "none"
    if image_set.endswith("_transfer"):
        return job.model, f"{'baseline' if baseline else job.reward}→{job.transfer}", job.variant
    return (job.model, "baseline", job.baseline) if baseline else (job.model, job.reward, job.variant)


def cell(cells, layout: Layout, row: tuple[str, str, str], column: str) -> tuple[float | None, int]:
    """Mean score and number of images behind it; ``row``: (model, method, variant)."""
    if column == "mean":  # GenEval overall: unweighted mean of the six tag scores, only when all six exist
        tags = [cell(cells, layout, row, t) for t in TAGS]
        if any(v is None for v, _ in tags):
            return None, sum(n for _, n in tags)
        return mean(v for v, _ in tags), sum(n for _, n in tags)
    if layout.number == "1" and column == "aesthetic":  # over the images of the table's three categories
        groups = ["color", "shape", "texture"]
    else:
        groups = [column]
    images = {}
    for group in groups:
        images |= {(group, *k): v for k, v in cells.get((*row, layout.suite, group, layout.metric[column]),
                                                         {}).items()}
    return mean(images.values()), len(images)


def read_paper() -> dict[tuple[str, str, str, str], str]:
    lines = [line for line in PAPER.read_text().splitlines() if not line.startswith("#")]
    return {(r["table"], r["model"], r["method"], r["column"]): r["value"] for r in csv.DictReader(lines)}


def model_order(model: str) -> tuple:
    return (list(MODELS).index(model) if model in MODELS else len(MODELS), model)


def method_order(method: str) -> tuple:
    order = ["reference", "baseline", *REWARDS]
    base = method.split("→")[0]
    return ("→" in method, order.index(base) if base in order else len(order), method)


def label(layout: Layout, model: str, method: str, variant: str = "") -> str:
    if "→" in method:  # a transfer row: the noises of the row before the arrow, rendered by the target
        base, target = method.split("→")
        return f"{label(layout, model, base)} → {TRANSFERS.get(target, target)}" + (f" [{variant}]" if variant else "")
    name = MODELS.get(model, model)
    if method in ("baseline", "reference"):
        text = name
    elif layout.number == "1":
        text = f"{name} + {REWARDS.get(method, method)}"
    else:
        optimizer = next((v.split("=", 1)[1] for v in variant.split(", ") if v.startswith("optimizer=")), "reno")
        text = f"{name} + {METHODS.get(optimizer, 'ReNO' if optimizer == 'reno' else optimizer)}" + (
            "" if method == "all" else f" ({REWARDS.get(method, method)})")
    return f"{text} [{variant}]" if variant else text


def rows_of(layout: Layout, jobs: list[Job], paper) -> list[tuple[str, str, str]]:
    rows = {(m, meth, "") for (t, m, meth, _) in paper if t == layout.number}
    for job in jobs:
        if job.suite != layout.suite:
            continue
        sets = ["initial"] + (["best"] if job.reward != "none" else [])
        sets += [f"{s}_transfer" for s in sets] if job.transfer else []
        rows |= {row_of(job, s) for s in sets}
    refs = sorted((r for r in rows if r[1] == "reference"), key=lambda r: [k[1] for k in paper].index(r[0]))
    ours = sorted((r for r in rows if r[1] != "reference"),
                  key=lambda r: (model_order(r[0]), method_order(r[1]), r[2]))
    return refs + ours


def build(layout: Layout, jobs: list[Job], cells, paper) -> list[dict]:
    out = []
    for model, method, variant in rows_of(layout, jobs, paper):
        for column in layout.columns:
            ours, n = (None, 0) if method == "reference" else cell(cells, layout, (model, method, variant), column)
            # the paper's numbers are for the paper's settings: beside our default rows only
            paper_value = None if variant else paper.get((layout.number, model, method, column))
            out.append({"table": layout.number, "row": label(layout, model, method, variant), "model": model,
                        "method": method, "variant": variant, "column": column, "ours": ours,
                        "paper": paper_value, "n_images": n})
    return out


def markdown(layout: Layout, rows: list[dict]) -> str:
    lines = [f"### {layout.title}", "", "Each cell: ours (paper). — = no scores yet (missing, not zero).", "",
             "| | " + " | ".join(layout.columns.values()) + " |", "|---" * (len(layout.columns) + 1) + "|"]
    by_row: dict[str, list[dict]] = {}
    for r in rows:
        by_row.setdefault(r["row"], []).append(r)
    for name, cells_ in by_row.items():
        texts = []
        for c in cells_:
            digits = 3 if c["column"] == "aesthetic" else 4
            ours = "" if c["method"] == "reference" else fmt(c["ours"], digits)
            paper = c["paper"] or "—"
            texts.append(f"({paper})" if c["method"] == "reference" else f"{ours} ({paper})")
        lines.append(f"| {name} | " + " | ".join(texts) + " |")
    return "\n".join(lines) + "\n"


def choose_layouts(jobs: list[Job]) -> list[str]:
    experiments = {j.experiment for j in jobs if j.experiment}
    chosen = sorted(e.removeprefix("table") for e in experiments if e.removeprefix("table") in LAYOUTS)
    if chosen:
        return chosen
    chosen = []
    if any(j.suite == "t2i_compbench" for j in jobs):
        chosen.append("2")
    if any(j.suite == "geneval" for j in jobs):
        chosen.append("3")
    return chosen




def wandb_table(layout: Layout, rows: list[dict]) -> tuple[list[str], list[list]]:
    """Ours and the paper's number side by side, a column each."""
    columns = list(layout.columns)
    by_row: dict[str, dict] = {}
    for r in rows:
        by_row.setdefault(r["row"], {})[r["column"]] = r
    data = [[name] + [v for c in columns for v in (cs[c]["ours"], float(cs[c]["paper"]) if cs[c]["paper"] else None)]
            for name, cs in by_row.items()]
    return ["row"] + [f"{c} {who}" for c in columns for who in ("ours", "paper")], data
