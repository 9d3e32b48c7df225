"""Your own prompts, ``benchmark=prompts benchmark.path=<file>``: the file read, checked and pinned.

The format goes by the extension:

- ``.txt``: one prompt a line. Blank lines are skipped, and so are comments: lines whose first character
  other than a space is ``#`` (a prompt cannot start with ``#``).
- ``.jsonl``: one JSON object a line (blank lines skipped), with a ``"prompt"`` string, optionally a
  ``"category"`` string and ``"seeds"``, a list of whole numbers >= 0.
- ``.csv``: a header row naming a ``prompt`` column, optionally ``category`` and ``seeds`` (``0;1;2``:
  semicolons, the comma being the separator); an empty ``seeds`` or ``category`` cell is none.

In the two structured formats every other field (column) is kept, as it is, in the records' ``meta``
beside ``suite`` (a name the records keep for the suite: a field of that name is refused). A prompt's
own seeds replace ``benchmark.seeds`` for it. Prompts are stripped of surrounding spaces; a prompt given
twice is refused naming both lines (give it several seeds instead). The file is UTF-8 (a byte order mark,
as spreadsheets save one, is allowed). A relative path is relative to the directory the command was
launched from.

Read here, in the config layer, because the preflight checks the file before a directory is made (a
``rule`` relation of ``benchmark.path``) and its SHA-256 is part of the run's identity: ``pin``, called
when the config is placed, makes the path absolute and fills ``benchmark.sha256``, so an edited file
never resumes into the records of the old one. reno_exp.benchmarks.prompts turns the rows into items.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reno_exp.config.errors import UserError, shorten

FORMATS = (".txt", ".jsonl", ".csv")
KNOWN = ("prompt", "category", "seeds")  # the fields read; every other one is metadata
RESERVED = ("suite",)  # the records' meta names the suite there


@dataclass(frozen=True)
class Row:
    line: int  # where the prompt starts in the file, from 1
    prompt: str
    category: str | None = None
    seeds: list[int] | None = None  # None: benchmark.seeds
    meta: dict[str, Any] = field(default_factory=dict)


def launch_dir(node: Any = None) -> Path:
    """Where the command was launched, as Hydra recorded it (a job may run elsewhere, hydra.job.chdir=true):
    in the config ``node`` belongs to when it has Hydra's part (the preflight's), else in the running job's;
    outside an app, the current directory."""
    from hydra.core.hydra_config import HydraConfig

    root = node._get_root() if isinstance(node, DictConfig) else None
    recorded = OmegaConf.select(root, "hydra.runtime.cwd", default=None) if root is not None else None
    if recorded:
        return Path(recorded)
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.cwd)
    return Path.cwd()


def resolve(path: str | Path, node: Any = None) -> Path:
    return (launch_dir(node) / Path(path).expanduser()).absolute()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(path: str | Path, node: Any = None) -> tuple[Path, bytes]:
    """The file's absolute path and bytes; a UserError naming it when it cannot be a prompt file. ``node``:
    the benchmark config that names it (where its launch directory is recorded)."""
    where = resolve(path, node)
    name = f"benchmark.path={path}"
    if where.suffix.lower() not in FORMATS:
        said = f"unknown extension {where.suffix!r}" if where.suffix else "no extension"
        raise UserError(f"{name}: {said}; a prompt file is .txt, .jsonl or .csv (see reno_exp/config/prompt_files.py)")
    if not where.exists():
        raise UserError(f"{name}: no such file" + (f" ({where})" if str(where) != str(path) else ""))
    if not where.is_file():
        raise UserError(f"{name}: not a file ({where})")
    try:
        return where, where.read_bytes()
    except OSError as e:
        raise UserError(f"{name}: cannot read it ({e.strerror or e})") from None


def read(path: str | Path, node: Any = None) -> tuple[list[Row], str]:
    """The file's rows and the SHA-256 of the bytes they were read from."""
    where, data = load(path, node)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8") from None
    parse = {".txt": parse_txt, ".jsonl": parse_jsonl, ".csv": parse_csv}[where.suffix.lower()]
    rows = parse(str(path), text)
    if not rows:
        besides = {".txt": "blank lines and comments", ".jsonl": "blank lines", ".csv": "its header and blank lines"}
        raise UserError(f"{path}: no prompts in it (empty, or only {besides[where.suffix.lower()]})")
    first: dict[str, int] = {}
    for row in rows:
        if row.prompt in first:
            raise UserError(f"{path}:{row.line}: the prompt of line {first[row.prompt]} again "
                            f"({shorten(row.prompt)!r}); give each prompt once (several seeds, if more images)")
        first[row.prompt] = row.line
    return rows, digest(data)


def lines(text: str) -> list[tuple[int, str]]:
    """(line number from 1, line) for LF or CRLF text."""
    return [(i, line.removesuffix("\r")) for i, line in enumerate(text.split("\n"), 1)]


def parse_txt(name: str, text: str) -> list[Row]:
    return [Row(n, line.strip()) for n, line in lines(text) if line.strip() and not line.lstrip().startswith("#")]


