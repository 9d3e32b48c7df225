"""Shared pieces of the one-step generators: repo configs, checkpoint files, offloading, decoding.

The architecture configs kept in ``architectures/<model>/<part>.json`` are the published ones (keys that
start with "_" are notes, e.g. the parameter count, and are dropped before building). Depth overrides
(fewer blocks of the same kind) are only for random-weight builds: a checkpoint has the depth it has.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reno_exp.config.errors import UserError
from reno_exp.weights import hub
from reno_exp.weights.hub import seeded_init
from reno_exp.weights.tokenizers import check_tokenizer

ARCHITECTURES = Path(__file__).parent / "architectures"


def arch(model: str, part: str, **overrides) -> dict:
    """The published config of ``part`` of ``model``, with ``overrides`` (None means: as published)."""
    cfg = json.loads((ARCHITECTURES / model / f"{part}.json").read_text())
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise KeyError(f"{model}/{part} has no config keys {sorted(unknown)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def cpu_scheduler(cls, config: dict, **overrides):
    """``cls.from_config(config)`` on the CPU whatever the default device: schedulers keep CPU tensors, and a
    build under ``torch.device("meta")`` (parameter counts without memory) must not put them on meta."""
    with torch.device("cpu"):
        return cls.from_config(config, **overrides)


def random_pipeline_parts(model: str, networks: Callable[[], dict], scheduler_cls, **tokenizers) -> dict:
    """Every part of ``model`` for random_init: ``networks()`` built with seeded random weights, then the
    scheduler of ``architectures/<model>/scheduler.json`` and the offline ``tokenizers``, outside the seeded
    build so that a meta-device build keeps them real."""
    with seeded_init():
        parts = networks()
    return {**parts, "scheduler": cpu_scheduler(scheduler_cls, arch(model, "scheduler")), **tokenizers}


def check_options(cfg: Any, random_init: bool) -> None:
    """Before any part is built: the depth overrides a config sets (its fields marked "depth",
    reno_exp.config.model.DEPTH) apply to random-weight builds only, and a step count is at least 1."""
    given = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.metadata.get("depth")}
    given = {k: v for k, v in given.items() if v is not None}
    if given and not random_init:
        raise UserError(f"{', '.join(f'model.{k}' for k in given)} only apply with random_init=true "
                        "(a checkpoint has the depth it was trained with)")
    for k, v in given.items():
        if isinstance(v, int) and v < 1:
            raise UserError(f"model.{k} must be at least 1, got {v}")
    steps = getattr(cfg, "num_inference_steps", 1)
    if steps < 1:
        raise UserError(f"model.num_inference_steps must be at least 1, got {steps}")


def load_part(repo: str, cls, sub: str, **kwargs):
    """``cls.from_pretrained(repo, subfolder=sub)``, from the hub or a local directory in the same layout; a
    checkpoint that is not there is a MissingWeightsError naming ``repo:sub``."""
    return hub.load(f"{repo}:{sub}", cls.from_pretrained, repo, subfolder=sub, **kwargs)


def load_tokenizer(repo: str, cls, sub: str = "tokenizer"):
    """``load_part`` of a tokenizer, refused when offline loading gave an empty one."""
    return check_tokenizer(load_part(repo, cls, sub), f"{repo}:{sub}")


def hub_file(repo: str, filename: str) -> str:
    """Path of ``filename`` in a hub repo, or in a local directory laid out like it."""
    if Path(repo).is_dir():
        path = Path(repo) / filename
        if not path.is_file():
            raise hub.MissingWeightsError(f"{repo}:{filename}", "no such file in that directory")
        return str(path)
    from huggingface_hub import hf_hub_download

    return hub.load(f"{repo}:{filename}", hf_hub_download, repo, filename)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class TextEncoders:
    """Text encoders that may wait on the CPU and visit the accelerator only while a prompt is encoded.

    ReNO encodes each prompt once and then only runs the denoiser and VAE, so the encoders (T5-XXL: 4.8B
    parameters) need not hold accelerator memory during the optimisation.
    """

    def __init__(self, device: torch.device, dtype: torch.dtype, offload: bool, **encoders: nn.Module):
        self.device, self.offload = device, offload and device.type != "cpu"
        home = torch.device("cpu") if self.offload else device
        self.modules = {k: place(m, home, dtype) for k, m in encoders.items()}

    def __getitem__(self, name: str) -> nn.Module:
        return self.modules[name]

    @contextlib.contextmanager
    def on_device(self):
        if self.offload:
            for m in self.modules.values():
                m.to(self.device)
        try:
            yield self
        finally:
            if self.offload:
                for m in self.modules.values():
                    m.to("cpu")
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()


def place(module: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """Frozen, in eval mode, on ``device``; cast only when needed (diffusers warns on every cast)."""
    module = module.to(device).requires_grad_(False).eval()
    return module if next(module.parameters()).dtype == dtype else module.to(dtype)


def decode_to_image(vae: nn.Module, latents: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The pipelines' decode: undo the latent scaling (and shift, for FLUX), decode, map [-1, 1] to [0, 1]."""
    z = latents.to(dtype) / vae.config.scaling_factor
    shift = getattr(vae.config, "shift_factor", None)
    if shift:
        z = z + shift
    image = vae.decode(z, return_dict=False)[0]
    return (image.float() / 2 + 0.5).clamp(0, 1)


def check_resolution(resolution: int, factor: int) -> None:
    if resolution < factor or resolution % factor:
        raise UserError(f"model.resolution must be a positive multiple of {factor}, got {resolution}")


def pipeline_files(variant: str | None = None) -> tuple[str, ...]:
    """Patterns of the files ``from_pretrained(repo, subfolder=...)`` reads from a diffusers pipeline repo
    (configs, tokenizers, weights in safetensors of one variant), for ``python -m reno_exp.prefetch``."""
    v = f".{variant}" if variant else ""
    return ("model_index.json", "*/*.json", "*/*.txt", "*/*.model",
            f"*/diffusion_pytorch_model{v}.safetensors", f"*/diffusion_pytorch_model{v}-*.safetensors",
            f"*/model{v}.safetensors", f"*/model{v}-*.safetensors")


def pipeline_repo(repo: str, variant: str | None = None, skip: tuple[str, ...] = ()):
    """A diffusers pipeline repo to prefetch, without the subfolders in ``skip`` (parts taken elsewhere)."""
    from reno_exp.weights.checkpoints import HubRepo

    return HubRepo(repo, allow_patterns=pipeline_files(variant),
                   ignore_patterns=tuple(f"{s}/*.safetensors" for s in skip))
