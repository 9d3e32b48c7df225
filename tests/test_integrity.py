"""Results that can be trusted without looking: identity, one run per directory, one writer, whole records,
sweep tables that keep every difference, summaries that say what they show."""

from __future__ import annotations

import csv
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, python
from omegaconf import open_dict

from reno_exp.config import identity
from reno_exp.config.errors import UserError
from reno_exp.experiment.run import run
from reno_exp.store import summary
from reno_exp.store.names import RESULTS, RUN
from reno_exp.store.records import JsonLines, read_records
from reno_exp.store.rundir import RunDir, read_info

FAST = ["optimizer.n_iters=2", "progress=false", "save_images=false"]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def cli(*args, cwd=ROOT, timeout=300):
    return python("-m", *args, cwd=cwd, timeout=timeout)


# ----------------------------------------------------------------------------------- what is a result


def test_result_affecting_keys_are_decided_in_one_place(compose):
    base = identity.fingerprint(compose())
    same = ["logger=wandb", "progress=false", "device=cpu", "batch_size=4", "compile=true", "save_images=false",
            "benchmark.limit=3", "benchmark.seeds=[0,1]", "seed=7", "optimizer.save_every=5",
            "model.gradient_checkpointing=true"]
    for override in same:
        assert identity.fingerprint(compose([override])) == base, override
    differ = ["benchmark.prompt=a cat", "model.resolution=128", "model.weights_seed=1", "reward=none",
              "reward.color.weight=2", "reward.color.channel=blue", "optimizer=best_of_n", "optimizer.optim.lr=10",
              "optimizer.n_iters=3", "optimizer.reg_weight=0", "random_init=true", "benchmark=parti_prompts",
              "+reward.extra={_target_: x, weight: 0}"]
    prints = {o: identity.fingerprint(compose([o])) for o in differ}
    assert base not in prints.values() and len(set(prints.values())) == len(differ)
    # keys nobody has listed yet are result-affecting from their first day
    with open_dict(cfg := compose()):
        cfg.transfer = {"_target_": "some.Transfer", "steps": 50}
    assert identity.fingerprint(cfg) != base


# ------------------------------------------------------------------------ a run directory keeps its config


@pytest.mark.parametrize("override, key", [
    ("benchmark.prompt=a blue cat", "benchmark.prompt"),
    ("seed=5", "seed"),
    ("reward.color.channel=blue", "reward.color.channel"),
    ("optimizer=best_of_n", "optimizer.method"),
    ("optimizer.optim.lr=1", "optimizer.optim.lr"),
    ("model.weights_seed=3", "model.weights_seed"),
])
def test_a_reused_directory_with_another_config_is_refused_naming_the_key(compose, tmp_path, override, key):
    run(compose(FAST), tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(UserError) as e:
        run(compose([*FAST, override]), tmp_path)
    assert key in str(e.value) and "new hydra.run.dir" in str(e.value)
    assert snapshot(tmp_path) == before


def test_the_command_line_refusal_is_one_line_exit_2_and_leaves_the_directory_as_it_was(tmp_path):
    d = f"hydra.run.dir={tmp_path}"
    assert cli("reno_exp", *FAST, d).returncode == 0
    before = snapshot(tmp_path)
    p = cli("reno_exp", *FAST, "model.resolution=128", d)
    assert p.returncode == 2, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "model.resolution: 64 -> 128" in lines[0] and "Traceback" not in p.stderr
    assert snapshot(tmp_path) == before


def test_a_refusal_names_every_differing_key_at_once_with_long_values_shortened(compose, tmp_path):
    """A user fixes what the refusal names and is not refused again for the next key; a 5,000-character
    prompt is not echoed whole into a one-line error."""
    run(compose([*FAST, f"benchmark.prompt={'a red apple ' * 400}"]), tmp_path)
    changed = [*FAST, f"benchmark.prompt={'a blue apple ' * 400}", "model.resolution=32", "optimizer.optim.lr=2",
               "reward.color.channel=green", "optimizer.reg_weight=0.5"]
    with pytest.raises(UserError) as e:
        run(compose(changed), tmp_path)
    said = str(e.value)
    assert "differs in 5 key(s)" in said, said
    for key in ("benchmark.prompt", "model.resolution: 64 -> 32", "optimizer.optim.lr: 5.0 -> 2",
                "reward.color.channel: red -> green", "optimizer.reg_weight: 0.01 -> 0.5"):
        assert key in said, said
    assert len(said) < 600 and "a red apple a red apple" in said and " ... " in said


def test_logging_and_progress_changes_are_accepted_and_provenance_survives_resumes(tmp_path):
    d = f"hydra.run.dir={tmp_path}"
    assert cli("reno_exp", *FAST, d).returncode == 0
    run_yaml = (tmp_path / RUN).read_text()
    p = cli("reno_exp", *FAST, "progress=true", "logger=wandb", "logger.mode=offline", "benchmark.seeds=[0,1]", d)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / RUN).read_text() == run_yaml  # the first launch's record of the run stays
    launches = sorted((tmp_path / "launches").iterdir())
    assert [p.name for p in launches] == ["000", "001"]
    assert "logger=wandb" in (launches[1] / "overrides.yaml").read_text()
    assert "logger=wandb" not in (launches[0] / "overrides.yaml").read_text()
    assert [r["seed"] for r in read_records(tmp_path)] == [0, 1]
    # a refused launch adds no launch
    assert cli("reno_exp", *FAST, "model=sd_turbo", "random_init=true", d).returncode == 2
    assert len(list((tmp_path / "launches").iterdir())) == 2
    assert read_info(tmp_path).choices["model"] == "tiny"


