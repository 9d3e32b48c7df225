"""Where weights come from: the Hugging Face hub, with one clear error when they are not there, or a
seeded random initialisation (``random_init``) that is the same in every process."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable
from typing import TypeVar

import torch

from reno_exp.errors import UserError

T = TypeVar("T")


class MissingWeightsError(UserError):
    def __init__(self, checkpoint: str, reason: str = ""):
        self.checkpoint = checkpoint
        how = (
            f"fetch it with `python -m reno_exp.prefetch <same overrides>` on a machine with hub access "
            f"(or `huggingface-cli download {checkpoint.split(':')[0]}`), then run with HF_HUB_OFFLINE=1; "
            "or run with random_init=true for random weights"
        )
        super().__init__(f"weights for {checkpoint!r} are not available{': ' + reason if reason else ''}; {how}")


def load(checkpoint: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)``, turning the hub's many offline failures into MissingWeightsError."""
    try:
        return fn(*args, **kwargs)
    except (OSError, ValueError) as e:  # OSError covers the hub's HTTP/offline errors
        raise MissingWeightsError(checkpoint, str(e).splitlines()[0][:200]) from None


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
