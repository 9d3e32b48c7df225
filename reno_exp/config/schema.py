"""Structured configs: the schema every composed config is checked against.

Each group option (a YAML file in ``conf/<group>/``) starts from one of these dataclasses through its
defaults list (``/schema/<group>/<name>@_here_``), so OmegaConf rejects unknown keys and wrong types
before anything is built. Components are then built with ``hydra.utils.instantiate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from reno_exp.config import optimizer
from reno_exp.config.optimizer import OptimizerConfig, ZeroOrderConfig
from reno_exp.config.placement import DEVICE, DEVICE_HINT
from reno_exp.config.reward import RewardConfig
from reno_exp.config.rules import needs_random_init, rule
from reno_exp.config.searchpath import register_resolvers


def compile_backends(cfg: DictConfig) -> tuple[str, ...] | None:
    """torch.compile's backends, when the run compiles (importing torch._dynamo takes seconds)."""
    if not cfg.get("compile"):
        return None
    import torch._dynamo

    main = torch._dynamo.list_backends()  # the ones torch documents first, then its debugging ones
    return (*main, *(b for b in torch._dynamo.list_backends(exclude_tags=()) if b not in main))


def fits_the_method(batch_size, cfg: DictConfig) -> Iterator[str]:
    """A batch no larger than the method takes (L-BFGS: one item at a time)."""
    try:
        method = optimizer.of(cfg.optimizer)
    except (ValueError, AttributeError):
        return  # an unknown method is said by its own field
    limit = method.max_batch_size
    if limit and batch_size != "auto" and isinstance(batch_size, int) and batch_size > limit:
        yield (f"optimizer.method={method.value} takes at most {limit} item(s) at once, got "
               f"batch_size={batch_size}: use batch_size={limit} (or auto)")


@dataclass
class LoggerConfig:
    _target_: str = MISSING


@dataclass
class NoLoggerConfig(LoggerConfig):
    _target_: str = "reno_exp.experiment.loggers.NullLogger"


@dataclass
class WandbLoggerConfig(LoggerConfig):
    _target_: str = "reno_exp.experiment.loggers.WandbLogger"
    project: str = field(default="reno_exp", metadata=rule(nonempty=True))
    entity: str | None = None
    mode: str = field(default="online", metadata=rule(choices=("online", "offline", "disabled")))
    group: str | None = None  # None: the sweep directory name in multirun, else unset
    job_type: str | None = None  # None: "<model>/<method>/<reward option>", from the run's config (reno_exp.config.labels)
    tags: list[str] = field(default_factory=list)
    log_images: bool = True


REWARDS = "rewards are chosen with reward=<option> or reward=[<option>,...] (the options: conf/reward/)"


@dataclass
class Config:
    model: Any = MISSING
    # name -> RewardConfig; empty: plain model
    reward: dict[str, Any] = field(default_factory=dict, metadata=rule(schema=RewardConfig, hint=REWARDS))
    # no torch optimiser until the optimizer option sets one whole: a default one here would merge its keys
    # into every option's (SGD's momentum into Adam and L-BFGS)
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(optim=None))
    benchmark: Any = MISSING
    logger: Any = MISSING
    transfer: Any = None  # a multi-step pipeline that also renders the initial and best noise; None: none
    seed: int = field(default=0, metadata=rule(ge=0))  # base seed: item seeds are seed + benchmark.seeds[k]
    # None: cuda when available, else cpu (with one warning)
    device: str | None = field(default=None, metadata=rule(pattern=DEVICE, hint=DEVICE_HINT))
    random_init: bool = False  # real architectures with random weights, offline
    # with random_init: tiny configurations of the same reward/evaluator classes (tests)
    tiny: bool = field(default=False, metadata=rule(relation=needs_random_init))
    save_images: bool = True
    progress: bool = True
    # items optimised together: an integer >= 1, or "auto" (the largest that fits)
    batch_size: Any = field(default=1, metadata=rule(integer=True, ge=1, auto=True, nonnull=True,
                                                     relation=fits_the_method))
    compile: bool = False  # torch.compile the denoiser, the VAE decoder and the reward towers
    # torch.compile's backend; aot_eager: graph capture only (quick checks)
    compile_backend: str = field(default="inductor", metadata=rule(
        nonempty=True, choices_of=compile_backends, hint="torch._dynamo.list_backends(exclude_tags=()) lists them"))


def register() -> None:
    """Put the schemas in Hydra's ConfigStore: ``base_config`` and ``schema/<group>/<name>``."""
    from reno_exp.config import benchmark as benchmarks
    from reno_exp.config import model as generators
    from reno_exp.config import reward as rewards
    from reno_exp.config import transfer

    OmegaConf.register_new_resolver("equal_compute", optimizer.equal_compute, replace=True)
    register_resolvers()
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    groups = {
        "model": generators.SCHEMAS,
        "reward": rewards.SCHEMAS,
        "benchmark": benchmarks.SCHEMAS,
        "optimizer": {"optimizer": OptimizerConfig, "zero_order": ZeroOrderConfig},
        "logger": {"none": NoLoggerConfig, "wandb": WandbLoggerConfig},
        "transfer": transfer.SCHEMAS,
    }
    for group, options in groups.items():
        for name, node in options.items():
            cs.store(group=f"schema/{group}", name=name, node=node)
