"""A CUDA dry run without a GPU: one ReNO iterate of a composed config at real size and dtype, on the
meta device, where nothing is allocated and a 12B-parameter model costs seconds.

Random-init networks are built directly on the meta device (``hub.random_init_on("meta")``). The meta
device checks devices and dtypes as CUDA does (a CPU tensor other than a 0-dim scalar may not meet a
device tensor; matmul operands must share a dtype), so the iterate fails where a GPU run would fail
first. Two things make it compute what CUDA computes rather than what a CPU would:

- ``scaled_dot_product_attention`` runs the fused kernel CUDA picks (flash attention in half precision
  without a mask, memory-efficient attention otherwise) instead of the math path, which would
  materialise every attention matrix: saved bytes and FLOPs are a GPU run's.
- transformers' attention masks take the general path that tracing takes (the mask is built, not
  skipped after reading whether it is all ones: a meta tensor has no values to read).

What cannot run on meta is what reads values on the host: the optimiser's read-back of the scores.
The schedulers keep their schedule on the CPU, so they run for real.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from reno_exp.generators.base import OneStepGenerator
from reno_exp.weights import hub

PROMPTS = ("a photo of a cat on a red sofa", "a blue car parked next to a green bicycle",
           "an oil painting of a lighthouse at dusk", "two dogs playing in the snow")


def cuda_config(cfg: DictConfig, checkpointing: bool | None = None) -> DictConfig:
    """``cfg`` as a CUDA run builds it, on the meta device with random weights: the model's CUDA dtype
    for ``dtype=auto``, float16 reward towers for ``dtype: null``; ``checkpointing`` (None: as configured)
    sets every gradient-checkpointing switch of the model and the rewards."""
    from reno_exp.config.placement import placed

    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(cfg):
        cfg.device, cfg.random_init = "meta", True
    cfg = placed(cfg)  # dtype=auto and null tower dtypes as on CUDA
    with open_dict(cfg):
        if cfg.model.get("offload_text_encoders"):
            cfg.model.offload_text_encoders = False  # meta has no values to copy to the CPU: DryRun.offloaded
        if checkpointing is not None:
            for key in ("gradient_checkpointing", "vae_checkpointing"):
                if key in cfg.model:
                    cfg.model[key] = checkpointing
            for node in (cfg.reward or {}).values():
                if "gradient_checkpointing" in node:
                    node.gradient_checkpointing = checkpointing
    return cfg


def build_meta(cfg: DictConfig):
    """(generator, rewards) of a ``cuda_config``: the app's own build, every random weight on meta."""
    from reno_exp.assemble.parts import build

    with hub.random_init_on("meta"):
        return build(cfg, "meta")


SDPA = F.scaled_dot_product_attention


