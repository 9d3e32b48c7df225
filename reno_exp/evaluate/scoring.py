"""``python -m reno_exp.evaluate <run or sweep dir> [key=value ...]``: score a run's images.

Every run directory under the path (a run: it holds ``results.jsonl``) gets ``evaluation.jsonl``, one
JSON line per (key, image set, metric): ``{"key", "image_set", "metric", "score", "evaluator"}``.
Image sets: ``initial`` and ``best``, and with ``iterates=true`` the saved iterates as ``iter_XXX``.
Which metrics apply comes from each record's ``meta`` (T2I-CompBench by category, GenEval by tag);
the aesthetic score applies to every image. Resumable like generation: lines already there are kept
and not recomputed; each line is appended in one write and fsync'd, and a torn last line left by a
killed run is cut off first. Models are built only for metrics with work left, one metric at a time.

Overrides (OmegaConf dot-list, checked against ``EvaluateConfig``), e.g. ``metrics=[geneval]``,
``random_init=true tiny=true``, ``device=cuda``, ``geneval.threshold=0.3``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from reno_exp.config.compose import settings
from reno_exp.config.errors import ArgumentParser, UserError, fail, guarded
from reno_exp.config.placement import DEVICE, DEVICE_HINT, check_device
from reno_exp.config.reward import TOWER_DTYPES
from reno_exp.config.rules import Rule, needs_random_init, rule
from reno_exp.evaluate import EVALUATORS, METRICS
from reno_exp.evaluate.geneval import GenEvalConfig
from reno_exp.evaluate.t2i_compbench import T2ICompBenchConfig
from reno_exp.store.evaluations import EvaluationFile, Score, read_evaluations
from reno_exp.store.files import check_run, own_records, runs_under
from reno_exp.store.names import EVALUATION
from reno_exp.store.records import Record
from reno_exp.store.rundir import writable
from reno_exp.weights.hub import MissingWeightsError

log = logging.getLogger("reno_exp.evaluate.scoring")


IMAGE_SETS = ("initial", "best", "initial_transfer", "best_transfer")


@dataclass
class EvaluateConfig:
    metrics: list[str] = field(default_factory=lambda: list(METRICS),
                               metadata=rule(nonempty=True, unique=True, each=Rule(choices=tuple(METRICS))))
    # initial_transfer / best_transfer: the transfer model's images of the same noises (runs with transfer=)
    image_sets: list[str] = field(default_factory=lambda: list(IMAGE_SETS),
                                  metadata=rule(nonempty=True, unique=True, each=Rule(choices=IMAGE_SETS)))
    iterates: bool = False  # also the saved iterates (optimizer.save_every > 0), as iter_XXX
    random_init: bool = False  # real architectures with random weights, offline
    tiny: bool = field(default=False, metadata=rule(relation=needs_random_init))  # with random_init: tiny classes (tests)
    device: str | None = field(default=None, metadata=rule(pattern=DEVICE, hint=DEVICE_HINT))  # None: cuda when available, else cpu
    aesthetic_dtype: str | None = field(default=None, metadata=rule(choices=TOWER_DTYPES))  # None: float16 on CUDA, float32 elsewhere
    progress: bool = True
    t2i_compbench: T2ICompBenchConfig = field(default_factory=T2ICompBenchConfig)
    geneval: GenEvalConfig = field(default_factory=GenEvalConfig)


def load_config(overrides: list[str]) -> EvaluateConfig:
    cfg = settings(EvaluateConfig, list(overrides))  # unknown keys, types and every field's rule (validate)
    return OmegaConf.to_object(cfg)


def run_dirs(path: str | Path) -> list[Path]:
    """The run directory itself, or every run directory below a sweep directory."""
    return runs_under(path)


class Scored(EvaluationFile):
    """A run's evaluation file as the scorer resumes it: a torn last line cut, what is scored known."""

    def __init__(self, run_dir: Path):
        super().__init__(run_dir)
        self.repair()
        self.done = {(r["key"], r["image_set"], r["metric"]) for r in self.read()}  # a NaN score is done too

    def add(self, score: Score) -> None:
        super().add(score)
        self.done.add(score.at)


def image_sets(record: Record, cfg: EvaluateConfig) -> list[tuple[str, str]]:
    """(image set name, path relative to the run) of a record's saved images."""
    out = []
    for name in cfg.image_sets:
        rel = record.image(name)
        if rel:
            out.append((name, rel))
    if cfg.iterates:
        for rel in record.get("iterates") or []:
            m = re.search(r"_(\d+)\.png$", rel)
            if m:
                out.append((f"iter_{int(m.group(1)):03d}", rel))
    return out


def evaluator_class(metric: str):
    from hydra.utils import get_class

    return get_class(EVALUATORS[metric])


def build(metric: str, cfg: EvaluateConfig, device: str):
    if cfg.random_init:  # random-weight scores reproducible from one invocation to the next (resuming)
        import torch

        torch.manual_seed(0)
    return evaluator_class(metric).from_settings(cfg, random_init=cfg.random_init, tiny=cfg.tiny, device=device)


