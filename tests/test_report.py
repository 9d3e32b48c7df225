"""The report page (reno_exp.report): what it holds, that it changes no record, bad input, and the page
itself in a real browser (headless Chromium, installed on first use by scripts/chromium.py).

Two sweeps: one the app makes (two jobs of the tiny model, one of them scored by ``evaluate``, the sweep
analysed by ``analysis``), and one written here with known numbers (130 items over three jobs: distinct
gains, a tie, a non-finite total, prompts with words to search for) so that every order and count the
page shows can be computed here independently of the page's code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from helpers import python, script
from PIL import Image
from run_dirs import make_run_dir

from reno_exp.report.build import build
from reno_exp.report.cli import main as report

OWN = ("report.html", "report_files")  # the report's own outputs: everything else must stay as it was
SWEEP = ["model=tiny", "reward=color", "benchmark=t2i_compbench", "benchmark.category=color,shape",
         "benchmark.limit=2", "benchmark.seeds=[0,1]", "optimizer.n_iters=3", "progress=false"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under root, the report's own outputs left out."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))
            if not any(part in OWN for part in p.relative_to(root).parts)}


def command(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return python(*args, timeout=timeout)


def page_data(page: Path) -> dict:
    text = page.read_text()
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


# ---------------------------------------------------------------------------------------------- sweeps
@pytest.fixture(scope="session")
def sweep(tmp_path_factory) -> Path:
    """The app's own sweep: two jobs (categories color and shape), four items each; job 0 scored by
    ``evaluate`` with random tiny evaluators; the sweep analysed. Made in subprocesses, as a user would."""
    sweep = tmp_path_factory.mktemp("report_sweep") / "sweep"
    for args in (["-m", "reno_exp", "-m", *SWEEP, f"hydra.sweep.dir={sweep}"],
                 ["-m", "reno_exp.evaluate", str(sweep / "0"), "random_init=true", "tiny=true", "progress=false"],
                 ["-m", "reno_exp.analysis", str(sweep)]):
        done = command(*args)
        assert done.returncode == 0, (args, done.stderr[-3000:])
    return sweep


@pytest.fixture(scope="session")
def sweep_report(sweep) -> Path:
    before = snapshot(sweep)
    assert report([str(sweep)]) == 0
    assert snapshot(sweep) == before
    return sweep / "report.html"


WORDS = ["zebra", "lamp", "violin", "kettle", "tulip"]
CATEGORIES = ["color", "shape", "texture"]


def crafted_records(job: int, count: int, gains: list[float | None]) -> list[dict]:
    records = []
    for n in range(count):
        initial = -100.0 - n - 1000 * job
        gain = gains[n]
        best = None if gain is None else initial + gain
        records.append({"key": f"{n:05d}_00", "index": n, "k": 0, "seed": n, "fingerprint": "x",
                        "prompt": f"a {WORDS[(n + job) % len(WORDS)]} number {job}-{n}",
                        "meta": {"suite": "t2i_compbench", "category": CATEGORIES[(n + job) % 3]},
                        "initial": {"color": initial, "total": initial}, "best": {"color": best, "total": best},
                        "best_iteration": 2, "history": [initial, initial, best], "curves": {"color": [initial, initial, best]},
                        "initial_image": f"images/{n:05d}_00_initial.png", "image": f"images/{n:05d}_00_best.png"})
    return records


def write_images(run: Path, records: list[dict]) -> None:
    (run / "images").mkdir(parents=True, exist_ok=True)
    for n, r in enumerate(records):
        for side, shade in (("initial_image", 40), ("image", 200)):
            Image.new("RGB", (16, 16), (shade, (n * 37) % 256, 90)).save(run / r[side])


@pytest.fixture(scope="session")
def crafted(tmp_path_factory) -> tuple[Path, list[dict]]:
    """130 items over three jobs with known numbers: every gain distinct except one tie at 0 (not an
    improvement) and one non-finite best total (a missing value, shown last in either order). Job 0 has
    T2I-CompBench scores (distinct too), job 1 GenEval verdicts. Returns the sweep and every record with
    its job and its best image's T2I-CompBench score."""
    sweep = tmp_path_factory.mktemp("report_crafted") / "sweep"
    counts = [50, 45, 35]
    gains = [float((n * 53) % 131 - 40) for n in range(sum(counts))]  # distinct: 53 and 131 are coprime
    if 0.0 not in gains:
        gains[11] = 0.0  # best == initial: not an improvement
    gains[7] = None  # a non-finite best total, recorded as null
    out, start = [], 0
    for job, count in enumerate(counts):
        records = crafted_records(job, count, gains[start:start + count])
        start += count
        config = {"model": {"_target_": "x.Tiny"}, "reward": {"color": {"weight": 1.0, "channel": "red"}},
                  "benchmark": {"_target_": "reno_exp.benchmarks.t2i_compbench.T2ICompBench"},
                  "optimizer": {"optim": {"lr": [5.0, 10.0, 20.0][job]}}}
        overrides = ["model=tiny", "reward=color", f"optimizer.optim.lr={[5.0, 10.0, 20.0][job]}"]
        scores = [{"key": r["key"], "image_set": s, "metric": "t2i_compbench", "score": (n * 17 % 50) / 50 + 0.001 * (s == "best"),
                   "evaluator": "test"} for n, r in enumerate(records) for s in ("initial", "best")] if job == 0 else []
        if job == 1:  # GenEval's verdicts: 0 or 1 per image, shown as ✗ / ✓
            scores = [{"key": r["key"], "image_set": s, "metric": "geneval", "score": float(s == "best" and n % 2 == 0),
                       "evaluator": "test"} for n, r in enumerate(records) for s in ("initial", "best")]
        run = make_run_dir(sweep / str(job), config, {"model": "tiny", "reward": "color", "benchmark": "t2i_compbench"},
                           overrides, records, scores)
        write_images(run, records)
        best = {s["key"]: s["score"] for s in scores if s["image_set"] == "best" and s["metric"] == "t2i_compbench"}
        out += [{**r, "job": job, "score": best.get(r["key"])} for r in records]
    return sweep, out


