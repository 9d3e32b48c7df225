"""Batched ReNO: each item's result is what it is alone, whatever the batch, the order or an OOM."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from reno_exp import methods
from reno_exp.config.placement import placed
from reno_exp.experiment.batching import Batches, batch_size
from reno_exp.experiment.run import run
from reno_exp.store.records import read_records

# 10 items over five prompts (seeds 0, 1), each prompt with its own fault (tests/trap_rewards.py): prompt 0
# ("... blue bowl") scores NaN for good once its score passes a threshold, prompt 1 ("... green bowl") a
# finite score with a NaN gradient for good; prompt 2 ("... blue cake") scores NaN at iterate 3 only and
# prompt 3 ("... green cake") has a NaN gradient at iterates 2 and 4 only (finite, non-finite, finite
# again); prompt 4 has no fault.
N_ITERS = 8
OVERRIDES = ["benchmark=t2i_compbench", "benchmark.category=color", "benchmark.limit=5", "benchmark.seeds=[0,1]",
             f"optimizer.n_iters={N_ITERS}", "progress=false", "save_images=false"]
TRANSIENT_AT = {"loss": [3], "grad": [2, 4]}


def traps(period: int = N_ITERS) -> dict:
    """The reward set: the colour criterion, each prompt's fault; ``period``: the calls a batch makes."""
    return {
        "nan": {"_target_": "trap_rewards.NaNTrap", "weight": 1.0, "word": "blue bowl", "threshold": -2060.0},
        "grad": {"_target_": "trap_rewards.GradTrap", "weight": 1.0, "word": "green bowl", "threshold": -2060.0},
        "blip": {"_target_": "trap_rewards.Transient", "weight": 1.0, "word": "blue cake", "kind": "loss",
                 "at": TRANSIENT_AT["loss"], "period": period},
        "grad_blip": {"_target_": "trap_rewards.Transient", "weight": 1.0, "word": "green cake", "kind": "grad",
                      "at": TRANSIENT_AT["grad"], "period": period},
    }


# the optimisers, each where gradient clipping bites (the default 0.1) and where it does not
REGIMES = {
    "sgd_clipped": [],
    "sgd_unclipped": ["optimizer.grad_clip=1e6", "optimizer.optim.lr=0.01"],
    "adam": ["optimizer=adam", "optimizer.optim.lr=0.5"],
    "adam_unclipped": ["optimizer=adam", "optimizer.optim.lr=0.1", "optimizer.grad_clip=1e6"],
    "best_of_n": ["optimizer=best_of_n"],
}
SIZES = (1, 3, 7)


def trapped(compose, *extra, period: int = N_ITERS):
    cfg = compose([*OVERRIDES, *extra])
    with open_dict(cfg):
        cfg.reward = traps(period)
    return cfg


def by_item(run_dir):
    return {(r["prompt"], r["seed"]): r for r in read_records(run_dir)}


def numbers(values):
    return [float("nan") if v is None else v for v in values]  # JSON keeps NaN as null


def assert_same_results(a: dict, b: dict, rel: float = 1e-5, rel_totals: float = 1e-6):
    """Every number a record holds, per iterate: totals (to ``rel_totals``), each reward, reg, loss, gradient
    norm, evaluations and backward passes spent (to ``rel``: a batch sums in another order, and a gradient
    norm near a minimum is a small difference of large numbers); the best iterate, its scores and the
    events."""
    assert a.keys() == b.keys()
    for item, x in a.items():
        y = b[item]
        assert x["best_iteration"] == y["best_iteration"], item
        assert x["events"] == y["events"], item
        assert x["evaluations"] == y["evaluations"], item
        for part in ("initial", "best"):
            assert x[part].keys() == y[part].keys(), item
            for name in x[part]:
                assert y[part][name] == pytest.approx(x[part][name], rel=rel, nan_ok=True), (item, part, name)
        assert numbers(y["history"]) == pytest.approx(numbers(x["history"]), rel=rel_totals, nan_ok=True), item
        assert x["curves"].keys() == y["curves"].keys(), item
        for name, curve in x["curves"].items():
            assert numbers(y["curves"][name]) == pytest.approx(numbers(curve), rel=rel, nan_ok=True), (item, name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, compose):
    """(regime, batch size) -> records by item, each run once for the module."""
    cache = {}

    def get(regime: str, size: int) -> dict:
        if (regime, size) not in cache:
            run_dir = tmp_path_factory.mktemp(f"{regime}_{size}")
            run(trapped(compose, *REGIMES[regime], f"batch_size={size}"), run_dir)
            cache[regime, size] = by_item(run_dir)
        return cache[regime, size]

    return get


