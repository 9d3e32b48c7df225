"""The optimisation methods on a batch of noises: the objective (rewards and the noise-norm regulariser),
ReNO's Algorithm 1, best-of-N, L-BFGS and zero-order search, and per-item tracking; ``METHODS`` maps each
``optimizer.method`` to the object that runs it (a ``NoiseOptimiser``)."""

from reno_exp.config.optimizer import Method, of
from reno_exp.methods.best_of_n import BestOfN
from reno_exp.methods.lbfgs import LBFGS
from reno_exp.methods.objective import NoiseOptimiser, Objective, norm_regulariser
from reno_exp.methods.reno import ReNO
from reno_exp.methods.zero_order import ZeroOrder

METHODS: dict[Method, NoiseOptimiser] = {m.method: m for m in (ReNO(), BestOfN(), LBFGS(), ZeroOrder())}


def method_of(optimizer) -> NoiseOptimiser:
    """What runs ``optimizer`` (an OptimizerConfig): the method its ``method`` names, and nothing else."""
    return METHODS[of(optimizer)]




def optimise(generator, rewards, cond, prepared, noises, cfg, on_iterate=None):
    """A batch of items optimised by the method ``cfg`` (an OptimizerConfig) names: ``cond`` and ``prepared``
    hold the items' conditioning in batch order, ``noises`` their own N(0, I) streams."""
    objective = Objective(generator, rewards, cond, prepared, cfg.reg_weight)
    return method_of(cfg).optimise(objective, noises, cfg, on_iterate)


__all__ = ["METHODS", "NoiseOptimiser", "Objective", "method_of", "norm_regulariser", "optimise"]