def test_a_changed_seed_list_that_reuses_a_key_is_refused(compose, tmp_path):
    run(compose([*FAST, "benchmark.seeds=[0]"]), tmp_path)
    run(compose([*FAST, "benchmark.seeds=[0,1]"]), tmp_path)  # more seeds: the same items and new ones
    with pytest.raises(UserError, match="item 00000_00 .* seed 0.* seed 3.* the seed"):
        run(compose([*FAST, "benchmark.seeds=[3]"]), tmp_path)


# ----------------------------------------------------------------------------------- one writer at a time


def test_a_second_writer_is_refused_with_the_holders_pid_and_a_crash_releases_the_lock(compose, tmp_path):
    cfg = compose(FAST)
    holder = RunDir.open(tmp_path, cfg)
    try:
        p = cli("reno_exp", *FAST, f"hydra.run.dir={tmp_path}")
        assert p.returncode == 2 and f"in use by another process (pid {os.getpid()})" in p.stderr, p.stderr
        with pytest.raises(UserError, match="in use by another process"):
            run(cfg, tmp_path)
    finally:
        holder.close()
    # a process killed while holding the lock leaves no stale lock behind
    code = (f"import os; from reno_exp.store.rundir import RunDir; from omegaconf import OmegaConf; "
            f"RunDir.open({str(tmp_path)!r}, OmegaConf.create({_cfg(compose)!r})); os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=300).returncode == 9
    run(cfg, tmp_path)
    assert len(read_records(tmp_path)) == 1


def _cfg(compose):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(compose(FAST), enum_to_str=True)


def test_concurrent_launches_on_one_directory_give_no_duplicate(tmp_path):
    args = ["reno_exp", "optimizer.n_iters=20", "benchmark.seeds=[0,1,2,3]", "progress=false", "save_images=false",
            f"hydra.run.dir={tmp_path}"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    # communicate() reads both pipes while waiting: a child that writes more than a pipe holds never blocks
    outs = [(p.returncode, err) for p in procs for _, err in [p.communicate(timeout=300)]]
    codes = sorted(c for c, _ in outs)
    assert codes[0] == 0 and all(c in (0, 2) for c in codes), outs
    refused = [err for c, err in outs if c == 2]
    assert all("in use by another process" in err for err in refused)
    lines = (tmp_path / RESULTS).read_text().splitlines()
    assert sorted(json.loads(x)["seed"] for x in lines) == [0, 1, 2, 3]


# ----------------------------------------------------------------------------------------- the records file


def test_a_whole_last_line_without_its_newline_is_kept(compose, tmp_path):
    run(compose([*FAST, "benchmark.seeds=[0,1]"]), tmp_path)
    path = tmp_path / RESULTS
    data = path.read_bytes()
    path.write_bytes(data[:-1])  # a whole record that lost only its newline
    noise = (tmp_path / "noise" / "00000_01.safetensors").read_bytes()
    run(compose([*FAST, "benchmark.seeds=[0,1]"]), tmp_path)
    assert path.read_bytes() == data  # kept, given its newline back, not recomputed
    assert (tmp_path / "noise" / "00000_01.safetensors").read_bytes() == noise


def test_a_bad_line_in_the_middle_is_reported_and_never_counted(tmp_path, caplog):
    path = tmp_path / RESULTS
    good = [{"key": f"k{i}", "initial": {"total": 0.0}, "best": {"total": 1.0}} for i in range(3)]
    path.write_text(json.dumps(good[0]) + "\n" + "garbage {\n" + "[1, 2]\n" + json.dumps(good[1]) + "\n"
                    + json.dumps(good[2]) + "\n" + '{"key": "torn')
    with caplog.at_level("WARNING"):
        rows = JsonLines(path).read()
    assert [r["key"] for r in rows] == ["k0", "k1", "k2"]
    reported = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:2 " in m for m in reported) and any(f"{path}:3 " in m for m in reported)
    assert not any(f"{path}:6" in m for m in reported)  # a torn last line is a kill, not damage


def test_a_damaged_records_file_is_warned_about_once_per_run(compose, tmp_path, caplog):
    """A run reads its records several times (the resume check, the writer, the summary, the logger): the
    damage is said once, not four times."""
    run(compose([*FAST, "benchmark.seeds=[0,1]"]), tmp_path)
    path = tmp_path / RESULTS
    first = path.read_text().splitlines()[0]
    path.write_text(path.read_text() + first + "\n" + "garbage {\n")
    with caplog.at_level("WARNING"):
        run(compose([*FAST, "benchmark.seeds=[0,1,2]"]), tmp_path)
        print(summary.text(read_records(tmp_path), "x"))
    said = [r.getMessage() for r in caplog.records]
    assert sum("duplicate record" in m for m in said) == 1, said
    assert sum(f"{path}:4 is not a whole JSON record" in m for m in said) == 1, said
    assert len(read_records(tmp_path)) == 3


def test_a_record_without_its_key_is_refused_in_one_line_by_every_reader(compose, tmp_path):
    """Another program's line, or one edited by hand, is named with its line number, never a KeyError."""
    run(compose(FAST), tmp_path)
    with (tmp_path / RESULTS).open("a") as f:
        f.write(json.dumps({"prompt": "x", "seed": 3}) + "\n")
    for read in (lambda: run(compose(FAST), tmp_path), lambda: read_records(tmp_path)):
        with pytest.raises(UserError, match=rf"{RESULTS}:2: a record without key: not a reno_exp results file"):
            read()


def test_a_duplicated_record_is_counted_once_everywhere(compose, tmp_path, caplog):
    from reno_exp.tables.jobs import find_jobs
    from reno_exp.tables.runs import runs_summary

    run(compose([*FAST, "benchmark.seeds=[0,1]"]), tmp_path)
    path = tmp_path / RESULTS
    first = path.read_text().splitlines()[0]
    changed = json.loads(first)
    changed["best"]["total"] += 1000  # a second writer's record of the same item
    path.write_text(path.read_text() + json.dumps(changed) + "\n")
    with caplog.at_level("WARNING"):
        rows = read_records(tmp_path)
    assert len(rows) == 2 and rows[0]["best"] == json.loads(first)["best"]
    assert any("1 duplicate record" in r.getMessage() for r in caplog.records)
    assert "2 items" in summary.text(rows, "x")
    _, runs = runs_summary(find_jobs(tmp_path))
    assert runs[0]["images"] == 2


def test_the_summary_says_what_it_shows_and_reports_nan_totals():
    records = [{"initial": {"color": 1.0, "total": 1.0}, "best": {"color": 3.0, "total": 3.0}},
               {"initial": {"color": 2.0, "total": None}, "best": {"color": 2.0, "total": None}}]
    text = summary.text(records, "run")
    assert "2 items in run; mean over items, initial -> best" in text
    assert "total: 1.0000 -> 3.0000 (+2.0000, 100% improved; n=1; 1 items not finite, left out)" in text
    assert "color: 1.5000 -> 2.5000 (+1.0000, 50% improved; n=2)" in text


# ----------------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("make, message", [
    (lambda d: (d / RESULTS).mkdir(parents=True), "results.jsonl is not a writable file"),
    (lambda d: (d.mkdir(), (d / "noise").write_text("")), "noise is not a writable directory"),
    (lambda d: (d.parent.mkdir(exist_ok=True), d.write_text("")), "run is not a writable directory"),
])
def test_outputs_that_cannot_be_written_stop_the_run_before_any_work(compose, tmp_path, make, message, monkeypatch):
    d = tmp_path / "run"
    make(d)
    monkeypatch.setattr("reno_exp.assemble.parts.build", lambda *a: pytest.fail("built models for an unwritable run"))
    with pytest.raises(UserError, match=message):
        run(compose(FAST), d)