def parse_jsonl(name: str, text: str) -> list[Row]:
    rows = []
    for n, line in lines(text):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{name}:{n}: not JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(entry, dict):
            raise UserError(f"{name}:{n}: not a JSON object (a {type(entry).__name__}); "
                            'each line is one object such as {"prompt": "a red cat"}')
        rows.append(row(name, n, entry, list(entry)))
    return rows


def parse_csv(name: str, text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header, rows, end = None, [], 0
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                check_header(name, start, header)
                continue
            if len(cells) != len(header):
                raise UserError(f"{name}:{start}: {len(cells)} field{'s' * (len(cells) != 1)}, the header has {len(header)} "
                                "(quote a field that holds a comma)")
            entry = {k: v for k, v in zip(header, cells) if not (k in KNOWN[1:] and not v.strip())}
            rows.append(row(name, start, entry, header, seeds_cell=True))
    except csv.Error as e:
        raise UserError(f"{name}:{reader.line_num}: not CSV ({e})") from None
    return rows


def check_header(name: str, n: int, header: list[str]) -> None:
    if "prompt" not in header:
        raise UserError(f'{name}:{n}: the header ({", ".join(header)}) has no "prompt" column; '
                        "the first row names the columns, one of them prompt")
    if "" in header:
        raise UserError(f"{name}:{n}: column {header.index('') + 1} of the header has no name")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise UserError(f"{name}:{n}: the header names {', '.join(twice)} twice")
    check_reserved(f"{name}:{n}", header)


def row(name: str, n: int, entry: dict, order: list[str], seeds_cell: bool = False) -> Row:
    """A Row from a parsed line (JSON) or row (CSV, its cells strings)."""
    where = f"{name}:{n}"
    check_reserved(where, entry)
    if "prompt" not in entry:
        raise UserError(f'{where}: no "prompt" field')
    prompt = entry["prompt"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f'{where}: "prompt" must be a non-empty string, got {shorten(json.dumps(prompt))}')
    category = entry.get("category")
    if category is not None and not isinstance(category, str):
        raise UserError(f'{where}: "category" must be a string, got {shorten(json.dumps(category))}')
    raw = entry.get("seeds")
    seeds = parse_seeds(where, raw) if seeds_cell and raw is not None else check_seeds(where, raw)
    meta = {k: entry[k] for k in order if k not in KNOWN}
    return Row(n, prompt.strip(), (category.strip() or None) if category else None, seeds, meta)


def check_reserved(where: str, names) -> None:
    reserved = [k for k in RESERVED if k in names]
    if reserved:
        raise UserError(f"{where}: a field named {reserved[0]!r} is reserved (the records name the suite there); "
                        "rename it")


SEEDS_HINT = "a list of different whole numbers >= 0"


def check_seeds(where: str, value: Any) -> list[int] | None:
    if value is None:
        return None
    ok = (isinstance(value, list) and value and len(set(value)) == len(value)
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value))
    if not ok:
        raise UserError(f'{where}: "seeds" must be {SEEDS_HINT}, such as [0, 1, 2], got {shorten(json.dumps(value))}')
    return list(value)


def parse_seeds(where: str, cell: str) -> list[int]:
    """A CSV cell ``0;1;2``."""
    parts = [p.strip() for p in cell.split(";")]
    seeds = [int(p) for p in parts if p.isascii() and p.isdigit()]
    if len(seeds) < len(parts) or len(set(seeds)) < len(seeds):
        raise UserError(f"{where}: seeds {cell!r} must be {SEEDS_HINT} separated by semicolons, such as 0;1;2")
    return seeds


def is_prompt_file(node: Any) -> bool:
    """A benchmark node that reads a user's file (its config has a ``sha256``) and names one."""
    return (isinstance(node, DictConfig) and "sha256" in node and "path" in node
            and not OmegaConf.is_missing(node, "path") and bool(str(node.path).strip()))


def pin(node: Any) -> None:
    """``benchmark.path`` made absolute and ``benchmark.sha256`` filled from the file (a given one must
    match): what the run's identity holds of the file. Nothing for another suite, or without a path."""
    if not is_prompt_file(node):
        return
    where, data = load(node.path, node)
    check_digest(node.path, digest(data), node.sha256)
    node.path, node.sha256 = str(where), digest(data)


def check_digest(path: str, got: str, given: str | None) -> None:
    if given is not None and given != got:
        raise UserError(f"benchmark.path={path}: its SHA-256 is {got}, not benchmark.sha256={given}: "
                        "the file is not the one pinned")


def problems(path: Any, siblings: DictConfig) -> Iterator[str]:
    """What is wrong with the file that ``benchmark.path`` names (a rule relation: the preflight's check)."""
    if not str(path).strip():
        return
    try:
        _, sha = read(str(path), siblings)
        given = siblings.get("sha256")
        if given is not None and len(str(given)) == len(sha):  # another length is said by its own rule
            check_digest(str(path), sha, given)
    except UserError as e:
        yield str(e)
