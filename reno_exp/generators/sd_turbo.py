"""SD-Turbo (ADD-distilled SD 2.1): Euler, trailing spacing, t = 999, no guidance, 512 px.
``num_inference_steps = k``: k Euler steps on the trailing grid (999, 499 for k = 2), differentiated through.

From ``stabilityai/sd-turbo`` (or any local directory in the same layout), or with ``random_init`` the
same architecture from the configs in ``architectures/sd_turbo/`` with random weights, offline.
Parameters: UNet 865,910,724; VAE 83,653,863; OpenCLIP-ViT-H text encoder (23 layers) 340,387,840.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from reno_exp.generators.parts import cpu_scheduler
from reno_exp.generators.unet_one_step import CLIPTextUNetOneStep
from reno_exp.weights import hub
from reno_exp.weights.tokenizers import check_tokenizer, offline_clip_tokenizer

ARCH = Path(__file__).parent / "architectures" / "sd_turbo"


def arch(name: str) -> dict:
    return json.loads((ARCH / f"{name}.json").read_text())


def random_sd_turbo_parts() -> dict:
    with hub.seeded_init():  # networks only: the scheduler and tokenizer stay real in a meta build
        nets = {
            "unet": UNet2DConditionModel.from_config(arch("unet")),
            "vae": AutoencoderKL.from_config(arch("vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**arch("text_encoder"))),
        }
    return {
        **nets,
        "tokenizer": offline_clip_tokenizer(pad_token="!"),  # SD 2.x pads with "!" like OpenCLIP
        "scheduler": cpu_scheduler(EulerDiscreteScheduler, arch("scheduler")),
    }


def load_sd_turbo_parts(hub_id: str, dtype: torch.dtype, scheduler_cls=EulerDiscreteScheduler,
                        variant: str | None = None) -> dict:
    """The parts of an SD 2.x pipeline repo; the scheduler is ``scheduler_cls`` built from the repo's config."""
    def get(cls, sub, **kw):
        return hub.load(f"{hub_id}:{sub}", cls.from_pretrained, hub_id, subfolder=sub, **kw)

    return {
        "unet": get(UNet2DConditionModel, "unet", torch_dtype=dtype, variant=variant),
        "vae": get(AutoencoderKL, "vae", torch_dtype=dtype, variant=variant),
        "text_encoder": get(CLIPTextModel, "text_encoder", dtype=dtype, variant=variant),
        "tokenizer": check_tokenizer(get(CLIPTokenizer, "tokenizer"), f"{hub_id}:tokenizer"),
        "scheduler": get(scheduler_cls, "scheduler"),
    }


class SDTurbo(CLIPTextUNetOneStep):
    def __init__(
        self,
        hub_id: str = "stabilityai/sd-turbo",
        resolution: int = 512,
        dtype: str = "float16",
        num_inference_steps: int = 1,
        gradient_checkpointing: bool = False,
        vae_checkpointing: bool = False,
        random_init: bool = False,
        device: str = "cpu",
    ):
        parts = random_sd_turbo_parts() if random_init else load_sd_turbo_parts(hub_id, getattr(torch, dtype))
        super().__init__(
            **parts,
            resolution=resolution,
            device=device,
            dtype=dtype,
            num_inference_steps=num_inference_steps,
            gradient_checkpointing=gradient_checkpointing,
            vae_checkpointing=vae_checkpointing,
        )
