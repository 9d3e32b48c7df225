"""A learned text-image reward: frozen networks, a differentiable image side, a text side per prompt.

What the five learned rewards share: the tower dtype (scores and sums in float32), gradient
checkpointing of the transformer blocks, strict loading of official checkpoints, and the text cache.
With ``cache_text`` the prompt is tokenised and encoded once in ``prepare`` and reused at every
iteration; without it, it is tokenised and encoded again at every call, as the authors' code does.
``text_encodes`` counts text-side computations, so the cache can be observed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from reno_exp.config.errors import UserError
from reno_exp.generators.base import DTYPES
from reno_exp.generators.collate import collate
from reno_exp.rewards.base import Reward
from reno_exp.rewards.preprocess import clip_preprocess


def tower_dtype(name: str | None, device: str | torch.device) -> torch.dtype:
    """None: float16 on CUDA (the authors' default), float32 elsewhere: on CPUs without bf16/fp16
    matrix units half-precision matmuls run 50-75 times slower than float32 (measured here)."""
    if name is None:
        return torch.float16 if torch.device(device).type == "cuda" else torch.float32
    if name not in DTYPES:
        raise UserError(f"reward dtype must be one of {sorted(DTYPES)} or null, got {name!r}")
    return DTYPES[name]


class CheckpointMismatchError(UserError):
    def __init__(self, checkpoint: str, reason: str):
        super().__init__(f"checkpoint {checkpoint!r} does not match the architecture: {reason}")


def load_strict(module: nn.Module, state_dict: dict[str, torch.Tensor], checkpoint: str) -> None:
    """Every key of the checkpoint used and every parameter/buffer of the module set, shapes checked."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [f"{k}: {tuple(v.shape)} vs {tuple(own[k].shape)}" for k, v in state_dict.items()
              if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        parts = [f"{label} ({len(keys)}): {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)) if keys]
        raise CheckpointMismatchError(checkpoint, "; ".join(parts))
    module.load_state_dict(state_dict, strict=True)


def checkpoint_blocks(blocks: Iterable[nn.Module]) -> None:
    """Recompute each block's activations in the backward pass instead of storing them.

    Set on the instances (their ``forward``), not through the libraries' switches, which only act in
    training mode, while the reward networks stay in eval mode (dropout off).
    """
    for block in blocks:
        block.forward = functools.partial(checkpoint, block.forward, use_reentrant=False)


@dataclass
class PreparedText:
    prompt: str
    text: Any = None  # the cached text side; None when cache_text is off


class TowerReward(Reward):
    """A reward's ``__init__(random_init=False, tiny=False, device="cpu", <checkpoint files>, **options)`` hands
    ``device`` and its ``options`` (its schema's fields) here first, then builds and loads its networks and
    calls ``finish``."""

    def __init__(self, device: str = "cpu", **options):
        super().__init__()
        self.cfg = self.options(options)
        self.device = torch.device(device)
        self.dtype = tower_dtype(self.cfg.dtype, self.device)
        self.text_encodes = 0

    def finish(self, blocks: Iterable[nn.Module] = ()) -> None:
        """After the networks are built and loaded: frozen, eval, on the device, in the tower dtype."""
        self.requires_grad_(False).eval()
        self.to(self.device, self.dtype)
        if self.cfg.gradient_checkpointing:
            checkpoint_blocks(blocks)

    # what a reward implements
    def encode_text(self, prompt: str) -> Any:
        """Tokens and whatever of the text side does not depend on the image."""
        raise NotImplementedError

    def score(self, pixels: torch.Tensor, text: Any) -> torch.Tensor:
        """CLIP-normalised (B, 3, 224, 224) pixels in the tower dtype -> (B,) float32 scores."""
        raise NotImplementedError

    @torch.no_grad()
    def text_side(self, prompt: str) -> Any:
        self.text_encodes += 1
        return self.encode_text(prompt)

    @torch.no_grad()
    def prepare(self, prompt: str) -> PreparedText:
        return PreparedText(prompt, self.text_side(prompt) if self.cfg.cache_text else None)

    def forward(self, image: torch.Tensor, prepared: PreparedText) -> torch.Tensor:
        text = prepared.text
        if text is None:  # no cache: encode again now, as the authors' code does at every iteration
            prompts = prepared.prompt if isinstance(prepared.prompt, list) else [prepared.prompt]
            text = collate([self.text_side(p) for p in prompts])
        pixels = clip_preprocess(image.to(self.device)).to(self.dtype)
        return self.score(pixels, text).float()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine in float32 of (B, D) image features against (1, D) or (B, D) text features."""
    a, b = a.float(), b.float()
    return (a / a.norm(dim=-1, keepdim=True) * (b / b.norm(dim=-1, keepdim=True))).sum(-1)
