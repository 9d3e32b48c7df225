"""One prompt given on the command line: ``benchmark=single benchmark.prompt="..."``."""

from __future__ import annotations

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.config.benchmark import SinglePromptConfig
from reno_exp.config.errors import UserError


class SinglePrompt(PromptSuite):
    schema = SinglePromptConfig
    name = "single"

    def __init__(self, **options):
        super().__init__(**options)
        if not self.cfg.prompt.strip():
            raise UserError("benchmark.prompt is empty")

    def prompts(self):
        return [(self.cfg.prompt, {})]
