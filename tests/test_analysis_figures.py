"""The analysis end to end on run directories: files written, pictures decodable, Figure 5, sweeps, W&B."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from run_dirs import paper_config

from reno_exp.analysis import figure5
from reno_exp.analysis.__main__ import main
from reno_exp.analysis.analyse import analyse, analyse_run
from reno_exp.analysis.runs import Run, run_dirs
from reno_exp.store.evaluations import Score
from reno_exp.store.records import Record, RunRecords
from reno_exp.store.rundir import RunInfo

CATEGORIES = ["color", "shape", "color"]
ITERS = [0, 2, 4]


def make_run(path, noise_shape=(1, 4, 16, 16), logger=None, n=3, options=("model=tiny",)):
    """A run directory written with the app's own record writer: noises, images, iterates, curves; its
    run.yaml holds the config of ``options`` with ``optimizer.optim.lr=2`` (on CUDA: the paper's dtypes)."""
    g = torch.Generator().manual_seed(0)
    cfg = {**paper_config(*options, "benchmark=t2i_compbench", "optimizer.optim.lr=2"),
           "logger": logger or {"_target_": "reno_exp.experiment.loggers.NullLogger"}}
    info = RunInfo.of(cfg, {"model": options[0].split("=")[1]}, overrides=[*options, "optimizer.optim.lr=2"])
    rec = RunRecords(path)
    info.save(path)
    for i in range(n):
        key = f"{i:05d}_00"
        z = torch.randn(noise_shape, generator=g)
        files = {"noise": rec.save_tensors({"initial_noise": z, "best_noise": z + 0.1 * torch.randn(noise_shape, generator=g),
                                            "initial_latent": 0.5 * z, "best_latent": 0.5 * z + 0.1},
                                           f"noise/{key}.safetensors"),
                 "initial_image": rec.save_image(torch.rand(1, 3, 32, 32, generator=g), f"images/{key}_initial.png"),
                 "image": rec.save_image(torch.rand(1, 3, 32, 32, generator=g), f"images/{key}_best.png"),
                 "iterates": [rec.save_image(torch.rand(1, 3, 32, 32, generator=g), f"iterates/{key}_{it:03d}.png")
                              for it in ITERS]}
        color = [float(-100 + 10 * t + i) for t in range(6)]
        rec.append(Record.from_json({"key": key, "index": i, "k": 0, "prompt": f"a prompt number {i}", "seed": 0, "fingerprint": info.fingerprint,
                    "meta": {"suite": "t2i_compbench", "category": CATEGORIES[i % 3]},
                    "initial": {"color": color[0], "total": color[0]}, "best": {"color": color[-1], "total": color[-1]},
                    "best_iteration": 5, "history": color,
                    "curves": {"color": color, "reg": [0.1] * 6, "loss": [-c for c in color],
                               "grad_norm": [1.0] * 5 + [None]},
                    "events": [], **files, "seconds": 1.0, "peak_memory_bytes": 1}))
    (path / "launches" / "000").mkdir(parents=True)
    OmegaConf.save(cfg, path / "launches" / "000" / "config.yaml")
    return path


def evaluation_lines():
    """Documented format: {key, image_set, metric, score, evaluator}. Items 0 and 2 are colour, 1 shape."""
    rows = []
    for i, it in [(i, it) for i in range(3) for it in ITERS]:
        rows.append({"key": f"{i:05d}_00", "image_set": f"iter_{it:03d}", "metric": "t2i_compbench",
                     "score": 0.1 * it + 0.01 * i, "evaluator": "test"})
    for i in range(3):
        rows.append({"key": f"{i:05d}_00", "image_set": "initial", "metric": "t2i_compbench", "score": 99.0,
                     "evaluator": "test"})  # the same image as iter_000: its iter_000 score is kept
        rows.append({"key": f"{i:05d}_00", "image_set": "best", "metric": "t2i_compbench", "score": 0.9,
                     "evaluator": "test"})
        rows.append({"key": f"{i:05d}_00", "image_set": "iter_002", "metric": "aesthetic", "score": 5.0 + i,
                     "evaluator": "test"})
    return rows


def decodes(path, min_bytes=5000):
    assert path.exists() and path.stat().st_size > min_bytes, path
    with Image.open(path) as im:
        im.load()
        assert im.width > 200 and im.height > 150
        return im.size


def test_a_run_gets_its_table_plots_and_per_prompt_figures(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "evaluation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evaluation_lines()) + '{"torn')
    out = analyse_run(run)
    a = run / "analysis"
    for name in ("coherence.png", "spectrum.png", "curves.png", "iterates.png", "figure5.png",
                 "noise/00000_00.png", "noise/00001_00.png", "noise/00002_00.png"):
        decodes(a / name)
    with (a / "distances.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["distance"] for r in rows][0] == "initial_vs_optimised_noise" and len(rows) == 5
    assert all(r["seed_presentation"] == "" for r in rows)  # tiny model: not comparable
    assert "not comparable" in (a / "distances.md").read_text()
    summary = (a / "summary.md").read_text()
    assert "Mean coherence" in summary and "noise/00002_00.png" in summary
    assert len(out.pictures) == 8
    with (a / "coherence.csv").open() as f:
        assert len(list(csv.DictReader(f))) == len(out.coherence.freqs)


def test_figure5_means_per_category_and_iteration(tmp_path):
    records = Run.load(make_run(tmp_path / "run")).records
    ps = {(p.metric, p.group, p.iteration): p for p in figure5.points([Score(**r) for r in evaluation_lines()], records)}
    # colour items 0 and 2: 0.1 it + 0.01 i -> mean 0.1 it + 0.01; shape item 1: 0.1 it + 0.01
    assert ps[("t2i_compbench", "color", 4)].mean == pytest.approx(0.41)
    assert ps[("t2i_compbench", "color", 4)].n == 2
    assert ps[("t2i_compbench", "shape", 2)].mean == pytest.approx(0.21)
    assert ps[("t2i_compbench", "color", 0)].mean == pytest.approx(0.01)  # not the "initial" line's 99
    assert ps[("t2i_compbench", "shape", None)].mean == pytest.approx(0.9)
    assert ps[("aesthetic", "color", 2)].mean == pytest.approx(6.0)
    assert figure5.iteration_of("best") is None and figure5.iteration_of("iter_049") == 49
    decodes(figure5.figure(list(ps.values()), tmp_path / "f5.png"))


def test_geneval_overall_is_the_mean_of_tag_scores():
    records = [{"key": "a", "meta": {"tag": "counting"}}, {"key": "b", "meta": {"tag": "counting"}},
               {"key": "c", "meta": {"tag": "position"}}]
    ev = [Score(k, "iter_010", "geneval", s, "test") for k, s in
          (("a", 1.0), ("b", 0.0), ("c", 1.0))]
    ps = {(p.group, p.iteration): p.mean for p in figure5.points(ev, records)}
    assert ps[("counting", 10)] == 0.5 and ps[("position", 10)] == 1.0
    assert ps[("overall", 10)] == 0.75  # not the mean over images (2/3)


def test_cli_on_a_sweep_writes_each_job_and_a_table_across_jobs(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    make_run(sweep / "0")
    make_run(sweep / "1")
    (sweep / "multirun.yaml").write_text("{}\n")
    assert [p.name for p in run_dirs(sweep)] == ["0", "1"]
    assert main([str(sweep), "--max-figures", "1"]) == 0
    for job in ("0", "1"):
        decodes(sweep / job / "analysis" / "coherence.png")
        assert sorted(p.name for p in (sweep / job / "analysis" / "noise").iterdir()) == ["00000_00.png"]
        assert "first 1 of 3" in (sweep / job / "analysis" / "summary.md").read_text()
    table = (sweep / "analysis" / "distances.md").read_text()
    assert "| distance | 0 | 1 | seed presentation (SD-Turbo, Parti-Prompts) |" in table and "| n/c |" in table and "optimizer.optim.lr=2" in table
    assert "initial vs optimised noise" in capsys.readouterr().out
    assert main([str(tmp_path / "nothing")]) == 2


def test_packed_latents_are_unpacked_with_a_note(tmp_path):
    out = analyse_run(make_run(tmp_path / "flux", noise_shape=(1, 64, 16), n=1))
    assert any("unpacked to (4, 16, 16)" in n for n in out.notes)
    decodes(out.out_dir / "noise" / "00000_00.png")
    assert out.table.shape == (64, 16)


@pytest.mark.slow  # W&B's service process takes several seconds to start
def test_wandb_only_for_runs_that_logged_to_wandb(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_SILENT", "true")
    plain = make_run(tmp_path / "plain", n=1)
    from reno_exp.analysis.wandb_log import publish

    assert publish(Run.load(plain), tmp_path, [], None) is False
    wb = make_run(tmp_path / "wb", n=1, logger={"_target_": "reno_exp.experiment.loggers.WandbLogger", "project": "t",
                                               "entity": None, "mode": "offline", "group": None})
    out = analyse_run(wb, wandb=True)
    runs = list((out.out_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))


@pytest.mark.slow
def test_on_a_real_tiny_run(compose, tmp_path):
    from reno_exp.experiment.run import run

    cfg = compose(["optimizer.n_iters=2", "optimizer.save_every=1", "benchmark.seeds=[0,1]", "progress=false"])
    run(cfg, tmp_path)
    outputs = analyse(tmp_path)
    assert len(outputs) == 1
    o = outputs[0]
    assert "not comparable: model tiny" in o.table.note  # from the run's own run.yaml
    assert o.table.shape == (4, 8, 8) and o.table.rows[0].n == 2
    assert o.table.rows[0].mean > 0  # the colour reward moved the noise
    decodes(o.out_dir / "iterates.png")
    decodes(o.out_dir / "noise" / "00000_01.png")


# ------------------------------------------------------------------ titles, ticks, blanks, fonts (issue 13 item 5)
@pytest.fixture
def drawn(monkeypatch):
    """file name -> the Figure saved there (the PNG is written as usual)."""
    from matplotlib.figure import Figure

    figs = {}
    savefig = Figure.savefig

    def record(self, path, *a, **kw):
        figs[Path(path).name] = self
        return savefig(self, path, *a, **kw)

    monkeypatch.setattr(Figure, "savefig", record)
    return figs


def test_titles_name_the_configuration_not_the_time(tmp_path, drawn):
    run = make_run(tmp_path / "15-29-03", n=1, options=("model=sd_turbo", "reward=all"))
    label = "sd_turbo 512 px | hpsv2 5 + imagereward 1 + clip 0.01 + pickscore 0.05 | reno, 50 iterates"
    assert Run.load(run).label == f"{label} [optimizer.optim.lr=2]"  # lr 2 is not the paper's setting
    analyse_run(run)
    titles = {name: (f._suptitle.get_text() if f._suptitle else f.axes[0].get_title()) for name, f in drawn.items()}
    for name in ("coherence.png", "spectrum.png", "curves.png", "iterates.png", "00000_00.png"):
        assert titles[name].startswith(f"{label} [optimizer.optim.lr=2]"), titles[name]
        assert "15-29-03" not in titles[name]


def test_figure5_only_with_saved_iterates_and_integer_ticks(tmp_path, drawn):
    run = make_run(tmp_path / "run", n=2)
    lines = [r for r in evaluation_lines() if r["image_set"] in ("initial", "best")]  # no iterate scored
    (run / "evaluation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    out = analyse_run(run)
    assert not (run / "analysis" / "figure5.png").exists() and not (run / "analysis" / "figure5.csv").exists()
    assert any("no Figure 5" in n for n in out.notes)
    (run / "evaluation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evaluation_lines()))
    analyse_run(run)
    decodes(run / "analysis" / "figure5.png")
    panels = {ax.get_title(): ax for ax in drawn["figure5.png"].axes}
    assert list(panels["t2i_compbench"].get_xticks()) == [0, 2, 4]  # the scored iterations
    assert list(panels["aesthetic"].get_xticks()) == [2]
    ax = drawn["curves.png"].axes[0]
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks


def test_one_item_has_no_standard_deviation(tmp_path):
    run = make_run(tmp_path / "run", n=1)
    analyse_run(run)
    with (run / "analysis" / "distances.csv").open() as f:
        rows = {r["distance"]: r for r in csv.DictReader(f)}
    assert rows["initial_vs_optimised_noise"]["n"] == "1" and rows["initial_vs_optimised_noise"]["std"] == ""
    assert rows["random_vs_random_noise"]["std"] != ""  # 256 random pairs: a spread
    md = (run / "analysis" / "distances.md").read_text()
    assert "| initial vs optimised noise | " in md and " |  | 1 | n/c |" in md
    assert "seed presentation (SD-Turbo, Parti-Prompts)" in md and "Seed presentation's values: not comparable" in md
    assert "| seed (" not in md and "Seed values" not in md


def test_prompts_in_any_script(tmp_path, monkeypatch, caplog, recwarn):
    from reno_exp.analysis import fonts

    assert fonts.families()[0] == "DejaVu Sans"
    # with matplotlib's DejaVu Sans alone: Greek, Cyrillic and accents drawn; CJK shown as white squares
    monkeypatch.setattr(fonts, "families", lambda: ("DejaVu Sans",))
    fonts.coverage.cache_clear()
    monkeypatch.setattr(fonts, "_warned", set())
    prompt = "東京 café, Ελλάδα и Москва"
    assert fonts.text(prompt) == "□□ café, Ελλάδα и Москва"
    assert "drawn as □" in caplog.text and "fonts-noto-cjk" in caplog.text
    run = make_run(tmp_path / "run", n=1)
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    rows[0]["prompt"] = prompt
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    analyse_run(run)
    decodes(run / "analysis" / "noise" / "00000_00.png")
    assert not [w for w in recwarn if "missing from font" in str(w.message)]  # no silent empty boxes
    fonts.coverage.cache_clear()


def test_a_damaged_config_is_named_in_one_line(tmp_path, capsys):
    run = make_run(tmp_path / "run", n=1)
    (run / "run.yaml").write_text("model: [unclosed\n")
    assert main([str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {run / 'run.yaml'} is not a reno_exp run record")