def fused_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                    enable_gqa=False):
    """F.scaled_dot_product_attention as CUDA dispatches it: flash attention for half-precision inputs
    without a mask (head size <= 256), else memory-efficient attention (masks, float32)."""
    if query.dim() != 4:
        return SDPA(query, key, value, attn_mask, dropout_p, is_causal, scale=scale, enable_gqa=enable_gqa)
    if enable_gqa and key.shape[1] != query.shape[1]:
        key = key.repeat_interleave(query.shape[1] // key.shape[1], dim=1)
        value = value.repeat_interleave(query.shape[1] // value.shape[1], dim=1)
    half = query.dtype in (torch.float16, torch.bfloat16)
    if attn_mask is None and half and query.shape[-1] <= 256 and query.shape[-1] == value.shape[-1]:
        return torch.ops.aten._scaled_dot_product_flash_attention(
            query, key, value, dropout_p, is_causal, return_debug_mask=False, scale=scale)[0]
    bias = None
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            attn_mask = torch.zeros(attn_mask.shape, dtype=query.dtype, device=query.device).masked_fill(
                ~attn_mask, float("-inf"))
        bias = attn_mask.to(query.dtype).expand(query.shape[0], query.shape[1], query.shape[2], key.shape[2])
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    return torch.ops.aten._scaled_dot_product_efficient_attention(
        query, key, value, bias, grad, dropout_p, is_causal, scale=scale)[0]


@contextlib.contextmanager
def traced_masks() -> Iterator[None]:
    """transformers builds every attention mask instead of testing whether it may skip it."""
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    def built(make_mask):
        def make(*args, **kwargs):
            return make_mask(*args, **{**kwargs, "allow_is_causal_skip": False, "allow_is_bidirectional_skip": False})
        return make

    kinds = ("sdpa", "eager")
    for kind in kinds:
        ALL_MASK_ATTENTION_FUNCTIONS[kind] = built(ALL_MASK_ATTENTION_FUNCTIONS[kind])
    try:
        yield
    finally:
        for kind in kinds:
            del ALL_MASK_ATTENTION_FUNCTIONS[kind]


@contextlib.contextmanager
def cuda_like() -> Iterator[None]:
    """Attention and masks as on CUDA. The function itself is swapped, not intercepted by a torch function
    mode: modes are off in the backward pass, where gradient checkpointing recomputes the forward."""
    with mock.patch.object(F, "scaled_dot_product_attention", fused_attention), traced_masks():
        yield


@dataclass
class DryRun:
    """A composed config built on meta, and one iterate of it at any batch size."""

    generator: OneStepGenerator
    rewards: nn.Module
    offloaded: bool = False  # the text encoders wait on the CPU between prompts (not resident)

    @classmethod
    def build(cls, cfg: DictConfig, checkpointing: bool | None = None) -> DryRun:
        return cls(*build_meta(cuda_config(cfg, checkpointing)), bool(cfg.model.get("offload_text_encoders")))

    def parts(self) -> dict[str, list[nn.Module]]:
        """The networks by part: denoiser, vae, text encoders (resident unless offloaded), each reward."""
        g = self.generator
        parts: dict[str, list[nn.Module]] = {"denoiser": [], "vae": [], "text encoders": []}
        for name, module in g.named_children():
            key = "denoiser" if name in ("unet", "transformer") else "vae" if name == "vae" else "text encoders"
            parts[key].append(module)
        text = getattr(g, "text", None)
        if text is not None:
            parts["text encoders"] += list(text.modules.values())
        if self.offloaded:
            parts["text encoders"] = []
        for name, reward in self.rewards.rewards.items():
            parts[name] = [reward]
        return parts

    def conditioning(self, batch: int, prompts: int = 1) -> tuple[Any, Any]:
        """The conditioning of ``batch`` items of ``prompts`` prompts (seeds of one prompt by default, as
        a prompt suite's items come), each prompt encoded once, batched as the run loop batches them."""
        texts = [PROMPTS[i % len(PROMPTS)] for i in range(prompts)]
        with cuda_like():
            conds = [self.generator.encode_prompt(p) for p in texts]
            prepared = [self.rewards.prepare(p) for p in texts]
        order = [i % prompts for i in range(batch)]
        return (self.generator.collate([conds[i] for i in order]),
                self.rewards.collate([prepared[i] for i in order]))

    def noises(self, batch: int) -> list[torch.Tensor]:
        """One leaf noise per item, as the run loop keeps them."""
        return [torch.randn(1, *self.generator.latent_shape, device="meta").requires_grad_() for _ in range(batch)]

    def forward(self, cond, prepared, zs: list[torch.Tensor], reg_weight: float = 0.01) -> torch.Tensor:
        """The batch's loss, as Algorithm 1 computes it once per iterate (rewards and regulariser)."""
        from reno_exp.methods.objective import norm_regulariser

        with cuda_like():
            out = self.generator(torch.cat(zs), cond)
            loss, _ = self.rewards(out.image, prepared)
            reg = reg_weight * torch.stack([norm_regulariser(z) for z in zs])
            return (loss + reg).sum()

    def backward(self, loss: torch.Tensor) -> None:
        with cuda_like():  # gradient checkpointing recomputes forward blocks here
            loss.backward()

    def iterate(self, cond, prepared, zs: list[torch.Tensor], reg_weight: float = 0.01) -> None:
        """Forward and backward to the noises."""
        self.backward(self.forward(cond, prepared, zs, reg_weight))