@pytest.fixture(scope="session")
def crafted_report(crafted) -> Path:
    sweep, _ = crafted
    assert report([str(sweep)]) == 0
    return sweep / "report.html"


def of_key(records: list[dict], card: tuple[int, str]) -> dict:
    return next(r for r in records if (r["job"], r["key"]) == card)


def gain(r: dict) -> float | None:
    return None if r["best"]["total"] is None else r["best"]["total"] - r["initial"]["total"]


def ordered(records: list[dict], value, descending: bool) -> list[tuple[int, str]]:
    """(job, key) in the page's order: by value, missing values last, ties in run order."""
    have = [r for r in records if value(r) is not None]
    have.sort(key=lambda r: -value(r) if descending else value(r))
    return [(r["job"], r["key"]) for r in have + [r for r in records if value(r) is None]]


# ---------------------------------------------------------------------------------------- page content
@pytest.mark.slow
def test_report_of_the_apps_sweep_shows_every_item_score_table_and_figure(sweep, sweep_report, tmp_path, capsys):
    data = page_data(sweep_report)
    items, jobs = data["items"], data["jobs"]
    # the tables' variant says how the jobs depart from the paper's setting (3 iterates), then what differs
    assert items["n"] == 8 and [j["label"] for j in jobs] == [
        "tiny · color [optimizer.n_iters=3, benchmark.category=color]",
        "tiny · color [optimizer.n_iters=3, benchmark.category=shape]"]
    assert sorted(items["cats"]) == ["color", "shape"]
    records = [json.loads(line) for job in ("0", "1") for line in (sweep / job / "results.jsonl").read_text().splitlines()]
    assert items["rewards"]["total"][0] == [pytest.approx(r["initial"]["total"], rel=1e-5) for r in records]
    assert items["rewards"]["total"][1] == [pytest.approx(r["best"]["total"], rel=1e-5) for r in records]
    for thumb in items["ti"] + items["tb"]:
        assert thumb and (sweep / "report_files" / thumb).is_file()
    # evaluate scored job 0 only: its items have both images' scores, job 1's have none (not zeros)
    for metric in ("t2i_compbench", "aesthetic"):
        for side in items["evals"][metric]:
            assert [v is not None for v in side] == [j == 0 for j in items["job"]]
    assert [len(curve) for curve in jobs[0]["curves"].values()] == [3, 3]  # total and color, per iterate
    html = sweep_report.read_text()
    # the tables are the tables command's own: each of its table rows is a row of the page
    capsys.readouterr()
    from reno_exp.tables import main as tables

    assert tables([str(sweep), "--out", str(tmp_path), "--no-wandb"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "---" not in line]
    assert "Table 2: T2I-CompBench" in html and any(re.search(r"\(0\.\d+\)", row) for row in rows)  # the paper's
    for row in rows:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        assert re.search("".join(f"<t([hd])>{re.escape(escape(c))}</t\\{k + 1}>" for k, c in enumerate(cells)), html), row
    # the noise analysis: the sweep's grid and each job's figures, copied beside the page
    assert "Across the sweep&#x27;s jobs" in html and "grid.png" in html and "coherence.png" in html
    for src in re.findall(r'src="(report_files/f/[^"]+)"', html):
        assert (sweep / src).stat().st_size > 1000


def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, crafted, capsys):
    sweep, _ = crafted
    foreign = tmp_path / "foreign"  # another program's directory: its own results.jsonl, no run.yaml
    foreign.mkdir()
    (foreign / "results.jsonl").write_text('{"epoch": 1, "loss": 0.5}\n')
    alien = tmp_path / "alien"  # a run.yaml, but records of another program
    shutil.copytree(sweep / "0", alien)
    (alien / "results.jsonl").write_text('{"epoch": 1}\n')
    damaged = tmp_path / "damaged"
    shutil.copytree(sweep / "1", damaged)
    (damaged / "run.yaml").write_text("{{{ not yaml\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "a_file").write_text("not a directory\n")
    cases = [([str(tmp_path / "missing")], "does not exist"),
             ([str(tmp_path / "a_file")], "is not a directory"),
             ([str(tmp_path / "empty")], "no run under"),
             ([str(foreign)], "no reno_exp run under"),
             ([str(alien)], "not a reno_exp results file"),
             ([str(damaged)], "run.yaml is not a reno_exp run record"),
             ([str(alien), "--workers", "0"], "--workers must be >= 1"),
             ([str(damaged), "--out", str(tmp_path)], "is a directory"),
             ([str(sweep / "0"), "--out", str(tmp_path / "a_file" / "x.html")], "not a writable directory"),
             ([str(sweep / "0"), "--colour"], "unrecognized arguments: --colour")]
    before = snapshot(tmp_path)
    for argv, message in cases:
        capsys.readouterr()
        try:
            code = report(argv)
        except SystemExit as e:  # argparse leaves as the process would
            code = e.code
        err = capsys.readouterr().err
        lines = [x for x in err.splitlines() if x.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in err, (argv, err)
        assert snapshot(tmp_path) == before and not list(tmp_path.rglob("report*")), argv
    done = command("-m", "reno_exp.report", str(tmp_path / "missing"), timeout=120)  # the module's own entry
    assert done.returncode == 2 and done.stderr.strip().startswith("error: ") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.slow
def test_a_rerun_follows_new_jobs_and_evaluate_and_never_changes_a_record(sweep, tmp_path):
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns(*OWN))
    held = tmp_path / "held"
    held.mkdir()
    shutil.move(copy / "1", held / "1")  # job 1 has not finished yet
    shutil.move(copy / "0" / "evaluation.jsonl", held / "evaluation.jsonl")  # nor has evaluate run
    before = snapshot(copy)
    first = build(copy)
    assert snapshot(copy) == before
    data = page_data(first.page)
    assert (first.jobs, first.items, first.thumbnails_made) == (1, 4, 8) and data["items"]["evals"] == {}

    shutil.move(held / "1", copy / "1")
    shutil.move(held / "evaluation.jsonl", copy / "0" / "evaluation.jsonl")
    before = snapshot(copy)
    second = build(copy)
    assert snapshot(copy) == before
    data = page_data(second.page)
    assert (second.jobs, second.items) == (2, 8)
    assert second.thumbnails_made == 8  # job 1's images only: job 0's thumbnails are reused
    assert [v is not None for v in data["items"]["evals"]["t2i_compbench"][1]] == [j == 0 for j in data["items"]["job"]]
    assert "8 item(s), 4 scored by" in second.page.read_text()


def test_thumbnails_are_made_once_and_remade_when_their_image_changes(crafted, tmp_path):
    sweep, _ = crafted
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns(*OWN))
    first = build(copy, workers=2)  # 260 thumbnails: made by a pool of processes
    thumbs = sorted((copy / "report_files" / "t").iterdir())
    assert first.thumbnails_made == 260 == len(thumbs)
    with Image.open(thumbs[0]) as im:
        assert im.format == "JPEG" and im.size == (16, 16)  # a thumbnail never enlarges its image
    stamps = {p.name: p.stat().st_mtime_ns for p in thumbs}
    again = build(copy)
    assert again.thumbnails_made == 0 and again.pruned == 0
    assert {p.name: p.stat().st_mtime_ns for p in (copy / "report_files" / "t").iterdir()} == stamps
    image = copy / "1" / "images" / "00003_00_best.png"
    old = page_data(again.page)["items"]["tb"][50 + 3]
    Image.new("RGB", (16, 16), (1, 2, 3)).save(image)
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))  # whatever the clock's grain
    third = build(copy)
    new = page_data(third.page)["items"]["tb"][50 + 3]
    assert (third.thumbnails_made, third.pruned) == (1, 1) and new != old
    assert not (copy / "report_files" / old).exists()
    with Image.open(copy / "report_files" / new) as im:
        assert im.convert("RGB").getpixel((8, 8)) == pytest.approx((1, 2, 3), abs=3)


