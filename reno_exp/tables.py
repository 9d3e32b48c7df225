"""``python -m reno_exp.tables <sweep dir>``: a sweep's results in the layout of the paper's Tables 1-3.

Reads every job directory under the sweep (a directory holding ``results.jsonl``): its config from
``.hydra/`` (the chosen model, reward and benchmark options), its records, and the evaluators' scores in
``evaluation.jsonl``. Rows are (model, method): ``baseline`` is the one-step model's image, i.e. the
``initial`` image set of any job (the same noise gives the same image whatever the reward, so baseline rows
need no job of their own; a ``reward=none`` job's images count as baseline too), and a reward option
(``all`` = ReNO with the paper's four) is that job's ``best`` image set. A cell is the mean score over its
images (GenEval "mean" = the mean of the six tag scores); an image counted by several jobs (shards, or the
initial image of several reward runs) counts once. The paper's number stands beside each cell; a cell
with no scores shows as missing, never as zero.

Writes ``tables.md``, ``tables.csv`` (one row per cell: ours, paper, number of images) and ``runs.csv``
(per job group, from the records alone: images done, mean reward totals before and after ReNO) into the
sweep directory (or ``--out``) and prints the Markdown. The tables also go to W&B (one ``wandb.Table`` each,
in the sweep's group) when the jobs logged there (``logger=wandb``) or with ``--wandb``; ``--no-wandb`` stops it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from reno_exp.records import RESULTS, read_records

PAPER = Path(__file__).with_name("paper_tables.csv")
EVALUATION = "evaluation.jsonl"

MODELS = {"pixart_dmd": "PixArt-α DMD", "sd_turbo": "SD-Turbo", "sdxl_turbo": "SDXL-Turbo", "hyper_sdxl": "HyperSDXL"}
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


@dataclass
class Job:
    dir: Path
    model: str
    reward: str
    suite: str
    experiment: str | None
    logger: dict = field(default_factory=dict)


def find_jobs(sweep: Path) -> list[Job]:
    jobs = []
    for results in sorted(sweep.rglob(RESULTS)):
        run = results.parent
        hydra_dir = run / ".hydra"
        if not (hydra_dir / "config.yaml").exists():
            print(f"skipping {run}: no .hydra/config.yaml", file=sys.stderr)
            continue
        cfg = OmegaConf.load(hydra_dir / "config.yaml")
        choices = {}
        if (hydra_dir / "hydra.yaml").exists():
            choices = OmegaConf.to_container(OmegaConf.load(hydra_dir / "hydra.yaml").hydra.runtime.choices)
        model = choices.get("model") or str(cfg.model._target_).rsplit(".", 1)[-1]
        reward = choices.get("reward") or ("+".join(cfg.get("reward") or {}) or "none")
        suite = choices.get("benchmark") or str(cfg.benchmark._target_).rsplit(".", 2)[-2]
        logger = OmegaConf.to_container(cfg.logger) if cfg.get("logger") is not None else {}
        jobs.append(Job(run, model, reward, suite, choices.get("experiment"), logger))
    return jobs


def read_scores(run: Path) -> dict[tuple[str, str, str], float]:
    """(key, image_set, metric) -> score; a torn last line (killed evaluator) is skipped."""
    path = run / EVALUATION
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("score") is not None and math.isfinite(row["score"]):
                out[(row["key"], row["image_set"], row["metric"])] = float(row["score"])
    return out


def group_of(record: dict) -> str | None:
    meta = record.get("meta") or {}
    return meta.get("category") if meta.get("suite") == "t2i_compbench" else meta.get("tag")


def collect(jobs: list[Job]) -> dict[tuple, dict[tuple, float]]:
    """(model, method, suite, group, metric) -> {image identity: score}, one score per image."""
    cells: dict[tuple, dict[tuple, float]] = defaultdict(dict)
    for job in jobs:
        records = {r["key"]: r for r in read_records(job.dir)}
        for (key, image_set, metric), score in read_scores(job.dir).items():
            record = records.get(key)
            if record is None or image_set not in ("initial", "best"):
                continue  # scores of a record that is gone, or of an intermediate iterate
            method = "baseline" if image_set == "initial" or job.reward == "none" else job.reward
            image = (record["key"], record["seed"], record["prompt"])
            cells[(job.model, method, job.suite, group_of(record), metric)][image] = score
    return cells


def mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def cell(cells, layout: Layout, model: str, method: str, column: str) -> tuple[float | None, int]:
    """Mean score and number of images behind it."""
    if column == "mean":  # GenEval overall: unweighted mean of the six tag scores, only when all six exist
        tags = [cell(cells, layout, model, method, t) for t in TAGS]
        if any(v is None for v, _ in tags):
            return None, sum(n for _, n in tags)
        return mean(v for v, _ in tags), sum(n for _, n in tags)
    if layout.number == "1" and column == "aesthetic":  # over the images of the table's three categories
        groups = ["color", "shape", "texture"]
    else:
        groups = [column]
    images = {}
    for group in groups:
        images |= {(group, *k): v for k, v in cells.get((model, method, layout.suite, group, layout.metric[column]),
                                                         {}).items()}
    return mean(images.values()), len(images)


def read_paper() -> dict[tuple[str, str, str, str], str]:
    lines = [line for line in PAPER.read_text().splitlines() if not line.startswith("#")]
    return {(r["table"], r["model"], r["method"], r["column"]): r["value"] for r in csv.DictReader(lines)}


def model_order(model: str) -> tuple:
    return (list(MODELS).index(model) if model in MODELS else len(MODELS), model)


def method_order(method: str) -> tuple:
    order = ["reference", "baseline", *REWARDS]
    return (order.index(method) if method in order else len(order), method)


def label(layout: Layout, model: str, method: str) -> str:
    name = MODELS.get(model, model)
    if method in ("baseline", "reference"):
        return name
    if layout.number == "1":
        return f"{name} + {REWARDS.get(method, method)}"
    return f"{name} + ReNO" + ("" if method == "all" else f" ({REWARDS.get(method, method)})")


def rows_of(layout: Layout, jobs: list[Job], paper) -> list[tuple[str, str]]:
    rows = {(m, meth) for (t, m, meth, _) in paper if t == layout.number}
    for job in jobs:
        if job.suite != layout.suite:
            continue
        rows.add((job.model, "baseline"))
        if job.reward != "none":
            rows.add((job.model, job.reward))
    refs = sorted((r for r in rows if r[1] == "reference"), key=lambda r: [k[1] for k in paper].index(r[0]))
    ours = sorted((r for r in rows if r[1] != "reference"), key=lambda r: (model_order(r[0]), method_order(r[1])))
    return refs + ours


def build(layout: Layout, jobs: list[Job], cells, paper) -> list[dict]:
    out = []
    for model, method in rows_of(layout, jobs, paper):
        for column in layout.columns:
            ours, n = (None, 0) if method == "reference" else cell(cells, layout, model, method, column)
            out.append({"table": layout.number, "row": label(layout, model, method), "model": model,
                        "method": method, "column": column, "ours": ours,
                        "paper": paper.get((layout.number, model, method, column)), "n_images": n})
    return out


def fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


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


def total(record: dict, image_set: str) -> float | None:
    return (record.get(image_set) or {}).get("total")


def runs_summary(jobs: list[Job]) -> tuple[str, list[dict]]:
    """The records alone (no evaluator needed): images done and mean reward totals, per job group."""
    groups: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for job in jobs:
        for r in read_records(job.dir):
            groups[(job.model, job.reward, job.suite, group_of(r) or "")][(r["key"], r["seed"], r["prompt"])] = r
    rows = []
    for (model, reward, suite, group), records in sorted(groups.items()):
        rs = list(records.values())
        rows.append({"model": model, "reward": reward, "benchmark": suite, "group": group, "images": len(rs),
                     "initial_total": mean(total(r, "initial") for r in rs if total(r, "initial") is not None),
                     "best_total": mean(total(r, "best") for r in rs if total(r, "best") is not None),
                     "best_iteration": mean(r["best_iteration"] for r in rs if r.get("best_iteration") is not None)})
    lines = ["### Runs: reward totals from results.jsonl", "",
             "| model | reward | benchmark | group | images | initial total | best total | mean best iterate |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['reward']} | {r['benchmark']} | {r['group']} | {r['images']} | "
              f"{fmt(r['initial_total'], 4)} | {fmt(r['best_total'], 4)} | {fmt(r['best_iteration'], 1)} |" for r in rows]
    return "\n".join(lines) + "\n", rows


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


def wandb_settings(jobs: list[Job]) -> dict | None:
    """The W&B logger settings of the sweep's jobs, if they logged there."""
    return next((j.logger for j in jobs if "Wandb" in str(j.logger.get("_target_", ""))
                 and j.logger.get("mode") != "disabled"), None)


