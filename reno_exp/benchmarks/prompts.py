"""Your own prompts: ``benchmark=prompts benchmark.path=my_prompts.csv`` (.txt, .jsonl or .csv).

The file is read and checked by reno_exp.config.prompt_files (the formats are described there); here its
rows become items. Each item's meta is ``suite``, the prompt's ``category`` when it has one (the tables and
the analysis group by it, as by T2I-CompBench's categories) and the file's other fields. There is no
automatic metric and no official image layout: the records and the run's images/ folder are the output.
"""

from __future__ import annotations

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.config.benchmark import PromptFileConfig
from reno_exp.config.errors import UserError
from reno_exp.config.prompt_files import read

SUITE = "prompts"


class PromptFile(PromptSuite):
    schema = PromptFileConfig
    name = SUITE

    def __init__(self, **options):
        super().__init__(**options)
        self.rows, sha256 = read(self.cfg.path)
        if self.cfg.sha256 is not None and sha256 != self.cfg.sha256:  # edited since the run pinned it
            raise UserError(f"benchmark.path={self.cfg.path}: its SHA-256 is {sha256}, not benchmark.sha256="
                            f"{self.cfg.sha256}: the file changed after the run read it; run again")

    def prompts(self):
        return [(r.prompt, {"suite": SUITE, **({"category": r.category} if r.category else {}), **r.meta})
                for r in self.rows]

    def seeds_of(self, index: int) -> list[int]:
        return self.rows[index].seeds or self.seeds
