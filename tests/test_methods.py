"""The other optimisers: L-BFGS (the authors' option) and zero-order search (Ma et al. 2025), their
evaluation counts, and the loop each optimizer option names."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from test_batching import assert_same_results, by_item
from test_reno import Quadratic, SigmoidGenerator, stream

from reno_exp import methods
from reno_exp.config import optimizer
from reno_exp.config.errors import UserError
from reno_exp.config.optimizer import OptimizerConfig, ZeroOrderConfig
from reno_exp.config.rules import validate
from reno_exp.experiment.run import run
from reno_exp.methods import zero_order
from reno_exp.rewards.base import Reward, RewardSet

CONF = __import__("reno_exp.config.compose").config.compose.CONF / "optimizer"


def option(name: str, schema=OptimizerConfig, **kw):
    """conf/optimizer/<name>.yaml on its schema, as the app composes it, with ``kw`` on top."""
    node = OmegaConf.load(CONF / f"{name}.yaml")
    node.pop("defaults", None)
    return OmegaConf.merge(OmegaConf.structured(schema(optim=None)), node, kw)


class Counting(SigmoidGenerator):
    """The analytic model, counting its calls (and the noises it saw); ``evaluations_per_call`` as a
    k-step model's."""

    def __init__(self, evaluations_per_call: int = 1):
        super().__init__()
        self.evaluations_per_call = evaluations_per_call
        self.calls, self.seen = 0, []

    def forward(self, noise, cond):
        self.calls += 1
        self.seen.append(noise.detach().clone())
        return super().forward(noise, cond)


class Logged(Quadratic):
    """The quadratic reward, logging every score it returns."""

    def __init__(self, target):
        super().__init__(target)
        self.log = []

    def forward(self, image, prepared):
        s = super().forward(image, prepared)
        self.log += s.detach().tolist()
        return s


def quadratic(target=None):
    target = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(3)) * 0.6 + 0.2 if target is None else target
    reward = Logged(target)
    return RewardSet({"q": reward}, {"q": 1.0}), reward, target


# ---------------------------------------------------------------------------------------------- L-BFGS

def test_the_options_name_their_methods_and_lbfgs_has_the_authors_settings():
    cfg = option("lbfgs")
    assert type(methods.method_of(cfg)).__name__ == "LBFGS" and cfg.method.value == "lbfgs"
    assert dict(cfg.optim) == {"_target_": "torch.optim.LBFGS", "_partial_": True, "lr": 5.0, "max_iter": 10,
                               "history_size": 3, "line_search_fn": "strong_wolfe"}
    assert [type(methods.method_of(option(name))).__name__ for name in ("reno", "adam", "best_of_n")] == [
        "ReNO", "ReNO", "BestOfN"]
    assert type(methods.method_of(option("zero_order", ZeroOrderConfig))).__name__ == "ZeroOrder"


def test_adam_and_lbfgs_get_no_sgd_keys_from_the_default(compose):
    # a default optimiser in the schema used to merge momentum/nesterov into every option's
    assert set(compose(["optimizer=adam"]).optimizer.optim) == {"_target_", "_partial_", "lr", "eps"}
    assert "momentum" not in compose(["optimizer=lbfgs"]).optimizer.optim


@pytest.mark.parametrize("per_call", [1, 2])
def test_lbfgs_reaches_the_optimum_and_counts_every_evaluation(per_call):
    rewards, reward, target = quadratic()
    gen = Counting(per_call)
    (out,) = methods.optimise(gen, rewards, None, rewards.prepare("p"), [stream()], option("lbfgs", n_iters=5, reg_weight=0.0))
    assert out.initial.total < -1.0
    assert out.best.total > -1e-8
    torch.testing.assert_close(out.best.image, target, atol=1e-4, rtol=0)
    # every generator call is an evaluation and an iterate of the record, with what it had cost so far
    assert gen.calls > 5  # line searches: more than one evaluation per step
    assert out.evaluations == per_call * gen.calls
    assert len(out.history) == gen.calls
    assert [h["evaluations"] for h in out.history] == [per_call * (k + 1) for k in range(gen.calls)]
    assert [h["backwards"] for h in out.history] == [per_call * k for k in range(gen.calls)]
    assert [h["total"] for h in out.history] == pytest.approx(reward.log)
    # the best image is the best of all evaluations, at the noise that was evaluated there
    best = max(range(gen.calls), key=lambda k: reward.log[k])
    assert out.best.iteration == best
    torch.testing.assert_close(out.best.noise, gen.seen[best])


