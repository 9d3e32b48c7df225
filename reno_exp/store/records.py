"""The run directory: one JSON line per (prompt, seed) in ``results.jsonl``, plus images and noises.

Files are written to a temporary name and renamed into place; the JSON line is written last, in one
``write`` and fsync'd, so a record exists only once everything it points to does. A run killed mid-line
leaves a torn last line, which the next run cuts off before appending: a record is whole or absent.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from reno_exp.config.errors import UserError
from reno_exp.store.names import RESULTS

FIELDS = ("key", "prompt", "seed")  # what every reader of a results record indexes
log = logging.getLogger(__name__)
_warned: set[str] = set()  # a file's damage is said once per process, however often it is read


def warn_once(message: str, *args) -> None:
    text = message % args
    if text not in _warned:
        _warned.add(text)
        log.warning("%s", text)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> 8-bit RGB."""
    x = image.detach().float().cpu().reshape(-1, *image.shape[-3:])[0]
    return Image.fromarray((x.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def finite(x: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [finite(v) for v in x]
    return x


class JsonLines:
    """An append-only JSON-lines file whose lines are whole or absent.

    Each line goes out in one ``write`` and is fsync'd. A run killed mid-write leaves a torn last line:
    ``repair`` cuts it before the next append, and ``read`` passes over it. A last line that is whole
    but lacks its newline is a record, and is kept. A bad line anywhere else is damage, not a kill: it is
    reported with its line number and never counted. A whole record without the ``fields`` every reader
    indexes is not this app's file: a UserError naming the line.
    """

    fields: tuple[str, ...] = ()
    what = "JSON-lines file"

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        lines = self.path.read_bytes().split(b"\n")
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                if n < len(lines):  # the last piece is a torn line only if no newline follows it
                    warn_once("%s:%d is not a whole JSON record; it is ignored", self.path, n)
                continue
            absent = [f for f in self.fields if f not in row]
            if absent:
                raise UserError(f"{self.path}:{n}: a record without {', '.join(absent)}: not a reno_exp {self.what} "
                                "(another program's output, or edited by hand?)")
            out.append(row)
        return out

    def repair(self) -> JsonLines:
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                last = data[data.rfind(b"\n") + 1:]
                try:
                    json.loads(last)
                    data += b"\n"  # a whole record that lacks only its newline: keep it
                except ValueError:
                    data = data[: len(data) - len(last)]
                self.path.write_bytes(data)
        return self

    def append(self, row: dict) -> None:
        line = (json.dumps(finite(row), allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def unique(rows: list[dict], identity: Callable[[dict], Any], path: Path) -> list[dict]:
    """The first row of each identity; the others are reported, never counted twice."""
    seen, out, dupes = set(), [], []
    for row in rows:
        key = identity(row)
        (dupes if key in seen else out).append(row)
        seen.add(key)
    if dupes:
        keys = sorted({str(identity(r)) for r in dupes})
        warn_once("%s holds %d duplicate record(s) (%s%s); each is counted once", path, len(dupes),
                  ", ".join(keys[:3]), " ..." if len(keys) > 3 else "")
    return out


@dataclass(eq=False)  # equality of a mapping: a record equals the dict of its line
class Record(Mapping):
    """One line of ``results.jsonl``: an item (prompt, seed) and what the method found for it. Written by the
    run (``RunRecords.append``), read back by ``read_records``; readers may also index it by the JSON names
    (``record["best"]["total"]``), which stay as runs have always written them."""

    key: str
    index: int
    k: int
    prompt: str
    seed: int
    fingerprint: str | None  # of the config that produced it (None: older than fingerprints)
    initial: dict[str, float | None]  # each reward's score and the weighted ``total``
    best: dict[str, float | None]
    best_iteration: int
    history: list[float | None]  # the total per iterate
    curves: dict[str, list]  # each reward, reg, loss, grad_norm, evaluations, backwards per iterate
    events: list[dict[str, Any]]  # skipped steps, out-of-memory retries
    evaluations: int  # generator evaluations spent
    seconds: float  # the item's share of its batch's time
    peak_memory_bytes: int
    meta: dict[str, Any] | None = None  # the suite's own fields (category, tag, ...)
    files: dict[str, Any] = field(default_factory=dict)  # noise, images: paths relative to the run
    extra: dict[str, Any] = field(default_factory=dict)  # fields this version does not know, kept as read

    # where an image set's path stands in the line: the best image was named "image" from the first runs on
    IMAGE_FIELDS: ClassVar[dict[str, str]] = {"initial": "initial_image", "best": "image"}

    @classmethod
    def image_field(cls, image_set: str) -> str:
        return cls.IMAGE_FIELDS.get(image_set, f"{image_set}_image")

    @staticmethod
    def is_file(name: str) -> bool:
        return name in ("noise", "iterates", "image") or name.endswith("_image")

    def image(self, image_set: str) -> str | None:
        """The image of a set (initial, best, initial_transfer, best_transfer), relative to its run."""
        return self.files.get(self.image_field(image_set))

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("files", "extra", "meta")}
        meta = {"meta": self.meta} if self.meta else {}
        head = {k: out.pop(k) for k in ("key", "index", "k", "prompt", "seed", "fingerprint")}
        tail = {k: out.pop(k) for k in ("seconds", "peak_memory_bytes")}
        return {**head, **meta, **out, **self.files, **tail, **self.extra}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Record:
        names = {f.name for f in fields(cls)} - {"files", "extra"}
        known = {k: v for k, v in row.items() if k in names}
        files = {k: v for k, v in row.items() if k not in names and cls.is_file(k)}
        extra = {k: v for k, v in row.items() if k not in names and k not in files}
        defaults = {"index": 0, "k": 0, "fingerprint": None, "initial": {}, "best": {}, "best_iteration": 0,
                    "history": [], "curves": {}, "events": [], "evaluations": 0, "seconds": 0.0,
                    "peak_memory_bytes": 0}
        return cls(**{**defaults, **known}, files=files, extra=extra)

    # the JSON names, for readers that index a record as the line reads
    def __getitem__(self, name: str) -> Any:
        if name in self._names():
            return getattr(self, name)
        if name in self.files:
            return self.files[name]
        return self.extra[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if name in self._names():
            setattr(self, name, value)
        elif self.is_file(name):
            self.files[name] = value
        else:
            self.extra[name] = value

    def __iter__(self):
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())

    def __contains__(self, name: object) -> bool:
        if name == "meta":
            return bool(self.meta)
        return name in self._names() or name in self.files or name in self.extra

    @classmethod
    def _names(cls) -> frozenset[str]:
        return _FIELD_NAMES


_FIELD_NAMES = frozenset(f.name for f in fields(Record)) - {"files", "extra", "meta"} | {"meta"}


class ResultsFile(JsonLines):
    fields = FIELDS
    what = "results file"


def read_records(path: str | Path) -> list[Record]:
    """The whole records of a run directory's (or a given) ``results.jsonl``, each item once."""
    path = Path(path)
    file = ResultsFile(path / RESULTS if path.is_dir() else path)
    return [Record.from_json(r) for r in unique(file.read(), lambda r: r["key"], file.path)]


def pending(done: dict[str, dict] | list[dict], items: list, fingerprint: str) -> list:
    """The items not yet recorded. A recorded key whose record was produced by another prompt, seed or
    config is not this item: that is refused, never skipped and never overwritten."""
    if isinstance(done, list):
        done = {r["key"]: r for r in done}
    out = []
    for item in items:
        r = done.get(item.key)
        if r is None:
            out.append(item)
            continue
        was = (r.get("prompt"), r.get("seed"), r.get("fingerprint"))
        if was != (item.prompt, item.seed, fingerprint):
            what = "the seed (seed, benchmark.seeds)" if was[0] == item.prompt and was[2] == fingerprint else "the config"
            raise UserError(f"item {item.key} of this run directory was recorded for prompt {str(was[0])[:50]!r}, "
                            f"seed {was[1]}, config {was[2]}; this run gives prompt {item.prompt[:50]!r}, seed "
                            f"{item.seed}, config {fingerprint}: {what} differs; use a new hydra.run.dir")
    return out


class RunRecords:
    """The records and files of one run directory, for the one process that holds its lock."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results = ResultsFile(self.dir / RESULTS).repair()
        self.path = self.results.path
        self.done = {r["key"]: r for r in read_records(self.path)}  # key -> record

    def save_image(self, image: torch.Tensor, rel: str) -> str:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.png")
        to_pil(image).save(tmp)
        os.replace(tmp, path)
        return rel

    def save_tensors(self, tensors: dict[str, torch.Tensor], rel: str) -> str:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        # clone: when the best iterate is the initial one both names hold the same tensor, which
        # safetensors refuses to save
        save_file({k: v.detach().float().cpu().clone() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, path)
        return rel

    def append(self, record: Record) -> None:
        self.results.append(record.to_json())
        self.done[record.key] = record
