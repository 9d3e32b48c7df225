"""Batched ReNO: each item's result is what it is alone, whatever the batch, the order or an OOM."""

from __future__ import annotations

import pytest
import torch
from omegaconf import open_dict

from reno_exp import reno
from reno_exp.batching import Batches, batch_size
from reno_exp.records import read_records
from reno_exp.run import placed, run

# 8 items over two prompts; prompt 0 ("a green bench ...") falls into a NaN score mid-run, prompt 1
# ("a blue bench ...") into a finite score with a NaN gradient (tests/trap_rewards.py)
OVERRIDES = ["benchmark=t2i_compbench", "benchmark.category=color", "benchmark.limit=2", "benchmark.seeds=[0,1,2,3]",
             "optimizer.n_iters=8", "progress=false", "save_images=false"]
TRAPS = {
    "nan": {"_target_": "trap_rewards.NaNTrap", "weight": 1.0, "word": "green bench", "threshold": -2060.0},
    "grad": {"_target_": "trap_rewards.GradTrap", "weight": 1.0, "word": "blue bench", "threshold": -2060.0},
}


def trapped(compose, *extra):
    cfg = compose([*OVERRIDES, *extra])
    with open_dict(cfg):
        cfg.reward = TRAPS
    return cfg


def by_item(run_dir):
    return {(r["prompt"], r["seed"]): r for r in read_records(run_dir)}


def assert_same_results(a: dict, b: dict):
    assert a.keys() == b.keys()
    for item, x in a.items():
        y = b[item]
        assert x["best_iteration"] == y["best_iteration"], item
        assert x["events"] == y["events"], item
        for name in x["best"]:
            assert y["best"][name] == pytest.approx(x["best"][name], rel=1e-5), (item, name)
        nan = [float("nan") if v is None else v for v in x["history"]]  # JSON keeps NaN as null
        assert [float("nan") if v is None else v for v in y["history"]] == pytest.approx(nan, rel=1e-5, nan_ok=True)


@pytest.fixture(scope="module")
def alone(tmp_path_factory, compose):
    run_dir = tmp_path_factory.mktemp("batch1")
    run(trapped(compose, "batch_size=1"), run_dir)
    return by_item(run_dir)


def test_the_traps_fire_mid_run_in_the_reference(alone):
    events = {item: {e["event"] for e in r["events"]} for item, r in alone.items()}
    green = [i for i in alone if "green bench" in i[0]]
    blue = [i for i in alone if "blue bench" in i[0]]
    assert len(green) == len(blue) == 4
    assert all(events[i] == {"non-finite loss"} for i in green)
    assert all(events[i] == {"non-finite gradient"} for i in blue)
    # mid-run: the first iterates stepped normally
    assert all(min(e["iteration"] for e in alone[i]["events"]) >= 1 for i in green + blue)


@pytest.mark.parametrize("size", [3, 7])
def test_any_batch_size_gives_each_item_its_result_alone(compose, tmp_path, alone, size):
    run(trapped(compose, f"batch_size={size}"), tmp_path)
    assert_same_results(alone, by_item(tmp_path))


def test_a_run_resumed_with_other_batches_equals_one_run(compose, tmp_path, alone):
    # the first launch stops after 3 items (limit 1 and seeds 0-2 is a prefix of the same items)
    first = [o for o in OVERRIDES if not o.startswith("benchmark.seeds")]
    cfg = compose([*first, "benchmark.limit=1", "benchmark.seeds=[0,1,2]", "batch_size=2"])
    with open_dict(cfg):
        cfg.reward = TRAPS
    run(cfg, tmp_path)
    assert len(read_records(tmp_path)) == 3
    run(trapped(compose, "batch_size=4"), tmp_path)
    assert_same_results(alone, by_item(tmp_path))


def test_best_of_n_batched_equals_alone(compose, tmp_path):
    common = ["optimizer=best_of_n", "optimizer.n_iters=4", "benchmark.seeds=[0,1,2]", "progress=false",
              "save_images=false"]
    run(compose([*common, "batch_size=1"]), tmp_path / "a")
    run(compose([*common, "batch_size=3"]), tmp_path / "b")
    assert_same_results(by_item(tmp_path / "a"), by_item(tmp_path / "b"))


def test_an_out_of_memory_batch_is_halved_and_run_again(compose, tmp_path, monkeypatch, alone):
    real = reno.optimise
    sizes = []

    def optimise(generator, rewards, cond, prepared, noises, cfg, on_iterate=None):
        sizes.append(len(noises))
        if len(noises) > 2:  # a GPU that fits two items
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(generator, rewards, cond, prepared, noises, cfg, on_iterate)

    monkeypatch.setattr(reno, "optimise", optimise)
    run(trapped(compose, "batch_size=8"), tmp_path)
    assert sizes == [8, 4, 2, 2, 2, 2]
    records = by_item(tmp_path)
    first = "out of memory in a batch of 8; run again in batches of 4"
    second = "out of memory in a batch of 4; run again in batches of 2"
    for r in records.values():
        oom = [e for e in r["events"] if e["event"].startswith("out of memory")]
        # the first four items were in both failed batches, the last four in the first only
        assert [e["event"] for e in oom] == ([first, second] if r["index"] == 0 else [first])
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
    from reno_exp.compiling import compile_or_eager

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