def test_lbfgs_stops_an_item_at_a_non_finite_loss():
    class Poison(Quadratic):
        def forward(self, image, prepared):
            s = super().forward(image, prepared)
            return torch.where(s.detach() > -0.5, torch.full_like(s, float("nan")), s)

    rewards = RewardSet({"q": Poison(quadratic()[2])}, {"q": 1.0})
    (out,) = methods.optimise(Counting(), rewards, None, rewards.prepare("p"), [stream()], option("lbfgs", reg_weight=0.0))
    assert out.events[-1]["event"] == "non-finite loss; L-BFGS stopped"
    assert math.isnan(out.history[-1]["total"]) and out.best.total <= -0.5


def test_lbfgs_refuses_a_batch_before_anything_is_built(compose, tmp_path, monkeypatch):
    def build(*a, **k):
        raise AssertionError("built")

    monkeypatch.setattr("reno_exp.assemble.parts.build", build)
    with pytest.raises(UserError, match="takes at most 1 item"):
        validate(compose(["optimizer=lbfgs", "batch_size=2"]))  # as every entry point checks a config first
    validate(compose(["optimizer=lbfgs", "batch_size=auto"]))
    assert methods.method_of(compose(["optimizer=lbfgs"]).optimizer).method.max_batch_size == 1
    rewards = quadratic()[0]
    with pytest.raises(UserError, match="one item at a time"):
        methods.optimise(Counting(), rewards, None, rewards.collate([rewards.prepare("p")] * 2), [stream(0), stream(1)],
                       option("lbfgs"))


# ------------------------------------------------------------------------------------------ zero-order

def test_a_neighbour_keeps_the_pivots_norm_at_the_configured_cosine():
    g = torch.Generator().manual_seed(0)
    pivot, direction = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    for s in (0.95, 0.5, -0.3):
        n = zero_order.neighbour(pivot, direction, s)
        assert n.norm().item() == pytest.approx(pivot.norm().item(), rel=1e-6)
        assert torch.nn.functional.cosine_similarity(n.flatten(), pivot.flatten(), dim=0).item() == pytest.approx(s, abs=1e-6)
        # the perturbation lies in the plane of the pivot and the direction
        rest = direction.flatten() - (direction.flatten() @ pivot.flatten()) / pivot.norm() ** 2 * pivot.flatten()
        residual = n.flatten() - s * pivot.flatten()
        assert torch.nn.functional.cosine_similarity(residual, rest, dim=0).item() == pytest.approx(1, abs=1e-6)


class Small(SigmoidGenerator):
    latent_shape = (3, 2, 2)


def test_zero_order_finds_the_optimum_on_the_initial_noises_sphere():
    # every noise keeps the initial norm, so the reward's optimum is put on that sphere
    z0 = stream(0, Small.latent_shape)()
    d = torch.randn(z0.shape, generator=torch.Generator().manual_seed(5))
    optimum = d / d.norm() * z0.norm()
    rewards = RewardSet({"q": Quadratic(torch.sigmoid(optimum))}, {"q": 1.0})
    cfg = option("zero_order", ZeroOrderConfig, n_iters=600, similarity=0.999, reg_weight=0.0)
    gen = Counting()
    (out,) = methods.optimise(gen, rewards, None, rewards.prepare("p"), [stream(0, Small.latent_shape)], cfg)
    assert out.initial.total < -1.0
    assert out.best.total > -1e-3
    assert (out.best.noise - optimum).norm().item() < 0.1
    assert out.best.noise.norm().item() == pytest.approx(z0.norm().item(), rel=1e-5)
    # no gradient; N generator calls per iterate after the first
    assert gen.calls == 1 + 599 * 4 and out.evaluations == gen.calls
    assert [h["evaluations"] for h in out.history] == [optimizer.spent(cfg, k) for k in range(600)]
    assert all(h["backwards"] == 0 and "grad_norm" not in h for h in out.history)
    # the history's totals: the best neighbour of each iterate; the pivot only moves up
    assert out.best.total == max(h["total"] for h in out.history)


