"""A config's parts, built: what a run computes with, decided once (device, dtypes), then the generator,
the reward set and the transfer model, instantiated from the config (``_target_``) and compiled on request.

The run, the cost model's meta-device dry run, ``cost.step`` and ``bench`` all build through here, so that
what they measure is what a run computes with.
"""

from __future__ import annotations

import logging

from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

from reno_exp.assemble.compiling import compile_parts
from reno_exp.generators.base import OneStepGenerator
from reno_exp.rewards.base import RewardSet

log = logging.getLogger(__name__)
HALF = ("float16", "bfloat16")


def warn_slow_device(cfg: DictConfig) -> None:
    """What makes a run on this device far slower than it needs to be, said once before the work."""
    if cfg.device != "cpu":
        return
    if not get_class(cfg.model._target_).fine_on_a_cpu:
        log.warning("no CUDA device: running on the CPU (slow for real models; fine for model=tiny)")
    half = [f"{key}={node.dtype}" for key, node in [("model.dtype", cfg.model), ("transfer.dtype", cfg.get("transfer")),
                                                     *((f"reward.{n}.dtype", r) for n, r in (cfg.reward or {}).items())]
            if node is not None and node.get("dtype") in HALF]
    if half:
        log.warning("%s on the CPU: half precision runs 50-100x slower than float32 there; leave the dtype at "
                    "auto (float32 on a CPU) unless you mean it", ", ".join(half))


def build(cfg: DictConfig, device: str) -> tuple[OneStepGenerator, RewardSet]:
    """The generator and the reward set of a placed config."""
    generator = instantiate(cfg.model, random_init=cfg.random_init, device=device)
    rewards = RewardSet.from_config(cfg.reward, random_init=cfg.random_init, tiny=cfg.tiny, device=device)
    if cfg.compile:
        names = compile_parts(generator, rewards, cfg.compile_backend)
        log.info("compiling %s with %s (the first iterate is slower)", ", ".join(names), cfg.compile_backend)
    return generator, rewards


def build_transfer(cfg: DictConfig, generator: OneStepGenerator):
    """The multi-step model that also renders each item's initial and best noise (``transfer=``), or None."""
    if not cfg.get("transfer"):
        return None
    transfer = instantiate(cfg.transfer, random_init=cfg.random_init, device=cfg.device, generator=generator)
    transfer.check_noise_shape(generator.latent_shape)  # one line, before any item
    return transfer
