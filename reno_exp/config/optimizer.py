"""The optimisation methods as a config declares them: which method runs (``optimizer.method``, the one
setting: the code that runs it is looked up by it, reno_exp.methods), what it needs from the rest of
``optimizer``, how many items one call may take, and what its iterates cost in generator evaluations.

Costs are facts of the config, so that the composition can give each method the iterates that fit a
budget (``optimizer.n_iters: ${equal_compute:50}``, the resolver here) before anything is imported to
run it. A forward pass of the generator and the rewards is one evaluation; a gradient method also runs
backward passes, and a forward+backward pass counts as ``optimizer.forward_backward_cost`` forward
passes, measured on the machine that runs the experiment (``python -m reno_exp.cost.step``), never
assumed. Each cost is affine in the iterate (the initial noise, then the same cost per iterate), so a
budget is solved in closed form and bounded by ``MAX_ITERATES``: a mistyped cost must not become millions
of iterates per item.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reno_exp.config.errors import UserError
from reno_exp.config.rules import Rule, check_arg, rule, rule_of


class Method(str, Enum):
    reno = "reno"  # gradient ascent on the noise (Algorithm 1)
    best_of_n = "best_of_n"  # fresh noise each iteration, no gradient: the equal-compute baseline
    lbfgs = "lbfgs"  # torch's L-BFGS on the noise (the authors' --optim lbfgs): several evaluations a step
    zero_order = "zero_order"  # Ma et al. 2025: the best of N neighbours of a pivot noise, no gradient

    @property
    def gradient(self) -> bool:
        """Whether it steps a torch optimiser (``optimizer.optim``)."""
        return self in (Method.reno, Method.lbfgs)

    @property
    def max_batch_size(self) -> int | None:
        """Items one call may take: L-BFGS's line search on a batch's summed loss would choose one step
        length for all items, so an item's result would depend on its batch (None: any number)."""
        return 1 if self is Method.lbfgs else None

    def iterate_cost(self, optimizer) -> tuple[float, float]:
        """(first, each): iterate k has cost ``first + k * each`` generator evaluations."""
        if self is Method.reno:
            return 1.0, gradient_cost(optimizer)  # a forward pass, then a forward+backward pass per step
        if self is Method.zero_order:
            return 1.0, float(optimizer.candidates)  # the initial noise, then N neighbours per iterate
        if self is Method.lbfgs:
            raise UserError("optimizer=lbfgs spends a varying number of evaluations per step (its line search "
                            "decides): it has no equal-compute schedule; its records count the evaluations")
        return 1.0, 1.0  # best-of-N: a fresh noise per iterate


def of(optimizer) -> Method:
    method = optimizer.method
    return Method(method.value if isinstance(method, Enum) else method)


def spent(optimizer, k: int) -> float:
    """Generator evaluations an item has cost once its iterate k exists."""
    first, each = of(optimizer).iterate_cost(optimizer)
    return first + k * each


LBFGS = "torch.optim.LBFGS"  # its step() takes a closure: only the lbfgs method gives it one
COST_HINT = "it is measured, not chosen: python -m reno_exp.cost.step <the run's model and reward overrides>"
MAX_ITERATES = 10_000  # per item: 200 times the paper's 50; more is a typo (or a budget from a mistyped cost)
EPS = 1e-9  # a budget met exactly is met, whatever the float rounding of k * cost


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
    elif method.gradient and optim is None:
        yield f"optimizer.method={method.value} steps a torch optimiser, and optimizer.optim is null: {use}"
    elif not method.gradient and optim is not None:
        yield f"optimizer.method={method.value} uses no gradient, but optimizer.optim is set ({target}): {use}"
    elif target == LBFGS and method != Method.lbfgs:
        yield (f"optimizer.optim._target_={LBFGS} runs only as optimizer.method=lbfgs (its step needs a "
               "closure): choose it with optimizer=lbfgs")
    elif method == Method.lbfgs and target != LBFGS:
        yield f"optimizer.method=lbfgs runs {LBFGS}, but optimizer.optim is {target}: {use}"


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
    optim: Any = None  # no gradient, no torch optimiser
    candidates: int = field(default=4, metadata=rule(ge=1))  # N: neighbours scored per iterate (N generator evaluations)
    similarity: float = field(default=0.95, metadata=rule(gt=0, lt=1))  # cosine between a neighbour and its pivot: the neighbourhood's radius




def gradient_cost(optimizer) -> float:
    """A forward+backward pass in forward passes, or a one-line error saying how to measure it."""
    cost = optimizer.forward_backward_cost
    if cost is None:
        raise UserError("optimizer.forward_backward_cost is not set: measure it on the machine that runs the "
                        "experiment with `python -m reno_exp.cost.step <the run's model and reward overrides>`")
    field_ = OptimizerConfig.__dataclass_fields__["forward_backward_cost"]
    check_arg("optimizer.forward_backward_cost", cost, **rule_of(field_).__dict__)  # its range, wherever it was set
    return float(cost)


def equal_compute(reno_iterates, *, _parent_) -> int | str:
    """Resolver ``${equal_compute:R}`` for ``optimizer.n_iters``: the most iterates of this optimiser whose
    cost fits in what ReNO spends in R iterates (R forward passes, R - 1 of them with a backward pass)."""
    if not isinstance(_parent_, DictConfig) or "forward_backward_cost" not in _parent_:
        # resolved where it was typed, not where it applies (Hydra's record of the command line's overrides)
        return f"${{equal_compute:{reno_iterates}}}"
    optimizer = _parent_
    if isinstance(reno_iterates, bool) or not isinstance(reno_iterates, int) or not 1 <= reno_iterates <= MAX_ITERATES:
        raise UserError(f"${{equal_compute:{reno_iterates}}}: the argument is ReNO's iterates, a whole number "
                        f"between 1 and {MAX_ITERATES}")
    budget = 1 + (reno_iterates - 1) * gradient_cost(optimizer)
    first, each = of(optimizer).iterate_cost(optimizer)
    n = math.floor((budget - first) / each + EPS) + 1  # iterates 0..n-1: first + (n - 1) * each <= budget
    if n > MAX_ITERATES:
        raise UserError(f"${{equal_compute:{reno_iterates}}} gives {n} iterates per item at "
                        f"optimizer.forward_backward_cost={optimizer.forward_backward_cost:g}, over the bound of "
                        f"{MAX_ITERATES}: is the cost mistyped? (python -m reno_exp.cost.step measures it)")
    return n
