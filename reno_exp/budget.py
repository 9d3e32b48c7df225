"""Compute budgets: what an item has spent, in generator evaluations, and the iterates a budget buys.

A forward pass of the generator and the rewards is one evaluation (times the generator's
``evaluations_per_call``). A gradient method also runs backward passes; a forward+backward pass counts as
``optimizer.forward_backward_cost`` forward passes, a number measured on the machine that runs the
experiment (``python -m reno_exp.cost.step``), never assumed. Each optimiser's loop module says what its
iterate k has cost (``spent(cfg, k)``, in generator calls), so that ``experiment=equal_compute`` can give
each method the iterates that fit in ReNO's budget: ``optimizer.n_iters: ${equal_compute:50}``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from reno_exp.errors import UserError

EPS = 1e-9  # a budget met exactly is met, whatever the float rounding of k * cost


def loop_of(optimizer) -> ModuleType:
    """The module that runs an optimiser config (its ``loop`` key: reno_exp.reno, reno_exp.lbfgs, ...)."""
    try:
        return importlib.import_module(optimizer.loop)
    except ImportError as e:
        raise UserError(f"optimizer.loop={optimizer.loop!r} is not a module ({e})") from None


def gradient_cost(optimizer) -> float:
    """A forward+backward pass in forward passes, or a one-line error saying how to measure it."""
    cost = optimizer.forward_backward_cost
    if cost is None:
        raise UserError("optimizer.forward_backward_cost is not set: measure it on the machine that runs the "
                        "experiment with `python -m reno_exp.cost.step <the run's model and reward overrides>`")
    if cost < 1:
        raise UserError(f"optimizer.forward_backward_cost must be >= 1 (a forward+backward pass includes the "
                        f"forward), got {cost}")
    return float(cost)


def equal_compute(reno_iterates, *, _parent_) -> int:
    """Resolver ``${equal_compute:R}`` for ``optimizer.n_iters``: the most iterates of this optimiser whose
    cost fits in what ReNO spends in R iterates (R forward passes, R - 1 of them with a backward pass)."""
    optimizer = _parent_
    budget = 1 + (int(reno_iterates) - 1) * gradient_cost(optimizer)
    spent = loop_of(optimizer).spent
    n = 1
    while spent(optimizer, n) <= budget + EPS:
        n += 1
    return n
