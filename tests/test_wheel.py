"""Installed like a library: the wheel built from the repository's files, installed into a folder of its
own, runs the demo, the tables and every console command from a directory outside the source tree, with
nothing of the checkout on sys.path (so a file the package reads but the wheel lacks fails here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from helpers import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SCRIPTS = sorted(PYPROJECT["project"]["scripts"])
VERSION = f"reno_exp {PYPROJECT['project']['version']}"


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout


def copy_sources(to: Path) -> None:
    """The files a commit would hold (tracked, and new ones git does not ignore), as they are on disk: the
    build's own leftovers (build/, *.egg-info) land in the copy, never in the checkout."""
    for rel in git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0"):
        if rel and (ROOT / rel).is_file():
            (to / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, to / rel)


def run(args: list[str], cwd: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="builds from a git checkout's files")
def test_the_installed_wheel_runs_the_demo_tables_and_every_command_outside_the_checkout(tmp_path):
    status = git("status", "--porcelain", "--untracked-files=all")
    src, dist, site, work = (tmp_path / d for d in ("src", "dist", "site", "work"))
    for d in (src, work):
        d.mkdir()
    copy_sources(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    wheel, = dist.glob("reno_exp-*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    sources = {rel for rel in git("ls-files", "reno_exp", "hydra_plugins").splitlines() if (ROOT / rel).is_file()}
    assert sources - packaged == set()  # every file of the package's folders: code, configs, data
    installed = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert git("status", "--porcelain", "--untracked-files=all") == status  # the checkout is as it was

    # the installed package and the stack's site-packages only: not the checkout, not an editable install's
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]), "HF_HUB_OFFLINE": "1",
            "WANDB_MODE": "offline", "PYTHONDONTWRITEBYTECODE": "1"}
    where = run([sys.executable, "-c", "import sys, pathlib, reno_exp; print(reno_exp.__file__); "
                 "print(*[p for p in sys.path if (pathlib.Path(p or '.') / 'reno_exp').is_dir()])"], work, env)
    assert where.returncode == 0, where.stderr[-3000:]
    assert where.stdout.splitlines() == [str(site / "reno_exp" / "__init__.py"), str(site)]

    # the console scripts: pyproject's, each a launcher in bin/ (tests/test_commands.py runs every target)
    entry_points = next(site.glob("reno_exp-*.dist-info")) / "entry_points.txt"
    assert {k.strip(): v.strip() for k, _, v in (line.partition("=") for line in entry_points.read_text().splitlines()
                                                 if "=" in line)} == PYPROJECT["project"]["scripts"]
    bin_ = site / "bin"
    assert sorted(p.name for p in bin_.iterdir() if p.name.startswith("reno-exp")) == SCRIPTS
    for script in ("reno-exp", "reno-exp-collect"):  # the Hydra app's own, before Hydra's parser
        p = run([str(bin_ / script), "--version"], work, env)
        assert (p.returncode, p.stdout.strip()) == (0, VERSION), (script, p.stdout, p.stderr[-2000:])
    p = run([str(bin_ / "reno-exp-bench"), "--frobnicate"], work, env)  # usage names the console command
    assert p.returncode == 2 and p.stderr.strip() == ("error: unrecognized arguments: --frobnicate "
                                                      "(see reno-exp-bench --help)"), p.stderr
    run_dir = tmp_path / "run"
    p = run([str(bin_ / "reno-exp"), "optimizer.n_iters=0", f"hydra.run.dir={run_dir}"], work, env)  # exit codes
    assert (p.returncode, p.stderr) == (2, "error: optimizer.n_iters must be between 1 and 10000, got 0\n")

    demo = run([str(bin_ / "reno-exp"), "model=tiny", "reward=color", "optimizer.n_iters=2", "progress=false",
                f"hydra.run.dir={run_dir}"], work, env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert f"1 items in {run_dir / 'results.jsonl'}" in demo.stdout, demo.stdout
    tables = run([sys.executable, "-m", "reno_exp.tables", str(run_dir)], work, env)
    assert tables.returncode == 0, tables.stderr[-3000:]
    assert "| tiny | reno | color |" in (run_dir / "tables.md").read_text()
    assert list(work.iterdir()) == []  # the run went where hydra.run.dir said
