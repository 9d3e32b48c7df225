"""What a command that reads run directories (evaluate, analysis, tables, collect) checks first: that each
is a run directory of this app and that the files it reads are whole. A foreign directory (another
program's ``results.jsonl``) or a damaged file is named in one UserError line, before anything is
written; a file that is only missing is the caller's to report. Then the records it counts: only those
its run's config produced (``own_records``).
"""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path

from reno_exp.config.errors import UserError
from reno_exp.store.names import RESULTS, RUN
from reno_exp.store.records import read_records
from reno_exp.store.rundir import RunInfo, read_info

log = logging.getLogger(__name__)

def runs_under(path: str | Path, what: str = "run or sweep directory") -> list[Path]:
    """The run directories at or below ``path`` (each holds a results.jsonl); a UserError when none."""
    path = Path(path)
    if not path.exists():
        hint = " (the first argument is the directory; key=value settings come after it)" if "=" in path.name else ""
        raise UserError(f"{path} does not exist: give a {what}{hint}")
    if not path.is_dir():
        raise UserError(f"{path} is not a directory: give a {what}")
    if (path / RESULTS).is_file():
        return [path]
    runs = sorted(p.parent for p in path.rglob(RESULTS))
    if not runs:
        raise UserError(f"no run under {path}: no {RESULTS} there or below")
    return runs


def ours(runs: list[Path], root: Path) -> list[Path]:
    """The runs with the app's run.yaml; a UserError when none has one (another program's directory)."""
    mine = [r for r in runs if (r / RUN).is_file()]
    if not mine:
        raise UserError(f"no reno_exp run under {root}: {len(runs)} director{'y holds' if len(runs) == 1 else 'ies hold'} "
                        f"a {RESULTS} but no {RUN} (e.g. {runs[0]}: another program's output?)")
    return mine


def check_run(run_dir: Path, noises: bool = False) -> list[Path]:
    """A UserError naming the first damaged or foreign file of the run; returns the noise files its
    records point to that are missing (``noises``: checked too)."""
    read_info(run_dir)  # a damaged run.yaml is named there
    records = read_records(run_dir)  # a foreign or damaged record is named there
    missing = []
    if noises:
        for record in records:
            if record.get("noise"):
                path = run_dir / record["noise"]
                if path.is_file():
                    check_safetensors(path)
                else:
                    missing.append(path)
    return missing


def check_safetensors(path: Path) -> None:
    """The header of a safetensors file, and that the file holds every byte the header promises."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > size - 8:
                raise ValueError(f"its header claims {n} bytes of {size}")
            header = json.loads(f.read(n))
        end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as e:
        raise UserError(f"{path} is damaged or truncated (not a whole safetensors file: {str(e)[:80]})") from None
    if 8 + n + end > size:
        raise UserError(f"{path} is truncated: {size} bytes, its header promises {8 + n + end}")


def warn_missing(run_dir: Path, missing: list[Path], what: str) -> None:
    if missing:
        log.warning("%s: %d noise file(s) its records point to are missing (first: %s); %s", run_dir, len(missing),
                    missing[0].name, what)


def split_records(run_dir: Path, info: RunInfo | None = None) -> tuple[list[dict], list[dict]]:
    """The run's records that its own config produced (their fingerprint is run.yaml's), and the others
    (lines copied in from another run, a record edited by hand). Without a run.yaml every record counts."""
    records = read_records(run_dir)
    info = info or read_info(run_dir)
    if info is None:
        return records, []
    own = [r for r in records if r.get("fingerprint") == info.fingerprint]
    return own, [r for r in records if r.get("fingerprint") != info.fingerprint]


def own_records(run_dir: Path, info: RunInfo | None = None) -> list[dict]:
    """``split_records``'s first part; the others are left out with one warning saying how many (read
    each run's records once per command, so that it is said once)."""
    own, others = split_records(run_dir, info)
    if others:
        found = sorted({str(r.get("fingerprint")) for r in others})
        log.warning("%s: %d of its %d records are not this run's (fingerprint %s, not run.yaml's %s): left out",
                    Path(run_dir) / RESULTS, len(others), len(own) + len(others), ", ".join(found[:3]),
                    (info or read_info(run_dir)).fingerprint)
    return own
