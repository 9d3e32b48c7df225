"""One prompt given on the command line: ``benchmark=single benchmark.prompt="..."``."""

from __future__ import annotations

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.config.errors import UserError


class SinglePrompt(PromptSuite):
    name = "single"

    def __init__(self, prompt: str, **kwargs):
        super().__init__(**kwargs)
        if not prompt.strip():
            raise UserError("benchmark.prompt is empty")
        self.prompt = prompt

    def prompts(self):
        return [(self.prompt, {})]
