"""A run directory's own record of what produced it, and the guard that keeps it one run.

- ``run.yaml`` is written by the first launch: the result-affecting config (reno_exp.config.identity), its
  fingerprint, and the Hydra group choices and overrides that chose it. A later launch whose
  result-affecting config differs is refused, naming the keys, before any model is built; tables,
  evaluate and analysis read this file, never a later launch's config.
- ``launches/NNN/`` keeps each launch's Hydra files (config, hydra, overrides). Hydra itself is told not to
  write ``.hydra/`` (``hydra.output_subdir: null``): it would overwrite them at every launch, a refused one
  included.
- ``.lock`` holds an advisory ``flock`` while a process writes the directory; the kernel releases it when
  the process dies, so a crash never leaves a stale lock. A second process is refused with the holder's pid.

Every check runs before anything is written, so a refused launch leaves the directory as it was.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from reno_exp.config import identity
from reno_exp.config.errors import UserError, first_line
from reno_exp.store.names import FOLDERS, LAUNCHES, LOCK, RESULTS, RUN

FILES = (RESULTS,)  # must be writable files when present


@dataclass
class RunInfo:
    """What ``run.yaml`` says: the run's result-affecting config and how it was chosen."""

    fingerprint: str
    config: dict[str, Any]  # nested, result-affecting keys only
    choices: dict[str, str] = field(default_factory=dict)  # Hydra group -> option (model: sd_turbo, ...)
    overrides: list[str] = field(default_factory=list)  # the result-affecting command-line overrides

    def cfg(self) -> DictConfig:
        return OmegaConf.create(self.config)

    @classmethod
    def of(cls, cfg: DictConfig, choices: dict | None = None, overrides: list[str] | None = None) -> RunInfo:
        choices = {g: o for g, o in (choices or {}).items() if o is not None and not identity.neutral(g)}
        overrides = [o for o in overrides or [] if not identity.neutral(o.split("=", 1)[0])]
        return cls(identity.fingerprint(cfg), identity.result_config(cfg), choices, overrides)

    def save(self, run_dir: Path) -> None:
        # the fingerprint last: a file cut short (by hand, a full disk) lacks it and is refused on reading
        data = {"config": self.config, "choices": self.choices, "overrides": self.overrides,
                "fingerprint": self.fingerprint}
        tmp = run_dir / f".{RUN}.tmp"
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
        os.replace(tmp, run_dir / RUN)


SHAPE = {"fingerprint": str, "config": dict, "choices": dict, "overrides": list}
SECTIONS = ("model", "reward", "optimizer", "benchmark")  # every app config has them; readers index them


def read_info(run_dir: str | Path) -> RunInfo | None:
    """The run's ``run.yaml``, or None when the directory is not a reno_exp run directory. Verified on every
    read: whole (every field, of its type) and its config reproduces its fingerprint, so a file edited by
    hand or cut short never describes the records as another config's; else a UserError naming it."""
    path = Path(run_dir) / RUN
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not a reno_exp run record ({first_line(e, 100)})") from None
    if not isinstance(data, dict) or set(data) - set(SHAPE):
        raise UserError(f"{path} is not a reno_exp run record (not a mapping of {', '.join(SHAPE)})")
    missing = [k for k, kind in SHAPE.items() if not isinstance(data.get(k), kind)]
    if missing:
        raise UserError(f"{path} is not whole: no {', '.join(missing)} (cut short or edited?); restore it, or make "
                        "the run again in a new hydra.run.dir")
    info = RunInfo(**data)
    absent = [k for k in SECTIONS if not isinstance(info.config.get(k), dict)]
    if absent:
        raise UserError(f"{path} is not whole: its config has no {', '.join(absent)} (cut short or edited?); "
                        "restore it, or make the run again in a new hydra.run.dir")
    if identity.fingerprint(info.config) != info.fingerprint:
        raise UserError(f"{path} was changed after the run was made: its config gives fingerprint "
                        f"{identity.fingerprint(info.config)}, not the {info.fingerprint} it records; restore it, or "
                        "make the run again in a new hydra.run.dir")
    return info


