"""Measurements on a GPU: a short run of the app with random weights, its seconds per iterate and peak
memory. Random weights are initialised on the GPU (``hub.random_init_on``): a 12B model in seconds.

Every CUDA call of a measurement goes through one seam, ``Cuda``. ``StandIn`` takes its place where there
is no GPU (``gpu_check --dry``, ``make device-rehearsal``), so that the measurement code itself runs, on
the CPU, before a GPU is lent for 15 minutes."""

from __future__ import annotations

import tempfile
import time
from typing import NamedTuple

import torch
from omegaconf import DictConfig, open_dict

from reno_exp.weights import hub


class Cuda:
    """The GPU, as gpu-check and ``measure`` use it."""

    device = "cuda"

    def available(self) -> bool:
        return torch.cuda.is_available()

    def describe(self) -> str:
        free, total = torch.cuda.mem_get_info()
        return (f"{torch.cuda.get_device_name()}, {total / 2**30:.1f} GiB ({free / 2**30:.1f} free), "
                f"torch {torch.__version__}, CUDA {torch.version.cuda}")

    def name(self) -> str:
        return torch.cuda.get_device_name()

    def total_bytes(self) -> int:
        return torch.cuda.mem_get_info()[1]

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    def reset_peak(self) -> None:
        torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self) -> int | None:
        return torch.cuda.max_memory_allocated()

    def release(self) -> None:
        torch.cuda.empty_cache()


class StandIn(Cuda):
    """The CPU in the GPU's place: nothing to synchronise, no allocator to read (so no measured memory),
    and ``gib`` of memory for the cost model's largest batch."""

    device = "cpu"

    def __init__(self, gib: float, name: str = "CPU stand-in"):
        self.gib, self._name = gib, name

    def available(self) -> bool:
        return True

    def describe(self) -> str:
        return f"{self._name} ({self.gib:g} GiB for the cost model's batch), torch {torch.__version__}"

    def name(self) -> str:
        return self._name

    def total_bytes(self) -> int:
        return int(self.gib * 2**30)

    def synchronize(self) -> None:
        pass

    def reset_peak(self) -> None:
        pass

    def peak_bytes(self) -> int | None:
        return None

    def release(self) -> None:
        pass


class Measurement(NamedTuple):
    seconds: float  # per iterate of the whole batch
    peak: int | None  # bytes allocated at the highest point of the timed run; None: no allocator to read
    warmup: float  # seconds of the untimed first run: kernel selection, compilation
    events: list[str]  # what the run recorded beside its results (an out-of-memory retry at a smaller batch)


def timed_config(cfg: DictConfig, batch: int, n_iters: int) -> DictConfig:
    from reno_exp.config.placement import placed

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.benchmark.seeds = list(range(batch))
        cfg.batch_size = batch
        cfg.optimizer.n_iters = n_iters
        cfg.save_images = False
    return placed(cfg)


def measure(cfg: DictConfig, batch: int, n_iters: int = 3, parts=None, gpu: Cuda | None = None) -> Measurement:
    """Seconds per iterate and peak allocated bytes of ``batch`` items of ``n_iters`` iterates, after an
    untimed warm-up run of the same batch."""
    from reno_exp.assemble.parts import build
    from reno_exp.experiment.run import run
    from reno_exp.store.records import read_records

    gpu = gpu or Cuda()
    cfg = timed_config(cfg, batch, n_iters)
    if parts is None:
        with hub.random_init_on(cfg.device):
            parts = build(cfg, cfg.device)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        run(cfg, d, parts=parts)
    gpu.synchronize()
    warmup = time.perf_counter() - start
    gpu.reset_peak()
    with tempfile.TemporaryDirectory() as d:
        start = time.perf_counter()
        records = run(cfg, d, parts=parts)
        gpu.synchronize()
        seconds = time.perf_counter() - start
        events = sorted({e["event"] for r in read_records(records.path) for e in r.get("events", [])})
    return Measurement(seconds / n_iters, gpu.peak_bytes(), warmup, events)