def test_an_unreadable_or_missing_image_shows_as_a_placeholder_with_one_warning(crafted, tmp_path, caplog):
    sweep, _ = crafted
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns(*OWN))
    with open(copy / "0" / "images" / "00002_00_best.png", "r+b") as f:
        f.truncate(30)
    (copy / "0" / "images" / "00004_00_initial.png").unlink()
    built = build(copy)
    items = page_data(built.page)["items"]
    assert items["tb"][2] is None and items["ti"][4] is None  # the page draws "no image" for these
    assert items["ti"][2] and items["tb"][4] and built.thumbnails_made == 258
    warnings = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "1 image(s) could not be read" in warnings[0] and "00002_00_best.png" in warnings[0]


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.scripts, self.styles = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[a] for a in ("src", "href") if a in attrs]
        if tag == "script":
            self.scripts.append(attrs)
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.styles.append(attrs)


def test_the_page_needs_no_server_and_no_network_and_keeps_a_prompts_markup_as_text(crafted, tmp_path):
    sweep, _ = crafted
    copy = tmp_path / "sweep"
    shutil.copytree(sweep, copy, ignore=shutil.ignore_patterns(*OWN))
    results = copy / "2" / "results.jsonl"
    lines = results.read_text().splitlines()
    record = json.loads(lines[0])
    record["prompt"] = "a </script><script>alert(1)</script> <!-- cat"
    results.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n")
    for page in (build(copy).page, build(copy, out=tmp_path / "elsewhere" / "sweep.html").page):
        parser = Links()
        parser.feed(page.read_text())
        assert parser.styles == [] and all("src" not in s for s in parser.scripts) and len(parser.scripts) == 2
        for link in parser.links:
            assert not re.match(r"^[a-z]+:|^//", link) or link == "data:,", link  # relative, or the empty icon
            if not link.startswith(("#", "data:")):
                assert (page.parent / link).exists(), link
        data = page_data(page)  # the prompt's markup did not end the data's <script>
        assert record["prompt"] in data["items"]["prompts"]
        for thumb in data["items"]["ti"] + data["items"]["tb"]:
            assert (page.parent / data["files"] / thumb).is_file()
        for image in data["items"]["fi"] + data["items"]["fb"]:  # the full-size images, where they are
            assert (page.parent / image).is_file()
    assert (tmp_path / "elsewhere" / "sweep_files" / "t").is_dir()


