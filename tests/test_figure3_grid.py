"""``experiment=figure3`` (the seed presentation's Figure 3) and the sweep grid of ``reno_exp.analysis``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import python
from hydra.utils import instantiate
from PIL import Image
from run_dirs import paper_config

from reno_exp.analysis import grid
from reno_exp.analysis.__main__ import main as analysis_main
from reno_exp.analysis.runs import Run
from reno_exp.store.records import Record, RunRecords, read_records
from reno_exp.store.rundir import RunInfo


def test_figure3_sweeps_the_colour_channel_with_hyper_sdxl(compose):
    cfg = compose(["experiment=figure3"], return_hydra_config=True)
    assert {k: v.split(",") for k, v in cfg.hydra.sweeper.params.items()} == {"reward.color.channel": ["red", "blue"]}
    assert cfg.hydra.runtime.choices.model == "hyper_sdxl" and cfg.model._target_.endswith("HyperSDXL")
    assert list(cfg.reward) == ["color"] and cfg.optimizer.optim.lr == 10.0 and cfg.optimizer.method == "reno"
    items = instantiate(cfg.benchmark).items(cfg.seed)
    assert [i.prompt for i in items] == ["a shiba inu", "a snail", "brain coral", "a capybara"]
    for channel in ("red", "green", "blue"):  # green on request
        assert compose(["experiment=figure3", f"reward.color.channel={channel}"]).reward.color.channel == channel


def test_differing_overrides_label_the_columns():
    jobs = [["experiment=figure3", "reward.color.channel=red"], ["experiment=figure3", "reward.color.channel=blue"]]
    assert grid.differing_overrides(jobs) == ["reward.color.channel=red", "reward.color.channel=blue"]
    jobs = [["model=tiny", "optimizer.n_iters=2"], ["model=sd_turbo", "optimizer.n_iters=2", "seed=3"]]
    assert grid.differing_overrides(jobs) == ["model=tiny", "model=sd_turbo, seed=3"]


def make_job(path: Path, channel: str, prompts: list[str], initial_seed: int = 0, start: int = 0) -> Path:
    """A job directory as the app writes it: images, records and its run.yaml; ``start``: its first item's
    index (a shard's)."""
    info = RunInfo.of(paper_config("model=tiny", f"reward.color.channel={channel}", "optimizer.n_iters=4"),
                      overrides=[f"reward.color.channel={channel}"])
    rec = RunRecords(path)
    info.save(path)
    for i, prompt in enumerate(prompts, start):
        key = f"{i:05d}_00"
        initial = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(initial_seed + i))
        best = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(100 + 10 * i + len(channel)))
        rec.append(Record.from_json({"key": key, "index": i, "k": 0, "prompt": prompt, "seed": 0, "fingerprint": info.fingerprint,
                    "initial": {"color": -10.0 * (i + 1), "total": -10.0 * (i + 1)},
                    "best": {"color": 5.0 * (i + 1), "total": 5.0 * (i + 1)}, "best_iteration": 3,
                    "initial_image": rec.save_image(initial, f"images/{key}_initial.png"),
                    "image": rec.save_image(best, f"images/{key}_best.png")}))
    return path