@pytest.fixture(scope="module")
def alone(runs):
    return runs("sgd_clipped", 1)


def events_of(records: dict, word: str) -> dict:
    return {item: [(e["iteration"], e["event"]) for e in r["events"]] for item, r in records.items() if word in item[0]}


@pytest.mark.parametrize("regime", [r for r in REGIMES if r != "best_of_n"])
def test_the_traps_fire_mid_run_in_the_reference(runs, regime):
    """Alone, in every regime: the permanent traps fall mid-run and stay, the transient ones fall exactly
    where they were set and recover; the prompt without a fault runs clean."""
    records = runs(regime, 1)
    assert len(records) == 10
    for word, event in [("blue bowl", "non-finite loss"), ("green bowl", "non-finite gradient")]:
        for item, events in events_of(records, word).items():
            its = [i for i, e in events]
            assert {e for _, e in events} == {event} and min(its) >= 1, (regime, item, events)
            assert its == list(range(min(its), N_ITERS - 1)), (regime, item, events)  # for good (no step after the last)
    for item, events in events_of(records, "blue cake").items():
        assert events == [(i, "non-finite loss") for i in TRANSIENT_AT["loss"]], (regime, item)
        assert records[item]["history"][-1] is not None  # finite again
    for item, events in events_of(records, "green cake").items():
        assert events == [(i, "non-finite gradient") for i in TRANSIENT_AT["grad"]], (regime, item)
    assert all(not events for events in events_of(records, "brown horse").values())


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("size", [3, 7])
def test_any_batch_size_gives_each_item_its_result_alone(runs, regime, size):
    assert_same_results(runs(regime, 1), runs(regime, size))


@pytest.mark.parametrize("regime", [r for r in REGIMES if r != "best_of_n"])
def test_a_skipped_step_leaves_the_noise_and_the_optimiser_state_as_they_were(compose, runs, regime, tmp_path):
    """A transient fault at iterate k skips that step only: the item then scores its iterate-k noise again
    and goes on exactly as the fault-free run did from k, so its history is the fault-free one with
    iterate k repeated (a gradient fault) or replaced by NaN (a loss fault). An optimiser that moved the
    item anyway (momentum, Nesterov's look-ahead, Adam's step count) shifts every later iterate."""
    cfg = compose([*OVERRIDES, *REGIMES[regime], "batch_size=3"])
    with open_dict(cfg):
        cfg.reward = {"color": {"_target_": "reno_exp.rewards.color.ColorReward", "weight": 4.0}}  # the traps' sum
    run(cfg, tmp_path)
    clean = by_item(tmp_path)
    faulty = runs(regime, 3)
    for item, r in faulty.items():
        h, c = numbers(r["history"]), numbers(clean[item]["history"])
        if "blue cake" in item[0]:
            (k,) = TRANSIENT_AT["loss"]
            assert math.isnan(h[k])
            expected = c[:k] + c[k : N_ITERS - 1]
            assert h[:k] + h[k + 1 :] == pytest.approx(expected, rel=1e-5), (regime, item)
        elif "green cake" in item[0]:
            k1, k2 = TRANSIENT_AT["grad"]  # iterate k1 repeated, then iterate k2 of the shifted run
            expected = c[: k1 + 1] + c[k1 : k2] + c[k2 - 1 : N_ITERS - 2]
            assert h == pytest.approx(expected, rel=1e-5), (regime, item)
        elif "brown horse" in item[0]:
            assert h == pytest.approx(c, rel=1e-5), (regime, item)


