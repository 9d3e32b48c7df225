"""L-BFGS on the noise (the authors' ``--optim lbfgs``): torch.optim.LBFGS with max_iter 10, history 3 and a
strong-Wolfe line search, on the loss of Algorithm 1 (the rewards' loss plus K).

Each of the ``n_iters`` steps is one ``optimizer.step(closure)``: torch evaluates the closure at the
current noise, then up to ``max_iter`` quasi-Newton iterations whose line searches evaluate it again (at
most ``max_eval`` = 12 evaluations with the defaults, fewer once the gradient or the change is below
torch's tolerances). Every evaluation is a generator forward and backward pass and an iterate of the
record: its image may be the best one (as each iteration's image is in the authors' trainer), and the
record's ``history`` has one entry per evaluation, with the generator evaluations and backward passes
spent so far. Steps are not counted in advance: ``spent`` has no schedule, the records count.

No gradient clipping: the line search sets the step length and needs the loss's own gradient (in the
authors' trainer, ``clip_grad_norm_`` runs before ``step()``, whose closure recomputes the gradient, so
L-BFGS would not see a clipped one there either; their ``step()`` also lacks the closure L-BFGS needs).

One item at a time (``Method.lbfgs.max_batch_size``, checked with the config): a line search on a batch's summed loss would choose one step
length for all items, so an item's result would depend on its batch. A non-finite loss or gradient ends
the item's optimisation (an event in its record): the line search cannot step past it.
"""

from __future__ import annotations

import math

import torch
from hydra.utils import instantiate

from reno_exp.config.errors import UserError
from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.methods.objective import Noises, Objective, OnIterate
from reno_exp.methods.tracking import Result, Track


class NonFinite(Exception):
    pass


class LBFGS:
    method = Method.lbfgs

    def optimise(self, objective: Objective, noises: Noises, cfg: OptimizerConfig,
                 on_iterate: OnIterate | None = None) -> list[Result]:
        if len(noises) > 1:
            raise UserError(f"optimizer=lbfgs optimises one item at a time, got a batch of {len(noises)}: "
                            "use batch_size=1")
        z = noises[0]().requires_grad_()
        opt = instantiate(cfg.optim)(params=[z])
        track = Track.of(cfg)
        cost = objective.evaluations_per_call
        last: dict[str, float] = {}

        def closure() -> torch.Tensor:
            nonlocal last
            opt.zero_grad(set_to_none=True)
            out, loss, (step,) = objective([z])
            track.observe(len(track.history), step, objective.names, z, out, 0, cost)
            last = step
            if not math.isfinite(step["loss"]):
                track.event(len(track.history) - 1, "non-finite loss; L-BFGS stopped", loss=step["loss"])
                raise NonFinite
            loss.sum().backward()
            track.backwards += cost
            step["grad_norm"] = torch.linalg.vector_norm(z.grad).item()
            if not math.isfinite(step["grad_norm"]):
                track.event(len(track.history) - 1, "non-finite gradient; L-BFGS stopped")
                raise NonFinite
            return loss.sum()

        for it in range(cfg.n_iters):
            try:
                opt.step(closure)
            except NonFinite:
                break
            finally:
                if on_iterate is not None:
                    on_iterate(it, [last])
        return [track.result()]
