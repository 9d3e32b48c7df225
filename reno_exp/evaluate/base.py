"""What an evaluator is to ``python -m reno_exp.evaluate``: a metric name, the records it applies to,
and a score per image of a record (all image sets of a record share its prompt and metadata)."""

from __future__ import annotations

import torch
from PIL import Image

RANDOM = " [random weights]"
TINY = " [tiny random weights]"


def weights_note(random_init: bool, tiny: bool) -> str:
    """Appended to evaluator names, so random-weight scores can never pass for real ones."""
    return (TINY if tiny else RANDOM) if random_init else ""


class Evaluator:
    metric: str = ""
    name: str = ""
    suite: str | None = None  # the prompt suite whose records it scores (None: every record)

    @classmethod
    def from_settings(cls, settings, random_init: bool, tiny: bool, device: str) -> Evaluator:
        """Built from ``python -m reno_exp.evaluate``'s settings (reno_exp.evaluate.scoring.EvaluateConfig): a
        suite's scorer from the settings of its own name (``geneval.threshold=...``)."""
        return cls(getattr(settings, cls.metric), random_init=random_init, tiny=tiny, device=device)

    @classmethod
    def checkpoints(cls, settings) -> list:
        """What it loads, for ``python -m reno_exp.prefetch --evaluate`` and the check before any build."""
        raise NotImplementedError

    @classmethod
    def applies(cls, record: dict) -> bool:
        """Whether this metric scores the record (decided from its meta, before any model is built)."""
        return cls.suite is None or suite_of(record) == cls.suite

    def evaluator_name(self, record: dict) -> str:
        """The ``evaluator`` field of the record's score lines."""
        return self.name

    @torch.no_grad()
    def score(self, images: list[Image.Image], record: dict) -> list[float]:
        raise NotImplementedError


def suite_of(record: dict) -> str | None:
    return (record.get("meta") or {}).get("suite")


def checkpoint_of(checkpoint: str):
    """A local ``save_pretrained`` directory is used as is (``local_or_hub``), else the hub repository."""
    from pathlib import Path

    from reno_exp.weights.checkpoints import HubRepo, LocalFile

    return LocalFile(checkpoint) if Path(checkpoint).is_dir() else HubRepo(checkpoint)


def local_or_hub(checkpoint: str) -> str:
    """A local directory saved with ``save_pretrained`` as is, else the hub repository's cached files."""
    from pathlib import Path

    from reno_exp.weights.checkpoints import HubRepo

    return checkpoint if Path(checkpoint).is_dir() else HubRepo(checkpoint).path()
