"""Tables 1-3 from a sweep's job dirs: aggregation, baseline from initial images, missing != zero, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from run_dirs import make_run_dir, paper_config

from reno_exp import tables
from reno_exp.tables import wandb_log


def make_job(root: Path, num: int, model: str, reward: str, suite: str, records: list[dict],
             scores: list[dict], experiment: str | None = None, overrides: list[str] | None = None,
             logger: dict | None = None, optimizer: str | None = None) -> Path:
    """A job dir as the app leaves it: run.yaml (the config these options compose on CUDA), launches/000,
    results.jsonl, evaluation.jsonl."""
    options = [f"model={model}", f"reward={reward}", f"benchmark={suite}", *([f"optimizer={optimizer}"] * bool(optimizer))]
    config = {**paper_config(*options, *(overrides or [])),
              "logger": logger or {"_target_": "reno_exp.experiment.loggers.NullLogger"}}
    choices = {"model": model, "reward": reward, "benchmark": suite, "experiment": experiment, "optimizer": optimizer}
    return make_run_dir(root / str(num), config, choices, overrides, records, scores)


def t2i_record(index: int, k: int, category: str) -> dict:
    return {"key": f"{index:05d}_{k:02d}", "index": index, "k": k, "prompt": f"{category} prompt {index}", "seed": k,
            "meta": {"suite": "t2i_compbench", "category": category}, "initial": {"total": 0.0}, "best": {"total": 1.0}}


def score(record: dict, image_set: str, metric: str, value: float) -> dict:
    return {"key": record["key"], "image_set": image_set, "metric": metric, "score": value, "evaluator": "test"}


def by_cell(rows: list[dict]) -> dict[tuple[str, str, str], dict]:
    return {(r["model"], r["method"], r["column"]): r for r in rows}


def test_table1_cells_baseline_dedup_and_missing(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    color = [t2i_record(i, k, "color") for i in range(2) for k in range(2)]
    # two reward runs on the same images: their initial images are the baseline, counted once
    make_job(sweep, 0, "sd_turbo", "clip", "t2i_compbench", color,
             [score(r, "initial", "t2i_compbench", 0.5) for r in color]
             + [score(r, "best", "t2i_compbench", v) for r, v in zip(color, [0.6, 0.7, 0.8, 0.9])]
             + [score(r, s, "aesthetic", 5.0 + (s == "best")) for r in color for s in ("initial", "best")],
             experiment="table1")
    make_job(sweep, 1, "sd_turbo", "all", "t2i_compbench", color,
             [score(r, "initial", "t2i_compbench", 0.5) for r in color]
             + [score(r, "best", "t2i_compbench", 1.0) for r in color[:3]]  # one image not scored yet
             + [score(color[0], "iter_010", "t2i_compbench", 0.0)],  # iterates are not table cells
             experiment="table1")
    shape = [t2i_record(0, 0, "shape")]
    make_job(sweep, 2, "sd_turbo", "all", "t2i_compbench", shape, [score(shape[0], "initial", "t2i_compbench", 0.25)],
             experiment="table1")
    assert tables.main([str(sweep)]) == 0
    out = capsys.readouterr().out
    assert "Table 1" in out and "Table 2" not in out and "Table 3" not in out
    assert "| SD-Turbo + ImageReward | — (0.7720) | — (0.6104) | — (0.7334) | — (5.611) |" in out

    rows = list(csv.DictReader(open(sweep / "tables.csv")))
    cells = by_cell(rows)
    assert float(cells[("sd_turbo", "baseline", "color")]["ours"]) == pytest.approx(0.5)
    assert cells[("sd_turbo", "baseline", "color")]["n_images"] == "4"  # 4 images, not 8: no double count
    assert float(cells[("sd_turbo", "clip", "color")]["ours"]) == pytest.approx(0.75)
    assert float(cells[("sd_turbo", "all", "color")]["ours"]) == pytest.approx(1.0)
    assert cells[("sd_turbo", "all", "color")]["n_images"] == "3"
    assert float(cells[("sd_turbo", "baseline", "shape")]["ours"]) == pytest.approx(0.25)
    assert cells[("sd_turbo", "all", "shape")]["ours"] == ""  # no score: missing, not 0
    assert cells[("sd_turbo", "imagereward", "texture")]["ours"] == ""
    assert float(cells[("sd_turbo", "clip", "aesthetic")]["ours"]) == pytest.approx(6.0)
    assert cells[("sd_turbo", "all", "color")]["paper"] == "0.7830"
    assert (sweep / "tables.md").read_text().startswith("### Table 1")


def test_another_method_is_never_labelled_reno_nor_shown_beside_the_papers_reno(tmp_path):
    """A sweep whose every job is best-of-N: no differing override, yet its row is not "SD-Turbo + ReNO"."""
    sweep = tmp_path / "sweep"
    recs = [{"key": f"{i:05d}_00", "index": i, "k": 0, "prompt": f"p{i}", "seed": 0,
             "meta": {"suite": "geneval", "tag": tag, "include": []}} for i, tag in enumerate(tables.TAGS)]
    make_job(sweep, 0, "sd_turbo", "all", "geneval", recs, [score(r, "best", "geneval", 1.0) for r in recs],
             experiment="table3", optimizer="best_of_n", overrides=["optimizer=best_of_n"])
    assert tables.main([str(sweep)]) == 0
    rows = [r for r in csv.DictReader(open(sweep / "tables.csv")) if r["model"] == "sd_turbo" and r["method"] == "all"]
    ours = [r for r in rows if r["ours"]]
    assert {r["row"] for r in ours} == {"SD-Turbo + best-of-N [optimizer=best_of_n]"}
    assert {r["paper"] for r in ours} == {""}  # the paper's SD-Turbo + ReNO numbers are not this method's
    assert float(next(r for r in ours if r["column"] == "mean")["ours"]) == pytest.approx(1.0)
    # the paper's own SD-Turbo + ReNO row stays, with no number of ours in it
    assert {r["ours"] for r in rows if r["row"] == "SD-Turbo + ReNO"} == {""}


def test_geneval_mean_needs_all_six_tags_and_unknown_models_get_rows(tmp_path):
    sweep = tmp_path / "sweep"
    recs, scores = [], []
    for i, tag in enumerate(tables.TAGS):
        for k in range(2):
            r = {"key": f"{i:05d}_{k:02d}", "index": i, "k": k, "prompt": f"p{i}", "seed": k,
                 "meta": {"suite": "geneval", "tag": tag, "include": []}}
            recs.append(r)
            scores += [score(r, "initial", "geneval", float(k == 0)), score(r, "best", "geneval", 1.0)]
    scores = [s for s in scores if not (s["image_set"] == "best" and s["key"].startswith("00005"))]
    make_job(sweep, 0, "tiny", "all", "geneval", recs, scores, experiment="table3")
    assert tables.main([str(sweep), "--out", str(tmp_path / "out")]) == 0
    cells = by_cell(list(csv.DictReader(open(tmp_path / "out" / "tables.csv"))))
    assert float(cells[("tiny", "baseline", "counting")]["ours"]) == pytest.approx(0.5)
    assert float(cells[("tiny", "baseline", "mean")]["ours"]) == pytest.approx(0.5)
    assert cells[("tiny", "all", "color_attr")]["ours"] == ""
    assert cells[("tiny", "all", "mean")]["ours"] == ""  # five of six tags: no overall score
    assert cells[("tiny", "all", "mean")]["paper"] == ""
    assert cells[("sdxl_turbo", "all", "mean")]["paper"] == "0.65"
    assert cells[("DALL-E 3", "reference", "position")]["paper"] == "0.43"


def test_paper_numbers_match_the_seed():
    """The data file holds the seed's Tables 1-3, cell for cell."""
    paper = tables.read_paper()
    seed = (Path(__file__).resolve().parents[2] / "shared" / "seed" / "000_79d47256aad078f9.txt")
    if seed.exists():  # the seed presentation sits beside the repository here (not in a bare checkout)
        assert "+ ImageReward\t0.7720\t0.6104\t0.7334\t5.611" in seed.read_text()
    assert [paper[("1", "sd_turbo", "imagereward", c)] for c in ("color", "shape", "texture", "aesthetic")] == [
        "0.7720", "0.6104", "0.7334", "5.611"]
    assert [paper[("2", "hyper_sdxl", "all", c)] for c in tables.T2I] == ["0.79", "0.63", "0.77", "0.26", "0.31", "0.48"]
    assert [paper[("3", "pixart_dmd", "baseline", c)] for c in ["mean", *tables.TAGS]] == [
        "0.45", "0.95", "0.38", "0.46", "0.76", "0.05", "0.09"]
    assert ("2", "DALL-E 3", "reference", "spatial") not in paper  # "-" in the paper: absent, not zero
    assert sum(1 for k in paper if k[0] == "1") == 24
    assert sum(1 for k in paper if k[0] == "2") == 81
    assert sum(1 for k in paper if k[0] == "3") == 105