def run_items(seeds, cfg, batch):
    """Zero-order on the items with these seeds, ``batch`` at a time: {seed: result}."""
    rewards = RewardSet({"q": Quadratic(torch.full((1, 3, 4, 4), 0.7))}, {"q": 1.0})
    out = {}
    for i in range(0, len(seeds), batch):
        part = seeds[i : i + batch]
        results = methods.optimise(SigmoidGenerator(), rewards, None, rewards.collate([rewards.prepare("p")] * len(part)),
                                      [stream(s) for s in part], cfg)
        out |= dict(zip(part, results))
    return out


def test_zero_order_does_not_depend_on_run_order_or_batch():
    cfg = option("zero_order", ZeroOrderConfig, n_iters=12)
    alone = run_items([0, 1, 2, 3], cfg, 1)
    for seeds, batch in [([3, 2, 1, 0], 1), ([2, 0, 3, 1], 4), ([1, 3, 0, 2], 3)]:
        other = run_items(seeds, cfg, batch)
        for s in alone:  # equal up to float32 summation order in a batched reduction
            assert [h["total"] for h in other[s].history] == pytest.approx([h["total"] for h in alone[s].history], rel=1e-6)
            torch.testing.assert_close(other[s].best.noise, alone[s].best.noise, rtol=0, atol=1e-6)
    assert len({alone[s].best.total for s in alone}) == 4  # the items do differ


@pytest.mark.slow
def test_zero_order_on_the_tiny_model_batched_equals_alone(compose, tmp_path):
    common = ["optimizer=zero_order", "optimizer.n_iters=2", "optimizer.candidates=2", "benchmark.seeds=[0,1,2]",
              "progress=false", "save_images=false"]
    run(compose([*common, "batch_size=1"]), tmp_path / "a")
    run(compose([*common, "batch_size=3"]), tmp_path / "b")
    a, b = by_item(tmp_path / "a"), by_item(tmp_path / "b")
    assert_same_results(a, b)
    assert all(r["evaluations"] == 1 + 2 and r["curves"]["evaluations"] == [1, 3] for r in a.values())


def test_zero_order_settings_are_checked_with_the_config(compose):
    from reno_exp.config.rules import validate

    validate(compose(["optimizer=zero_order"]))
    for bad in ["optimizer.candidates=0", "optimizer.similarity=1.0", "optimizer.similarity=0"]:
        with pytest.raises(UserError, match=bad.split("=")[0]):
            validate(compose(["optimizer=zero_order", bad]))


# ------------------------------------------------------------------------------- kept images by budget

class Scripted(Reward):
    def __init__(self, values):
        super().__init__()
        self.values = iter(values)

    def forward(self, image, prepared):
        return image.mean(dim=(1, 2, 3)) * 0 + next(self.values)


@pytest.mark.parametrize("method, expected", [
    # best-of-N: iterate k costs k + 1; the best within 1, 3 and 6 evaluations: iterates 0, 1, 5
    ("best_of_n", [0, 1, 5]),
    # ReNO at forward+backward = 2.5: iterate k costs 1 + 2.5 k (1, 3.5, 6, 8.5, 11): within 1, 3, 6: 0, 0, 1;
    # the last iterate (the run's best) fits none of them
    ("reno", [0, 1]),
])
def test_the_best_image_within_each_budget_is_saved(method, expected):
    rewards = RewardSet({"s": Scripted([1.0, 3.0, 2.0, 2.5, 4.0, 9.0])}, {"s": 1.0})
    cfg = option(method, n_iters=6 if method == "best_of_n" else 5, save_at_evaluations=[1, 3, 6],
                 forward_backward_cost=2.5)
    (out,) = methods.optimise(SigmoidGenerator(), rewards, None, rewards.prepare("p"), [stream()], cfg)
    assert [s.iteration for s in out.saved] == expected
