"""GenEval: ``benchmark=geneval`` (all 553 prompts) or ``benchmark.tags=[counting,position]``.

Item.meta is the metadata line's fields (tag, include, exclude where present) plus ``suite``. Images are
also written in the official layout under the run dir, ``geneval/<set>/{i:05d}/metadata.jsonl`` (the
prompt's metadata line) and ``geneval/<set>/{i:05d}/samples/{k:05d}.png``, for ``<set>`` = ``initial``
and ``best``; GenEval's evaluator reads each folder's own metadata, so a subset of tags scores as is.
"""

from __future__ import annotations

import functools
import json
from collections import Counter

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.benchmarks.files import fetch, read_lines, write_text_atomic
from reno_exp.config.benchmark import GENEVAL_TAGS as TAGS
from reno_exp.config.benchmark import GenEvalConfig
from reno_exp.config.errors import UserError

SUITE = "geneval"
FILE = "evaluation_metadata.jsonl"


def parse_line(path, line_no: int, line: str) -> dict:
    try:
        entry = json.loads(line)
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{line_no}: not a JSON line ({e.msg} at column {e.colno})") from e
    if not isinstance(entry, dict):
        raise UserError(f"{path}:{line_no}: expected a JSON object, got {type(entry).__name__}")
    problems = [f"missing {k!r}" for k in ("tag", "prompt", "include") if k not in entry]
    if not problems:
        if entry["tag"] not in TAGS:
            problems.append(f"unknown tag {entry['tag']!r}")
        if not isinstance(entry["prompt"], str) or not entry["prompt"].strip():
            problems.append("prompt is not a non-empty string")
        for field in ("include", "exclude"):
            value = entry.get(field, [])
            if not (isinstance(value, list) and all(isinstance(x, dict) and "class" in x for x in value)):
                problems.append(f"{field} is not a list of {{class, ...}} objects")
    if problems:
        raise UserError(f"{path}:{line_no}: {'; '.join(problems)}")
    return entry


class GenEval(PromptSuite):
    schema = GenEvalConfig
    name = SUITE

    def __init__(self, **options):
        super().__init__(**options)
        tags = self.cfg.tags
        unknown = sorted(set(tags or ()) - set(TAGS))
        if unknown:
            raise UserError(f"benchmark.tags: unknown {unknown}; GenEval's tags are {', '.join(TAGS)}")
        self.tags = set(tags) if tags else None

    @functools.cache  # noqa: B019 (one suite object per run)
    def entries(self) -> list[dict]:
        path = fetch(SUITE, FILE)
        return [parse_line(path, n, line) for n, line in read_lines(path)]

    def tag_counts(self) -> Counter:
        return Counter(e["tag"] for e in self.entries())

    def prompts(self):
        return [
            (e["prompt"], {"suite": SUITE, **{k: v for k, v in e.items() if k != "prompt"}})
            for e in self.entries()
            if self.tags is None or e["tag"] in self.tags
        ]

    def export(self, item, images, records):
        metadata = {k: v for k, v in item.meta.items() if k != "suite"} | {"prompt": item.prompt}
        for image_set, image in images.items():
            folder = f"{SUITE}/{image_set}/{item.index:05d}"
            write_text_atomic(records.dir / folder / "metadata.jsonl", json.dumps(metadata) + "\n")
            records.save_image(image, f"{folder}/samples/{item.k:05d}.png")
