"""Structured configs: the schema every composed config is checked against.

Each group option (a YAML file in ``conf/<group>/``) starts from one of these dataclasses through its
defaults list (``/schema/<group>/<name>@_here_``), so OmegaConf rejects unknown keys and wrong types
before anything is built. Components are then built with ``hydra.utils.instantiate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from reno_exp.config.reward import RewardConfig
from reno_exp.config.rules import DEVICE, DEVICE_HINT, Rule, rule


class Method(str, Enum):
    reno = "reno"  # gradient ascent on the noise (Algorithm 1)
    best_of_n = "best_of_n"  # fresh noise each iteration, no gradient: the equal-compute baseline
    lbfgs = "lbfgs"  # torch's L-BFGS on the noise (the authors' --optim lbfgs): several evaluations a step
    zero_order = "zero_order"  # Ma et al. 2025: the best of N neighbours of a pivot noise, no gradient


# The module that runs each method (its optimise() on each batch; its spent() says what an iterate costs,
# its MAX_BATCH_SIZE caps batch_size): the method is the one setting, the loop follows from it
LOOPS = {Method.reno: "reno_exp.methods.reno", Method.best_of_n: "reno_exp.methods.reno", Method.lbfgs: "reno_exp.methods.lbfgs",
         Method.zero_order: "reno_exp.methods.zero_order"}
GRADIENT = (Method.reno, Method.lbfgs)  # the methods that step a torch optimiser (optimizer.optim)
LBFGS = "torch.optim.LBFGS"  # its step() takes a closure: only the lbfgs loop gives it one
COST_HINT = "it is measured, not chosen: python -m reno_exp.cost.step <the run's model and reward overrides>"
MAX_ITERATES = 10_000  # per item: 200 times the paper's 50; more is a typo (or a budget from a mistyped cost)


def loop_module(method) -> str:
    """The module that runs ``method``."""
    return LOOPS[Method(method.value if isinstance(method, Enum) else method)]


def method_fits(method, optimizer: DictConfig) -> Iterator[str]:
    """What a method needs from the rest of ``optimizer``: a method set over another option's settings
    would run another algorithm than its name says, or fail after the launch is recorded."""
    method = Method(method.value if isinstance(method, Enum) else method)
    optim = optimizer.get("optim")
    target = optim.get("_target_") if isinstance(optim, DictConfig) else None
    searching = issubclass(OmegaConf.get_type(optimizer) or object, ZeroOrderConfig)
    use = f"choose the method with optimizer={method.value}"
    if method == Method.zero_order and not searching:
        yield f"optimizer.method=zero_order needs the search's settings (candidates, similarity): {use}"
    elif searching and method != Method.zero_order:
        yield f"optimizer=zero_order runs zero-order search, not optimizer.method={method.value}: {use}"
    elif method in GRADIENT and optim is None:
        yield f"optimizer.method={method.value} steps a torch optimiser, and optimizer.optim is null: {use}"
    elif method not in GRADIENT and optim is not None:
        yield f"optimizer.method={method.value} uses no gradient, but optimizer.optim is set ({target}): {use}"
    elif target == LBFGS and method != Method.lbfgs:
        yield (f"optimizer.optim._target_={LBFGS} runs only as optimizer.method=lbfgs (its step needs a "
               "closure): choose it with optimizer=lbfgs")
    elif method == Method.lbfgs and target != LBFGS:
        yield f"optimizer.method=lbfgs runs {LBFGS}, but optimizer.optim is {target}: {use}"


def loop_follows(loop, optimizer: DictConfig) -> Iterator[str]:
    method = optimizer.get("method")
    if method is None or any(method_fits(method, optimizer)):
        return  # the method over another option's settings: said once, by method_fits
    if loop != loop_module(method):
        yield (f"optimizer.loop={loop}: the loop follows from optimizer.method ({Method(method).value} runs "
               f"{loop_module(method)}); choose the method (optimizer=<option>), not its loop")


def compile_backends(cfg: DictConfig) -> tuple[str, ...] | None:
    """torch.compile's backends, when the run compiles (importing torch._dynamo takes seconds)."""
    if not cfg.get("compile"):
        return None
    import torch._dynamo

    main = torch._dynamo.list_backends()  # the ones torch documents first, then its debugging ones
    return (*main, *(b for b in torch._dynamo.list_backends(exclude_tags=()) if b not in main))


