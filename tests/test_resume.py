"""A benchmark run killed at any instant and run again ends with exactly the records of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT

from reno_exp.store.names import RESULTS
from reno_exp.store.records import read_records

OVERRIDES = ["model=tiny", "reward=color", "benchmark=t2i_compbench", "benchmark.category=shape",
             "benchmark.limit=2", "benchmark.seeds=[0,1,2]", "optimizer.n_iters=3", "progress=false"]
TIMING = ("seconds", "peak_memory_bytes")  # the only fields allowed to differ between runs


def lines(run_dir: Path) -> list[str]:
    path = run_dir / RESULTS
    return path.read_text().splitlines() if path.exists() else []


def comparable(run_dir: Path) -> dict[str, dict]:
    raw = lines(run_dir)
    records = [json.loads(line) for line in raw]  # every line whole: a torn one fails here
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)), f"duplicated records: {sorted(k for k in keys if keys.count(k) > 1)}"
    return {r["key"]: {k: v for k, v in r.items() if k not in TIMING} for r in records}


def outputs(run_dir: Path) -> dict[str, bytes]:
    """Every image, noise and exported file, by relative path (not Hydra's logs)."""
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name not in (RESULTS, ".lock", "run.yaml") and "launches" not in p.parts
            and p.suffix != ".log"}


def in_flight(run_dir: Path) -> bool:
    """An item's files exist but its record does not yet: the run is between saving and appending."""
    done = {json.loads(line)["key"] for line in lines(run_dir) if line.endswith("}")}
    saved = {p.name.removesuffix(".safetensors") for p in (run_dir / "noise").glob("*.safetensors")}
    return bool(saved - done)


def killed_at(point: str, run_dir: Path, *extra: str) -> None:
    """Runs the app until it SIGKILLs itself at ``point`` (tests/killed_run.py), exactly there."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "killed_run.py"), point, *OVERRIDES, *extra,
                           f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {point} (rc {proc.returncode}): {proc.stderr.decode()[-2000:]}"


@pytest.fixture(scope="module")
def reference(tmp_path_factory, compose):
    from reno_exp.experiment.run import run

    run_dir = tmp_path_factory.mktemp("uninterrupted")
    run(compose(OVERRIDES), run_dir)
    return run_dir


@pytest.mark.slow
def test_sigkill_at_several_points_then_resume(tmp_path, compose, reference):
    from reno_exp.experiment.run import run

    expected = comparable(reference)
    assert len(expected) == 6
    run_dir = tmp_path / "killed"
    # while starting (nothing recorded yet), between items, mid-item (files saved, record not yet written)
    states = {"build": (0, False), "after:2": (2, False), "before:2": (3, True)}
    for point, (recorded, mid_item) in states.items():
        killed_at(point, run_dir)
        assert (run_dir / "run.yaml").exists()
        assert len(comparable(run_dir)) == recorded  # whole records only, none twice
        assert in_flight(run_dir) == mid_item
    # the first re-run after a kill starts from what is recorded; the final one completes the work
    run(compose(OVERRIDES), run_dir)
    assert comparable(run_dir) == expected
    assert outputs(run_dir) == outputs(reference)
    assert not [p for p in run_dir.rglob("*.tmp*")]


def test_ctrl_c_is_one_line_with_what_is_recorded_and_how_to_resume(tmp_path, compose, reference):
    """Ctrl-C (SIGINT) between items: exit code 130, one line instead of a traceback, the records whole;
    the command it names resumes to the uninterrupted results."""
    from reno_exp.experiment.run import run

    run_dir = tmp_path / "interrupted"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KILL_SIGNAL": "SIGINT"}
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "killed_run.py"), "after:2", *OVERRIDES,
                           f"hydra.run.dir={run_dir}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=300, text=True)
    ours = [x for x in proc.stderr.splitlines() if not x.startswith("[")]  # the log's own lines start with a date
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert ours == [f"interrupted; 2 items recorded in {run_dir}; run the same command with "
                    f"hydra.run.dir={run_dir} to resume"], proc.stderr[-2000:]
    assert len(comparable(run_dir)) == 2
    run(compose(OVERRIDES), run_dir)
    assert comparable(run_dir) == comparable(reference)


@pytest.mark.slow
def test_torn_last_line_is_cut_and_redone(tmp_path, compose, reference):
    """A kill inside the write of a line leaves half a record: the next run drops it and redoes the item."""
    from reno_exp.experiment.run import run

    run_dir = tmp_path / "torn"
    run_dir.mkdir()
    whole = lines(reference)
    (run_dir / RESULTS).write_text("\n".join(whole[:3]) + "\n" + whole[3][: len(whole[3]) // 2])
    assert len(read_records(run_dir)) == 3
    run(compose(OVERRIDES), run_dir)
    assert comparable(run_dir) == comparable(reference)
    assert (run_dir / RESULTS).read_text().endswith("}\n")


@pytest.mark.slow
def test_a_batch_killed_mid_flight_resumes_in_other_batches_to_the_same_results(tmp_path, compose, reference):
    """Killed while a batch of 4 is half saved; resumed in batches of 2: each item's result as alone."""
    from reno_exp.experiment.run import run

    run_dir = tmp_path / "batched"
    killed_at("before:2", run_dir, "batch_size=4")
    assert len(comparable(run_dir)) == 1 and in_flight(run_dir)
    run(compose([*OVERRIDES, "batch_size=2"]), run_dir)
    got, expected = comparable(run_dir), comparable(reference)
    assert got.keys() == expected.keys()
    for key, r in expected.items():
        assert got[key]["best_iteration"] == r["best_iteration"] and got[key]["events"] == r["events"]
        assert got[key]["history"] == pytest.approx(r["history"], rel=1e-5)
