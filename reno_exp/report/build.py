"""One report: gather the run or sweep, make the thumbnails, write the page; nothing else is written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from reno_exp.report import data, page, sources
from reno_exp.report.thumbs import Files

PAGE = "report.html"


def files_dir(path: Path) -> Path:
    """The page's folder of small files: ``report_files/`` beside ``report.html``."""
    return path.with_name(f"{path.stem}_files")


@dataclass
class Built:
    page: Path
    bytes: int
    items: int
    jobs: int
    thumbnails_made: int
    pruned: int
    seconds: float


def build(root: Path, out: Path | None = None, workers: int | None = None) -> Built:
    """``root``: a run or sweep directory; ``out``: the page (default ``<root>/report.html``)."""
    start = time.monotonic()
    jobs = sources.checked_jobs(root)  # bad input is named before anything else, and nothing is written
    out = out or root / PAGE
    sources.writable(out, folder=False)
    folder = files_dir(out)
    sources.writable(folder, folder=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    files = Files(folder, workers)
    content = data.gather(root, jobs, out, files)
    size = page.write(out, page.render(content, f"{folder.name}/"))
    pruned = files.prune()
    return Built(out, size, content["items"]["n"], len(content["jobs"]), files.made, pruned,
                 time.monotonic() - start)
