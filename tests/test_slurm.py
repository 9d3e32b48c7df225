"""SLURM for real: sweeps, shards, a preemption and a time-limit requeue on a one-node cluster.

The cluster is scripts/local_slurm.py (Debian's packages, installed on first use when root). The sweeps
are ``python -m reno_exp -m ... hydra/launcher=slurm`` as a user types them; records are compared as
results (per (prompt, seed): initial, best, best_iteration, history) with an uninterrupted run under the
basic launcher, in the same environment: one thread per process (as ``cpus_per_task=1`` asks, and since
torch's CPU results depend on the thread count).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from helpers import ROOT, script
from hydra.utils import instantiate

from reno_exp.store.names import RESULTS

SLURM = ["hydra/launcher=slurm", "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
         "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]
TINY = ["model=tiny", "benchmark=t2i_compbench", "benchmark.category=color", "progress=false"]
# three shards of six small items, images on: the official layout is what collect merges
SHARDS = [*TINY, "benchmark.limit=3", "benchmark.seeds=[0,1]", "optimizer.n_iters=2",
          "benchmark.num_shards=3", "benchmark.shard_index=range(0,3)"]
# the requeued runs: each job waits after its GATE_AFTER-th record until the test opens its gate
# (tests/slurm_gate), so a preemption or a time limit finds it mid-run however fast the machine is
WORK = [*TINY, "benchmark.limit=3", "benchmark.seeds=[0,1,2,3]", "optimizer.n_iters=3", "save_images=false"]
GATE_AFTER = 3
# SLURM checks time limits every 30 s and sends the signal at the first check within signal_delay_s + 30 s
# of the limit: USR2 comes 25 to 55 s after the job starts (submitit's handler is set ~1 s after), the
# time-out kill not before 60 s. submitit takes every such signal for a time-out (its limit is < 50 min).
TIME_LIMITED = ["hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=5"]
RESULT = ("initial", "best", "best_iteration", "history")
WAIT_S = 1500  # under other sessions' load the time-limited job takes many minutes


def local_slurm():
    return script('local_slurm')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    slurm = local_slurm()
    reason = slurm.unavailable_reason()
    if reason:
        pytest.skip(reason)
    start = time.monotonic()
    slurm.install(log=print)
    installed = time.monotonic()
    cluster = slurm.LocalSlurm(tmp_path_factory.mktemp("slurm")).start(log=print)
    print(f"SLURM packages: {installed - start:.1f} s; one-node cluster up in {time.monotonic() - installed:.1f} s")
    yield cluster
    assert sorted(cluster.stop()) == ["munged", "slurmctld", "slurmd"]
    assert not cluster.running()


@pytest.fixture(scope="module")
def env(cluster):
    return {**os.environ, **cluster.env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}


class App:
    """``python -m reno_exp`` in the background, its output in a log file beside its directory. ``gated``:
    its jobs wait after their GATE_AFTER-th record until ``open_gate()``."""

    def __init__(self, out: Path, overrides: list[str], env: dict, multirun: bool = True, gated: bool = False):
        self.out, self.log, self.gate = out, out.with_suffix(".log"), out.with_suffix(".gate")
        if gated:
            env = {**env, "RENO_EXP_TEST_GATE": str(self.gate), "RENO_EXP_TEST_GATE_AFTER": str(GATE_AFTER),
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests" / "slurm_gate"),
                                                               env.get("PYTHONPATH")]))}
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        cmd = [sys.executable, "-m", "reno_exp", *(["-m"] if multirun else []), *overrides, f"{key}={out}"]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def wait(self) -> App:
        try:
            rc = self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        jobs = "".join(f"\n--- {p}\n{p.read_text()[-2000:]}" for p in sorted(self.out.glob(".submitit/*/*log.*")))
        assert rc == 0, f"{self.log.read_text()[-3000:]}{jobs}"
        return self

    def starts(self, job: str) -> int:
        """How often the job has started (submitit logs each start of a job, a requeued one's too)."""
        log = self.out / ".submitit" / job / f"{job}_0_log.out"
        return log.read_text().count("Starting with JobEnvironment") if log.exists() else 0

    def open_gate(self) -> None:
        self.gate.touch()

    def stop(self) -> None:
        self.open_gate()  # a job still queued must not wait for ever
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def jobs(self) -> list[str]:
        """SLURM ids of the sweep's jobs (array tasks: <array>_<task>), from submitit's job folders."""
        folder = self.out / ".submitit"
        return sorted(p.name for p in folder.iterdir() if re.fullmatch(r"\d+(_\d+)?", p.name)) if folder.is_dir() else []

    def job_id(self) -> str:
        """The SLURM id of a one-job sweep, once submitted."""
        (job,) = until(self.jobs, "submission", alive=self)
        return job


def records(run_dir: Path) -> list[dict]:
    """Every line of a results.jsonl, each one whole (a torn or repeated line fails here)."""
    path = run_dir / RESULTS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def results(*run_dirs: Path) -> dict[tuple[str, int], dict]:
    """(prompt, seed) -> what the optimisation found, over the runs' records; no item may appear twice."""
    out = {}
    for run_dir in run_dirs:
        for r in records(run_dir):
            key = (r["prompt"], r["seed"])
            assert key not in out, f"{key} recorded twice"
            out[key] = {k: r[k] for k in RESULT}
    return out


def items(compose, overrides: list[str]) -> set[tuple[str, int]]:
    cfg = compose([o for o in overrides if not o.startswith("benchmark.shard_index")
                   and not o.startswith("benchmark.num_shards")])
    return {(i.prompt, i.seed) for i in instantiate(cfg.benchmark).items(cfg.seed)}


def state(cluster, job: str) -> str:
    return cluster.client("squeue", "--noheader", "--states=all", f"--jobs={job}", "--format=%T").stdout.strip()


def until(condition, what: str, timeout: float = WAIT_S, every: float = 0.2, alive: App | None = None):
    """Polls ``condition()`` until it is true (returned), or fails naming ``what`` after ``timeout`` s or
    when ``alive``'s process has ended."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert alive is None or alive.proc.poll() is None, f"ended before {what}: {alive.log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(every)
    return value


def final_state(cluster, job: str) -> str:
    """The state a job ends in (the launcher returns once the result is written, while the job exits)."""
    until(lambda: state(cluster, job) not in ("RUNNING", "COMPLETING"), f"end of job {job}", timeout=60)
    return state(cluster, job)


def restarts(cluster, job: str) -> int:
    shown = cluster.client("scontrol", "show", "job", job, check=True).stdout
    return int(re.search(r"Restarts=(\d+)", shown).group(1))


@pytest.fixture(scope="module")
def time_limited(tmp_path_factory, cluster, env):
    """The time-limited job and its uninterrupted reference, started first: they run while the other tests
    use the node's other CPU. The job waits at its gate until SLURM signals its time limit; after
    submitit's first time-out requeue it gets an hour and its gate opens."""
    root = tmp_path_factory.mktemp("time_limited")
    apps = (App(root / "slurm", [*WORK, *SLURM, *TIME_LIMITED], env, gated=True),
            App(root / "reference", WORK, env, False))
    with ThreadPoolExecutor(1) as pool:
        extended = pool.submit(extend_after_first_time_out, cluster, apps[0])
        yield (*apps, extended)
        for app in apps:
            app.stop()


def extend_after_first_time_out(cluster, app: App) -> str:
    job = app.job_id()
    log = app.out / ".submitit" / job / f"{job}_0_log.out"
    until(lambda: log.exists() and f"Requeued job {job}" in log.read_text(), "time-out requeue", alive=app, every=0.5)
    cluster.client("scontrol", "update", f"JobId={job}", "TimeLimit=60", check=True)
    app.open_gate()
    return re.search(r"TimeLimit=(\S+)", cluster.client("scontrol", "show", "job", job, check=True).stdout).group(1)


@pytest.fixture(scope="module")
def shard_sweeps(tmp_path_factory, env, time_limited):
    root = tmp_path_factory.mktemp("shards")
    slurm, basic = App(root / "slurm", [*SHARDS, *SLURM], env), App(root / "basic", SHARDS, env)
    try:
        return slurm.wait(), basic.wait()
    finally:
        slurm.stop()
        basic.stop()


@pytest.mark.slow
@pytest.mark.timeout(2 * WAIT_S)
def test_sweep_on_slurm_gives_the_records_of_the_basic_launcher(shard_sweeps):
    slurm, basic = shard_sweeps
    log = slurm.log.read_text()  # no accounting here: one line says so, no warning at each poll
    assert log.count("sacct cannot report job states here") == 1 and "Bypassing sacct error" not in log, log
    tasks = [job for job in slurm.jobs() if "_" in job]  # <array id>_<task>; <array id> holds the pickles
    assert len(tasks) == 3 and len({task.split("_")[0] for task in tasks}) == 1, tasks
    assert basic.jobs() == []
    slurm, basic = slurm.out, basic.out
    for job in ("0", "1", "2"):
        assert (slurm / job / "run.yaml").read_text() == (basic / job / "run.yaml").read_text()  # same config
        assert results(slurm / job) == results(basic / job) != {}


@pytest.mark.slow
@pytest.mark.timeout(2 * WAIT_S)
def test_sharded_array_partitions_the_items_and_collects_like_local_shards(shard_sweeps, compose, tmp_path):
    from reno_exp.benchmarks import collect

    slurm, basic = (app.out for app in shard_sweeps)
    shards = [set(results(slurm / job)) for job in ("0", "1", "2")]
    assert [len(s) for s in shards] == [2, 2, 2]
    assert set.union(*shards) == items(compose, SHARDS) and len(set.union(*shards)) == 6
    for sweep in (slurm, basic):
        assert collect.main([str(sweep), str(tmp_path / sweep.name)]) == 0
    tree = {p.relative_to(tmp_path / "slurm"): p.read_bytes() for p in (tmp_path / "slurm").rglob("*") if p.is_file()}
    assert tree == {p.relative_to(tmp_path / "basic"): p.read_bytes()
                    for p in (tmp_path / "basic").rglob("*") if p.is_file()}
    assert sorted({p.parts[-3] for p in tree}) == ["best", "initial"] and len(tree) == 2 * 6
    assert all(p.parts[:4] == ("tiny", "color", "t2i_compbench", "color") for p in tree)


@pytest.mark.slow
@pytest.mark.timeout(2 * WAIT_S)
def test_preempted_job_is_requeued_and_its_records_equal_an_uninterrupted_run(
        cluster, env, time_limited, compose, tmp_path):
    app = App(tmp_path / "slurm", [*WORK, *SLURM], env, gated=True)
    try:
        job, run_dir = app.job_id(), tmp_path / "slurm" / "0"
        until(lambda: len(records(run_dir)) >= GATE_AFTER, "records before the gate", alive=app)
        cluster.client("scontrol", "requeue", job, check=True)
        # SIGTERM (which submitit bypasses), SIGKILL KillWait later, then the requeued job starts and waits
        # at the gate too: the gate opens only once the first one is dead, or it would finish the work
        until(lambda: app.starts(job) == 2, "start of the requeued job", alive=app)
        at_preemption = len(records(run_dir))
        app.open_gate()
        app.wait()
    finally:
        app.stop()
    expected = items(compose, WORK)
    assert at_preemption == GATE_AFTER and len(expected) == 12, "the preemption did not find the job at its gate"
    requeues = restarts(cluster, job)
    print(f"preempted job {job}: {at_preemption}/{len(expected)} items recorded at the preemption, "
          f"{requeues} requeue(s)")
    assert requeues == 1 and final_state(cluster, job) == "COMPLETED"
    assert len(list((run_dir / "launches").iterdir())) == 2  # the run dir took the requeued job as a resume
    reference = results(time_limited[1].wait().out)
    assert results(run_dir) == {k: reference[k] for k in expected}


@pytest.mark.slow
@pytest.mark.timeout(2 * WAIT_S)
def test_job_at_its_time_limit_is_requeued_by_submitit_and_its_records_equal_an_uninterrupted_run(
        cluster, time_limited, compose):
    slurm, reference, extended = time_limited
    slurm.wait()
    reference.wait()
    assert extended.result(timeout=60) == "01:00:00"  # after the first time-out
    (job,) = slurm.jobs()
    log = next((slurm.out / ".submitit" / job).glob("*_log.out")).read_text()
    by_submitit = re.findall(rf"^submitit INFO .* - Requeued job {job} \((\d+) remaining timeouts\)$", log, re.M)
    requeues = restarts(cluster, job)
    print(f"time-limited job {job}: {requeues} requeue(s) by submitit at its time limit")
    assert by_submitit and requeues == len(by_submitit), log[-3000:]
    assert [int(n) for n in by_submitit] == list(range(19, 19 - requeues, -1))  # max_num_timeout=20 counts down
    assert final_state(cluster, job) == "COMPLETED"
    expected = results(reference.out)
    assert set(expected) == items(compose, WORK) and len(expected) == 12
    assert results(slurm.out / "0") == expected


def test_squeue_states_cover_array_tasks_and_jobs_slurm_has_forgotten():
    from reno_exp.experiment.slurm import GONE, SqueueWatcher

    watcher = SqueueWatcher(delay_s=600)
    for job in ("7_0", "7_1", "7_2", "7_3", "9"):
        watcher.register_job(job)
    assert watcher._make_command()[:2] == ["squeue", f"--user={os.getuid()}"]
    info = watcher.read_info(b"7_0|COMPLETED|vm\n7_1|RUNNING|vm\n7_[2-3%2]|PENDING|\n")
    assert {job: info[job]["State"] for job in watcher._registered} == {
        "7_0": "COMPLETED", "7_1": "RUNNING", "7_2": "PENDING", "7_3": "PENDING", "9": GONE}
    watcher._info_dict.update(info)
    assert watcher.is_done("9", mode="cache") and not watcher.is_done("7_2", mode="cache")
