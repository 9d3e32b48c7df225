"""Leave one reward out on Parti-Prompts: the sweep's four jobs and weights, the table's numbers, the smoke run."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from helpers import python
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from run_dirs import make_run_dir, paper_config

from reno_exp import tables
from reno_exp.rewards.base import Reward, RewardSet
from reno_exp.store.jobs import job_of
from reno_exp.store.rundir import RunInfo
from reno_exp.tables import parti_loo, wandb_log
from reno_exp.tables.jobs import find_jobs

PAPER = {"hpsv2": 5.0, "imagereward": 1.0, "clip": 0.01, "pickscore": 0.05}  # conf/reward/all.yaml


def sweep_jobs(compose, extra=()) -> list[list[str]]:
    """The override lists Hydra's basic sweeper launches for ``-m experiment=parti_loo``."""
    cfg = compose(["experiment=parti_loo", *extra], return_hydra_config=True)
    params = [f"{k}={v}" for k, v in cfg.hydra.sweeper.params.items()]
    parsed = OverridesParser.create().parse_overrides(params + ["experiment=parti_loo", *extra])
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def test_sweep_is_four_jobs_each_holding_one_paper_reward_out_at_weight_0(compose):
    jobs = sweep_jobs(compose)
    assert len(jobs) == 4
    held = []
    for overrides in jobs:
        cfg = compose(overrides, return_hydra_config=True)
        choices = cfg.hydra.runtime.choices
        assert (choices.model, choices.benchmark, choices.optimizer) == ("sd_turbo", "parti_prompts", "reno")
        assert cfg.optimizer.n_iters == 50 and cfg.optimizer.optim.lr == 5.0 and list(cfg.benchmark.seeds) == [0]
        assert cfg.benchmark.categories is None and cfg.benchmark.limit is None  # all 1632 prompts
        weights = {name: node.weight for name, node in cfg.reward.items()}
        zero = [name for name, w in weights.items() if w == 0]
        assert len(zero) == 1 and weights == {**PAPER, zero[0]: 0.0}
        # the table finds the held-out reward in the job's own record of its config, not in its number
        job = job_of(Path("."), RunInfo.of(compose(overrides), dict(choices), overrides))
        assert parti_loo.held_out(job) == zero
        held += zero
    assert sorted(held) == sorted(PAPER)


def test_command_line_beats_the_preset(compose):
    jobs = sweep_jobs(compose, ["model=tiny", "benchmark.limit=2"])
    assert len(jobs) == 4
    cfg = compose(jobs[0], return_hydra_config=True)
    assert cfg.hydra.runtime.choices.model == "tiny" and cfg.benchmark.limit == 2


class Constant(Reward):
    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, image, prepared):
        return torch.full((image.shape[0],), self.value)


def test_a_held_out_reward_is_not_in_the_total_even_when_nan():
    """A NaN of the weight-0 reward would otherwise make every iterate's total NaN: never the best one."""
    rewards = RewardSet({"a": Constant(2.0), "held": Constant(math.nan)}, {"a": 0.5, "held": 0.0})
    loss, scores = rewards(torch.zeros(3, 3, 4, 4), rewards.collate([rewards.prepare("p")] * 3))
    assert torch.isnan(scores["held"]).all()
    assert rewards.total(scores).tolist() == [1.0, 1.0, 1.0] and loss.isfinite().all()
    metrics_only = RewardSet({"held": Constant(math.nan)}, {"held": 0.0})
    assert metrics_only.total({"held": torch.tensor([math.nan])}).tolist() == [0.0]


def record(key: str, category: str, initial: dict, best: dict) -> dict:
    return {"key": key, "seed": 0, "prompt": f"prompt {key}", "meta": {"suite": "parti_prompts", "category": category},
            "initial": {**initial, "total": 0.0}, "best": {**best, "total": 1.0}, "best_iteration": 1}


def loo_job(root: Path, name: str, weights: dict, option: str, records: list[dict], overrides=(),
            experiment: str | None = "parti_loo") -> Path:
    setting = [o for o in overrides if not o.startswith("benchmark.shard")]  # which items: not the config
    config = {**paper_config("model=sd_turbo", f"reward={option}", "benchmark=parti_prompts", *setting),
              "logger": {"_target_": "reno_exp.experiment.loggers.NullLogger"}}
    assert all(config["reward"][n]["weight"] == w for n, w in weights.items())
    choices = {"model": "sd_turbo", "reward": option, "benchmark": "parti_prompts", "experiment": experiment}
    return make_run_dir(root / name, config, choices, [f"reward={option}", *overrides], records)


