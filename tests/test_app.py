"""The app end to end on the tiny model: configs, records, determinism, clear errors, W&B offline."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import python
from safetensors.torch import load_file

from reno_exp.config.compose import CONF
from reno_exp.experiment.run import run
from reno_exp.store.records import read_records


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize(
    "group", ["model", "reward", "optimizer", "benchmark", "logger", "experiment", "hydra/launcher"]
)
def test_every_config_group_option_composes(compose, group):
    opts = options(group)
    if group in ("model", "reward", "optimizer", "benchmark", "logger"):
        assert opts, f"no options in conf/{group}"
    for opt in opts:
        # equal_compute's iterates follow from a cost measured on the machine (reno_exp.cost.step): given here
        extra = ["optimizer.forward_backward_cost=2"] if opt == "equal_compute" else []
        cfg = compose([f"{group}={opt}", *extra], return_hydra_config=group.startswith("hydra"))
        assert cfg.optimizer.n_iters >= 1


def test_default_is_the_offline_demo(compose):
    cfg = compose()
    assert cfg.model._target_.endswith("TinyGenerator")
    assert list(cfg.reward) == ["color"]
    assert cfg.optimizer.optim.lr == 5.0 and cfg.optimizer.optim.momentum == 0.9 and cfg.optimizer.optim.nesterov
    assert cfg.optimizer.n_iters == 50 and cfg.optimizer.grad_clip == 0.1 and cfg.optimizer.reg_weight == 0.01


def test_demo_raises_the_colour_score_and_writes_the_records(compose, tmp_path):
    cfg = compose(["optimizer.n_iters=10", "benchmark.seeds=[0,1]"])
    run(cfg, tmp_path)
    rows = read_records(tmp_path)
    assert [r["key"] for r in rows] == ["00000_00", "00000_01"]
    for r in rows:
        assert set(r) >= {"prompt", "seed", "initial", "best", "best_iteration", "history", "image", "seconds",
                          "peak_memory_bytes", "initial_image", "noise", "events", "curves"}
        assert set(r["initial"]) == set(r["best"]) == {"color", "total"}
        assert r["best"]["color"] > r["initial"]["color"] + 10
        assert len(r["history"]) == 10 and r["history"][r["best_iteration"]] == pytest.approx(r["best"]["total"])
        assert r["peak_memory_bytes"] > 0 and r["seconds"] > 0
        assert (tmp_path / r["image"]).stat().st_size > 0 and (tmp_path / r["initial_image"]).stat().st_size > 0
        t = load_file(tmp_path / r["noise"])
        assert set(t) == {"initial_noise", "best_noise", "initial_latent", "best_latent"}
        assert t["initial_noise"].shape == t["best_latent"].shape == (1, 4, 8, 8)
    # each line is a complete JSON document
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["00000_00", "00000_01"]


def test_a_seed_gives_the_same_noise_and_result_whatever_the_order(compose, tmp_path):
    run(compose(["optimizer.n_iters=3", "benchmark.seeds=[3,5]"]), tmp_path / "a")
    run(compose(["optimizer.n_iters=3", "benchmark.seeds=[5,3]"]), tmp_path / "b")
    a = {r["seed"]: r for r in read_records(tmp_path / "a")}
    b = {r["seed"]: r for r in read_records(tmp_path / "b")}
    assert set(a) == set(b) == {3, 5}
    for seed in (3, 5):
        assert a[seed]["history"] == b[seed]["history"]
        na, nb = load_file(tmp_path / "a" / a[seed]["noise"]), load_file(tmp_path / "b" / b[seed]["noise"])
        assert torch.equal(na["initial_noise"], nb["initial_noise"])
    assert a[3]["history"][0] != a[5]["history"][0]


def test_initial_noise_is_the_diffusers_cpu_generator_draw(tiny_generator):
    expected = torch.randn((1, 4, 8, 8), generator=torch.Generator().manual_seed(11))
    assert torch.equal(tiny_generator.sample_noise(11), expected)


def test_rerun_skips_recorded_items(compose, tmp_path):
    run(compose(["optimizer.n_iters=2"]), tmp_path)
    before = (tmp_path / "results.jsonl").read_bytes()
    run(compose(["optimizer.n_iters=2", "benchmark.seeds=[0,1]"]), tmp_path)
    rows = read_records(tmp_path)
    assert [r["key"] for r in rows] == ["00000_00", "00000_01"]
    assert (tmp_path / "results.jsonl").read_bytes().startswith(before)


def test_a_torn_last_line_is_cut_before_appending(compose, tmp_path):
    run(compose(["optimizer.n_iters=2"]), tmp_path)
    with open(tmp_path / "results.jsonl", "a") as f:
        f.write('{"key": "00000_01", "prompt": "tor')  # a run killed mid-write
    run(compose(["optimizer.n_iters=2", "benchmark.seeds=[0,1]"]), tmp_path)
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["00000_00", "00000_01"]


def test_wandb_offline_logs_config_curves_and_images(compose, tmp_path):
    run(compose(["optimizer.n_iters=3", "logger=wandb", "logger.mode=offline"]), tmp_path)
    runs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    files = {p.name for p in runs[0].rglob("*")}
    assert any(f.endswith(".png") for f in files)  # the initial and best images
    # the offline run stream holds the resolved config and the per-iterate curves (protobuf, strings raw)
    stream = next(runs[0].glob("*.wandb")).read_bytes()
    for key in (b"reg_weight", b"TinyGenerator", b"iterate/total", b"iterate/color", b"best/total"):
        assert key in stream, key
    # its job type and name say what ran, from the config: model, method, rewards, departures from the paper's
    assert b"tiny/reno/color" in stream and b"tiny 64 px | color 1 | reno, 3 iterates [optimizer.n_iters=3]" in stream


def cli(*args, env=None, timeout=300):
    return python("-m", "reno_exp", *args, env=env, timeout=timeout)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model=nope", "unknown model option 'nope'"),
        ("optimizer.n_iters=abc", "could not be converted to Integer"),
        ("model.foo=1", "unknown key 'model.foo'"),
        ("nonsense=1", "unknown key 'nonsense'"),
        ("reward.color.channel=purple", "expected one of [red, green, blue]"),
        ("optimizer.method=sgd", "expected one of [reno, best_of_n, lbfgs, zero_order]"),
    ],
)
def test_bad_overrides_end_with_a_short_clear_message(override, message, tmp_path):
    p = cli(override, f"hydra.run.dir={tmp_path}")
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert message in out, out
    assert "Traceback" not in out


def test_bad_input_found_while_building_is_one_line_without_traceback(tmp_path):
    p = cli("model.resolution=60", f"hydra.run.dir={tmp_path}")
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "model.resolution must be a multiple of 8" in out and "Traceback" not in out


def test_wandb_online_without_access_falls_back_to_offline_with_one_warning(tmp_path):
    env = {"WANDB_MODE": "online", "WANDB_API_KEY": "", "WANDB_DISABLED": "", "HOME": str(tmp_path)}
    p = cli("logger=wandb", "optimizer.n_iters=2", f"hydra.run.dir={tmp_path / 'run'}", env=env)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert out.count("W&B unreachable") == 1
    assert len(read_records(tmp_path / "run")) == 1
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


def test_an_item_whose_best_is_its_initial_iterate_is_recorded(compose, tmp_path):
    # one iterate: best and initial are the same tensors (safetensors refuses shared memory unless copied)
    run(compose(["optimizer.n_iters=1"]), tmp_path)
    (r,) = read_records(tmp_path)
    assert r["best_iteration"] == 0 and r["best"] == r["initial"]
    t = load_file(tmp_path / r["noise"])
    assert torch.equal(t["initial_noise"], t["best_noise"])


def test_random_init_rewards_are_the_same_in_every_build_whatever_the_global_rng(compose):
    from reno_exp.rewards.base import RewardSet

    cfg = compose(["reward=[clip,imagereward]", "random_init=true", "tiny=true"])
    image = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    scores = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        rewards = RewardSet.from_config(cfg.reward, random_init=True, tiny=True, device="cpu")
        scores.append(rewards(image, rewards.prepare("a cat on a mat"))[1])
    assert set(scores[0]) == {"clip", "imagereward"}
    for name in scores[0]:
        assert torch.equal(scores[0][name], scores[1][name]), name
