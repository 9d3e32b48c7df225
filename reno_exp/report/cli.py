"""``python -m reno_exp.report <run or sweep dir> [--out FILE] [--workers N]``: write the report page.

The page (default ``<dir>/report.html``) and its folder of thumbnails and figures (``report_files/``
beside it) are the only files written; the run directories are read, never changed. Run it again after
more jobs finish, after ``evaluate``, ``analysis`` or ``tables``: the page is rewritten, thumbnails of
unchanged images are reused.
"""

from __future__ import annotations

import logging
from pathlib import Path

from reno_exp.report import sources
from reno_exp.report.build import build


def main(argv: list[str] | None = None) -> int:
    parser = sources.ArgumentParser(prog="python -m reno_exp.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a run directory (with results.jsonl) or a sweep directory of them")
    parser.add_argument("--out", type=Path, help="the page to write (default: <path>/report.html)")
    parser.add_argument("--workers", type=int, default=None, help="processes making thumbnails (default: all CPUs)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    def body() -> int:
        if args.workers is not None and args.workers < 1:
            raise sources.UserError(f"--workers must be >= 1, got {args.workers}")
        if args.out is not None and args.out.is_dir():
            raise sources.UserError(f"--out {args.out} is a directory: give the page's file name")
        built = build(args.path, args.out, args.workers)
        print(f"{built.page}: {built.bytes / 1e6:.2f} MB, {built.jobs} job(s), {built.items} item(s); "
              f"{built.thumbnails_made} thumbnail(s) made, the others reused; {built.seconds:.1f} s")
        return 0

    return sources.guarded(body)
