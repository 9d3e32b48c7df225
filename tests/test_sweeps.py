"""Paper presets compose the exact sweeps; the SLURM launcher writes the sbatch we mean; a sweep runs end to end."""

from __future__ import annotations

import itertools
import os

import pytest
from helpers import python
from hydra.core.utils import setup_globals
from hydra.utils import instantiate

from reno_exp import tables
from reno_exp.tables.jobs import find_jobs

MODELS = ["sd_turbo", "sdxl_turbo", "pixart_dmd", "hyper_sdxl"]
SWEEPS = {
    "table1": {"reward": ["clip", "hpsv2", "imagereward", "pickscore", "all"],
               "benchmark.category": ["color", "shape", "texture"]},
    "table2": {"model": MODELS, "benchmark.category": ["color", "shape", "texture", "spatial", "non_spatial", "complex"]},
    "table3": {"model": MODELS},
}


@pytest.mark.parametrize("experiment", SWEEPS)
def test_presets_compose_the_papers_sweeps(compose, experiment):
    cfg = compose([f"experiment={experiment}"], return_hydra_config=True)
    params = {k: v.split(",") for k, v in cfg.hydra.sweeper.params.items()}
    assert params == SWEEPS[experiment]
    choices = cfg.hydra.runtime.choices
    assert choices.optimizer == "reno" and cfg.optimizer.n_iters == 50 and cfg.optimizer.optim.lr == 5.0
    assert choices.benchmark == ("geneval" if experiment == "table3" else "t2i_compbench")
    assert list(cfg.benchmark.seeds) == ([0, 1, 2, 3] if experiment == "table3" else list(range(10)))
    if experiment != "table1":
        assert choices.reward == "all" and set(cfg.reward) == {"hpsv2", "imagereward", "clip", "pickscore"}
    else:
        assert choices.model == "sd_turbo"
    # every job of the sweep composes (each reward and model option exists and validates)
    keys = list(SWEEPS[experiment])
    for values in itertools.product(*SWEEPS[experiment].values()):
        job = compose([f"experiment={experiment}", *(f"{k}={v}" for k, v in zip(keys, values))])
        if "benchmark.category" in keys:
            assert job.benchmark.category == values[keys.index("benchmark.category")]


def test_command_line_beats_the_preset(compose):
    cfg = compose(["experiment=table1", "model=tiny", "benchmark.limit=2"], return_hydra_config=True)
    assert cfg.hydra.runtime.choices.model == "tiny" and cfg.benchmark.limit == 2


def test_slurm_launcher_sbatch(compose, tmp_path, monkeypatch):
    """The real hydra-submitit launcher builds its submitit executor from conf/hydra/launcher/slurm.yaml."""
    import submitit

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\n")  # submitit only checks that SLURM's tools exist
    (bin_dir / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    cfg = compose(["experiment=table3", "hydra/launcher=slurm", "hydra.launcher.partition=gpu",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}"], return_hydra_config=True)
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_.endswith("SlurmLauncher")
    setup_globals()
    launcher = instantiate(launcher_cfg)
    launcher.config = cfg
    captured = {}

    def map_array(self, fn, *args):
        captured["executor"], captured["n"] = self, len(args[0])
        return []

    monkeypatch.setattr(submitit.AutoExecutor, "map_array", map_array)
    launcher.launch([[f"model={m}"] for m in MODELS], initial_job_idx=0)
    executor = captured["executor"]
    assert captured["n"] == 4
    sbatch = executor._executor._make_submission_file_text("python job.py", "uid")
    for line in ["#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --mem=64GB",
                 "#SBATCH --time=720", "#SBATCH --requeue", "#SBATCH --signal=USR2@120",
                 "#SBATCH --cpus-per-task=8"]:
        assert line in sbatch, f"{line} not in\n{sbatch}"
    assert executor._executor.max_num_timeout == 20
    assert executor._executor.parameters["array_parallelism"] == 64  # --array=0-N%64 at submission


@pytest.mark.slow
def test_table1_sweep_runs_offline_and_tabulates(tmp_path, capsys):
    """The issue's smoke run (smaller): Table 1's whole sweep with the tiny model and tiny reward models."""
    sweep = tmp_path / "sweep"
    cmd = ["-m", "reno_exp", "-m", "experiment=table1", "model=tiny", "random_init=true", "tiny=true",
           "benchmark.limit=1", "benchmark.seeds=[0]", "optimizer.n_iters=2", "progress=false",
           f"hydra.sweep.dir={sweep}"]
    done = python(*cmd, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = find_jobs(sweep)
    assert len(jobs) == 15
    assert {(j.reward, j.info.config["benchmark"]["category"]) for j in jobs} == set(
        itertools.product(SWEEPS["table1"]["reward"], SWEEPS["table1"]["benchmark.category"]))
    assert tables.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "| | Color | Shape | Texture | Aesthetic |" in out
    assert "| SD-Turbo + All | — (0.7830) | — (0.6244) | — (0.7466) | — (5.704) |" in out
    lines = out.splitlines()
    for reward in SWEEPS["table1"]["reward"]:  # the runs table: each job once, marked as not the paper's setting
        for category in SWEEPS["table1"]["benchmark.category"]:
            assert sum(x.startswith(f"| tiny | reno | {reward} | random_init=true, tiny=true, ") and
                       f"optimizer.n_iters=2 | t2i_compbench | {category} | 1 |" in x for x in lines) == 1, reward