# ---------------------------------------------------------------------------------------- the browser
def chromium_script():
    return script('chromium')


@pytest.fixture(scope="session")
def driver():
    """Headless Chromium; installed here by scripts/chromium.py when missing (a fresh machine)."""
    reason = chromium_script().unavailable_reason()
    if reason:
        pytest.skip(reason)
    from reno_exp.report import browser

    with browser.chromium(1280, 900, log=lambda m: print(f"[chromium] {m}", file=sys.stderr), network_log=True) as d:
        yield d


def load(driver, page: Path) -> None:
    from reno_exp.report import browser

    browser.console_errors(driver)  # what an earlier page left in the logs is not this page's
    browser.requests(driver)
    browser.open_page(driver, page)


def cards(driver) -> list[tuple[int, str]]:
    return [tuple(x) for x in driver.execute_script(
        "return [...document.querySelectorAll('#cards .card')].map(c => [+c.dataset.job, c.dataset.key])")]


def choose(driver, name: str, value: str, text: bool = False) -> None:
    """Pick an option of a control as a user does (its change event follows)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    control = Select(driver.find_element(By.ID, f"ctl-{name}"))
    control.select_by_visible_text(value) if text else control.select_by_value(value)


def count_text(driver) -> str:
    return driver.execute_script("return document.getElementById('count').textContent")


def no_console_errors(driver) -> None:
    from reno_exp.report import browser

    assert browser.console_errors(driver) == []


@pytest.mark.slow
def test_in_chromium_the_apps_sweep_shows_a_card_per_item_with_its_images(driver, sweep_report, tmp_path):
    from reno_exp.report import browser

    load(driver, sweep_report)
    assert len(cards(driver)) == 8 and count_text(driver).startswith("8 items")
    # every card's two images, scrolled into view (they load lazily), decode to real pixels
    for n in range(8):
        driver.execute_script("document.querySelectorAll('#cards .card')[arguments[0]].scrollIntoView()", n)
    browser.wait(lambda: driver.execute_script(
        "return [...document.querySelectorAll('#cards img')].every(i => i.complete && i.naturalWidth > 0)"), 30,
        "the gallery's images")
    assert driver.execute_script("return document.querySelectorAll('#cards img').length") == 16
    driver.execute_script("document.getElementById('analysis').scrollIntoView()")
    browser.wait(lambda: driver.execute_script(
        f"return [...document.querySelectorAll('#analysis img')].filter(i => {browser.VISIBLE})"
        ".every(i => i.complete && i.naturalWidth > 0)"), 30, "the analysis figures")
    # a scored item shows the evaluators' rows, an unscored one none
    text = driver.execute_script("return [...document.querySelectorAll('#cards .card')].map(c => [+c.dataset.job, c.innerText])")
    assert all(("t2i_compbench" in t and "aesthetic" in t) == (job == 0) for job, t in text)
    assert driver.execute_script("return document.querySelectorAll('#curve-list svg path').length") == 2
    asked = browser.requests(driver, sweep_report)
    assert sweep_report.as_uri() in asked and sum("/report_files/" in u for u in asked) >= 16
    assert all(u.startswith(("file://", "data:")) for u in asked), asked  # no network, no server
    no_console_errors(driver)
    png = tmp_path / "report.png"
    driver.save_screenshot(str(png))
    with Image.open(png) as im:
        assert im.size[0] == 1280 and sum(map(bool, im.convert("L").histogram())) > 50  # drawn, not blank


def test_in_chromium_sorting_filtering_and_paging_change_the_cards(driver, crafted, crafted_report):
    _, records = crafted
    load(driver, crafted_report)
    by_gain = ordered(records, gain, descending=True)
    assert cards(driver) == by_gain[:48] and count_text(driver) == "130 items; showing 1–48"
    driver.find_elements("css selector", ".pager button")[2].click()  # ›: the next page
    assert cards(driver) == by_gain[48:96]
    driver.find_elements("css selector", ".pager button")[3].click()  # »: the last page
    assert cards(driver) == by_gain[96:] and cards(driver)[-1] == (0, "00007_00")  # non-finite: last
    choose(driver, "order", "asc")
    assert cards(driver) == ordered(records, gain, descending=False)[:48]
    assert ordered(records, gain, descending=False)[-1] == (0, "00007_00")  # last in either order

    choose(driver, "order", "desc")
    choose(driver, "sort", "eval:t2i_compbench")
    by_score = ordered(records, lambda r: r["score"], descending=True)
    assert cards(driver) == by_score[:48] and {j for j, _ in by_score[:50]} == {0}  # scored ones first
    choose(driver, "sort", "category")
    choose(driver, "order", "asc")
    shown = [of_key(records, c)["meta"]["category"] for c in cards(driver)]
    assert shown == sorted(shown) and shown[0] == "color"

    choose(driver, "sort", "gain")
    choose(driver, "order", "desc")
    choose(driver, "job", "1")
    assert cards(driver) == [c for c in by_gain if c[0] == 1][:48] and count_text(driver).startswith("45 of 130 items")
    verdicts = driver.execute_script(
        "return [...document.querySelectorAll('#cards .card')].map(c => [c.dataset.key, [...c.querySelectorAll('tr')]"
        ".filter(r => r.cells[0].textContent === 'geneval').map(r => [r.cells[1].textContent, r.cells[2].textContent])])")
    assert verdicts and all(v == [["✗", "✓" if int(key[:5]) % 2 == 0 else "✗"]] for key, v in verdicts), verdicts
    choose(driver, "job", "")
    of = {(r["job"], r["key"]): r for r in records}
    choose(driver, "category", "shape", text=True)
    assert cards(driver) == [c for c in by_gain if of[c]["meta"]["category"] == "shape"][:48]
    choose(driver, "category", "")
    improved = [c for c in by_gain if (gain(of[c]) or 0) > 0]
    choose(driver, "improved", "yes")
    assert count_text(driver).startswith(f"{len(improved)} of 130 items")
    choose(driver, "improved", "no")  # the tie at 0 and the non-finite item are not improvements
    assert count_text(driver).startswith(f"{130 - len(improved)} of 130 items")
    assert set(cards(driver)) >= {(0, "00007_00")} and all(c not in improved for c in cards(driver))
    choose(driver, "improved", "")
    search = driver.find_element("id", "ctl-search")
    search.send_keys("zebra")
    assert cards(driver) == [c for c in by_gain if "zebra" in of[c]["prompt"]][:48]
    search.clear()
    driver.execute_script("document.getElementById('ctl-search').dispatchEvent(new Event('input'))")
    choose(driver, "size", "96")
    assert cards(driver) == by_gain[:96]
    no_console_errors(driver)


def test_the_screenshot_and_bench_commands_drive_the_same_browser(driver, crafted_report, tmp_path, capsys):
    from reno_exp.report import bench, screenshot

    png = tmp_path / "shot.png"
    assert screenshot.main([str(crafted_report), str(png), "--at", "gallery", "--colors", "64"]) == 0
    with Image.open(png) as im:
        assert im.mode == "P" and im.size[0] == 1280
    capsys.readouterr()
    assert bench.main(["--items", "12,30", "--jobs", "2", "--repeats", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if re.match(r"\| \d", line)]
    assert [row.split("|")[1].strip() for row in rows] == ["12", "30"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1].split()[0]) > 0 and float(cells[5].split()[0]) > 0 and cells[6] in ("12", "30")
        assert float(cells[7].split()[0]) >= 0
