"""Prompt suites read from the real files (the offline mirror): counts, formats, errors, sharding, layouts."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from reno_exp.benchmarks import files
from reno_exp.benchmarks.base import Item
from reno_exp.benchmarks.geneval import GenEval
from reno_exp.benchmarks.parti_prompts import PartiPrompts
from reno_exp.benchmarks.t2i_compbench import CATEGORIES, T2ICompBench
from reno_exp.config.errors import UserError
from reno_exp.store.records import Record, RunRecords

MIRROR = Path(os.environ["RENO_EXP_DATA"])


@pytest.fixture
def mirror_copy(tmp_path, monkeypatch):
    """A private copy of the mirror, to corrupt; RENO_EXP_DATA points to it."""
    root = tmp_path / "mirror"
    shutil.copytree(MIRROR, root, ignore=shutil.ignore_patterns("*.md"))
    monkeypatch.setenv("RENO_EXP_DATA", str(root))
    return root


@pytest.mark.parametrize("category", CATEGORIES)
def test_t2i_compbench_val_has_300_prompts(category):
    prompts = T2ICompBench(category=category).prompts()
    assert len(prompts) == 300
    assert all(p == p.strip() and "\r" not in p and "\n" not in p for p, _ in prompts)
    assert {m["category"] for _, m in prompts} == {category}
    assert prompts[0][1] == {"suite": "t2i_compbench", "category": category}


def test_t2i_compbench_lines_match_the_file_and_splits_add_up():
    # color_val.txt is CRLF without a final newline: the last prompt must keep its last character
    raw = (MIRROR / "t2i_compbench" / "color_val.txt").read_bytes()
    assert b"\r\n" in raw and not raw.endswith(b"\n")
    prompts = [p for p, _ in T2ICompBench(category="color").prompts()]
    assert prompts == raw.decode().split("\r\n")
    seen = T2ICompBench(category="color", split="seen").prompts()
    unseen = T2ICompBench(category="color", split="unseen").prompts()
    assert (len(seen), len(unseen)) == (200, 100)
    parts = [T2ICompBench(category="complex", split=s).prompts() for s in ("action", "spatial", "spatialaction")]
    assert [len(p) for p in parts] == [212, 58, 30]
    assert sorted(sum(parts, [])) == sorted(T2ICompBench(category="complex").prompts())  # same prompts, other order


def test_t2i_compbench_rejects_unknown_category_and_split():
    with pytest.raises(UserError, match="T2I-CompBench has"):
        T2ICompBench(category="colour")
    with pytest.raises(UserError, match="spatial has the splits val"):
        T2ICompBench(category="spatial", split="seen")


def test_geneval_553_prompts_with_the_six_tag_counts():
    suite = GenEval()
    prompts = suite.prompts()
    assert len(prompts) == 553
    assert Counter(m["tag"] for _, m in prompts) == {
        "single_object": 80, "two_object": 99, "counting": 80, "colors": 94, "position": 100, "color_attr": 100,
    }
    # meta is the metadata line's fields: each line is recovered exactly from (prompt, meta)
    lines = (MIRROR / "geneval" / "evaluation_metadata.jsonl").read_text().splitlines()
    for line, (prompt, meta) in zip(lines, prompts):
        assert {k: v for k, v in meta.items() if k != "suite"} | {"prompt": prompt} == json.loads(line)
    assert sum("exclude" in m for _, m in prompts) == 80
    only = GenEval(tags=["counting", "position"]).prompts()
    assert len(only) == 180 and {m["tag"] for _, m in only} == {"counting", "position"}
    with pytest.raises(UserError, match="unknown"):
        GenEval(tags=["count"])


def test_parti_1632_prompts_with_quotes_intact():
    suite = PartiPrompts()
    prompts = suite.prompts()
    assert len(prompts) == 1632
    assert len({m["category"] for _, m in prompts}) == 12
    assert len({m["challenge"] for _, m in prompts}) == 11
    quoted = [p for p, _ in prompts if '"' in p]
    assert len(quoted) == 22
    assert 'The words "Fly an airplane" are written on the wall.' in quoted[0]
    assert "The 1970s logo for a london-area football club called \"The Rumbury Wanderers\"" in quoted
    food = PartiPrompts(categories=["food_beverage"]).prompts()
    assert food and {m["category"] for _, m in food} == {"Food & Beverage"}
    both = PartiPrompts(categories=["Animals"], challenges=["Imagination"]).prompts()
    assert both and all(m["category"] == "Animals" and m["challenge"] == "Imagination" for _, m in both)
    with pytest.raises(UserError, match="unknown"):
        PartiPrompts(challenges=["Speed"]).prompts()


def test_example_prompts_are_the_authors_32(compose):
    suite = instantiate(compose(["benchmark=example_prompts"]).benchmark)
    prompts = [p for p, _ in suite.prompts()]
    raw = (MIRROR / "reno_examples" / "example_prompts.txt").read_bytes()
    assert not raw.endswith(b"\n")  # the last prompt must keep its last character
    assert len(prompts) == 32 and prompts == [line.strip() for line in raw.decode().split("\n")]
    assert prompts[1] == "A red dog and a green cat"
    assert prompts[-1] == "A colorful poster with the title 'INTERGALACTICAL' written on it"
    items = suite.items(base_seed=3)
    assert len(items) == 32 and {i.seed for i in items} == {3} and items[0].meta == {"suite": "reno_examples"}


def test_example_prompts_refuse_a_wrong_checksum(mirror_copy):
    from reno_exp.benchmarks.example_prompts import ExamplePrompts

    path = mirror_copy / "reno_examples" / "example_prompts.txt"
    path.write_bytes(path.read_bytes().replace(b"green cat", b"green bat", 1))
    with pytest.raises(UserError, match=r"example_prompts\.txt: SHA-256 .* does not match"):
        ExamplePrompts().prompts()


def test_corrupted_copy_fails_with_the_file_named(mirror_copy):
    path = mirror_copy / "t2i_compbench" / "shape_val.txt"
    path.write_bytes(path.read_bytes().replace(b"a ", b"A ", 1))
    with pytest.raises(UserError, match=r"shape_val\.txt: SHA-256 .* does not match"):
        T2ICompBench(category="shape").prompts()
    (mirror_copy / "geneval" / "evaluation_metadata.jsonl").unlink()
    with pytest.raises(UserError, match="evaluation_metadata.jsonl: missing from the offline mirror"):
        GenEval().prompts()


def _accept_any_hash(monkeypatch):
    real = files.fetch

    def fetch(suite, name):
        entry = files.manifest(suite)["files"][name]
        path = Path(os.environ["RENO_EXP_DATA"]) / suite / name
        monkeypatch.setitem(entry, "sha256", files.sha256(path))
        return real(suite, name)

    for module in ("t2i_compbench", "geneval", "parti_prompts"):
        monkeypatch.setattr(f"reno_exp.benchmarks.{module}.fetch", fetch)


def test_malformed_lines_are_named(mirror_copy, monkeypatch):
    _accept_any_hash(monkeypatch)
    meta = mirror_copy / "geneval" / "evaluation_metadata.jsonl"
    lines = meta.read_text().splitlines(keepends=True)
    meta.write_text("".join(lines[:6] + ['{"tag": "counting", "prompt": "x"\n'] + lines[7:]))
    with pytest.raises(UserError, match=r"evaluation_metadata\.jsonl:7: not a JSON line"):
        GenEval().prompts()
    meta.write_text("".join(lines[:2] + ['{"tag": "count", "prompt": "x", "include": []}\n'] + lines[3:]))
    with pytest.raises(UserError, match=r"evaluation_metadata\.jsonl:3: unknown tag 'count'"):
        GenEval().prompts()

    tsv = mirror_copy / "parti_prompts" / "PartiPrompts.tsv"
    text = tsv.read_text()
    tsv.write_text(text.replace("Prompt\tCategory", "Prompt\tKategorie", 1))
    with pytest.raises(UserError, match=r"PartiPrompts\.tsv:1: header"):
        PartiPrompts().prompts()
    rows = text.splitlines(keepends=True)
    tsv.write_text("".join(rows[:9] + ["a prompt\tAnimals\n"] + rows[10:]))
    with pytest.raises(UserError, match=r"PartiPrompts\.tsv:10: 2 tab-separated fields, expected 4"):
        PartiPrompts().prompts()

    txt = mirror_copy / "t2i_compbench" / "texture_val.txt"
    prompts = txt.read_bytes().split(b"\r\n")
    txt.write_bytes(b"\r\n".join(prompts[:4] + [b""] + prompts[5:]))
    with pytest.raises(UserError, match=r"texture_val\.txt:5: empty line"):
        T2ICompBench(category="texture").prompts()
    txt.write_bytes(b"\r\n".join(prompts[:2] + [b"caf\xe9"] + prompts[3:]))
    with pytest.raises(UserError, match=r"texture_val\.txt:3: not UTF-8"):
        T2ICompBench(category="texture").prompts()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_checks_and_caches(tmp_path, monkeypatch):
    """Without a mirror, files come over HTTP into the cache, pinned by hash (a local server stands in)."""
    served = tmp_path / "served"
    shutil.copytree(MIRROR / "parti_prompts", served / "parti_prompts")
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        entry = dict(files.manifest("parti_prompts"))
        entry["raw"] = f"http://127.0.0.1:{server.server_port}/parti_prompts"
        monkeypatch.setattr(files, "manifest", lambda suite: entry)
        monkeypatch.delenv("RENO_EXP_DATA")
        monkeypatch.setenv("RENO_EXP_CACHE", str(tmp_path / "cache"))
        path = files.fetch("parti_prompts", "PartiPrompts.tsv")
        assert path.is_relative_to(tmp_path / "cache") and path.read_bytes() == (
            MIRROR / "parti_prompts" / "PartiPrompts.tsv").read_bytes()
        assert len(PartiPrompts().prompts()) == 1632
        # a corrupted upstream (or a man in the middle) is refused, and nothing wrong is cached
        (served / "parti_prompts" / "LICENSE").write_text("not the license")
        with pytest.raises(UserError, match="does not match the pinned SHA-256"):
            files.fetch("parti_prompts", "LICENSE")
        assert not (path.parent / "LICENSE").exists()
    finally:
        server.shutdown()


def test_shards_partition_the_work():
    every = T2ICompBench(category="spatial", seeds=[0, 1, 2], limit=7).items(base_seed=5)
    assert len(every) == 21 and len({i.key for i in every}) == 21
    for n in (1, 2, 3, 4, 8):
        shards = [T2ICompBench(category="spatial", seeds=[0, 1, 2], limit=7, num_shards=n, shard_index=s).items(5)
                  for s in range(n)]
        keys = [i.key for shard in shards for i in shard]
        assert len(keys) == len(set(keys)), f"overlap with {n} shards"
        assert sorted(keys) == sorted(i.key for i in every), f"union != all with {n} shards"
        assert {(i.key, i.prompt, i.seed) for s in shards for i in s} == {(i.key, i.prompt, i.seed) for i in every}
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shard_index_defaults(monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "2")
    assert T2ICompBench(num_shards=4).shard() == (2, 4)
    assert T2ICompBench(num_shards=1).shard() == (0, 1)  # an array of Hydra jobs, each one whole
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")
    with pytest.raises(UserError, match=r"benchmark.shard_index=range\(0,4\)"):
        T2ICompBench(num_shards=4).shard()
    assert T2ICompBench(num_shards=4, shard_index=3).shard() == (3, 4)


def test_seeds_follow_the_protocol(compose):
    for name, seeds in {"t2i_compbench": list(range(10)), "geneval": [0, 1, 2, 3], "parti_prompts": [0]}.items():
        cfg = compose([f"benchmark={name}", "seed=100", "benchmark.limit=2"])
        suite = instantiate(cfg.benchmark)
        assert suite.seeds == seeds
        items = suite.items(cfg.seed)
        assert [i.seed for i in items] == [100 + s for s in seeds] * 2
        assert [i.k for i in items] == list(range(len(seeds))) * 2
    with pytest.raises(Exception, match="catgory"):
        compose(["benchmark=t2i_compbench", "benchmark.catgory=color"])


def test_official_layouts(tmp_path):
    records = RunRecords(tmp_path)
    red, blue = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    red[:, 0], blue[:, 2] = 1, 1

    t2i = T2ICompBench(category="color", seeds=list(range(10)))
    prompts = t2i.prompts()
    for index, k in [(3, 7), (0, 0), (299, 9)]:  # any order: the file number comes from (index, k)
        item = Item(index, k, prompts[index][0], k, prompts[index][1])
        t2i.export(item, {"initial": red, "best": blue}, records)
    samples = tmp_path / "t2i_compbench" / "best" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == sorted(
        [f"{prompts[0][0]}_000000.png", f"{prompts[3][0]}_000037.png", f"{prompts[299][0]}_002999.png"])
    from PIL import Image

    assert Image.open(samples / f"{prompts[3][0]}_000037.png").getpixel((0, 0)) == (0, 0, 255)
    initial = tmp_path / "t2i_compbench" / "initial" / "samples" / f"{prompts[3][0]}_000037.png"
    assert Image.open(initial).getpixel((0, 0)) == (255, 0, 0)

    ge = GenEval()
    prompts = ge.prompts()
    item = Item(200, 3, prompts[200][0], 3, prompts[200][1])
    ge.export(item, {"initial": red, "best": blue}, records)
    folder = tmp_path / "geneval" / "best" / "00200"
    line = (MIRROR / "geneval" / "evaluation_metadata.jsonl").read_text().splitlines()[200]
    assert (folder / "metadata.jsonl").read_text() == line + "\n"  # byte for byte the official line
    assert [p.name for p in (folder / "samples").iterdir()] == ["00003.png"]
    assert not list(tmp_path.rglob("*.tmp*"))


def test_collected_shards_equal_one_unsharded_layout(tmp_path):
    """Shards write disjoint parts of the official layouts; collected, they are the unsharded run's layout."""
    from run_dirs import paper_config

    from reno_exp.benchmarks.collect import collect
    from reno_exp.store.rundir import RunInfo

    def job(run_dir: Path, suite, category: str) -> None:
        records = RunRecords(run_dir)
        choices = {"model": "tiny", "reward": "all", "benchmark": suite.name}
        column = f"benchmark.category={category}" if suite.name == "t2i_compbench" else "benchmark.tags=[colors]"
        info = RunInfo.of(paper_config("model=tiny", "reward=all", f"benchmark={suite.name}", column), choices)
        info.save(run_dir)
        for item in suite.items(0):
            image = torch.full((1, 3, 4, 4), (item.index * 10 + item.k) / 100)
            suite.export(item, {"initial": image, "best": 1 - image}, records)
            records.append(Record.from_json({"key": item.key, "prompt": item.prompt, "seed": item.seed,
                                             "fingerprint": info.fingerprint}))

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    for name, make in {"t2i_compbench": lambda **kw: T2ICompBench(category="texture", **kw),
                       "geneval": lambda **kw: GenEval(tags=["colors"], **kw)}.items():
        kw = {"seeds": [0, 1, 2], "limit": 3}
        job(tmp_path / name / "whole" / "0", make(**kw), "texture")
        for s in range(2):
            job(tmp_path / name / "sharded" / str(s), make(num_shards=2, shard_index=s, **kw), "texture")
        assert collect(tmp_path / name / "whole", tmp_path / name / "a") > 0
        assert collect(tmp_path / name / "sharded", tmp_path / name / "b") > 0
        whole, sharded = tree(tmp_path / name / "a"), tree(tmp_path / name / "b")
        assert whole == sharded and len([p for p in whole if p.endswith(".png")]) == 2 * 9


