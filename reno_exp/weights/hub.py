"""Where weights come from: the Hugging Face hub, with one clear error when they are not there, or a
seeded random initialisation (``random_init``) that is the same in every process."""

from __future__ import annotations

import contextlib
import contextvars
import shlex
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from reno_exp.config.errors import UserError, first_line

T = TypeVar("T")


PREFETCH = "python -m reno_exp.prefetch <same overrides>"


class MissingWeightsError(UserError):
    """Weights that are not available: every missing checkpoint at once, and the commands that fetch
    them (``python -m reno_exp.prefetch`` with the run's own overrides, and each checkpoint's ``hf download``)."""

    def __init__(self, checkpoints: str | Sequence[str], reason: str = "", prefetch: str = PREFETCH,
                 commands: Sequence[str | None] = ()):
        self.checkpoints = [checkpoints] if isinstance(checkpoints, str) else list(checkpoints)
        self.checkpoint = self.checkpoints[0]
        self.reason, self.prefetch = reason, prefetch
        self.commands = [c for c in commands if c]
        n = len(self.checkpoints)
        what = f"weights for {self.checkpoint!r} are" if n == 1 else f"weights for {n} checkpoints are"
        names = "" if n == 1 else ": " + ", ".join(self.checkpoints)
        hf = f" (or: {' && '.join(self.commands)})" if self.commands else ""
        super().__init__(
            f"{what} not available{' (' + reason + ')' if reason else ''}{names}\n"
            f"  fetch on a machine with hub access: {prefetch}{hf}\n"
            "  then run with HF_HUB_OFFLINE=1; or run with random_init=true for random weights"
        )


def hf_command(checkpoint: str) -> str | None:
    """``hf download`` for a load's name: ``repo``, ``repo:subfolder`` or ``repo:file.ext``."""
    if checkpoint.startswith(("/", ".", "~")) or "://" in checkpoint:
        return None  # a local directory or a URL: not the hub's
    repo, _, part = checkpoint.partition(":")
    if not part:
        return f"hf download {repo}"
    if "." in part.rsplit("/", 1)[-1]:
        return f"hf download {repo} {shlex.quote(part)}"
    return f"hf download {repo} --include {shlex.quote(part + '/*')}"


def load(checkpoint: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, turning the hub's many offline failures into MissingWeightsError."""
    try:
        return fn(*args, **kwargs)
    except (OSError, ValueError) as e:  # OSError covers the hub's HTTP/offline errors
        raise MissingWeightsError(checkpoint, first_line(e), commands=[hf_command(checkpoint)]) from None

# where seeded_init builds random weights: None is the default device; "meta" gives shapes and dtypes only
_init_device: contextvars.ContextVar[str | None] = contextvars.ContextVar("init_device", default=None)


@contextlib.contextmanager
def random_init_on(device: str | None):
    """Build every random-init part inside on ``device``; "meta": nothing allocated, real architectures,
    for the cost model and the CUDA dry run (reno_exp.cost). Schedulers and tokenizers are built outside
    seeded_init, so they stay real."""
    token = _init_device.set(device)
    try:
        yield
    finally:
        _init_device.reset(token)


@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Random-weight builds that are a function of ``seed`` alone (the global RNG is left as it was)."""
    device = _init_device.get()
    with torch.random.fork_rng(devices=[]), (torch.device(device) if device else contextlib.nullcontext()):
        torch.manual_seed(seed)
        yield
