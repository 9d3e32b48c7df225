"""Users' own config options (reno_exp.config.searchpath): a folder of group folders read through
``--config-dir``, ``hydra.searchpath``, ``$RENO_EXP_CONFIG_DIR`` or the XDG folder runs like the package's
options, is checked like them (a typo gets the user's option as the nearest, a bad value one line), and
``--help`` lists it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import app, python

from reno_exp.config.compose import app_config, compose
from reno_exp.config.errors import UserError
from reno_exp.config.searchpath import CONF, ENV, PLUGIN, group_options

FILES = {
    "model/my_tiny.yaml": "defaults:\n  - tiny\n  - _self_\n\nresolution: 32\n",
    "model/neg_tiny.yaml": "defaults:\n  - tiny\n  - _self_\n\nresolution: -3\n",
    "model/typo_tiny.yaml": "defaults:\n  - tiny\n  - _self_\n\nresolutoin: 32\n",
    "model/tiny.yaml": "defaults:\n  - /schema/model/tiny@_here_\n  - _self_\n\nresolution: 16\n",  # hidden
    "reward/my_mix.yaml": ("defaults:\n  - /schema/reward/color@red\n  - /schema/reward/color@green\n  - _self_\n\n"
                           "red:\n  channel: red\n  weight: 1.0\ngreen:\n  channel: green\n  weight: 0.5\n"),
    "experiment/my_preset.yaml": ("# @package _global_\ndefaults:\n  - override /model: my_tiny\n"
                                  "  - override /reward: my_mix\n\noptimizer:\n  n_iters: 3\n\n"
                                  "hydra:\n  sweeper:\n    params:\n      seed: 0,1\n"),
}


@pytest.fixture
def mine(tmp_path, monkeypatch) -> Path:
    """A user's config folder; no other user folder around (the XDG one points into tmp_path)."""
    folder = tmp_path / "my_conf"
    for name, text in FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(ENV, raising=False)
    return folder