def latest_launch(run_dir: str | Path) -> dict:
    """The newest launch's full config (the run's logger, for instance: not part of its identity)."""
    launches = sorted(p for p in (Path(run_dir) / LAUNCHES).glob("[0-9]*") if (p / "config.yaml").is_file())
    return yaml.safe_load((launches[-1] / "config.yaml").read_text()) or {} if launches else {}


def writable(path: Path, folder: bool) -> None:
    """That ``path`` is (or can be made) a writable file or folder: one clear line now, not a traceback
    after an hour of compute."""
    if path.exists():
        if folder and not path.is_dir():
            raise UserError(f"{path} is not a writable directory (a file is in its place)")
        if not folder and not path.is_file():
            raise UserError(f"{path} is not a writable file (a directory is in its place)")
        if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            raise UserError(f"{path} is not writable (permission denied)")
        return
    parent = next(p for p in path.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot create {path}: {parent} is not a writable directory")


def check_writable(run_dir: Path) -> None:
    writable(run_dir, folder=True)
    for name in FILES:
        writable(run_dir / name, folder=False)
    for name in FOLDERS:
        writable(run_dir / name, folder=True)


def holds_results(run_dir: Path) -> bool:
    results = run_dir / FILES[0]
    return results.is_file() and b"}" in results.read_bytes()


def check_same_run(run_dir: Path, info: RunInfo) -> None:
    """A directory with results belongs to the config that produced them. One without any (a launch that
    failed before its first item, e.g. on a bad option) is free for a corrected config."""
    recorded = read_info(run_dir)
    if recorded is None or recorded.fingerprint == info.fingerprint or not holds_results(run_dir):
        return
    diff = identity.differences(identity.flatten(recorded.config), identity.flatten(info.config))
    raise UserError(f"{run_dir} holds another run (its run.yaml differs in {len(diff)} key(s): {'; '.join(diff)}); "
                    "use a new hydra.run.dir, or the same settings to resume")


class RunDir:
    """Open with ``RunDir.open``: checked, locked, its config recorded; ``close`` releases the lock."""

    def __init__(self, path: Path, fd: int, info: RunInfo):
        self.path, self._fd, self.info = path, fd, info

    @classmethod
    def open(cls, run_dir: str | Path, cfg: DictConfig, hydra: dict | None = None,
             check: Callable[[RunInfo], Any] | None = None) -> RunDir:
        """``hydra``: this launch's Hydra files ({"config.yaml": ..., "hydra.yaml": ..., "overrides.yaml": ...}
        as plain data, plus "choices" and "overrides"), or None outside a Hydra app. ``check(info)``: more
        read-only checks of the directory that may refuse the launch before anything is written."""
        path = Path(run_dir)
        hydra = hydra or {}
        info = RunInfo.of(cfg, hydra.get("choices"), hydra.get("overrides"))
        check_writable(path)
        check_same_run(path, info)
        if check is not None:
            check(info)
        path.mkdir(parents=True, exist_ok=True)
        fd = lock(path / LOCK)
        try:
            check_same_run(path, info)  # another process may have started this run while we were checking
            recorded = read_info(path)
            if recorded is None or recorded.fingerprint != info.fingerprint:  # new, or no results yet
                info.save(path)
            save_launch(path, hydra)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd, info)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
            self._fd = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise UserError(f"{path.parent} is in use by another process (pid {holder}); "
                            "wait for it to end, or use another hydra.run.dir") from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def save_launch(run_dir: Path, hydra: dict) -> None:
    files = {k: v for k, v in hydra.items() if k.endswith(".yaml")}
    if not files:
        return
    folder = run_dir / LAUNCHES
    folder.mkdir(exist_ok=True)
    n = len([p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()])
    tmp = folder / f".{n:03d}.tmp"
    tmp.mkdir(exist_ok=True)
    for name, data in files.items():
        (tmp / name).write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, folder / f"{n:03d}")
