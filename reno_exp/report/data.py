"""The page's content, gathered from run directories: jobs, tables, curves, noise analysis and items.

Items are stored by column (one list per field, index i = item i) so that 45,000 of them stay a few
megabytes of JSON that the page parses once; prompts and categories are stored once and referred to by
index. Numbers are rounded to 6 significant digits: more than a card shows, in fewer bytes.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from reno_exp.report import sources
from reno_exp.report.thumbs import Files

DIGITS = 6


def num(x) -> float | None:
    return float(f"{x:.{DIGITS}g}") if sources.ok(x) else None


def natural(path: Path) -> tuple:
    """Job folders in number order (sweep job 10 after job 9), as Hydra numbers them."""
    return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in path.parts)


def relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def differing(jobs: list[sources.Job]) -> list[list[str]]:
    """Each job's overrides that not every job of the sweep shares (its run.yaml keeps only those that
    affect results: shards, seeds and logging are not among them)."""
    sets = [{o.lstrip("+~") for o in j.info.overrides} for j in jobs]
    common = set.intersection(*sets) if sets else set()
    return [sorted(s - common) for s in sets]


def label(job: sources.Job, differs: list[str]) -> str:
    """What a reader tells the job by: its model and reward option, then what sets it apart: the tables'
    variant (which names a method other than ReNO, and a config that differs without an override) and
    the overrides that differ between the jobs, the tables' columns (category, tags) among them."""
    parts = [p for p in job.variant.split(", ") if p]
    parts += [o for o in differs if o not in parts and o.split("=", 1)[0] not in ("model", "reward")]
    return f"{job.model} · {job.reward}" + (f" [{', '.join(parts)}]" if parts else "")


def job_entry(job: sources.Job, differs: list[str], root: Path, href: str, records: list[dict], scored: int) -> dict:
    total = sources.means(records).get("total")
    return {"label": label(job, differs), "dir": relative(job.dir, root) if job.dir != root else ".",
            "href": href, "model": job.model, "reward": job.reward, "suite": job.suite,
            "optimizer": job.optimizer, "differs": differs, "overrides": list(job.info.overrides),
            "items": len(records), "scored": scored,
            "initial": num(total.initial) if total else None, "best": num(total.best) if total else None,
            "improved": num(total.improved) if total else None,
            "curves": {name: [num(v) for v in values] for name, values in sources.curves(records).items()}}


def markdown_blocks(text: str) -> list[dict]:
    """Markdown as the tables and the analysis write it, as blocks the page lays out: headings, pipe
    tables, bullet lists and paragraphs (nothing else appears in those files)."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            blocks.append({"h": min(level + 1, 6), "text": line.lstrip("#").strip()})
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            blocks.append({"table": rows})
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(lines[i][2:].strip())
                i += 1
            blocks.append({"list": items})
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith(("#", "|", "- ")):
                para.append(lines[i].strip())
                i += 1
            blocks.append({"p": " ".join(para)})
    return blocks


FIGURE_ORDER = ("grid", "curves", "iterates", "figure5", "coherence", "spectrum")


def figure_order(path: Path) -> tuple:
    stem = path.stem
    return (path.parent.name == "noise", FIGURE_ORDER.index(stem) if stem in FIGURE_ORDER else len(FIGURE_ORDER),
            natural(path))


def analysis_entry(title: str, folder: Path, files: Files, page_dir: Path) -> dict:
    text = next(((folder / n).read_text() for n in ("summary.md", "distances.md") if (folder / n).is_file()), "")
    text = text.split("\n## Files", 1)[0]  # the list of files: the figures below are those files
    figures = []
    for png in sorted(folder.rglob("*.png"), key=figure_order):
        figures.append({"src": files.figure(png.name, png.read_bytes()), "href": relative(png.resolve(), page_dir),
                        "name": png.relative_to(folder).as_posix(), "noise": png.parent.name == "noise"})
    return {"title": title, "blocks": markdown_blocks(text), "figures": figures}


class Columns:
    """Items by column; ``index`` keeps one copy of each repeated string."""

    def __init__(self):
        self.cols: dict[str, list] = {k: [] for k in ("job", "prompt", "seed", "cat", "key", "bi", "ti", "tb", "fi", "fb")}
        self.rewards: dict[str, list[list]] = {}  # name -> [initial per item, best per item]
        self.evals: dict[str, list[list]] = {}  # metric -> [initial per item, best per item]
        self.strings: dict[str, dict[str, int]] = {"prompt": {}, "cat": {}}
        self.n = 0

    def index(self, table: str, value: str | None) -> int:
        if value is None:
            return -1
        return self.strings[table].setdefault(value, len(self.strings[table]))

    def pad(self, store: dict[str, list[list]], name: str) -> list[list]:
        return store.setdefault(name, [[None] * self.n, [None] * self.n])

    def put(self, store: dict[str, list[list]], name: str, initial, best) -> None:
        pair = store.setdefault(name, [[None] * self.n, [None] * self.n])  # a name first seen now
        pair[0].append(num(initial))
        pair[1].append(num(best))

    def add(self, job: int, record: dict, thumbs: list, full: list, scores: dict[tuple[str, str], float]) -> None:
        """``scores``: this item's evaluator scores, (image set, metric) -> score."""
        c = self.cols
        c["job"].append(job)
        c["prompt"].append(self.index("prompt", str(record.get("prompt"))))
        c["seed"].append(record.get("seed"))
        c["cat"].append(self.index("cat", sources.category(record)))
        c["key"].append(record.get("key"))
        c["bi"].append(record.get("best_iteration"))
        c["ti"].append(thumbs[0])
        c["tb"].append(thumbs[1])
        c["fi"].append(full[0])
        c["fb"].append(full[1])
        initial, best = record.get("initial") or {}, record.get("best") or {}
        for name in sorted({*initial, *best}):
            self.put(self.rewards, name, initial.get(name), best.get(name))
        for metric in sorted({m for s, m in scores if s in sources.IMAGE_SETS}):
            self.put(self.evals, metric, *(scores.get((s, metric)) for s in sources.IMAGE_SETS))
        self.n += 1
        for store in (self.rewards, self.evals):  # names this item lacks: missing, never zero
            for pair in store.values():
                for side in pair:
                    side.extend([None] * (self.n - len(side)))

    def data(self) -> dict:
        rewards = sorted(self.rewards, key=lambda k: (k != "total", k))
        return {**self.cols, "n": self.n, "prompts": list(self.strings["prompt"]), "cats": list(self.strings["cat"]),
                "rewards": {k: self.rewards[k] for k in rewards}, "evals": dict(sorted(self.evals.items()))}


