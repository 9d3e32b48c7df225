"""Your own prompts (``benchmark=prompts benchmark.path=...``): the three formats into items and records, a bad
file refused in one line before a directory is made, an edited file never resumed into, tables by category."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from helpers import ROOT, app

from reno_exp.benchmarks.prompts import PromptFile
from reno_exp.config.errors import UserError
from reno_exp.config.prompt_files import read

TINY = ["model=tiny", "reward=color", "optimizer.n_iters=1", "progress=false", "benchmark=prompts"]

TXT = "# a comment\r\n  A red dog  \r\n\r\n   # an indented comment\r\nA green cat\r\nA blue bird"  # CRLF, no final newline
JSONL = ('{"prompt": "A red dog", "category": "color", "seeds": [4, 7], "source": "mine", "n": 2}\n\n'
         '{"prompt": "A cat left of a dog", "category": "spatial", "extra": {"a": [1]}}\n')
CSV = ('\ufeffprompt,category,seeds,source\n'  # a spreadsheet's byte order mark
       'A red dog,color,4;7,mine\n'
       '"A cat, left of a dog",spatial,,theirs\n'
       'A lamp,,, \n')


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------------------------ formats

def test_txt_skips_blank_lines_and_comments_and_strips_prompts(tmp_path):
    rows, sha = read(write(tmp_path, "p.txt", TXT))
    assert [(r.line, r.prompt, r.category, r.seeds, r.meta) for r in rows] == [
        (2, "A red dog", None, None, {}), (5, "A green cat", None, None, {}), (6, "A blue bird", None, None, {})]
    assert sha == hashlib.sha256(TXT.encode()).hexdigest()


def test_jsonl_and_csv_give_categories_seeds_and_metadata(tmp_path):
    suite = PromptFile(path=str(write(tmp_path, "p.jsonl", JSONL)), seeds=[0, 1])
    items = [(i.key, i.prompt, i.seed, i.meta) for i in suite.items(base_seed=10)]
    assert items == [
        ("00000_00", "A red dog", 14, {"suite": "prompts", "category": "color", "source": "mine", "n": 2}),
        ("00000_01", "A red dog", 17, {"suite": "prompts", "category": "color", "source": "mine", "n": 2}),
        ("00001_00", "A cat left of a dog", 10, {"suite": "prompts", "category": "spatial", "extra": {"a": [1]}}),
        ("00001_01", "A cat left of a dog", 11, {"suite": "prompts", "category": "spatial", "extra": {"a": [1]}}),
    ]
    suite = PromptFile(path=str(write(tmp_path, "p.csv", CSV)))
    assert [(i.prompt, i.seed, i.meta) for i in suite.items()] == [
        ("A red dog", 4, {"suite": "prompts", "category": "color", "source": "mine"}),
        ("A red dog", 7, {"suite": "prompts", "category": "color", "source": "mine"}),
        ("A cat, left of a dog", 0, {"suite": "prompts", "category": "spatial", "source": "theirs"}),
        ("A lamp", 0, {"suite": "prompts", "source": " "}),  # no category: one group
    ]
    assert len(PromptFile(path=str(tmp_path / "p.csv"), limit=2).items()) == 3  # the first 2 prompts, all seeds


def test_placing_the_config_pins_the_file(tmp_path, compose):
    from reno_exp.config.placement import placed

    path = write(tmp_path, "p.txt", "a\nb\n")
    cfg = placed(compose([*TINY, f"benchmark.path={path}"]))
    assert cfg.benchmark.path == str(path) and cfg.benchmark.sha256 == read(path)[1]
    with pytest.raises(UserError, match="its SHA-256 is .*, not benchmark.sha256=0000"):
        placed(compose([*TINY, f"benchmark.path={path}", f"benchmark.sha256={'0' * 64}"]))


# -------------------------------------------------------------------------------------------- bad files

BAD = [
    ("missing.txt", None, "benchmark.path={path}: no such file"),
    ("empty.txt", "", "{path}: no prompts in it (empty, or only blank lines and comments)"),
    ("comments.txt", "# nothing\n\n", "{path}: no prompts in it"),
    ("header.csv", "prompt,category\n", "{path}: no prompts in it (empty, or only its header and blank lines)"),
    ("latin1.txt", b"a cat\ncaf\xe9\n", "{path}:2: not UTF-8 text (byte 0xe9)"),
    ("dup.txt", "a cat\na dog\n\na cat\n", "{path}:4: the prompt of line 1 again ('a cat')"),
    ("dup.csv", "prompt\na cat\n a cat \n", "{path}:3: the prompt of line 2 again"),
    ("nocol.csv", "text,category\na cat,x\n", '{path}:1: the header (text, category) has no "prompt" column'),
    ("nofield.jsonl", '{"prompt": "a"}\n{"text": "a cat"}\n', '{path}:2: no "prompt" field'),
    ("badjson.jsonl", '{"prompt": "a"}\n\n{"prompt": "b",}\n', "{path}:3: not JSON (Expecting property name"),
    ("seeds.csv", "prompt,seeds\na cat,0;x\n", "{path}:2: seeds '0;x' must be a list of different whole numbers"),
    ("seeds.jsonl", '{"prompt": "a", "seeds": [0, 0]}\n', '{path}:1: "seeds" must be a list of different whole'),
    ("prompts.yaml", "a cat\n", "benchmark.path={path}: unknown extension '.yaml'"),
    ("fields.csv", "prompt,category\na cat,x,y\n", "{path}:2: 3 fields, the header has 2"),
]


@pytest.mark.parametrize("name, content, message", BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_one_line_exit_2_and_no_run_directory(name, content, message, tmp_path, capsys):
    path = tmp_path / name if content is None else write(tmp_path, name, content)
    capsys.readouterr()
    code = app([*TINY, f"benchmark.path={path}", f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert message.format(path=path) in err
    assert not (tmp_path / "run").exists()


def test_a_sweep_checks_every_jobs_file_before_the_first_job(tmp_path, capsys):
    good, bad = write(tmp_path, "good.txt", "a cat\n"), write(tmp_path, "bad.txt", "a cat\na cat\n")
    code = app(["-m", *TINY, f"benchmark.path={good},{bad}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    assert code == 2 and "bad.txt:2: the prompt of line 1 again" in capsys.readouterr().err
    assert not (tmp_path / "sweep").exists()


# ------------------------------------------------------------------------------ runs, resume and tables

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per format, the .txt one named relative to the launch directory."""
    root = tmp_path_factory.mktemp("prompt_runs")
    files = {"txt": write(root, "p.txt", TXT), "jsonl": write(root, "p.jsonl", JSONL), "csv": write(root, "p.csv", CSV)}
    os.chdir(root)
    try:
        for fmt, path in files.items():
            given = path.name if fmt == "txt" else str(path)
            assert app([*TINY, f"benchmark.path={given}", f"hydra.run.dir={root / 'runs' / fmt}"]) == 0
    finally:
        os.chdir(ROOT)
    return root