def test_collect_lays_out_jobs_of_other_configs_apart_and_never_keeps_one_for_another(tmp_path):
    """Three methods on the same items (experiment=equal_compute) write the same file names: each config
    gets its own folder, named by what differs, holding its own images; shards of one config still pool."""
    from run_dirs import paper_config

    from reno_exp.benchmarks.collect import collect
    from reno_exp.store.rundir import RunInfo

    suite = GenEval(tags=["colors"], seeds=[0], limit=2)
    made = {}
    for n, (method, shard) in enumerate([("reno", 0), ("reno", 1), ("best_of_n", 0), ("zero_order", 0)]):
        run_dir = tmp_path / "sweep" / str(n)
        config = paper_config("model=tiny", "reward=all", "benchmark=geneval", f"optimizer={method}")
        info = RunInfo.of(config, {"model": "tiny", "reward": "all", "benchmark": "geneval"})
        records = RunRecords(run_dir)
        info.save(run_dir)
        items = suite.items(0)[shard::2] if method == "reno" else suite.items(0)
        for item in items:
            image = torch.full((1, 3, 4, 4), (n + 1) / 10)  # each job's own pixels
            suite.export(item, {"best": image}, records)
            records.append(Record.from_json({"key": item.key, "prompt": item.prompt, "seed": item.seed,
                                             "fingerprint": info.fingerprint}))
            made[(method, item.index)] = round(255 * (n + 1) / 10)
    assert collect(tmp_path / "sweep", tmp_path / "out") == 3 * 2 * 2  # images and metadata of 2 items, 3 configs
    base = tmp_path / "out" / "tiny" / "all"
    assert sorted(p.name for p in base.iterdir()) == ["best_of_n", "reno", "zero_order"]
    from PIL import Image

    for folder in base.iterdir():
        method = folder.name
        for sample in folder.glob("geneval/best/*/samples/*.png"):
            index = int(sample.parent.parent.name)
            assert Image.open(sample).getpixel((0, 0))[0] == made[(method, index)], sample
