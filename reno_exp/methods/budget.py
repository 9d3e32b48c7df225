"""Compute budgets: what an item has spent, in generator evaluations, and the iterates a budget buys.

A forward pass of the generator and the rewards is one evaluation (times the generator's
``evaluations_per_call``). A gradient method also runs backward passes; a forward+backward pass counts as
``optimizer.forward_backward_cost`` forward passes, a number measured on the machine that runs the
experiment (``python -m reno_exp.cost.step``), never assumed. Each method's loop module (config.LOOPS)
says what its iterate k has cost (``spent(cfg, k)``, in generator calls, affine in k: the initial noise,
then the same cost per iterate), so that ``experiment=equal_compute`` can give each method the iterates
that fit in ReNO's budget: ``optimizer.n_iters: ${equal_compute:50}``, solved in closed form and bounded
by ``config.MAX_ITERATES`` (a mistyped cost must not become millions of iterates per item).
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

from omegaconf import DictConfig

from reno_exp.config.errors import UserError

EPS = 1e-9  # a budget met exactly is met, whatever the float rounding of k * cost


def loop_of(optimizer) -> ModuleType:
    """The module that runs an optimiser config: the one its method names (config.LOOPS)."""
    from reno_exp.config.schema import loop_module

    return importlib.import_module(loop_module(optimizer.method))


def gradient_cost(optimizer) -> float:
    """A forward+backward pass in forward passes, or a one-line error saying how to measure it."""
    from reno_exp.config.rules import check_arg, rule_of
    from reno_exp.config.schema import OptimizerConfig

    cost = optimizer.forward_backward_cost
    if cost is None:
        raise UserError("optimizer.forward_backward_cost is not set: measure it on the machine that runs the "
                        "experiment with `python -m reno_exp.cost.step <the run's model and reward overrides>`")
    field = OptimizerConfig.__dataclass_fields__["forward_backward_cost"]
    check_arg("optimizer.forward_backward_cost", cost, **rule_of(field).__dict__)  # its range, wherever it was set
    return float(cost)


def equal_compute(reno_iterates, *, _parent_) -> int | str:
    """Resolver ``${equal_compute:R}`` for ``optimizer.n_iters``: the most iterates of this optimiser whose
    cost fits in what ReNO spends in R iterates (R forward passes, R - 1 of them with a backward pass)."""
    from reno_exp.config.schema import MAX_ITERATES

    if not isinstance(_parent_, DictConfig) or "forward_backward_cost" not in _parent_:
        # resolved where it was typed, not where it applies (Hydra's record of the command line's overrides)
        return f"${{equal_compute:{reno_iterates}}}"
    optimizer = _parent_
    if isinstance(reno_iterates, bool) or not isinstance(reno_iterates, int) or not 1 <= reno_iterates <= MAX_ITERATES:
        raise UserError(f"${{equal_compute:{reno_iterates}}}: the argument is ReNO's iterates, a whole number "
                        f"between 1 and {MAX_ITERATES}")
    budget = 1 + (reno_iterates - 1) * gradient_cost(optimizer)
    spent = loop_of(optimizer).spent
    first, each = spent(optimizer, 0), spent(optimizer, 1) - spent(optimizer, 0)
    n = math.floor((budget - first) / each + EPS) + 1  # iterates 0..n-1: first + (n - 1) * each <= budget
    if n > MAX_ITERATES:
        raise UserError(f"${{equal_compute:{reno_iterates}}} gives {n} iterates per item at "
                        f"optimizer.forward_backward_cost={optimizer.forward_backward_cost:g}, over the bound of "
                        f"{MAX_ITERATES}: is the cost mistyped? (python -m reno_exp.cost.step measures it)")
    return n
