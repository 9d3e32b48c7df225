"""The small files beside the page: JPEG thumbnails of every item's images and copies of the figures.

A thumbnail's name is a hash of its source's path, size and modification time, so a re-run reuses every
thumbnail whose source is unchanged (no image is decoded again) and makes a new one for a source that
changed. Figures are few: they are named by a hash of their bytes. Each build deletes the files of the
folder that the page no longer points to, and only those: the folder holds the report's own outputs.
Files are written to a temporary name and renamed, so a killed build leaves no half-written thumbnail.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

log = logging.getLogger(__name__)

SIDE = 192  # px, the longer side: twice the card's 96 CSS px per image, sharp on a high-density screen
QUALITY = 80
THUMBS, FIGURES = "t", "f"  # sub-folders of the report's folder
PARALLEL_FROM = 64  # fewer new thumbnails than this are made in this process: a pool costs more to start


def stat_name(source: Path) -> str:
    """``source``: an absolute path (resolving 45,000 of them one by one costs seconds)."""
    st = source.stat()
    key = f"{source}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.sha1(key.encode()).hexdigest()[:20] + ".jpg"


def make_thumbnail(source: str, target: str) -> tuple[int, int] | str:
    """The thumbnail's (width, height), or why the source could not be read."""
    try:
        with Image.open(source) as im:
            im.draft("RGB", (SIDE, SIDE))  # JPEG sources decode at a reduced scale
            im = im.convert("RGB")
            im.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
            tmp = f"{target}.{os.getpid()}.tmp"
            im.save(tmp, "JPEG", quality=QUALITY, optimize=True)
            os.replace(tmp, target)
            return im.size
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        return f"{type(e).__name__}: {e}"[:200]


class Files:
    """The report's folder: thumbnails and figures, each written once; ``prune`` drops what is unused."""

    def __init__(self, folder: Path, workers: int | None = None):
        self.folder = folder
        self.workers = workers or os.cpu_count() or 1
        self.used: set[str] = set()
        self.todo: dict[str, Path] = {}  # relative name -> source, made by ``finish``
        self.failed: dict[str, str] = {}  # relative name -> why
        self.made = 0  # thumbnails made by this build (the others were reused)

    def thumbnail(self, source: Path) -> str | None:
        """The thumbnail's name relative to the folder (made by ``finish`` when new); None when the source
        is missing."""
        try:
            rel = f"{THUMBS}/{stat_name(source)}"
        except OSError:
            return None
        self.used.add(rel)
        if not (self.folder / rel).is_file():
            self.todo[rel] = source
        return rel

    def figure(self, name: str, data: bytes) -> str:
        suffix = Path(name).suffix or ".png"
        rel = f"{FIGURES}/{hashlib.sha1(data).hexdigest()[:20]}{suffix}"
        self.used.add(rel)
        path = self.folder / rel
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return rel

    def finish(self) -> int:
        """Make the new thumbnails (in parallel when there are many); how many were made. A source that
        cannot be read is reported once, and its thumbnail is left out (the page shows a placeholder)."""
        if not self.todo:
            return 0
        (self.folder / THUMBS).mkdir(parents=True, exist_ok=True)
        jobs = [(str(src), str(self.folder / rel)) for rel, src in self.todo.items()]
        if len(jobs) < PARALLEL_FROM or self.workers == 1:
            results = [make_thumbnail(*j) for j in jobs]
        else:
            with ProcessPoolExecutor(self.workers) as pool:
                results = list(pool.map(make_thumbnail, *zip(*jobs), chunksize=64))
        for rel, result in zip(self.todo, results):
            if isinstance(result, str):
                self.failed[rel] = result
                self.used.discard(rel)
        if self.failed:
            rel, why = next(iter(self.failed.items()))
            log.warning("%d image(s) could not be read and show as a placeholder (first: %s: %s)",
                        len(self.failed), self.todo[rel], why)
        self.made += len(self.todo) - len(self.failed)
        self.todo = {}
        return self.made

    def ok(self, rel: str | None) -> str | None:
        return rel if rel is not None and rel not in self.failed else None

    def prune(self) -> int:
        """Delete the files of the folder's own sub-folders that this build does not use."""
        gone = 0
        for sub in (THUMBS, FIGURES):
            for path in (self.folder / sub).glob("*") if (self.folder / sub).is_dir() else []:
                if f"{sub}/{path.name}" not in self.used:
                    path.unlink()
                    gone += 1
        return gone