def test_no_runs_is_an_error(tmp_path, capsys):
    assert tables.main([str(tmp_path)]) == 2  # bad input: exit code 2, one line
    assert "no run under" in capsys.readouterr().err


def test_wandb_tables(tmp_path, monkeypatch, capsys):
    """--wandb logs one wandb.Table per layout, ours and paper side by side (wandb.init captured)."""
    import wandb

    logged, inits = {}, []

    class Run:
        def log(self, data):
            logged.update(data)

        def finish(self):
            pass

    monkeypatch.setattr(wandb, "init", lambda **kw: inits.append(kw) or Run())
    monkeypatch.setattr(wandb_log, "wandb_settings", lambda jobs: None)  # the jobs did not log to W&B
    sweep = tmp_path / "sweep"
    recs = [t2i_record(0, 0, "texture")]
    make_job(sweep, 0, "sd_turbo", "all", "t2i_compbench", recs, [score(recs[0], "best", "t2i_compbench", 0.9)],
             experiment="table2")
    assert tables.main([str(sweep), "--wandb"]) == 0
    assert inits[0]["job_type"] == "tables" and inits[0]["group"] == "sweep"
    table = logged["table2"]
    rows = {r[0]: dict(zip(table.columns, r)) for r in table.data}
    assert rows["SD-Turbo + ReNO"]["texture ours"] == pytest.approx(0.9)
    assert rows["SD-Turbo + ReNO"]["texture paper"] == pytest.approx(0.75)
    assert rows["SD-Turbo + ReNO"]["color ours"] is None
    assert rows["SDXL"]["color paper"] == pytest.approx(0.64) and rows["SDXL"]["color ours"] is None


