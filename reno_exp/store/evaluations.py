"""The evaluators' scores of a run: one line of ``evaluation.jsonl`` per (key, image set, metric), written by
``python -m reno_exp.evaluate`` (resumably, whole or absent like the records) and read by tables, analysis
and the report."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from reno_exp.store.names import EVALUATION
from reno_exp.store.records import JsonLines


@dataclass
class Score:
    key: str  # the record's item
    image_set: str  # initial, best, initial_transfer, best_transfer, iter_XXX
    metric: str  # t2i_compbench, geneval, aesthetic
    score: float
    evaluator: str  # which scorer (and category or tag) gave it

    @property
    def at(self) -> tuple[str, str, str]:
        return self.key, self.image_set, self.metric


class EvaluationFile(JsonLines):
    """``<run>/evaluation.jsonl``: the one writer appends a Score per line; ``read()`` gives the lines."""

    fields = ("key", "image_set", "metric")
    what = "evaluation file"

    def __init__(self, run_dir: str | Path):
        super().__init__(Path(run_dir) / EVALUATION)

    def scores(self) -> list[Score]:
        """Every whole line with a finite score, as written (a repeated line stays: ``read_scores`` keeps the first)."""
        out = []
        for row in self.read():
            value = row.get("score")
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                out.append(Score(row["key"], row["image_set"], row["metric"], float(value), str(row.get("evaluator", ""))))
        return out

    def add(self, score: Score) -> None:
        self.append(asdict(score))


def read_evaluations(run_dir: str | Path) -> list[Score]:
    return EvaluationFile(run_dir).scores()


def read_scores(run_dir: str | Path) -> dict[tuple[str, str, str], float]:
    """(key, image_set, metric) -> score, the first line of each (a repeated line is counted once)."""
    out: dict[tuple[str, str, str], float] = {}
    for s in read_evaluations(run_dir):
        out.setdefault(s.at, s.score)
    return out