def hand_written_sweep(sweep: Path) -> None:
    """Job "0" holds CLIPScore out (reward=all with clip at weight 0: the config, not the number, says so);
    jobs "1" and "2" are two shards of the HPSv2-held-out job."""
    nan = math.nan
    a = [record("k0", "Animals", {"hpsv2": 0.20, "clip": 30.0}, {"hpsv2": 0.25, "clip": 31.0}),   # improved
         record("k1", "Animals", {"hpsv2": 0.30, "clip": 29.0}, {"hpsv2": 0.30, "clip": 28.0}),   # a tie: not improved
         record("k0", "Animals", {"hpsv2": 9.00, "clip": 0.0}, {"hpsv2": 10.0, "clip": 0.0})]     # k0 again: ignored
    b = [record("k2", "Food & Beverage", {"hpsv2": 0.10, "clip": 20.0}, {"hpsv2": 0.08, "clip": 22.0}),  # worse
         record("k3", "Food & Beverage", {"hpsv2": nan, "clip": 25.0}, {"hpsv2": 0.20, "clip": 26.0}),   # NaN
         record("k1", "Animals", {"hpsv2": 5.00, "clip": 5.0}, {"hpsv2": 6.00, "clip": 6.0})]    # k1 again: ignored
    loo_job(sweep, "1", {**PAPER, "hpsv2": 0.0}, "loo_hpsv2", a, ["benchmark.shard_index=0"])
    loo_job(sweep, "2", {**PAPER, "hpsv2": 0.0}, "loo_hpsv2", b, ["benchmark.shard_index=1"])
    c = [record("k0", "Animals", {"hpsv2": 0.20, "clip": 30.0}, {"hpsv2": 0.26, "clip": 29.0}),
         record("k2", "Food & Beverage", {"hpsv2": 0.10, "clip": 20.0}, {"hpsv2": 0.12, "clip": None})]  # null
    loo_job(sweep, "0", {**PAPER, "clip": 0.0}, "all", c, ["reward.clip.weight=0"])


def rows_by(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(r["held_out"], r["category"], r["reward"]): r for r in rows}


def check(row: dict, prompts: int, not_finite: int, initial: float, best: float, improved: float) -> None:
    assert (row["prompts"], row["not_finite"]) == (prompts, not_finite)
    assert row["initial"] == pytest.approx(initial) and row["best"] == pytest.approx(best)
    assert row["gain"] == pytest.approx(best - initial) and row["improved"] == pytest.approx(improved)


