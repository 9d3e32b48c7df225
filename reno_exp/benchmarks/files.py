"""The prompt files of a benchmark: pinned upstream, SHA-256 checked, cached outside the repository.

Each suite has a manifest ``benchmarks/<suite>.yaml`` at the repository root (upstream repository, the
commit, license, and per file its upstream path and SHA-256). A file comes from one of two places:

- ``$RENO_EXP_DATA/<suite>/<name>`` when that variable is set: an offline mirror (tests, CI, clusters
  without internet). Nothing is downloaded then, so a missing mirror file is an error, not a download.
- otherwise ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``, downloaded once into
  ``$RENO_EXP_CACHE`` (default: the user cache dir, ``$XDG_CACHE_HOME/reno_exp/benchmarks`` on Linux).

Either way the bytes must match the manifest's SHA-256: upstream files pinned to a commit never change,
so a mismatch means a corrupted or edited copy, and results computed from it would not be the benchmark's.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import yaml

from reno_exp.config.errors import UserError

MANIFESTS = Path(__file__).resolve().parent / "manifests"


@functools.cache
def manifest(suite: str) -> dict:
    path = MANIFESTS / f"{suite}.yaml"
    if not path.is_file():
        raise UserError(f"no manifest for benchmark suite {suite!r} ({path} is missing)")
    return yaml.safe_load(path.read_text())


def cache_dir() -> Path:
    if os.environ.get("RENO_EXP_CACHE"):
        return Path(os.environ["RENO_EXP_CACHE"])
    import pooch

    return Path(pooch.os_cache("reno_exp")) / "benchmarks"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(suite: str, name: str) -> Path:
    """Local path of a verified copy of the suite's file ``name`` (a key of the manifest's ``files``)."""
    m = manifest(suite)
    if name not in m["files"]:
        raise UserError(f"{suite} has no file {name!r}; its files: {', '.join(sorted(m['files']))}")
    entry = m["files"][name]
    mirror = os.environ.get("RENO_EXP_DATA")
    if mirror:
        path = Path(mirror) / suite / name
        if not path.is_file():
            raise UserError(f"{path}: missing from the offline mirror RENO_EXP_DATA={mirror} "
                            f"(expected the layout <suite>/<file>; unset RENO_EXP_DATA to download)")
        got = sha256(path)
        if got != entry["sha256"]:
            raise UserError(f"{path}: SHA-256 {got} does not match {entry['sha256']} pinned in "
                            f"{MANIFESTS / (suite + '.yaml')}: the copy is corrupted or edited")
        return path
    return download(f"{m['raw']}/{entry['path']}", entry["sha256"], cache_dir() / suite / m["commit"], name)


def download(url: str, sha: str, folder: Path, name: str) -> Path:
    import pooch
    import requests

    try:  # pooch re-downloads a cached file whose hash no longer matches, and checks every download
        return Path(pooch.retrieve(url, known_hash=f"sha256:{sha}", fname=name, path=folder, progressbar=False))
    except ValueError as e:
        raise UserError(f"{url}: the downloaded file does not match the pinned SHA-256 {sha} ({e})") from e
    except requests.RequestException as e:
        raise UserError(f"could not download {url} ({type(e).__name__}); without internet, point "
                        f"RENO_EXP_DATA to a mirror laid out as <suite>/<file>") from e


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number from 1, text) of a UTF-8 text file, CRLF or LF, with or without a final newline."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not UTF-8 text") from e
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # a final newline ends the last line; it does not start another
    return [(i, line.removesuffix("\r")) for i, line in enumerate(lines, 1)]


def write_text_atomic(path: Path, text: str) -> None:
    """Whole or absent, as the records' own files: a killed run never leaves half a metadata file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