def test_wandb_follows_the_jobs_logger(tmp_path, monkeypatch, capsys):
    import wandb

    inits = []

    class Run:
        def log(self, data):
            pass

        def finish(self):
            pass

    monkeypatch.setattr(wandb, "init", lambda **kw: inits.append(kw) or Run())
    recs = [t2i_record(0, 0, "color")]
    make_job(tmp_path / "s", 0, "sd_turbo", "all", "t2i_compbench", recs, [], experiment="table2")
    assert tables.main([str(tmp_path / "s")]) == 0 and inits == []  # logger=none: no W&B
    wandb_logger = {"_target_": "reno_exp.experiment.loggers.WandbLogger", "project": "p", "mode": "offline"}
    make_job(tmp_path / "s", 0, "sd_turbo", "all", "t2i_compbench", recs, [], experiment="table2", logger=wandb_logger)
    assert tables.main([str(tmp_path / "s")]) == 0
    assert inits[-1]["project"] == "p" and inits[-1]["mode"] == "offline"
    assert tables.main([str(tmp_path / "s"), "--no-wandb"]) == 0 and len(inits) == 1


# ------------------------------------------------------------------- labels from the config (issue 20)

def geneval_records() -> list[dict]:
    return [{"key": f"{i:05d}_00", "index": i, "k": 0, "prompt": f"p{i}", "seed": 0,
             "meta": {"suite": "geneval", "tag": tag, "include": []}} for i, tag in enumerate(tables.TAGS)]


def scored(recs: list[dict]) -> list[dict]:
    return [score(r, s, "geneval", 1.0) for r in recs for s in ("initial", "best")]


