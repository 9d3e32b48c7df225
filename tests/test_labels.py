"""Every number labelled by what produced it (issue 20): labels from the resolved config, run.yaml verified
on every read, one method setting, the quoting a refusal suggests."""

from __future__ import annotations

import pytest
import yaml
from run_dirs import paper_config

from reno_exp.config import labels
from reno_exp.config.errors import UserError
from reno_exp.store.names import RUN
from reno_exp.store.rundir import RunInfo, read_info

# ------------------------------------------------------------------------------------ labels

@pytest.mark.parametrize("experiment, model", [("table2", "hyper_sdxl"), ("table3", "pixart_dmd"),
                                               ("table1", "sd_turbo"), ("parti_loo", "sd_turbo")])
def test_the_papers_presets_on_cuda_are_the_papers_setting(experiment, model):
    config = paper_config(f"experiment={experiment}", f"model={model}")
    assert labels.departures(config, {"model": model, "reward": "all"}) == []


def test_departures_say_what_sets_a_run_apart_in_the_order_that_matters():
    config = paper_config("model=sd_turbo", "reward=all", "benchmark=geneval", "random_init=true", "model.resolution=64",
                          "optimizer.n_iters=2", "benchmark.tags=[counting]", device="cpu")
    assert labels.departures(config, {"reward": "all"}) == [
        "random_init=true", "model.resolution=64", "model.dtype=float32", "reward.*.dtype=float32", "optimizer.n_iters=2"]
    assert labels.describe(config) == ("sd_turbo 64 px, random weights | hpsv2 5 + imagereward 1 + clip 0.01 + "
                                       "pickscore 0.05 | reno, 2 iterates")


def test_a_method_is_named_by_what_ran():
    assert labels.method_option(paper_config("optimizer=adam")) == "adam"  # reno's loop, Adam's steps
    assert labels.method_option(paper_config("optimizer=zero_order")) == "zero_order"
    rmsprop = paper_config("optimizer.optim._target_=torch.optim.RMSprop", "~optimizer.optim.nesterov")
    assert labels.method_option(rmsprop) == "reno+RMSprop"
    assert labels.departures(rmsprop)[0] == "optimizer.optim._target_=torch.optim.RMSprop"


def test_a_list_of_reward_options_is_compared_with_that_list():
    """Hydra records no choice for reward=[all,aesthetic]: the override says which options (not the rewards'
    own options, whose weights differ from all's)."""
    config = paper_config("model=sd_turbo", "reward=[all,aesthetic]")
    assert labels.departures(config, {}, ["reward=[all,aesthetic]"]) == []
    assert "reward.hpsv2.weight=5" in labels.departures(config, {}, [])  # compared with reward=[hpsv2,...]


def test_wandb_names_carry_the_method_and_the_departures(tmp_path):
    job_type, name = labels.wandb_names(paper_config("optimizer=best_of_n", "optimizer.n_iters=3"), {"reward": "color"},
                                        run_dir=tmp_path / "7")
    assert job_type == "tiny/best_of_n/color"
    assert name == "7: tiny 64 px | color 1 | best_of_n, 3 iterates [optimizer.n_iters=3]"


# ------------------------------------------------------------------------ run.yaml, verified

def saved(tmp_path, *overrides: str):
    info = RunInfo.of(paper_config("model=tiny", *overrides), {"model": "tiny"}, list(overrides))
    info.save(tmp_path)
    return info


def test_run_yaml_is_written_fingerprint_last_and_reads_back(tmp_path):
    info = saved(tmp_path, "optimizer.n_iters=4")
    assert (tmp_path / RUN).read_text().rstrip().splitlines()[-1] == f"fingerprint: {info.fingerprint}"
    assert read_info(tmp_path) == info


def test_a_run_yaml_in_the_earlier_order_still_reads(tmp_path):
    info = saved(tmp_path)
    (tmp_path / RUN).write_text(yaml.safe_dump(info.__dict__, sort_keys=False))  # fingerprint first, as before
    assert read_info(tmp_path) == info


def test_a_run_yaml_cut_at_any_line_is_refused(tmp_path):
    saved(tmp_path, "optimizer.n_iters=4")
    lines = (tmp_path / RUN).read_text().splitlines(keepends=True)
    for n in range(len(lines)):  # every shorter file, down to empty
        (tmp_path / RUN).write_text("".join(lines[:n]))
        with pytest.raises(UserError, match=f"{RUN} (is not whole|is not a reno_exp run record)"):
            read_info(tmp_path)


def test_a_run_yaml_edited_by_hand_is_refused_even_with_its_fingerprint_kept(tmp_path):
    saved(tmp_path)
    data = yaml.safe_load((tmp_path / RUN).read_text())
    data["config"]["optimizer"]["n_iters"] = 40
    (tmp_path / RUN).write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(UserError, match="was changed after the run was made: its config gives fingerprint"):
        read_info(tmp_path)


# ---------------------------------------------------------------------- one method setting

def test_every_option_runs_the_method_it_names_and_records_the_legacy_loop_stamp(compose):
    """The method is the one setting: the registry runs what it names; the fingerprint keeps the stamp that
    runs recorded before (``optimizer.loop``), derived from the method, so that they still resume."""
    from reno_exp.config.identity import LEGACY_LOOPS, result_config
    from reno_exp.methods import method_of

    for option in ("reno", "adam", "best_of_n", "lbfgs", "zero_order"):
        cfg = compose([f"optimizer={option}"])
        assert "loop" not in cfg.optimizer
        assert method_of(cfg.optimizer).method == cfg.optimizer.method
        assert result_config(cfg)["optimizer"]["loop"] == LEGACY_LOOPS[cfg.optimizer.method.value]


# ----------------------------------------------------------------------- the quoting that works

@pytest.mark.parametrize("value", ["café", "一只猫", "a (red) dog", "naïve: a dog"])
def test_the_quoting_a_refusal_suggests_reads_the_value_whole(compose, value):
    from reno_exp.config.compose import compose as app_compose

    with pytest.raises(UserError, match="write it as") as info:
        app_compose([f"benchmark.prompt={value}"])
    suggested = str(info.value).split("write it as '")[1].split("' (the single")[0]  # what goes to the shell
    assert compose([suggested]).benchmark.prompt == value
