"""How many items run together: ``batch_size`` (an integer, or ``auto``), and survival of out-of-memory.

``auto`` on CUDA starts from the largest batch the cost model predicts to fit the GPU
(reno_exp.cost.predict_memory, a meta-device dry run of the config: about 10-25 s), or from
``CUDA_AUTO_START`` when no prediction can be made, and lets the first batches correct it: an
out-of-memory error halves the batch and runs the same items again (an event in their records), so
neither a wrong guess nor an OOM in the middle of a sweep job ends the job. On a CPU, batching buys
little (the cores are busy at any batch size), so ``auto`` means ``CPU_AUTO``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

CPU_AUTO = 1
CUDA_AUTO_START = 32  # halved on out-of-memory until a batch fits


def batch_size(value, device: str, n_items: int, predict: Callable[[], int] | None = None) -> int:
    """``predict()``: the predicted largest batch on this device (CUDA only)."""
    if value != "auto":
        return max(1, min(int(value), n_items))
    size, why = CPU_AUTO, "the CPU default"
    if device.startswith("cuda"):
        size, why = CUDA_AUTO_START, "no memory prediction"
        try:
            size, why = max(1, predict()), "the predicted largest batch"
        except Exception as e:  # a prediction is a head start, not a requirement: OOM halving corrects
            log.warning("batch_size=auto: no memory prediction (%s); starting at %d", str(e)[:120], size)
    size = max(1, min(size, n_items))
    log.info("batch_size=auto: starting at %d on %s (%s)", size, device, why)
    return size


def predicted_batch(cfg) -> int:
    """The largest batch the cost model predicts to fit this CUDA device's memory."""
    from reno_exp.cost import max_batch, predict_memory

    return max_batch(predict_memory(cfg), torch.cuda.get_device_properties(torch.device(cfg.device)).total_memory)


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
