"""Shared fixtures: composing the real Hydra config in-process, and the tiny generator."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

# one thread per process: make test runs a worker per core, and torch's default (a thread per core in each
# worker and in each child it starts) makes them wait on each other
for threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(threads, "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("RENO_EXP_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "benchmarks"))

ROOT = Path(__file__).resolve().parents[1]
from reno_exp.config.compose import CONF  # noqa: E402 (after the environment above)


@pytest.fixture(autouse=True)
def root_logging():
    """Entry points called in-process (evaluate, analysis, bench) run logging.basicConfig, which binds a
    handler to the sys.stderr of that moment: pytest's capture of one test, closed after it. Left in
    place, every later log line of the session prints a "--- Logging error ---" trace."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def waits(monkeypatch):
    """What "fails at once" means, instead of a wall-clock bound: the connections tried and the sleeps slept
    (a retry loop sleeps between its tries; an offline failure tries no connection at all)."""
    import socket
    import time

    seen = {"connect": [], "sleep": []}
    connect, sleep = socket.socket.connect, time.sleep

    def counted_connect(self, address):
        seen["connect"].append(address)
        return connect(self, address)

    def counted_sleep(seconds):
        seen["sleep"].append(seconds)
        return sleep(seconds)

    monkeypatch.setattr(socket.socket, "connect", counted_connect)
    monkeypatch.setattr(time, "sleep", counted_sleep)
    return seen


@pytest.fixture(scope="session")
def compose():
    """compose(overrides) -> the app's config, composed and validated exactly as `python -m reno_exp` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from reno_exp.config.schema import register

    register()

    def _compose(overrides=(), return_hydra_config=False):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return hydra_compose("config", overrides=list(overrides), return_hydra_config=return_hydra_config)

    return _compose


@pytest.fixture(scope="session")
def tiny_generator():
    from reno_exp.generators.tiny import TinyGenerator

    return TinyGenerator()


# the files whose tests run longest (a SLURM cluster, sweeps of the app, a browser, killed runs) start first:
# make test hands each worker a file at a time, and one of these started last would run alone at the end
LONG_FIRST = ("test_slurm.py", "test_sweeps.py", "test_integrity.py", "test_report.py", "test_resume.py")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: (LONG_FIRST.index(item.path.name) if item.path.name in LONG_FIRST
                                 else len(LONG_FIRST)))