def centre_mean(im: Image.Image, box) -> np.ndarray:
    """Mean colour of the middle half of ``box`` (left, top, right, bottom) in ``im``."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    crop = im.crop((round(left + w / 4), round(top + h / 4), round(right - w / 4), round(bottom - h / 4)))
    return np.asarray(crop.convert("RGB"), dtype=float).reshape(-1, 3).mean(0)


def check_grid(sweep: Path, jobs: list[Path]):
    """The picture has one column per job plus the initial image, each tile showing its own image."""
    records = [read_records(j) for j in jobs]
    rows = len(records[0])
    with Image.open(sweep / "analysis" / "grid.png") as im:
        im.load()
        assert im.size == grid.size(rows, len(jobs) + 1) != grid.size(rows, len(jobs))
        for r in range(rows):
            sources = [jobs[0] / records[0][r]["initial_image"]] + [j / rec[r]["image"] for j, rec in zip(jobs, records)]
            for c, src in enumerate(sources):
                with Image.open(src) as s:
                    want = centre_mean(s, (0, 0, s.width, s.height))
                got = centre_mean(im, grid.tile_box(r, c, rows))
                assert np.abs(got - want).max() < 6, (r, c, got, want)
            # the gutter left of the first tile is background
            left, top, _, bottom = grid.tile_box(r, 0, rows)
            assert im.getpixel((int(left) - 3, int((top + bottom) / 2)))[:3] == (255, 255, 255)


def test_grid_of_two_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    jobs = [make_job(sweep / "0", "red", ["a shiba inu", "a snail"]), make_job(sweep / "1", "blue", ["a shiba inu", "a snail"])]
    made, notes = grid.grid_figure([Run.load(j) for j in jobs], sweep / "analysis" / "grid.png")
    assert made == sweep / "analysis" / "grid.png" and notes == []
    check_grid(sweep, jobs)
    # jobs whose initial images differ: said, not hidden
    other = make_job(tmp_path / "other" / "1", "blue", ["a shiba inu", "a snail"], initial_seed=7)
    _, notes = grid.grid_figure([Run.load(jobs[0]), Run.load(other)], tmp_path / "g2.png")
    assert len(notes) == 2 and "different initial images" in notes[0]


def test_the_shards_of_a_configuration_share_its_column(tmp_path):
    """Two configurations, each in two shards: three columns (initial, red, blue), every tile an image."""
    sweep, prompts = tmp_path / "sweep", ["a shiba inu", "a snail", "brain coral", "a capybara"]
    jobs = {(channel, shard): make_job(sweep / f"{channel}{shard}", channel, prompts[2 * shard: 2 * shard + 2],
                                       start=2 * shard) for channel in ("red", "blue") for shard in (0, 1)}
    runs = [Run.load(j) for j in jobs.values()]
    cols = grid.columns(runs)
    assert [c.label for c in cols] == ["reward.color.channel=red", "reward.color.channel=blue"]
    assert [[r.dir.name for r in c.runs] for c in cols] == [["red0", "red1"], ["blue0", "blue1"]]
    made, notes = grid.grid_figure(runs, sweep / "analysis" / "grid.png")
    with Image.open(made) as im:
        assert im.size == grid.size(4, 3)  # one column per configuration, not per shard (5)
        for r in range(4):
            for c, channel in enumerate(("red", "blue"), start=1):
                job = jobs[(channel, r // 2)]
                with Image.open(job / "images" / f"{r:05d}_00_best.png") as s:
                    want = centre_mean(s, (0, 0, s.width, s.height))
                assert np.abs(centre_mean(im, grid.tile_box(r, c, 4)) - want).max() < 6, (r, c)


@pytest.mark.slow  # a real two-job sweep of the tiny model (about 35 s), then the analysis
def test_grid_of_a_two_job_tiny_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    cmd = ["-m", "reno_exp", "-m", "reward.color.channel=red,blue", "optimizer.n_iters=3",
           "benchmark=parti_prompts", "benchmark.categories=[Animals]", "benchmark.limit=2", "progress=false",
           f"hydra.sweep.dir={sweep}"]
    done = python(*cmd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert analysis_main([str(sweep), "--max-figures", "2", "--n-random", "8"]) == 0
    jobs = [sweep / "0", sweep / "1"]
    check_grid(sweep, jobs)
    assert [c.label for c in grid.columns([Run.load(j) for j in jobs])] == ["reward.color.channel=red",
                                                                            "reward.color.channel=blue"]


def test_columns_of_other_methods_and_models_are_named_by_their_options(tmp_path):
    """A sweep over methods (or models) labels its columns by the option, not by every key it sets."""
    from run_dirs import paper_config

    runs = []
    for n, options in enumerate([("optimizer=reno",), ("optimizer=best_of_n", "optimizer.n_iters=99"),
                                 ("model=sd_turbo", "optimizer=reno")]):
        (tmp_path / str(n)).mkdir()
        RunInfo.of(paper_config(*options), {"reward": "color"}).save(tmp_path / str(n))
        runs.append(Run.load(tmp_path / str(n)))
    assert [c.label for c in grid.columns(runs)] == ["model=tiny, optimizer=reno, optimizer.n_iters=50",
                                                     "model=tiny, optimizer=best_of_n, optimizer.n_iters=99",
                                                     "model=sd_turbo, optimizer=reno, optimizer.n_iters=50"]