@pytest.mark.parametrize("regime", ["sgd_clipped", "adam"])
def test_every_item_spends_one_forward_per_iterate_and_a_backward_per_step(runs, regime):
    """n_iters forward passes and n_iters - 1 backward passes per item (no step after the last iterate),
    less one backward pass for each iterate whose loss was not finite (nothing to differentiate)."""
    for size in SIZES:
        for item, r in runs(regime, size).items():
            skipped = sum(e["event"] == "non-finite loss" and e["iteration"] < N_ITERS - 1 for e in r["events"])
            assert r["evaluations"] == N_ITERS and r["curves"]["evaluations"] == list(range(1, N_ITERS + 1))
            assert r["curves"]["backwards"][-1] == N_ITERS - 1 - skipped, (regime, size, item)


def test_the_generator_runs_n_iters_minus_1_backward_passes_per_batch(tiny_generator):
    """Counted where the gradient flows, not where the loop says it does: a backward pass through the
    generator's image per step, none after the last iterate (a wasted one per item otherwise)."""
    from reno_exp.config.optimizer import OptimizerConfig
    from reno_exp.rewards.base import RewardSet
    from reno_exp.rewards.color import ColorReward

    backwards = []

    class Counting(ColorReward):
        def forward(self, image, prepared=None):
            if image.requires_grad:
                image.register_hook(lambda g: backwards.append(g.shape[0]))
            return super().forward(image, prepared)

    rewards = RewardSet({"color": Counting()}, {"color": 1.0})
    cfg = OmegaConf.merge(OmegaConf.structured(OptimizerConfig), {"n_iters": 5, "optim": {
        "_target_": "torch.optim.SGD", "_partial_": True, "lr": 5.0, "momentum": 0.9, "nesterov": True}})
    cond = tiny_generator.collate([tiny_generator.encode_prompt("a red bench")] * 3)
    prepared = rewards.collate([rewards.prepare("a red bench")] * 3)
    noises = [(lambda g: lambda: torch.randn((1, *tiny_generator.latent_shape), generator=g))(
        torch.Generator().manual_seed(s)) for s in range(3)]
    results = methods.optimise(tiny_generator, rewards, cond, prepared, noises, cfg)
    assert backwards == [3] * 4  # one pass for the batch of 3 per step, 4 steps for 5 iterates
    assert [r.history[-1]["backwards"] for r in results] == [4, 4, 4]


def test_a_run_resumed_with_other_batches_equals_one_run(compose, tmp_path, alone):
    # the first launch stops after 3 items (limit 2 and seeds 0-1 is a prefix of the same items)
    first = [o for o in OVERRIDES if not o.startswith(("benchmark.seeds", "benchmark.limit"))]
    cfg = compose([*first, "benchmark.limit=2", "benchmark.seeds=[0,1]", "batch_size=3"])
    with open_dict(cfg):
        cfg.reward = traps()
    run(cfg, tmp_path)
    assert len(read_records(tmp_path)) == 4
    run(trapped(compose, "batch_size=4"), tmp_path)
    assert_same_results(alone, by_item(tmp_path))


def test_best_of_n_batched_equals_alone(compose, tmp_path):
    common = ["optimizer=best_of_n", "optimizer.n_iters=4", "benchmark.seeds=[0,1,2]", "progress=false",
              "save_images=false"]
    run(compose([*common, "batch_size=1"]), tmp_path / "a")
    run(compose([*common, "batch_size=3"]), tmp_path / "b")
    assert_same_results(by_item(tmp_path / "a"), by_item(tmp_path / "b"))


def test_an_out_of_memory_batch_is_halved_and_run_again(compose, tmp_path, monkeypatch, alone):
    from reno_exp.methods.reno import ReNO

    real = ReNO.optimise
    sizes = []

    def optimise(self, objective, noises, cfg, on_iterate=None):
        sizes.append(len(noises))
        if len(noises) > 2:  # a GPU that fits two items
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(self, objective, noises, cfg, on_iterate)

    monkeypatch.setattr(ReNO, "optimise", optimise)
    run(trapped(compose, "batch_size=8"), tmp_path)
    assert sizes == [8, 4, 2, 2, 2, 2, 2]
    records = by_item(tmp_path)
    first = "out of memory in a batch of 8; run again in batches of 4"
    second = "out of memory in a batch of 4; run again in batches of 2"
    for r in records.values():
        oom = [e for e in r["events"] if e["event"].startswith("out of memory")]
        # in run order, the first four items were in both failed batches, the next four in the first only
        position = r["index"] * 2 + r["k"]
        assert [e["event"] for e in oom] == ([first, second] if position < 4 else [first] if position < 8 else [])
        r["events"] = [e for e in r["events"] if e not in oom]
    assert_same_results(alone, records)