def test_each_format_runs_and_its_records_keep_the_files_fields(runs):
    import yaml

    txt = records(runs / "runs" / "txt")
    assert [(r["prompt"], r["seed"], r["meta"]) for r in txt] == [
        ("A red dog", 0, {"suite": "prompts"}), ("A green cat", 0, {"suite": "prompts"}),
        ("A blue bird", 0, {"suite": "prompts"})]
    config = yaml.safe_load((runs / "runs" / "txt" / "run.yaml").read_text())["config"]["benchmark"]
    assert config["path"] == str(runs / "p.txt") and config["sha256"] == read(runs / "p.txt")[1]
    jsonl = records(runs / "runs" / "jsonl")
    assert [(r["prompt"], r["seed"], r["meta"].get("category"), r["meta"].get("source")) for r in jsonl] == [
        ("A red dog", 4, "color", "mine"), ("A red dog", 7, "color", "mine"), ("A cat left of a dog", 0, "spatial", None)]
    assert jsonl[2]["meta"]["extra"] == {"a": [1]}
    csv_ = records(runs / "runs" / "csv")
    assert [(r["prompt"], r["seed"], r["meta"]) for r in csv_] == [
        (i.prompt, i.seed, i.meta) for i in PromptFile(path=str(runs / "p.csv")).items()]


def test_an_edited_file_does_not_resume_into_the_old_run(runs, capsys):
    run_dir = runs / "runs" / "txt"
    before = (run_dir / "results.jsonl").read_bytes()
    again = [*TINY, f"benchmark.path={runs / 'p.txt'}", f"hydra.run.dir={run_dir}"]
    assert app(again) == 0  # the same file from another launch directory: all recorded, nothing to do
    path = runs / "p.txt"
    text = path.read_text()
    path.write_text(text.replace("A green cat", "A green hat"))
    try:
        capsys.readouterr()
        assert app(again) == 2
        err = capsys.readouterr().err
    finally:
        path.write_text(text)
    assert err.startswith(f"error: {run_dir} holds another run") and "benchmark.sha256: " in err and err.count("\n") == 1
    assert (run_dir / "results.jsonl").read_bytes() == before


def test_tables_and_analysis_group_by_the_files_category(runs, capsys):
    from reno_exp.analysis import figure5
    from reno_exp.store.evaluations import Score
    from reno_exp.tables.cli import main

    capsys.readouterr()
    assert main([str(runs / "runs"), "--no-wandb"]) == 0
    rows = [line.split(" | ") for line in capsys.readouterr().out.splitlines() if line.startswith("| tiny ")]
    groups = {(row[3].rsplit("benchmark.path=", 1)[-1], row[5], int(row[6])) for row in rows}
    assert groups == {("p.txt", "", 3), ("p.jsonl", "color", 2), ("p.jsonl", "spatial", 1),
                      ("p.csv", "color", 2), ("p.csv", "spatial", 1), ("p.csv", "", 1)}
    recs = records(runs / "runs" / "csv")
    scores = [Score(r["key"], s, "aesthetic", float(i), "test") for i, r in enumerate(recs) for s in ("initial", "iter_001")]
    means = {(p.group, p.iteration): p.mean for p in figure5.points(scores, recs)}
    assert means == {("color", 0): 0.5, ("color", 1): 0.5, ("spatial", 0): 2.0, ("spatial", 1): 2.0,
                     ("all", 0): 3.0, ("all", 1): 3.0}
    tagged = {"meta": {"suite": "prompts", "tag": "x"}}  # a file's own "tag" column is metadata, not a group
    assert figure5.group_of(tagged) == "all"
