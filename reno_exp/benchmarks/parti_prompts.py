"""PartiPrompts: ``benchmark=parti_prompts``, optionally ``benchmark.categories=[Animals]`` and/or
``benchmark.challenges=[Quantity]`` (names as in the file, or in snake case: ``food_beverage``).

The TSV is read with quoting disabled: 22 prompts hold literal double quotes, which a default CSV reader
would take as field quoting and silently merge or cut. There is no automatic metric and no official
image layout; the run's own images/ folder is the output.
"""

from __future__ import annotations

import csv
import functools
import io

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.benchmarks.files import fetch, read_lines
from reno_exp.config.benchmark import PartiPromptsConfig, snake
from reno_exp.config.errors import UserError

SUITE = "parti_prompts"
FILE = "PartiPrompts.tsv"
HEADER = ["Prompt", "Category", "Challenge", "Note"]


def read_tsv(path) -> list[dict]:
    lines = read_lines(path)
    out = []
    for line_no, line in lines:
        fields = next(csv.reader(io.StringIO(line), delimiter="\t", quoting=csv.QUOTE_NONE), [])
        if line_no == 1:
            if fields != HEADER:
                raise UserError(f"{path}:1: header {fields} is not {HEADER}")
            continue
        if len(fields) != len(HEADER):
            raise UserError(f"{path}:{line_no}: {len(fields)} tab-separated fields, expected {len(HEADER)}")
        if not fields[0].strip():
            raise UserError(f"{path}:{line_no}: empty prompt")
        out.append(dict(zip(HEADER, fields)))
    if not lines:
        raise UserError(f"{path}: empty file (expected the header {HEADER})")
    return out


class PartiPrompts(PromptSuite):
    schema = PartiPromptsConfig
    name = SUITE

    @functools.cache  # noqa: B019 (one suite object per run)
    def rows(self) -> list[dict]:
        return read_tsv(fetch(SUITE, FILE))

    def _wanted(self, option: str, names: list[str] | None, column: str) -> set[str] | None:
        if not names:
            return None
        known = {snake(r[column]): r[column] for r in self.rows()}
        unknown = [n for n in names if snake(n) not in known]
        if unknown:
            raise UserError(f"benchmark.{option}: unknown {unknown}; PartiPrompts has {sorted(set(known.values()))}")
        return {known[snake(n)] for n in names}

    def prompts(self):
        categories = self._wanted("categories", self.cfg.categories, "Category")
        challenges = self._wanted("challenges", self.cfg.challenges, "Challenge")
        return [
            (r["Prompt"], {"suite": SUITE, "category": r["Category"], "challenge": r["Challenge"]})
            for r in self.rows()
            if (categories is None or r["Category"] in categories)
            and (challenges is None or r["Challenge"] in challenges)
        ]
