"""The run directory: one JSON line per (prompt, seed) in ``results.jsonl``, plus images and noises.

Files are written to a temporary name and renamed into place; the JSON line is written last, in one
``write`` and fsync'd, so a record exists only once everything it points to does. A run killed mid-line
leaves a torn last line, which the next run cuts off before appending: a record is whole or absent.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

RESULTS = "results.jsonl"


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

    Each line goes out in one ``write`` and is fsync'd; a torn last line (a killed run) is cut off
    when the file is opened for appending, and skipped when it is only read.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def repair(self) -> JsonLines:
        if self.path.exists():
            data = self.path.read_bytes()
            if data and not data.endswith(b"\n"):
                self.path.write_bytes(data[: data.rfind(b"\n") + 1])
        return self

    def append(self, row: dict) -> None:
        line = (json.dumps(finite(row), allow_nan=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_records(path: str | Path) -> list[dict]:
    """All whole records of a run directory's (or a given) ``results.jsonl``."""
    path = Path(path)
    return JsonLines(path / RESULTS if path.is_dir() else path).read()


class RunRecords:
    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results = JsonLines(self.dir / RESULTS).repair()
        self.path = self.results.path
        self.done = {r["key"] for r in self.results.read()}

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

    def append(self, record: dict) -> None:
        self.results.append(record)
        self.done.add(record["key"])