def test_table_means_and_improvement_shares_from_hand_written_records(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    hand_written_sweep(sweep)
    assert tables.main([str(sweep)]) == 0  # experiment=parti_loo: the table comes without asking
    out = capsys.readouterr().out
    with open(sweep / "parti_loo.csv") as f:
        csv_rows = list(csv.DictReader(f))
    rows = rows_by(parti_loo.build(find_jobs(sweep)))
    assert len(csv_rows) == len(rows)
    # HPSv2 held out, all prompts: k0 improved, k1 tied, k2 worse; k3's NaN is counted, not averaged in
    check(rows[("hpsv2", "all prompts", "hpsv2")], 4, 1, (0.2 + 0.3 + 0.1) / 3, (0.25 + 0.3 + 0.08) / 3, 1 / 3)
    check(rows[("hpsv2", "Animals", "hpsv2")], 2, 0, 0.25, 0.275, 0.5)
    check(rows[("hpsv2", "Food & Beverage", "hpsv2")], 2, 1, 0.1, 0.08, 0.0)
    # the optimised CLIPScore of the same job: every prompt finite, 3 of 4 improved
    check(rows[("hpsv2", "all prompts", "clip")], 4, 0, (30 + 29 + 20 + 25) / 4, (31 + 28 + 22 + 26) / 4, 0.75)
    assert rows[("hpsv2", "all prompts", "hpsv2")]["role"] == "held out"
    assert rows[("hpsv2", "all prompts", "clip")]["role"] == "optimised"
    # CLIPScore held out by weight (reward=all): its null best score is left out and counted
    check(rows[("clip", "all prompts", "clip")], 2, 1, 30.0, 29.0, 0.0)
    check(rows[("clip", "all prompts", "hpsv2")], 2, 0, 0.15, 0.19, 1.0)
    assert rows[("clip", "all prompts", "clip")]["role"] == "held out"
    # the printed Markdown and the CSV carry the same numbers
    assert "| HPSv2 | sd_turbo | all prompts | HPSv2 | held out | 4 | 1 | 0.2000 | 0.2100 | +0.0100 | 33.3% |" in out
    assert "| HPSv2 | sd_turbo | Food & Beverage | HPSv2 | held out | 2 | 1 | 0.1000 | 0.0800 | -0.0200 | 0.0% |" in out
    assert ("| CLIPScore (reward=all) [reward.clip.weight=0] | sd_turbo | all prompts | CLIPScore | held out | 2 | 1 "
            "| 30.0000 | 29.0000 | -1.0000 | 0.0% |") in out
    first = next(r for r in csv_rows if (r["held_out"], r["category"], r["reward"]) == ("hpsv2", "all prompts", "hpsv2"))
    assert float(first["improved"]) == pytest.approx(1 / 3) and first["not_finite"] == "1"
    assert (sweep / "tables.md").read_text().count("| HPSv2 | sd_turbo |") == out.count("| HPSv2 | sd_turbo |") > 0


def test_table_is_chosen_by_the_experiment_or_by_flag(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    recs = [record("k0", "Animals", {"hpsv2": 0.2}, {"hpsv2": 0.3})]
    loo_job(sweep, "0", {"hpsv2": 0.0, "clip": 0.01}, "loo_hpsv2", recs, experiment=None)  # run without it
    assert tables.main([str(sweep)]) == 0
    assert "Leave one reward out" not in capsys.readouterr().out and not (sweep / "parti_loo.csv").exists()
    assert tables.main([str(sweep), "--tables", "parti_loo"]) == 0
    assert "| HPSv2 | sd_turbo | all prompts | HPSv2 | held out | 1 | 0 | 0.2000 | 0.3000 | +0.1000 | 100.0% |" in (
        capsys.readouterr().out)
    assert (sweep / "parti_loo.csv").exists()


def test_table_goes_to_wandb(tmp_path, monkeypatch, capsys):
    logged = {}
    monkeypatch.setattr(wandb_log, "log_tables", lambda named, sweep, settings: logged.update(named))
    sweep = tmp_path / "sweep"
    hand_written_sweep(sweep)
    assert tables.main([str(sweep), "--wandb"]) == 0
    columns, data = logged["parti_loo"]
    assert columns == parti_loo.FIELDS
    rows = rows_by([dict(zip(columns, d)) for d in data])
    assert rows[("hpsv2", "all prompts", "hpsv2")]["improved"] == pytest.approx(1 / 3)


@pytest.mark.slow
def test_smoke_sweep_on_the_tiny_model(tmp_path, capsys):
    """The issue's offline smoke run: four tiny jobs; each held-out reward is scored but steers nothing."""
    sweep = tmp_path / "sweep"
    cmd = ["-m", "reno_exp", "-m", "experiment=parti_loo", "model=tiny", "random_init=true", "tiny=true",
           "benchmark.limit=2", "optimizer.n_iters=2", "progress=false", f"hydra.sweep.dir={sweep}"]
    done = python(*cmd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = find_jobs(sweep)
    assert sorted(h for j in jobs for h in parti_loo.held_out(j)) == sorted(PAPER)
    initial = {}
    for job in jobs:
        weights = {n: r["weight"] for n, r in job.info.config["reward"].items()}
        for line in (job.dir / "results.jsonl").read_text().splitlines():
            r = json.loads(line)
            assert r["meta"]["category"] and set(r["initial"]) == {*PAPER, "total"}
            for image_set in ("initial", "best"):  # the total is the three optimised rewards' alone
                assert r[image_set]["total"] == pytest.approx(sum(w * r[image_set][n] for n, w in weights.items()))
            initial.setdefault(r["key"], []).append({n: r["initial"][n] for n in PAPER})
    # the same noise and the same reward towers in every job: the initial scores agree (to float rounding: a
    # weight-0 reward runs without autograd, where torch may take other attention kernels)
    assert len(initial) == 2
    assert all(v == pytest.approx(vs[0], rel=1e-5, abs=1e-6) for vs in initial.values() for v in vs)
    assert tables.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    for name in parti_loo.NAMES.values():  # marked: random weights, 2 iterates are not the paper's setting
        assert sum(x.startswith(f"| {name} [random_init=true, tiny=true, ") and
                   f"| tiny | all prompts | {name} | held out | 2 | 0 |" in x for x in out.splitlines()) == 1, name
