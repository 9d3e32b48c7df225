"""What many tests share: the repository's root and running one of its commands in a child Python, offline,
with this checkout first on its path (so a worktree's tests run its own code, whatever is installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def offline_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline", "PYTHONPATH": path, **extra}


def python(*args: str | Path, cwd: Path = ROOT, env: dict | None = None,
           timeout: float = 300) -> subprocess.CompletedProcess:
    """``python *args`` (``"-m", module, ...`` or a script), its output captured as text; every call has a
    deadline, so a hung child fails its test instead of the suite."""
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=offline_env(**(env or {})), timeout=timeout)


def app(argv: list[str]) -> int:
    """``python -m reno_exp *argv`` in this process (its exit code; bad input returns 2 as the command does)."""
    from reno_exp.__main__ import cli

    return cli(argv)


def script(name: str):
    """``scripts/<name>.py`` (the project's own installers and tools) imported as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
