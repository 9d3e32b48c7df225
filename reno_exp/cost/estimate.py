"""Memory and FLOPs of one iterate of a composed config, predicted from dry runs at batch 1 and 2.

Every count is linear in the batch size (each item has its own activations and work), so two dry runs
give a fixed part and a per-item part; ``max_batch`` turns that into the largest batch that fits.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from reno_exp.cost.accounting import count
from reno_exp.cost.dryrun import DryRun

GiB = 2**30
# of the GPU's memory, kept free for what the dry run does not see: the CUDA context and kernel
# workspaces, the caching allocator's fragmentation, the optimiser's state and the kept best iterate
HEADROOM = 0.10


@dataclass(frozen=True)
class Linear:
    fixed: int
    per_item: int

    def at(self, batch: int) -> int:
        return self.fixed + self.per_item * batch

    @classmethod
    def fit(cls, at1: int, at2: int) -> Linear:
        return cls(at1 - (at2 - at1), at2 - at1)


@dataclass(frozen=True)
class PartMemory:
    params: int  # bytes of weights and buffers on the device
    kept: Linear  # bytes saved for the backward pass
    transient: Linear  # the largest rise of live bytes above what is kept, while this part runs


@dataclass(frozen=True)
class MemoryPrediction:
    parts: dict[str, PartMemory]  # denoiser, vae, text encoders, each reward, other (glue)
    peak: Linear  # live activations and gradients at the highest point of forward + backward
    checkpointing: bool | None  # gradient checkpointing of every part that has it; None: as configured

    @property
    def params(self) -> int:
        return sum(p.params for p in self.parts.values())

    def total(self, batch: int) -> int:
        """Predicted peak device memory of an iterate of ``batch`` items (what max_memory_allocated reads)."""
        return self.params + self.peak.at(batch)


@dataclass(frozen=True)
class Estimate:
    memory: MemoryPrediction
    flops: dict[str, int]  # FLOPs per item per iterate (forward + backward) by part


def max_batch(prediction: MemoryPrediction, gpu_bytes: int, headroom: float = HEADROOM) -> int:
    """The largest batch whose predicted peak fits ``gpu_bytes`` less ``headroom``; 0 if not even one."""
    budget = gpu_bytes * (1 - headroom) - prediction.params - prediction.peak.fixed
    if budget < prediction.peak.per_item:
        return 0
    return int(budget // max(prediction.peak.per_item, 1))


def params_bytes(modules) -> int:
    seen, total = set(), 0
    for m in modules:
        for t in [*m.parameters(), *m.buffers()]:
            key = t.untyped_storage()._cdata
            if key not in seen:
                seen.add(key)
                total += t.untyped_storage().nbytes()
    return total


def estimate_dry(dry: DryRun, checkpointing: bool | None = None) -> Estimate:
    one, two = count(dry, 1), count(dry, 2)
    modules = dry.parts()
    names = [*modules, *(p for p in {**one.kept, **one.transient} if p not in modules)]
    parts = {p: PartMemory(params_bytes(modules.get(p, [])), Linear.fit(one.kept.get(p, 0), two.kept.get(p, 0)),
                           Linear.fit(one.transient.get(p, 0), two.transient.get(p, 0))) for p in names}
    memory = MemoryPrediction(parts, Linear.fit(one.peak, two.peak), checkpointing)
    return Estimate(memory, {p: n for p, n in one.flops.items() if n})


def estimate(cfg: DictConfig, checkpointing: bool | None = None) -> Estimate:
    """Memory and FLOPs of ``cfg`` on CUDA, from its real architectures built on the meta device."""
    return estimate_dry(DryRun.build(cfg, checkpointing), checkpointing)


def predict_memory(cfg: DictConfig, checkpointing: bool | None = None) -> MemoryPrediction:
    """Predicted memory of one iterate: parameters, bytes kept for backward and the largest transient by
    part (denoiser, vae, text encoders, each reward), fixed and per item. ``checkpointing``: turn every
    gradient-checkpointing switch on (True) or off (False); None keeps the config's."""
    return estimate(cfg, checkpointing).memory


def flops_per_item(cfg: DictConfig) -> dict[str, int]:
    """FLOPs of one iterate (forward and backward to the noise) per item, by part: the generator's
    denoiser and vae, each reward, other (glue). Text encoding is once per prompt, not per iterate."""
    return estimate(cfg).flops