def run_app(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return python("-m", "reno_exp", *args, env=env, timeout=timeout)


def way(how: str, folder: Path) -> tuple[list[str], dict]:
    """The arguments and environment that add ``folder`` in one of the three ways."""
    if how == "config_dir":
        return ["--config-dir", str(folder)], {}
    if how == "searchpath":
        return [f"hydra.searchpath=[file://{folder}]"], {}
    return [], {ENV: str(folder)}


@pytest.mark.parametrize("how", ["config_dir", "searchpath", "env"])
def test_a_users_option_runs_with_its_own_values(mine, tmp_path, monkeypatch, capsys, how):
    args, env = way(how, mine)
    for k, v in {**env, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}.items():
        monkeypatch.setenv(k, v)
    run_dir = tmp_path / "run"
    code = app([*args, "model=my_tiny", "optimizer.n_iters=1", "progress=false", f"hydra.run.dir={run_dir}"])
    assert code == 0, capsys.readouterr().err
    config = yaml.safe_load((run_dir / "run.yaml").read_text())["config"]
    assert config["model"]["resolution"] == 32 and config["optimizer"]["n_iters"] == 1


@pytest.mark.parametrize("how", ["config_dir", "searchpath", "env"])
@pytest.mark.parametrize("override, message", [
    ("model=my_tniy", "unknown model option 'my_tniy': did you mean my_tiny?"),  # Hydra's own refusal
    ("experiment=my_presett", "unknown experiment option 'my_presett': did you mean my_preset?"),  # optional: ours
])
def test_a_typo_in_a_users_option_gets_it_as_the_nearest(mine, tmp_path, capsys, monkeypatch, how, override, message):
    args, env = way(how, mine)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert app([*args, override, f"hydra.run.dir={tmp_path / 'run'}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("option, message", [
    ("neg_tiny", "model.resolution must be a multiple of 8 between 8 and 1024, got -3"),
    ("typo_tiny", "model/typo_tiny.yaml: unknown key 'model.resolutoin': did you mean model.resolution?"),
])
def test_a_bad_value_in_a_users_option_is_one_line(mine, tmp_path, capsys, option, message):
    assert app(["--config-dir", str(mine), f"model={option}", f"hydra.run.dir={tmp_path / 'run'}"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"error: {message}"]
    assert not (tmp_path / "run").exists()


def test_the_real_command_line_refuses_a_typo_in_one_line(mine, tmp_path):
    p = run_app("model=my_tniy", f"hydra.run.dir={tmp_path / 'run'}",
                env={ENV: str(mine), "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "error: unknown model option 'my_tniy': did you mean my_tiny? (options: flux_schnell, hyper_sdxl, my_tiny, "
        "neg_tiny, pixart_dmd, sana_sprint, sd_turbo, sdxl_turbo, tiny, typo_tiny)"], p.stderr


def test_a_users_experiment_preset_and_reward_mix_compose(mine):
    cfg = app_config(["experiment=my_preset"], config_dir=str(mine))
    assert cfg.model.resolution == 32 and cfg.optimizer.n_iters == 3
    assert {k: (r.channel, r.weight) for k, r in cfg.reward.items()} == {"red": ("red", 1.0), "green": ("green", 0.5)}
    cfg = app_config([f"hydra.searchpath=[file://{mine}]", "reward=[my_mix]"])  # the way prefetch and bench take it
    assert list(cfg.reward) == ["red", "green"]


def test_the_cost_plan_expands_a_users_preset(mine):
    from reno_exp.cost.plan import sweep_jobs

    jobs = sweep_jobs(str(CONF), ["experiment=my_preset", f"hydra.searchpath=[file://{mine}]"])
    assert sorted(j[0] for j in jobs) == ["seed=0", "seed=1"]


def test_the_xdg_folder_adds_options_and_the_packaged_option_wins_a_name(mine, tmp_path, monkeypatch, capsys):
    xdg = tmp_path / "xdg" / "reno_exp"
    (xdg / "model").mkdir(parents=True)
    (xdg / "model" / "xdg_tiny.yaml").write_text("defaults:\n  - tiny\n  - _self_\n\nresolution: 24\n")
    assert "xdg_tiny" in group_options("model") and "my_tiny" not in group_options("model")
    assert compose(["model=xdg_tiny"]).model.resolution == 24
    capsys.readouterr()
    assert compose(["model=tiny"], config_dir=str(mine)).model.resolution == 64  # the package's tiny, not mine
    assert "model=tiny is the package's own" in capsys.readouterr().err


def test_the_plugin_adds_folders_to_this_app_only(mine, monkeypatch):
    from hydra._internal.utils import create_config_search_path

    monkeypatch.setenv(ENV, str(mine))
    assert [e.path for e in create_config_search_path(str(CONF)).get_path() if e.provider == PLUGIN] == [f"file://{mine}"]
    assert not [e for e in create_config_search_path(str(mine)).get_path() if e.provider == PLUGIN]


def test_a_missing_users_folder_is_one_line(mine, tmp_path, monkeypatch, capsys):
    gone = tmp_path / "gone"
    for argv, message in [(["--config-dir", str(gone)], f"--config-dir {gone}: no such folder"),
                          ([f"hydra.searchpath=[file://{gone}]"], f"hydra.searchpath: file://{gone} is not there")]:
        assert app([*argv, f"hydra.run.dir={tmp_path / 'run'}"]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
    monkeypatch.setenv(ENV, str(gone))
    with pytest.raises(UserError, match=f"{ENV}=.*is not a folder"):
        compose([])
    assert not (tmp_path / "run").exists()


def test_help_lists_the_groups_users_choose_and_a_users_option(mine, capsys):
    assert app(["--help", "--config-dir", str(mine)]) == 0
    out = capsys.readouterr().out
    groups = {line.split()[0] for line in out.splitlines() if line.startswith("  ") and not line.startswith("   ")}
    assert {"model", "reward", "optimizer", "benchmark", "experiment", "transfer", "logger",
            "hydra/launcher"} <= groups
    assert "schema/" not in out and "== Config ==" not in out
    assert "my_tiny" in out and "my_preset" in out and f"Your folders now: {mine}" in out
    assert "RENO_EXP_CONFIG_DIR" in out and "optimizer.n_iters=" in out and "README" in out
