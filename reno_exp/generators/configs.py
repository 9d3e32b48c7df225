"""Schemas of the `model` config group: one dataclass per generator, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING


@dataclass
class GeneratorConfig:
    _target_: str = MISSING
    resolution: int = 512
    # auto | float32 | float16 | bfloat16, of the networks (the noise stays float32); auto: the model's own
    # half precision on CUDA (float16; bfloat16 for FLUX and SANA), float32 on a CPU
    dtype: str = "auto"
    gradient_checkpointing: bool = False


@dataclass
class TinyGeneratorConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.tiny.TinyGenerator"
    resolution: int = 64
    dtype: str = "float32"
    num_inference_steps: int = 1
    weights_seed: int = 0  # the random weights are a function of this seed alone


@dataclass
class SDTurboConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sd_turbo.SDTurbo"
    hub_id: str = "stabilityai/sd-turbo"
    num_inference_steps: int = 1  # k > 1: k Euler steps (trailing grid), the gradient through all of them
    vae_checkpointing: bool = False

SCHEMAS = {"tiny": TinyGeneratorConfig, "sd_turbo": SDTurboConfig}


@dataclass
class SDXLTurboConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sdxl_turbo.SDXLTurbo"
    hub_id: str = "stabilityai/sdxl-turbo"
    vae_id: str = "madebyollin/sdxl-vae-fp16-fix"  # "" : the VAE in hub_id
    variant: str | None = None  # "fp16": the half-size weight files the authors download (same values)
    num_inference_steps: int = 1  # k > 1: k Euler ancestral steps (trailing grid), the gradient through all
    ancestral_seed: int = 0  # seeds the noise ancestral steps add (one CPU generator per item, every call)
    vae_checkpointing: bool = False
    vae_tiling: bool = False  # tiled decode: less memory, slightly different pixels near tile seams
    offload_text_encoders: bool = False  # encoders wait on the CPU between prompts
    # depth overrides, random_init only (null: as published)
    text_encoder_layers: int | None = None  # both CLIP encoders (12 / 32 layers)
    unet_transformer_layers: int | None = None  # caps transformer_layers_per_block [1, 2, 10]


@dataclass
class HyperSDXLConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.hyper_sdxl.HyperSDXL"
    hub_id: str = "stabilityai/stable-diffusion-xl-base-1.0"
    hyper_repo: str = "ByteDance/Hyper-SD"
    hyper_ckpt: str = "Hyper-SDXL-1step-Unet.safetensors"
    variant: str | None = None  # of SDXL base's text encoders and VAE ("fp16" as the authors)
    resolution: int = 1024
    vae_dtype: str = "float32"  # the authors upcast SDXL base's VAE
    timesteps: list[int] = field(default_factory=lambda: [800])
    vae_checkpointing: bool = False
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    text_encoder_layers: int | None = None
    unet_transformer_layers: int | None = None


@dataclass
class PixArtDMDConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.pixart_dmd.PixArtDMD"
    hub_id: str = "PixArt-alpha/PixArt-Alpha-DMD-XL-2-512x512"  # transformer + scheduler
    pipeline_id: str = "PixArt-alpha/PixArt-XL-2-1024-MS"  # T5 tokenizer/encoder + VAE
    timesteps: list[int] = field(default_factory=lambda: [400])
    max_sequence_length: int = 120
    gradient_checkpointing: bool = True  # as the authors (numerics unchanged)
    vae_checkpointing: bool = True
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = None  # random_init only: transformer blocks (28)
    text_encoder_layers: int | None = None  # random_init only: T5 blocks (24)


@dataclass
class FluxSchnellConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.flux_schnell.FluxSchnell"
    hub_id: str = "black-forest-labs/FLUX.1-schnell"
    num_inference_steps: int = 1
    guidance_scale: float = 0.0  # unused by schnell (no guidance embedder)
    max_sequence_length: int = 256
    vae_checkpointing: bool = False
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = None  # random_init only: double-stream blocks (19)
    num_single_layers: int | None = None  # random_init only: single-stream blocks (38)
    text_encoder_layers: int | None = None  # random_init only: T5 blocks (24)


@dataclass
class SanaSprintConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sana_sprint.SanaSprint"
    hub_id: str = "Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers"
    resolution: int = 1024
    guidance_scale: float = 4.5  # embedded guidance (the pipeline's default)
    max_timesteps: float = 1.5708
    max_sequence_length: int = 300
    complex_human_instruction: bool = True  # the pipeline's default prompt preamble
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = None  # random_init only: transformer blocks (20)
    text_encoder_layers: int | None = None  # random_init only: Gemma-2 blocks (26)


SCHEMAS.update(
    sdxl_turbo=SDXLTurboConfig,
    hyper_sdxl=HyperSDXLConfig,
    pixart_dmd=PixArtDMDConfig,
    flux_schnell=FluxSchnellConfig,
    sana_sprint=SanaSprintConfig,
)
