"""Algorithm 1: the regulariser, the optimiser schedule, best-iterate choice and survival of NaNs."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from reno_exp import methods
from reno_exp.config.optimizer import Method, OptimizerConfig
from reno_exp.generators.base import Generation, OneStepGenerator
from reno_exp.rewards.base import Reward, RewardSet


class SigmoidGenerator(OneStepGenerator):
    """An analytic 'model': image = sigmoid(noise), so the optimum of a reward on the image is known."""

    latent_shape = (3, 4, 4)

    def encode_prompt(self, prompt):
        return None

    def forward(self, noise, cond):
        return Generation(image=torch.sigmoid(noise), latent=noise)


class Quadratic(Reward):
    def __init__(self, target: torch.Tensor):
        super().__init__()
        self.target = target

    def forward(self, image, prepared):
        return -((image - self.target) ** 2).sum(dim=(1, 2, 3))


class Scripted(Reward):
    """Scores read off a list, one per call: exercises the best-iterate logic independently of any model."""

    def __init__(self, values):
        super().__init__()
        self.values, self.calls = list(values), 0

    def forward(self, image, prepared):
        v = self.values[self.calls]
        self.calls += 1
        return image.mean(dim=(1, 2, 3)) * 0 + v  # keeps the graph to the noise


def optimise_one(generator, rewards, cond, prepared, noise, cfg):
    """Algorithm 1 for one item (a batch of one)."""
    return methods.optimise(generator, rewards, cond, prepared, [noise], cfg)[0]


def cfg(**kw) -> OptimizerConfig:
    base = OmegaConf.structured(OptimizerConfig)
    return OmegaConf.merge(base, kw)


def stream(seed=0, shape=(3, 4, 4)):
    g = torch.Generator().manual_seed(seed)
    return lambda: torch.randn((1, *shape), generator=g)


def test_regulariser_matches_closed_form_value_and_gradient():
    z = torch.randn(1, 4, 8, 8, dtype=torch.float64).requires_grad_()
    d, n = z.numel(), z.detach().norm().item()
    k = methods.norm_regulariser(z)
    assert k.dtype == torch.float32
    assert k.item() == pytest.approx(0.5 * n**2 - (d - 1) * math.log(n), rel=1e-5)
    k.backward()
    # dK/dz = z - (d - 1) z / ||z||^2
    expected = z.detach() * (1 - (d - 1) / n**2)
    torch.testing.assert_close(z.grad, expected, rtol=1e-4, atol=1e-6)


def test_regulariser_is_finite_for_half_precision_noise():
    # the authors' reported failure: in float16, ||z||^2 of a 4x128x128 noise overflows and K = -inf
    z = torch.randn(1, 4, 128, 128).half() * 3
    assert torch.isfinite(methods.norm_regulariser(z))


def test_regulariser_alone_drives_the_norm_to_its_minimum_sqrt_d_minus_1():
    gen = SigmoidGenerator()
    start = lambda: torch.full((1, 3, 4, 4), 2.0)  # noqa: E731 - ||z|| = 2 sqrt(48) = 13.9
    out = optimise_one(gen, RewardSet({}, {}), None, {}, start, cfg(n_iters=300, reg_weight=1.0,
                        optim={"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.5, "momentum": 0.9,
                               "nesterov": True}))
    # with no reward the best iterate is the first (all totals 0): read the norm off the last step's record
    final_reg = out.history[-1]["reg"]
    d = 48
    optimum = 0.5 * (d - 1) - (d - 1) * math.log(math.sqrt(d - 1))
    assert final_reg == pytest.approx(optimum, abs=1e-3)


def test_loop_reaches_the_optimum_of_an_analytic_reward():
    target = torch.rand(1, 3, 4, 4) * 0.6 + 0.2
    rewards = RewardSet({"q": Quadratic(target)}, {"q": 1.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=300, reg_weight=0.0))
    assert out.initial.total < -0.1
    assert out.best.total > -1e-4
    torch.testing.assert_close(out.best.image, target, atol=5e-3, rtol=0)


def test_schedule_is_n_iters_iterates_with_clipped_nesterov_steps():
    # one step of SGD(lr, momentum, nesterov) from zero velocity moves z by lr * (1 + momentum) * clipped grad
    target = torch.zeros(1, 3, 4, 4)
    rewards = RewardSet({"q": Quadratic(target)}, {"q": 1.0})
    z0 = stream()()
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), lambda: z0.clone(), cfg(n_iters=2, reg_weight=0.0))
    assert len(out.history) == 2
    assert out.history[0]["grad_norm"] > 0.1  # so clipping is active
    moved = (out.best.noise - z0).norm().item() if out.best.iteration == 1 else None
    assert moved == pytest.approx(5.0 * 1.9 * 0.1, rel=1e-4)


def test_best_iterate_is_the_highest_total_not_the_last_and_ties_keep_the_first():
    rewards = RewardSet({"s": Scripted([1.0, 3.0, 2.0, 3.0, 0.5])}, {"s": 2.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=5))
    assert out.best.iteration == 1
    assert out.best.total == pytest.approx(6.0)
    assert out.initial.iteration == 0 and out.initial.total == pytest.approx(2.0)
    assert [h["total"] for h in out.history] == pytest.approx([2.0, 6.0, 4.0, 6.0, 1.0])


def test_best_iterate_ignores_the_regulariser():
    # the regulariser is large and differs between iterates; the choice must follow the reward total only
    rewards = RewardSet({"s": Scripted([1.0, 0.0])}, {"s": 1.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=2, reg_weight=100.0))
    assert out.best.iteration == 0


def test_non_finite_reward_skips_the_step_records_it_and_goes_on():
    rewards = RewardSet({"s": Scripted([1.0, float("nan"), 2.0, float("inf") * 0, 0.5])}, {"s": 1.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=5))
    assert [e["iteration"] for e in out.events] == [1, 3]
    assert all(e["event"] == "non-finite loss" for e in out.events)
    assert out.best.iteration == 2 and out.best.total == 2.0
    assert len(out.history) == 5


def test_all_non_finite_gives_initial_as_best_with_an_event():
    rewards = RewardSet({"s": Scripted([float("nan")] * 3)}, {"s": 1.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=3))
    assert out.best is out.initial
    assert out.events[-1]["event"].startswith("no finite reward total")


def test_best_of_n_draws_fresh_noise_each_iterate_without_gradients():
    target = torch.full((1, 3, 4, 4), 0.5)
    rewards = RewardSet({"q": Quadratic(target)}, {"q": 1.0})
    draws, s = [], stream(7)

    def noise():
        draws.append(s())
        return draws[-1].clone()

    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), noise, cfg(method=Method.best_of_n, n_iters=6))
    assert len(draws) == 6
    assert "grad_norm" not in out.history[1]
    best = max(range(6), key=lambda i: out.history[i]["total"])
    assert out.best.iteration == best
    torch.testing.assert_close(out.best.noise, draws[best])
    torch.testing.assert_close(out.initial.noise, draws[0])


def test_save_every_keeps_those_iterates():
    rewards = RewardSet({"q": Quadratic(torch.zeros(1, 3, 4, 4))}, {"q": 1.0})
    out = optimise_one(SigmoidGenerator(), rewards, None, rewards.prepare("p"), stream(), cfg(n_iters=7, save_every=3))
    assert [s.iteration for s in out.saved] == [0, 3, 6]