# ------------------------------------------------------------------------------ sweeps keep every difference


@pytest.mark.slow
@pytest.mark.parametrize("sweep, rows", [
    # a row's variant is how its config departs from the paper's setting (FAST's 2 iterates included)
    (["optimizer=reno,best_of_n"], {"optimizer=best_of_n, optimizer.n_iters=2", "optimizer.n_iters=2"}),
    (["reward.color.channel=red,green,blue"], {"optimizer.n_iters=2", *(f"reward.color.channel={c}, optimizer.n_iters=2"
                                                                        for c in ("green", "blue"))}),
])
def test_sweep_tables_keep_every_difference(tmp_path, sweep, rows):
    p = cli("reno_exp", "-m", *sweep, *FAST, f"hydra.sweep.dir={tmp_path}")
    assert p.returncode == 0, p.stderr[-2000:]
    assert cli("reno_exp.tables", str(tmp_path), "--no-wandb").returncode == 0
    runs = list(csv.DictReader(open(tmp_path / "runs.csv")))
    assert {r["variant"] for r in runs} == rows and len(runs) == len(rows)
    md = (tmp_path / "tables.md").read_text()
    assert all(f"| {v} |" in md for v in rows)
    assert len({r["best_total"] for r in runs}) == len(rows)  # each job's own numbers


