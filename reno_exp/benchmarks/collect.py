"""``python -m reno_exp.benchmarks.collect <sweep dir> <out dir>``: one official-layout folder per setting.

A sweep's jobs (and the shards of one setting) each write their own part of the official layouts; the
official scorers want one folder. This links (or copies, across file systems) every job's
``t2i_compbench/<set>/`` and ``geneval/<set>/`` into ``<out>/<model>/<reward>/t2i_compbench/<category>/<set>/``
and ``<out>/<model>/<reward>/geneval/<set>/``. File names come from the items, so shards never collide;
a file already there (the same initial image from another reward's job) is kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def place(src: Path, dst: Path) -> bool:
    if dst.exists():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return True


def collect(sweep: Path, out: Path) -> int:
    from reno_exp.tables.jobs import find_jobs

    placed = 0
    for job in find_jobs(sweep):
        for suite in ("t2i_compbench", "geneval"):
            root = job.dir / suite
            if not root.is_dir():
                continue
            target = out / job.model / job.reward / suite
            if suite == "t2i_compbench":
                target = target / job.info.config["benchmark"]["category"]
            for path in sorted(root.rglob("*")):
                if path.is_file() and ".tmp" not in path.name:
                    placed += place(path, target / path.relative_to(root))
    return placed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reno_exp.benchmarks.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    n = collect(args.sweep, args.out)
    print(f"{n} files placed under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
