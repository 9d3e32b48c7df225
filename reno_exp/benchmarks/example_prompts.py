"""The ReNO authors' 32 example prompts: ``benchmark=example_prompts`` (their ``--task example-prompts``).

One image per prompt. The file comes from the authors' repository pinned to a commit (manifest
``benchmarks/reno_examples.yaml``), SHA-256 checked. Each line is stripped, as the authors' reader does.
There is no automatic metric and no official image layout: the run's records (each reward's score for
the initial and the best image) and its images/ folder are the output.
"""

from __future__ import annotations

import functools

from reno_exp.benchmarks.base import PromptSuite
from reno_exp.benchmarks.files import fetch, read_lines
from reno_exp.config.benchmark import ExamplePromptsConfig
from reno_exp.config.errors import UserError

SUITE = "reno_examples"
FILE = "example_prompts.txt"


class ExamplePrompts(PromptSuite):
    schema = ExamplePromptsConfig
    name = "example_prompts"

    @functools.cache  # noqa: B019 (one suite object per run)
    def prompts(self):
        path = fetch(SUITE, FILE)
        out = []
        for line_no, line in read_lines(path):
            if not line.strip():
                raise UserError(f"{path}:{line_no}: empty line (expected one prompt per line)")
            out.append((line.strip(), {"suite": SUITE}))
        return out