def test_shards_of_one_job_merge_into_one_row(tmp_path):
    from run_dirs import make_run_dir, paper_config

    from reno_exp.tables.jobs import find_jobs

    config = paper_config("model=tiny", "reward=color", "optimizer.optim.lr=3")
    for shard in (0, 1):
        make_run_dir(tmp_path / str(shard), config, {"model": "tiny", "reward": "color"},
                     [f"benchmark.shard_index={shard}", "optimizer.optim.lr=3"])
    jobs = find_jobs(tmp_path)
    assert [j.variant for j in jobs] == ["optimizer.optim.lr=3"] * 2  # one row, from the config


def test_jobs_whose_configs_differ_without_an_override_are_never_pooled(tmp_path):
    from run_dirs import make_run_dir, paper_config

    from reno_exp.tables.jobs import find_jobs

    for i, lr in enumerate((5.0, 10.0)):  # two launches apart, same overrides, other defaults
        make_run_dir(tmp_path / str(i), paper_config("model=tiny", "reward=color", f"optimizer.optim.lr={lr}"),
                     {"model": "tiny", "reward": "color"}, [])
    variants = [j.variant for j in find_jobs(tmp_path)]
    assert variants == ["", "optimizer.optim.lr=10"]  # the config names what sets them apart


# ---------------------------------------------------------------------------------------------- W&B


def wandb_summary(run_dir: Path) -> dict:
    """The run summary in an offline W&B run's transaction log (LevelDB log blocks of protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    (path,) = run_dir.glob("wandb/offline-run-*/*.wandb")
    data, out, pos, buf = path.read_bytes(), {}, 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # block trailer
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        buf = (buf if kind in (3, 4) else b"") + data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(buf)
            if record.WhichOneof("record_type") == "summary":
                for u in record.summary.update:
                    out[u.key or "/".join(u.nested_key)] = json.loads(u.value_json)
    return out


def test_an_offline_wandb_runs_summary_is_the_mean_over_its_items(compose, tmp_path):
    run(compose(["optimizer.n_iters=3", "benchmark.seeds=[0,1,2]", "batch_size=2", "progress=false",
                 "logger=wandb", "logger.mode=offline"]), tmp_path)
    rows = read_records(tmp_path)
    got = wandb_summary(tmp_path)
    for name in ("color", "total"):
        assert got[f"initial/{name}"] == pytest.approx(sum(r["initial"][name] for r in rows) / 3)
        assert got[f"best/{name}"] == pytest.approx(sum(r["best"][name] for r in rows) / 3)
        assert got[f"improved/{name}"] == pytest.approx(sum(r["best"][name] > r["initial"][name] for r in rows) / 3)
    assert got["items"] == 3
    assert not [k for k in got if k.startswith(("item/", "iterate/"))]  # no item's value poses as the run's


def test_evaluate_and_analysis_stop_before_any_work_when_their_outputs_cannot_be_written(compose, tmp_path,
                                                                                          monkeypatch):
    from reno_exp.analysis.analyse import analyse_run
    from reno_exp.evaluate.scoring import EvaluateConfig, evaluate

    run(compose(FAST), tmp_path)
    (tmp_path / "evaluation.jsonl").mkdir()
    monkeypatch.setattr("reno_exp.evaluate.scoring.build", lambda *a: pytest.fail("built an evaluator"))
    with pytest.raises(UserError, match="evaluation.jsonl is not a writable file"):
        evaluate(tmp_path, EvaluateConfig(random_init=True, tiny=True))
    (tmp_path / "analysis").write_text("")
    with pytest.raises(UserError, match="analysis is not a writable directory"):
        analyse_run(tmp_path)