def gather(root: Path, jobs: list[sources.Job], page: Path, files: Files) -> dict:
    """Everything the page shows, for the run or sweep at ``root`` (its ``jobs``: sources.checked_jobs);
    thumbnails and figures go into ``files``."""
    jobs = sorted(jobs, key=lambda j: natural(j.dir.relative_to(root)))
    page_dir = page.parent.resolve()
    # the tables read every record again: in a process of their own, beside the gathering below
    with ProcessPoolExecutor(1) as pool:
        tables = pool.submit(sources.tables_markdown, root)
        content = gather_jobs(root, jobs, page_dir, files)
        content["tables"], figures = tables.result()
    content["tables"] = markdown_blocks(content["tables"])
    content["table_figures"] = [{"src": files.figure(n, b), "name": n} for n, b in figures]
    return content


def gather_jobs(root: Path, jobs: list[sources.Job], page_dir: Path, files: Files) -> dict:
    columns, job_entries, labels = Columns(), [], []
    for j, (job, differs) in enumerate(zip(jobs, differing(jobs))):
        job_dir = job.dir.resolve()
        href = relative(job_dir, page_dir)
        records = sources.read_records(job.dir)
        by_key: dict[str, dict[tuple[str, str], float]] = {}
        for (key, image_set, metric), score in sources.read_scores(job.dir).items():
            by_key.setdefault(key, {})[(image_set, metric)] = score
        scored = sum(any(s in sources.IMAGE_SETS for s, _ in by_key.get(r.get("key"), {})) for r in records)
        job_entries.append(job_entry(job, differs, root, href, records, scored))
        labels.append(job_entries[-1]["label"])
        for record in records:
            thumbs, full = [], []
            for image_set in sources.IMAGE_SETS:
                rel = sources.image_of(record, image_set)
                source = job_dir / rel if rel else None
                thumbs.append(files.thumbnail(source) if source is not None else None)
                full.append(f"{href}/{rel}" if source is not None else None)
            columns.add(j, record, thumbs, full, by_key.get(record.get("key"), {}))
    analyses = []
    for whose, folder in sources.analysis_dirs(root, jobs):
        title = "Across the sweep's jobs" if whose is None else f"#{jobs.index(whose)} {labels[jobs.index(whose)]}"
        analyses.append(analysis_entry(title, folder, files, page_dir))
    files.finish()
    items = columns.data()
    items["ti"] = [files.ok(t) for t in items["ti"]]
    items["tb"] = [files.ok(t) for t in items["tb"]]
    return {"root": str(root), "name": root.resolve().name, "jobs": job_entries, "analyses": analyses, "items": items}