def log_wandb(tables: dict[str, list[dict]], sweep: Path, jobs: list[Job]) -> None:
    import wandb

    settings = wandb_settings(jobs) or {}
    kw = {"project": settings.get("project") or "reno_exp", "entity": settings.get("entity"), "group": sweep.name,
          "job_type": "tables", "name": f"tables-{sweep.name}", "dir": str(sweep)}
    try:
        run = wandb.init(mode=settings.get("mode", "online"), **kw)
    except Exception as e:  # no key or no network: as the runs do, go on offline (upload with `wandb sync`)
        print(f"W&B unreachable ({str(e).splitlines()[0][:120]}); logging offline", file=sys.stderr)
        run = wandb.init(mode="offline", **kw)
    for number, rows in tables.items():
        columns = list(LAYOUTS[number].columns)
        data, by_row = [], {}
        for r in rows:
            by_row.setdefault(r["row"], {})[r["column"]] = r
        for name, cs in by_row.items():
            data.append([name] + [v for c in columns for v in (cs[c]["ours"], float(cs[c]["paper"]) if cs[c]["paper"] else None)])
        headings = ["row"] + [f"{c} {who}" for c in columns for who in ("ours", "paper")]
        run.log({f"table{number}": wandb.Table(columns=headings, data=data)})
    run.finish()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reno_exp.tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, help="a sweep directory (or one run directory)")
    parser.add_argument("--tables", nargs="+", choices=sorted(LAYOUTS), help="default: from the sweep's experiment")
    parser.add_argument("--out", type=Path, help="where tables.md and tables.csv go (default: the sweep dir)")
    parser.add_argument("--wandb", action=argparse.BooleanOptionalAction, default=None,
                        help="log the tables to W&B (default: when the sweep's jobs used logger=wandb)")
    args = parser.parse_args(argv)
    if not args.sweep.is_dir():
        parser.error(f"{args.sweep} is not a directory")
    jobs = find_jobs(args.sweep)
    if not jobs:
        print(f"no runs (directories with {RESULTS} and .hydra/) under {args.sweep}", file=sys.stderr)
        return 1
    cells, paper = collect(jobs), read_paper()
    numbers = args.tables or choose_layouts(jobs)
    tables = {n: build(LAYOUTS[n], jobs, cells, paper) for n in numbers}
    text = "\n".join(markdown(LAYOUTS[n], rows) for n, rows in tables.items())
    n_scored = sum(len(read_scores(j.dir)) > 0 for j in jobs)
    runs_text, runs = runs_summary(jobs)
    text += "\n" + runs_text
    text += f"\n{len(jobs)} runs, {n_scored} with {EVALUATION} (score them with `python -m reno_exp.evaluate`).\n"
    out = args.out or args.sweep
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "runs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(runs[0]) if runs else ["model"])
        writer.writeheader()
        writer.writerows(runs)
    (out / "tables.md").write_text(text)
    with open(out / "tables.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, ["table", "row", "model", "method", "column", "ours", "paper", "n_images"])
        writer.writeheader()
        for rows in tables.values():
            writer.writerows({**r, "ours": "" if r["ours"] is None else r["ours"], "paper": r["paper"] or ""}
                             for r in rows)
    print(text)
    if args.wandb or (args.wandb is None and wandb_settings(jobs) is not None):
        log_wandb(tables, args.sweep, jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