def work(runs: dict[Path, list[dict]], metric: str, cfg: EvaluateConfig, files: dict[Path, Scored]):
    """(run, record, [(image set, rel path)]) still to score for the metric; ``runs``: each run's records."""
    cls = evaluator_class(metric)
    todo = []
    for run, records in runs.items():
        for record in records:
            if not cls.applies(record):
                continue
            sets = [(s, rel) for s, rel in image_sets(record, cfg) if (record["key"], s, metric) not in files[run].done]
            if sets:
                todo.append((run, record, sets))
    return todo


def evaluate(path: str | Path, cfg: EvaluateConfig) -> dict[Path, int]:
    """Score what is missing; returns the number of lines written per run directory."""
    import torch
    from PIL import Image
    from tqdm import tqdm

    from reno_exp.config.placement import resolve_device

    runs = run_dirs(path)
    for run in runs:
        writable(run / EVALUATION, folder=False)  # before any evaluator is built
    files = {run: Scored(run) for run in runs}
    written = dict.fromkeys(runs, 0)
    records = {run: own_records(run) for run in runs}  # read once: the run's own (others left out, said once)
    todos = {metric: work(records, metric, cfg, files) for metric in cfg.metrics}
    for run, record, sets in (t for todo in todos.values() for t in todo):  # before any score is written
        missing = [rel for _, rel in sets if not (run / rel).is_file()]
        if missing:
            raise UserError(f"{run}: record {record['key']} points to missing image(s) {missing}")
        for _, rel in sets:
            check_image(run / rel)
    require_weights([m for m, todo in todos.items() if todo], cfg)  # all missing weights at once, before any build
    device = resolve_device(cfg.device)
    for metric, todo in todos.items():
        if not todo:
            log.info("%s: nothing left to score", metric)
            continue
        log.info("%s: %d records to score", metric, len(todo))
        try:
            evaluator = build(metric, cfg, device)
        except MissingWeightsError as e:  # the loaders' own check: point to the evaluators' prefetch
            raise MissingWeightsError(e.checkpoints, e.reason, PREFETCH, e.commands) from None
        for run, record, sets in tqdm(todo, desc=metric, unit="record", disable=not cfg.progress, dynamic_ncols=True):
            images = [Image.open(run / rel).convert("RGB") for _, rel in sets]
            scores = evaluator.score(images, record)
            name = evaluator.evaluator_name(record)
            for (image_set, _), score in zip(sets, scores):
                files[run].add(Score(record["key"], image_set, metric, float(score), name))
                written[run] += 1
        del evaluator
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return written


def check_image(path: Path) -> None:
    """The image is there and whole (PIL reads it through without decoding: cheap)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (OSError, UnidentifiedImageError, SyntaxError) as e:  # PIL: truncated, damaged, not an image
        raise UserError(f"{path} is damaged or truncated ({str(e)[:80]}); nothing was scored") from None


PREFETCH = "python -m reno_exp.prefetch --evaluate"


def require_weights(metrics: list[str], cfg: EvaluateConfig) -> None:
    """MissingWeightsError listing every checkpoint the metrics need that is not in the local cache."""
    if cfg.random_init or not metrics:
        return
    from reno_exp.weights import needs

    needs.require(checkpoints(metrics, cfg), PREFETCH)


def summarise(runs: list[Path]) -> None:
    for run in runs:
        rows = read_evaluations(run)
        groups: dict[tuple[str, str], list[float]] = {}
        for r in rows:
            groups.setdefault((r.metric, r.image_set), []).append(r.score)
        print(f"{run / EVALUATION}: {len(rows)} scores")
        for (metric, image_set), scores in sorted(groups.items()):
            print(f"  {metric:>14} {image_set:>8}: mean {sum(scores) / len(scores):.4f} over {len(scores)} images")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reno_exp.evaluate", description=__doc__.split("\n\n", 1)[1],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", help="a run directory (with results.jsonl) or a sweep directory of them")
    parser.add_argument("overrides", nargs="*", help="key=value settings of EvaluateConfig")
    args = parser.parse_args(argv)
    if args.path is None:
        return fail(f"give a run or sweep directory: {parser.prog} <run or sweep dir> [key=value ...]")
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s][%(name)s][%(levelname)s] - %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    def body() -> int:
        cfg = load_config(args.overrides)
        for run in run_dirs(args.path):  # foreign or damaged records: one line naming the file, nothing scored
            check_run(run)
        check_device(cfg.device)
        evaluate(args.path, cfg)
        summarise(run_dirs(args.path))
        return 0

    return guarded(body)


def checkpoints(metrics=METRICS, cfg: EvaluateConfig | None = None) -> list:
    """Every checkpoint the metrics load (for ``python -m reno_exp.prefetch``); spaCy's pipeline is installed
    apart."""
    cfg = cfg or EvaluateConfig()
    return [c for metric in metrics for c in evaluator_class(metric).checkpoints(cfg)]


if __name__ == "__main__":
    sys.exit(main())
