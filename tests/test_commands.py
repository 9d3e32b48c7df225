"""Every command line alike: ``--version``, its name as typed (console script or ``python -m``) in usage
and errors, and options and Hydra overrides in any order."""

from __future__ import annotations

import importlib
from importlib.metadata import version
from pathlib import Path

import pytest

# (name, module, function): the console scripts' targets (pyproject's [project.scripts])
COMMANDS = [
    ("reno-exp", "reno_exp.__main__", "cli"),
    ("reno-exp-tables", "reno_exp.tables.cli", "main"),
    ("reno-exp-evaluate", "reno_exp.evaluate.scoring", "main"),
    ("reno-exp-analysis", "reno_exp.analysis.__main__", "main"),
    ("reno-exp-prefetch", "reno_exp.prefetch", "main"),
    ("reno-exp-bench", "reno_exp.bench.__main__", "main"),
    ("reno-exp-report", "reno_exp.report.cli", "main"),
    ("reno-exp-collect", "reno_exp.benchmarks.collect", "main"),
    ("reno-exp-cost", "reno_exp.cost.step", "main"),
    ("reno-exp-gpu-check", "reno_exp.bench.gpu_check", "main"),
]
MODULE_FORM = {"reno-exp": "python -m reno_exp", "reno-exp-tables": "python -m reno_exp.tables",
               "reno-exp-evaluate": "python -m reno_exp.evaluate", "reno-exp-analysis": "python -m reno_exp.analysis",
               "reno-exp-prefetch": "python -m reno_exp.prefetch", "reno-exp-bench": "python -m reno_exp.bench",
               "reno-exp-report": "python -m reno_exp.report", "reno-exp-collect": "python -m reno_exp.benchmarks.collect",
               "reno-exp-cost": "python -m reno_exp.cost.step", "reno-exp-gpu-check": "python -m reno_exp.bench.gpu_check"}


def call(module: str, function: str, argv: list[str]) -> int:
    """The exit code, whether the command returns it or argparse raises it."""
    try:
        return getattr(importlib.import_module(module), function)(argv)
    except SystemExit as e:
        return e.code


def test_the_scripts_are_pyprojects():
    tomllib = pytest.importorskip("tomllib")

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {name: f"{module}:{function}" for name, module, function in COMMANDS}


@pytest.mark.parametrize("name, module, function", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_version_whatever_the_other_arguments(name, module, function, capsys):
    assert call(module, function, ["--version"]) == 0
    assert capsys.readouterr().out == f"reno_exp {version('reno_exp')}\n"
    if name == "reno-exp":  # Hydra's own --version would print Hydra's
        assert call(module, function, ["model=tiny", "--version"]) == 0
        assert capsys.readouterr().out == f"reno_exp {version('reno_exp')}\n"


@pytest.mark.parametrize("name, module, function", COMMANDS, ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("argv0", ["console", "module"])
def test_errors_name_the_command_as_it_was_typed(name, module, function, argv0, capsys, monkeypatch):
    path = f"/opt/venv/bin/{name}" if argv0 == "console" else f"/src/{module.replace('.', '/')}.py"
    monkeypatch.setattr("sys.argv", [path, "--frobnicate"])
    assert call(module, function, ["--frobnicate"]) == 2
    shown = name if argv0 == "console" else MODULE_FORM[name]
    err = capsys.readouterr().err  # the flag, or first a missing directory
    assert err.startswith("error: ") and err.endswith(f" (see {shown} --help)\n") and err.count("\n") == 1, err


# options between overrides reach the config's own checks (argparse's plain parse refused the overrides
# after an option: "unrecognized arguments")
INTERMIXED = [
    ("reno_exp.bench.__main__", ["model=tiny", "--batch-sizes", "1", "optimizer.n_iters=0"]),
    ("reno_exp.bench.__main__", ["model=tiny", "--memory", "optimizer.n_iters=0"]),
    ("reno_exp.prefetch", ["model=tiny", "--list", "optimizer.n_iters=0"]),
    ("reno_exp.cost.step", ["model=tiny", "--repeats", "2", "optimizer.n_iters=0"]),
]


@pytest.mark.parametrize("module, argv", INTERMIXED)
def test_options_between_overrides(module, argv, capsys):
    assert call(module, "main", argv) == 2
    assert capsys.readouterr().err.startswith("error: optimizer.n_iters must be between 1 and 10000, got 0")


def test_options_between_overrides_parse():
    from reno_exp.bench.__main__ import parse as bench
    from reno_exp.bench.gpu_check import parse as gpu_check

    args = bench(["model=tiny", "--batch-sizes", "1", "optimizer.n_iters=2", "--threads", "2", "reward=color"])
    assert (args.overrides, args.batch_sizes, args.threads) == (["model=tiny", "optimizer.n_iters=2", "reward=color"],
                                                                [1], 2)
    args = gpu_check(["reward=color", "--dry", "optimizer.n_iters=2", "--no-compile"])
    assert (args.overrides, args.dry, args.no_compile) == (["reward=color", "optimizer.n_iters=2"], True, True)


def test_the_app_takes_its_flags_between_overrides(capsys):
    from reno_exp.__main__ import cli

    assert cli(["model=tiny", "--cfg", "job", "optimizer.n_iters=3", "reward=color"]) == 0
    out = capsys.readouterr().out
    assert "n_iters: 3" in out and "TinyGenerator" in out


def test_evaluate_without_a_directory_says_what_to_give(capsys):
    assert call("reno_exp.evaluate.scoring", "main", []) == 2
    assert capsys.readouterr().err == ("error: give a run or sweep directory: python -m reno_exp.evaluate <run or "
                                       "sweep dir> [key=value ...]\n")
