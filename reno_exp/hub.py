"""Where weights come from: the Hugging Face hub, with one clear error when they are not there, or a
seeded random initialisation (``random_init``) that is the same in every process."""

from __future__ import annotations

import contextlib
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



@contextlib.contextmanager
def seeded_init(seed: int = 0):
    """Random-weight builds that are a function of ``seed`` alone (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
