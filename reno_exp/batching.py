"""How many items run together: ``batch_size`` (an integer, or ``auto``), and survival of out-of-memory.

``auto`` on CUDA starts from a guess and lets the first batches find the size: an out-of-memory error
halves the batch and runs the same items again (an event in their records), so neither a trial nor an
OOM in the middle of a sweep job ends the job. On a CPU, batching buys little (the cores are busy at any
batch size), so ``auto`` means ``CPU_AUTO``.
"""

from __future__ import annotations

import contextlib
import gc
import logging

import torch

log = logging.getLogger(__name__)

CPU_AUTO = 1
CUDA_AUTO_START = 32  # halved on out-of-memory until a batch fits


def batch_size(value, device: str, n_items: int) -> int:
    if value == "auto":
        size = CUDA_AUTO_START if device.startswith("cuda") else CPU_AUTO
        log.info("batch_size=auto: starting at %d on %s", min(size, n_items), device)
    else:
        size = int(value)
    return max(1, min(size, n_items))


class Batches:
    """The items in run order, ``size`` at a time. Inside ``retry_on_oom(batch)``, an out-of-memory error
    halves ``size`` and the next batch holds the same items again."""

    def __init__(self, items: list, size: int):
        self.pending = list(items)
        self.size = size
        self.events: dict[str, list[dict]] = {}  # item key -> events to record with its result
        self.retrying = False

    def __iter__(self):
        while self.pending:
            batch = self.pending[: self.size]
            self.retrying = False
            yield batch
            if not self.retrying:
                del self.pending[: len(batch)]

    @contextlib.contextmanager
    def retry_on_oom(self, batch: list):
        try:
            yield
        except torch.OutOfMemoryError:
            if len(batch) == 1:
                raise
            self.size = len(batch) // 2
            what = f"out of memory in a batch of {len(batch)}; run again in batches of {self.size}"
            log.warning("%s", what)
            for item in batch:
                self.events.setdefault(item.key, []).append({"iteration": None, "event": what})
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self.retrying = True
