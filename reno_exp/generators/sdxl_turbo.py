"""SDXL-Turbo (ADD-distilled SDXL) as the ReNO authors run it: 512 px, Euler ancestral with trailing spacing
(one step from t = 999, noise scaled by the scheduler's initial sigma, about 14.6), no guidance, and the
fp16-safe VAE ``madebyollin/sdxl-vae-fp16-fix``; everything in float16. ``num_inference_steps = k``: k
steps on the trailing grid, differentiated through; the ancestral noise the steps add is drawn from CPU
generators seeded with ``ancestral_seed``, one per item (see unet_one_step).

From ``stabilityai/sdxl-turbo`` (or a local directory in the same layout), or with ``random_init`` the same
architecture from ``architectures/sdxl_turbo/`` with random weights, offline.
Parameters: UNet 2,567,463,684; VAE 83,653,863; CLIP-L text encoder 123,060,480; OpenCLIP-bigG text
encoder (with projection) 694,659,840; total 3,468,837,867.
"""

from __future__ import annotations

import torch
from diffusers import EulerAncestralDiscreteScheduler

from reno_exp.generators.parts import check_depth_overrides
from reno_exp.generators.sdxl_one_step import (
    SDXLUNetOneStep,
    load_sdxl_parts,
    random_sdxl,
)
from reno_exp.weights import hub

MODEL = "sdxl_turbo"


def load_sdxl_turbo_parts(hub_id: str, vae_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    parts = load_sdxl_parts(hub_id, vae_id, dtype, variant)
    config = hub.load(f"{hub_id}:scheduler", EulerAncestralDiscreteScheduler.load_config, hub_id,
                      subfolder="scheduler")
    parts["scheduler"] = EulerAncestralDiscreteScheduler.from_config(config, timestep_spacing="trailing")
    return parts


class SDXLTurbo(SDXLUNetOneStep):
    @classmethod
    def checkpoints(cls, cfg) -> list:
        """What ``python -m reno_exp.prefetch`` downloads for this config: the pipeline and the separate VAE."""
        from reno_exp.generators.parts import pipeline_repo
        from reno_exp.weights.checkpoints import HubRepo

        if not cfg.get("vae_id"):
            return [pipeline_repo(cfg.hub_id, cfg.get("variant"))]
        return [pipeline_repo(cfg.hub_id, cfg.get("variant"), skip=("vae",)),
                HubRepo(cfg.vae_id, allow_patterns=("config.json", "diffusion_pytorch_model.safetensors"))]

    def __init__(
        self,
        hub_id: str = "stabilityai/sdxl-turbo",
        vae_id: str = "madebyollin/sdxl-vae-fp16-fix",
        variant: str | None = None,
        resolution: int = 512,
        dtype: str = "float16",
        num_inference_steps: int = 1,
        ancestral_seed: int = 0,
        gradient_checkpointing: bool = False,
        vae_checkpointing: bool = False,
        vae_tiling: bool = False,
        offload_text_encoders: bool = False,
        text_encoder_layers: int | None = None,
        unet_transformer_layers: int | None = None,
        random_init: bool = False,
        device: str = "cpu",
    ):
        check_depth_overrides(random_init, text_encoder_layers=text_encoder_layers,
                              unet_transformer_layers=unet_transformer_layers)
        if random_init:
            parts = random_sdxl(MODEL, EulerAncestralDiscreteScheduler, text_encoder_layers, unet_transformer_layers)
        else:
            parts = load_sdxl_turbo_parts(hub_id, vae_id, getattr(torch, dtype), variant)
        super().__init__(
            **parts,
            resolution=resolution,
            device=device,
            dtype=dtype,
            num_inference_steps=num_inference_steps,
            ancestral_seed=ancestral_seed,
            gradient_checkpointing=gradient_checkpointing,
            vae_checkpointing=vae_checkpointing,
            vae_tiling=vae_tiling,
            offload_text_encoders=offload_text_encoders,
        )