def test_a_sweep_off_the_papers_setting_is_marked_in_every_row_and_never_beside_the_paper(tmp_path):
    """Every job at random weights and 64 px: no override differs between the jobs, yet no row reads as the
    paper's SD-Turbo, and no paper number stands beside ours."""
    sweep = tmp_path / "sweep"
    smoke = ["random_init=true", "model.resolution=64"]
    make_job(sweep, 0, "sd_turbo", "all", "geneval", geneval_records(), scored(geneval_records()),
             experiment="table3", overrides=smoke)
    assert tables.main([str(sweep)]) == 0
    ours = [r for r in csv.DictReader(open(sweep / "tables.csv")) if r["ours"]]
    assert {r["row"] for r in ours} == {"SD-Turbo [random_init=true, model.resolution=64]",
                                        "SD-Turbo + ReNO [random_init=true, model.resolution=64]"}
    assert {r["paper"] for r in ours} == {""}
    runs = list(csv.DictReader(open(sweep / "runs.csv")))
    assert {r["variant"] for r in runs} == {"random_init=true, model.resolution=64"}


def test_the_method_and_the_settings_come_from_the_config_not_the_option_names(tmp_path):
    """run.yaml's choices say optimizer=reno (a method set with optimizer.method=best_of_n before it was
    refused); its config, verified by its fingerprint, says best-of-N: the row, runs.csv and the variant
    follow the config."""
    sweep = tmp_path / "sweep"
    recs = geneval_records()
    config = paper_config("model=sd_turbo", "reward=all", "benchmark=geneval", "optimizer=best_of_n")
    make_run_dir(sweep / "0", config, {"model": "sd_turbo", "reward": "all", "benchmark": "geneval",
                                       "experiment": "table3", "optimizer": "reno"}, [], recs, scored(recs))
    assert tables.main([str(sweep)]) == 0
    ours = [r for r in csv.DictReader(open(sweep / "tables.csv")) if r["ours"] and r["method"] == "all"]
    assert {r["row"] for r in ours} == {"SD-Turbo + best-of-N [optimizer=best_of_n]"} and {r["paper"] for r in ours} == {""}
    assert {r["method"] for r in csv.DictReader(open(sweep / "runs.csv"))} == {"best_of_n"}


def test_only_the_papers_setting_on_cuda_gets_the_papers_numbers(tmp_path):
    """The same options run on a CPU compute in float32: marked, no paper number; on CUDA: the paper's."""
    for device, row, paper in (("cuda", "SD-Turbo + ReNO", "0.62"),
                               ("cpu", "SD-Turbo + ReNO [model.dtype=float32, reward.*.dtype=float32]", "")):
        sweep = tmp_path / device
        recs = geneval_records()
        make_run_dir(sweep / "0", {**paper_config("model=sd_turbo", "reward=all", "benchmark=geneval", device=device),
                                   "logger": {"_target_": "reno_exp.experiment.loggers.NullLogger"}},
                     {"model": "sd_turbo", "reward": "all", "benchmark": "geneval", "experiment": "table3"}, [], recs,
                     scored(recs))
        assert tables.main([str(sweep)]) == 0
        mean = next(r for r in csv.DictReader(open(sweep / "tables.csv")) if r["ours"] and r["method"] == "all"
                    and r["column"] == "mean")
        assert (mean["row"], mean["paper"]) == (row, paper)


def test_records_of_another_config_are_left_out_and_said_once(tmp_path, caplog):
    sweep = tmp_path / "sweep"
    recs = geneval_records()
    run = make_job(sweep, 0, "sd_turbo", "all", "geneval", recs, scored(recs), experiment="table3")
    other = {**recs[0], "key": "00009_00", "fingerprint": "0123456789ab", "initial": {"total": 5.0},
             "best": {"total": 9.0}}
    with open(run / "results.jsonl", "a") as f:
        f.write(json.dumps(other) + "\n")
    assert tables.main([str(sweep)]) == 0  # four table families read the records: said once
    said = [r.message for r in caplog.records if "records are not this run's" in r.message]
    assert len(said) == 1 and "1 of its 7 records are not this run's (fingerprint 0123456789ab, not run.yaml's" in said[0]
    assert sum(int(r["images"]) for r in csv.DictReader(open(sweep / "runs.csv"))) == 6  # the run's own six
