"""``python -m reno_exp.benchmarks.collect <sweep dir> <out dir>``: one official-layout folder per setting.

A sweep's jobs (and the shards of one setting) each write their own part of the official layouts; the
official scorers want one folder. This links (or copies, across file systems) every job's
``t2i_compbench/<set>/`` and ``geneval/<set>/`` into ``<out>/<model>/<reward>/t2i_compbench/<category>/<set>/``
and ``<out>/<model>/<reward>/geneval/<set>/``. File names come from the items, so shards never collide;
a file already there (the same initial image from another reward's job) is kept.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from reno_exp.cli import ArgumentParser, guarded
from reno_exp.errors import UserError


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
    parser = ArgumentParser(prog="python -m reno_exp.benchmarks.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    def body() -> int:
        check_inputs(args.sweep, args.out)
        print(f"{collect(args.sweep, args.out)} files placed under {args.out}")
        return 0

    return guarded(body)


def check_inputs(sweep: Path, out: Path) -> None:
    """One-line refusals before anything is linked: no runs, another program's directory, a damaged run
    record, an output that is a file."""
    from reno_exp.run_files import check_run, ours, runs_under

    for run in ours(runs_under(sweep, "sweep directory"), sweep):
        check_run(run)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: give a directory to collect into")


if __name__ == "__main__":
    sys.exit(main())