# torch.optim arguments, checked when the optimiser config has them
OPTIM_KEYS = {
    "lr": Rule(gt=0, finite=True),
    "momentum": Rule(ge=0, lt=1),
    "dampening": Rule(ge=0, le=1),
    "weight_decay": Rule(ge=0, finite=True),
    "eps": Rule(gt=0, finite=True),
    "betas": Rule(each=Rule(ge=0, lt=1)),
}


@dataclass
class OptimizerConfig:
    method: Method = field(default=Method.reno, metadata=rule(relation=method_fits))
    # the module that runs the method, recorded with it: LOOPS[method] (another value is refused; the run
    # imports LOOPS[method] itself)
    loop: str = field(default=LOOPS[Method.reno], metadata=rule(relation=loop_follows))
    # iterates, the initial noise included: n_iters - 1 optimiser steps
    n_iters: int = field(default=50, metadata=rule(ge=1, le=MAX_ITERATES))
    grad_clip: float = field(default=0.1, metadata=rule(gt=0))  # global norm of the noise gradient
    reg_weight: float = field(default=0.01, metadata=rule(ge=0, finite=True))  # weight of the chi-norm regulariser K(z); 0 turns it off
    # the torch optimiser, built with instantiate(optim)(params=[z])
    optim: Any = field(
        default_factory=lambda: {
            "_target_": "torch.optim.SGD",
            "_partial_": True,
            "lr": 5.0,
            "momentum": 0.9,
            "nesterov": True,
        },
        metadata=rule(keys=OPTIM_KEYS, target_args=True),
    )
    save_every: int = field(default=0, metadata=rule(ge=0))  # also save the image of every k-th iterate (0: only initial and best)
    # one forward+backward pass (generator and rewards) in forward passes, measured on the machine that runs
    # the sweep (python -m reno_exp.cost.step): what a gradient step counts in equal-compute budgets; null: unmeasured
    # (about 2-4: a backward pass costs about two forward passes; more than 10 is a typo)
    forward_backward_cost: float | None = field(default=None, metadata=rule(ge=1, le=10, finite=True, hint=COST_HINT))
    # also save the best image within each of these budgets (generator evaluations), for evaluator scores
    # by compute (experiment=equal_compute)
    save_at_evaluations: list[int] = field(default_factory=list, metadata=rule(each=Rule(ge=1), unique=True))


@dataclass
class ZeroOrderConfig(OptimizerConfig):
    """Zero-order search (Ma et al. 2025): each iterate scores ``candidates`` neighbours of the pivot noise,
    each on the pivot's sphere at cosine ``similarity`` to it, and the best becomes the pivot if it beats it.
    Defaults: the search as Ma et al. reviewed it in sayakpaul/tt-scale-flux (4 neighbours, threshold 0.95)."""

    method: Method = field(default=Method.zero_order, metadata=rule(relation=method_fits))
    loop: str = field(default=LOOPS[Method.zero_order], metadata=rule(relation=loop_follows))
    optim: Any = None  # no gradient, no torch optimiser
    candidates: int = field(default=4, metadata=rule(ge=1))  # N: neighbours scored per iterate (N generator evaluations)
    similarity: float = field(default=0.95, metadata=rule(gt=0, lt=1))  # cosine between a neighbour and its pivot: the neighbourhood's radius


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
    tiny: bool = False  # with random_init: tiny configurations of the same reward/evaluator classes (tests)
    save_images: bool = True
    progress: bool = True
    # items optimised together: an integer >= 1, or "auto" (the largest that fits)
    batch_size: Any = field(default=1, metadata=rule(integer=True, ge=1, auto=True, nonnull=True))
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
    from reno_exp.methods import budget

    OmegaConf.register_new_resolver("equal_compute", budget.equal_compute, replace=True)
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
