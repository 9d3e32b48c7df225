"""``python -m reno_exp.report.bench [--items 100,1000,10000]``: how the report scales with the items.

For each size it synthesises a sweep as the app leaves one (run.yaml, results.jsonl with 50 iterates of
curves, an initial and a best PNG per item, evaluator scores for half of the jobs), builds the report
twice (the second build reuses every thumbnail) and opens the page in headless Chromium, reading the
page's own Performance API mark: the milliseconds from navigation to the first screen of cards drawn. It
prints one Markdown table: the page's size, its folder's size, build times, the first-screen time (median
of ``--repeats`` loads; the page is reloaded from disk each time) and how long re-sorting every item by
its prompt and redrawing the first page takes in the page (median).
Nothing outside a temporary folder (or ``--keep``) is written.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf
from PIL import Image

from reno_exp.report import browser, sources
from reno_exp.report.build import build, files_dir

CATEGORIES = ("color", "shape", "texture")
CHANNELS = ("red", "green", "blue", "red")
WORDS = ("a red dog", "a green cat", "a blue scooter", "a wooden table", "a glass bottle", "a striped cushion",
         "two apples", "a metal spoon", "a round clock", "a leather bag")
ITERS = 50


def pngs(count: int = 16, side: int = 64) -> list[bytes]:
    """A few distinct small images; items reuse their bytes (each item still has files of its own)."""
    rng = random.Random(0)
    out = []
    for _ in range(count):
        im = Image.new("RGB", (side, side), tuple(rng.randrange(256) for _ in range(3)))
        for _ in range(6):
            x, y = rng.randrange(side), rng.randrange(side)
            im.paste(tuple(rng.randrange(256) for _ in range(3)), (x, y, min(side, x + side // 3), min(side, y + side // 3)))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def synthesise(root: Path, items: int, jobs: int = 4, seed: int = 0) -> Path:
    """A sweep of ``jobs`` jobs and ``items`` items in all, under ``root``."""
    rng = random.Random(seed)
    images = pngs()
    for j in range(jobs):
        run = root / str(j)
        (run / "images").mkdir(parents=True)
        channel = CHANNELS[j % len(CHANNELS)]
        lr = 5.0 if j < len(CHANNELS) - 1 else 10.0
        config = {"model": {"_target_": "reno_exp.generators.tiny.TinyGenerator", "resolution": 64},
                  "reward": {"color": {"_target_": "reno_exp.rewards.color.ColorReward", "weight": 1.0, "channel": channel}},
                  "optimizer": {"method": "reno", "n_iters": ITERS, "optim": {"lr": lr}},
                  "benchmark": {"_target_": "reno_exp.benchmarks.t2i_compbench.T2ICompBench"}}
        overrides = ["model=tiny", "reward=color", "benchmark=t2i_compbench", f"reward.color.channel={channel}"]
        overrides += [f"optimizer.optim.lr={lr}"] if lr != 5.0 else []
        choices = {"model": "tiny", "reward": "color", "benchmark": "t2i_compbench", "optimizer": "reno"}
        sources.RunInfo.of(OmegaConf.create(config), choices, overrides).save(run)
        lines, scores = [], []
        share = items // jobs + (j < items % jobs)
        for n in range(share):
            index, k = divmod(n, 4)
            key = f"{index:05d}_{k:02d}"
            category = CATEGORIES[index % len(CATEGORIES)]
            prompt = f"{WORDS[index % len(WORDS)]} and {WORDS[(index * 7 + 3) % len(WORDS)]}, scene {index}"
            start, slope = rng.gauss(-2000, 200), rng.gauss(1.5, 2.0)
            history = [start + slope * t + rng.gauss(0, 3) for t in range(ITERS)]
            best_it = max(range(ITERS), key=history.__getitem__)
            for side in ("initial", "best"):
                (run / "images" / f"{key}_{side}.png").write_bytes(images[rng.randrange(len(images))])
            lines.append(json.dumps({
                "key": key, "index": index, "k": k, "prompt": prompt, "seed": k, "fingerprint": "synthetic",
                "meta": {"suite": "t2i_compbench", "category": category},
                "initial": {"color": history[0], "total": history[0]},
                "best": {"color": history[best_it], "total": history[best_it]}, "best_iteration": best_it,
                "history": history, "curves": {"color": history, "reg": [-5.8] * ITERS,
                                                "loss": [-h for h in history], "grad_norm": [1.0] * ITERS},
                "events": [], "evaluations": ITERS, "initial_image": f"images/{key}_initial.png",
                "image": f"images/{key}_best.png", "seconds": 1.0}))
            if j % 2 == 0:
                for image_set in ("initial", "best"):
                    scores.append({"key": key, "image_set": image_set, "metric": "t2i_compbench",
                                   "score": round(rng.random(), 4), "evaluator": "synthetic"})
                    scores.append({"key": key, "image_set": image_set, "metric": "aesthetic",
                                   "score": rng.gauss(5.5, 0.5), "evaluator": "synthetic"})
        (run / sources.RESULTS).write_text("\n".join(lines) + "\n")
        if scores:
            (run / sources.EVALUATION).write_text("".join(json.dumps(s) + "\n" for s in scores))
    return root


# a user's change of the sort order: every item sorted by its prompt, the first page of cards redrawn
RESORT = """const s = document.getElementById('ctl-sort'), t = performance.now();
s.value = 'prompt'; s.dispatchEvent(new Event('change'));
return performance.now() - t;"""


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(sizes: list[int], jobs: int, repeats: int, workers: int | None, keep: Path | None, log) -> list[dict]:
    base = keep or Path(tempfile.mkdtemp(prefix="reno_exp_report_bench_"))
    rows = []
    try:
        with browser.chromium(log=log) as driver:
            for items in sizes:
                root = base / f"items_{items}"
                if root.exists():
                    shutil.rmtree(root)
                log(f"{items} items: synthesising {jobs} jobs")
                start = time.monotonic()
                synthesise(root, items, jobs)
                made = time.monotonic() - start
                cold = build(root, workers=workers)
                warm = build(root, workers=workers)
                times, resorts = [], []
                for _ in range(repeats):
                    times.append(browser.open_page(driver, cold.page))
                    resorts.append(driver.execute_script(RESORT))
                    errors = browser.console_errors(driver)
                    if errors:
                        raise RuntimeError(f"console errors on {cold.page}: {errors[:3]}")
                cards = driver.execute_script("return document.querySelectorAll('#cards .card').length")
                rows.append({"items": items, "page_mb": cold.bytes / 1e6,
                             "files_mb": folder_bytes(files_dir(cold.page)) / 1e6, "synth_s": made,
                             "build_s": cold.seconds, "rebuild_s": warm.seconds, "reused": warm.thumbnails_made == 0,
                             "first_ms": statistics.median(times), "spread_ms": (min(times), max(times)),
                             "resort_ms": statistics.median(resorts),
                             "cards": cards})
                log(f"{items} items: page {cold.bytes / 1e6:.2f} MB, first screen {statistics.median(times):.0f} ms")
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| items | report.html | report_files/ | build (new thumbnails) | rebuild (all reused) "
             "| first screen in Chromium, median (min-max) | cards on it | sort by prompt |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["spread_ms"]
        lines.append(f"| {r['items']:,} | {r['page_mb']:.2f} MB | {r['files_mb']:.1f} MB | {r['build_s']:.1f} s "
                     f"| {r['rebuild_s']:.1f} s{'' if r['reused'] else ' (thumbnails remade!)'} "
                     f"| {r['first_ms']:.0f} ms ({lo:.0f}-{hi:.0f}) | {r['cards']} | {r['resort_ms']:.0f} ms |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = sources.ArgumentParser(prog="python -m reno_exp.report.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=sources.sizes, default="100,1000,10000", help="sizes, comma-separated")
    parser.add_argument("--jobs", type=int, default=4, help="jobs per synthesised sweep")
    parser.add_argument("--repeats", type=int, default=3, help="page loads per size")
    parser.add_argument("--workers", type=int, default=None, help="processes making thumbnails")
    parser.add_argument("--keep", type=Path, help="synthesise into this folder and keep it")
    args = parser.parse_args(argv)

    def body() -> int:
        for name in ("jobs", "repeats"):
            if getattr(args, name) < 1:
                raise sources.UserError(f"--{name} must be >= 1, got {getattr(args, name)}")
        rows = measure(args.items, args.jobs, args.repeats, args.workers, args.keep,
                       log=lambda m: print(m, file=sys.stderr, flush=True))
        print(table(rows))
        return 0

    return sources.guarded(body)


if __name__ == "__main__":
    sys.exit(main())