def test_out_of_memory_with_one_item_is_not_swallowed():
    batches = Batches(["a"], 1)
    with pytest.raises(torch.OutOfMemoryError):
        for batch in batches:
            with batches.retry_on_oom(batch):
                raise torch.OutOfMemoryError("injected")


def test_batch_size_auto_is_a_fixed_default_on_cpu_and_the_prediction_on_cuda():
    def broken():
        raise RuntimeError("no GPU to predict for")

    assert batch_size("auto", "cpu", 100, predict=lambda: 7) == 1
    assert batch_size("auto", "cuda", 100, predict=lambda: 7) == 7
    assert batch_size("auto", "cuda", 5, predict=lambda: 7) == 5
    assert batch_size("auto", "cuda", 100, predict=lambda: 0) == 1  # not even one fits: try one anyway
    assert batch_size("auto", "cuda", 100, predict=broken) == 32  # then halving on OOM finds the size
    assert batch_size(4, "cpu", 2) == 2


def test_a_zero_weight_reward_is_scored_without_a_graph(compose, tmp_path):
    from trap_rewards import GradCheck

    cfg = compose(["optimizer.n_iters=3", "progress=false", "save_images=false"])
    with open_dict(cfg):
        cfg.reward["metric"] = {"_target_": "trap_rewards.GradCheck", "weight": 0.0, "channel": "blue"}
    GradCheck.calls.clear()
    run(cfg, tmp_path)
    (r,) = read_records(tmp_path)
    assert GradCheck.calls == [False, False, False]
    assert r["initial"]["metric"] != 0 and len(r["curves"]["metric"]) == 3
    assert r["best"]["total"] == pytest.approx(r["best"]["color"])  # weight 0: not in the total


def test_dtype_auto_is_the_models_half_precision_on_cuda_and_float32_on_a_cpu(compose):
    for model, cuda in [("sd_turbo", "float16"), ("flux_schnell", "bfloat16"), ("sana_sprint", "bfloat16")]:
        assert compose([f"model={model}"]).model.dtype == "auto"
        assert placed(compose([f"model={model}", "device=cuda"])).model.dtype == cuda
        assert placed(compose([f"model={model}", "device=cpu"])).model.dtype == "float32"
    assert placed(compose(["model=sd_turbo", "model.dtype=bfloat16", "device=cpu"])).model.dtype == "bfloat16"
    rewards = placed(compose(["reward=all", "device=cuda"])).reward
    assert {r.dtype for r in rewards.values()} == {"float16"}


def test_compiled_equals_eager_on_tiny(compose, tmp_path):
    common = ["optimizer.n_iters=3", "progress=false", "save_images=false"]
    run(compose(common), tmp_path / "eager")
    # aot_eager: Dynamo's graph capture and AOT autograd without code generation (inductor's C++ build
    # of the tiny UNet takes minutes on two cores); the compiled path is the same
    run(compose([*common, "compile=true", "compile_backend=aot_eager"]), tmp_path / "compiled")
    assert_same_results(by_item(tmp_path / "eager"), by_item(tmp_path / "compiled"))


def test_a_part_that_fails_to_compile_runs_eagerly_with_one_warning(caplog):
    from reno_exp.assemble.compiling import compile_or_eager

    class Part(torch.nn.Module):  # torch 2.11 does not trace a bare torch.nn layer: it never reaches the backend
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)

        def forward(self, x):
            return self.linear(x).relu()

    layer = Part()
    x = torch.randn(4, 3)
    expected = layer(x)
    def broken(graph, example_inputs):
        raise RuntimeError("this backend cannot build the graph")

    compile_or_eager(layer, "model.layer", backend=broken)
    with caplog.at_level("WARNING"):
        torch.testing.assert_close(layer(x), expected)
        torch.testing.assert_close(layer(x), expected)
    warnings = [r for r in caplog.records if "torch.compile failed for model.layer" in r.getMessage()]
    assert len(warnings) == 1
