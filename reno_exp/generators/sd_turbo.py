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

from reno_exp.config.model import SDTurboConfig
from reno_exp.generators.parts import cpu_scheduler, load_part, load_tokenizer
from reno_exp.generators.unet_one_step import CLIPTextUNetOneStep
from reno_exp.weights import hub
from reno_exp.weights.tokenizers import offline_clip_tokenizer

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
    return {
        "unet": load_part(hub_id, UNet2DConditionModel, "unet", torch_dtype=dtype, variant=variant),
        "vae": load_part(hub_id, AutoencoderKL, "vae", torch_dtype=dtype, variant=variant),
        "text_encoder": load_part(hub_id, CLIPTextModel, "text_encoder", dtype=dtype, variant=variant),
        "tokenizer": load_tokenizer(hub_id, CLIPTokenizer),
        "scheduler": load_part(hub_id, scheduler_cls, "scheduler"),
    }


class SDTurbo(CLIPTextUNetOneStep):
    schema = SDTurboConfig

    def random_parts(self) -> dict:
        return random_sd_turbo_parts()

    def load_parts(self) -> dict:
        return load_sd_turbo_parts(self.cfg.hub_id, self.dtype)
