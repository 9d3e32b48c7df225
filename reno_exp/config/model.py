"""Schemas of the `model` config group: one dataclass per generator, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from reno_exp.config.rules import Rule, rule

DTYPES = ("auto", "float32", "float16", "bfloat16")
# a depth override: fewer blocks of the same kind, for random-weight builds only (a checkpoint has the depth
# it was trained with); null: as published. "depth" marks the fields reno_exp.generators.parts checks.
DEPTH = {**rule(ge=1), "depth": True}
STEPS = rule(ge=1, le=1000)  # sampling steps the gradient goes through (1000 training timesteps)
TIMESTEPS = rule(nonempty=True, each=Rule(ge=0, le=999))
SEED = rule(ge=0)


def resolution(default: int, multiple: int = 8, lowest: int = 64, highest: int = 2048):
    """The image side in pixels: a multiple of what the VAE (and a transformer's patches) divide it by,
    within the sizes the model makes images at (its own 512 or 1024 px, down to smoke-test sizes)."""
    return field(default=default, metadata=rule(multiple_of=multiple, ge=lowest, le=highest))


def dtype(default: str = "auto"):
    return field(default=default, metadata=rule(choices=DTYPES))


@dataclass
class GeneratorConfig:
    _target_: str = MISSING
    resolution: int = resolution(512)
    # auto | float32 | float16 | bfloat16, of the networks (the noise stays float32); auto: the model's own
    # half precision on CUDA (float16; bfloat16 for FLUX and SANA), float32 on a CPU
    dtype: str = dtype()
    gradient_checkpointing: bool = False


@dataclass
class TinyGeneratorConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.tiny.TinyGenerator"
    resolution: int = resolution(64, lowest=8, highest=1024)
    dtype: str = dtype("float32")
    num_inference_steps: int = field(default=1, metadata=STEPS)
    weights_seed: int = field(default=0, metadata=SEED)  # the random weights are a function of this seed alone


@dataclass
class SDTurboConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sd_turbo.SDTurbo"
    hub_id: str = "stabilityai/sd-turbo"
    # k > 1: k Euler steps (trailing grid), the gradient through all of them (the authors' --n_inference_steps)
    num_inference_steps: int = field(default=1, metadata=STEPS)
    vae_checkpointing: bool = False


@dataclass
class SDXLTurboConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sdxl_turbo.SDXLTurbo"
    hub_id: str = "stabilityai/sdxl-turbo"
    vae_id: str = "madebyollin/sdxl-vae-fp16-fix"  # "" : the VAE in hub_id
    variant: str | None = None  # "fp16": the half-size weight files the authors download (same values)
    # k > 1: k Euler ancestral steps (trailing grid), the gradient through all (--n_inference_steps)
    num_inference_steps: int = field(default=1, metadata=STEPS)
    # seeds the noise ancestral steps add (one CPU generator per item, every call): fixed per item, as the
    # authors re-seed theirs
    ancestral_seed: int = field(default=0, metadata=SEED)
    vae_checkpointing: bool = False
    vae_tiling: bool = False  # tiled decode: less memory, slightly different pixels near tile seams
    offload_text_encoders: bool = False  # encoders wait on the CPU between prompts
    # depth overrides, random_init only (null: as published)
    # both CLIP encoders (12 / 32 layers)
    text_encoder_layers: int | None = field(default=None, metadata=DEPTH)
    # caps transformer_layers_per_block [1, 2, 10]
    unet_transformer_layers: int | None = field(default=None, metadata=DEPTH)


@dataclass
class HyperSDXLConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.hyper_sdxl.HyperSDXL"
    hub_id: str = "stabilityai/stable-diffusion-xl-base-1.0"
    hyper_repo: str = "ByteDance/Hyper-SD"
    hyper_ckpt: str = "Hyper-SDXL-1step-Unet.safetensors"
    variant: str | None = None  # of SDXL base's text encoders and VAE ("fp16" as the authors)
    resolution: int = resolution(1024)
    # the authors upcast SDXL base's VAE
    vae_dtype: str = field(default="float32", metadata=rule(choices=DTYPES[1:]))
    timesteps: list[int] = field(default_factory=lambda: [800], metadata=TIMESTEPS)
    vae_checkpointing: bool = False
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    text_encoder_layers: int | None = field(default=None, metadata=DEPTH)
    unet_transformer_layers: int | None = field(default=None, metadata=DEPTH)


@dataclass
class PixArtDMDConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.pixart_dmd.PixArtDMD"
    hub_id: str = "PixArt-alpha/PixArt-Alpha-DMD-XL-2-512x512"  # transformer + scheduler
    pipeline_id: str = "PixArt-alpha/PixArt-XL-2-1024-MS"  # T5 tokenizer/encoder + VAE
    resolution: int = resolution(512, multiple=16)  # VAE 8 x patches 2
    timesteps: list[int] = field(default_factory=lambda: [400], metadata=TIMESTEPS)
    max_sequence_length: int = field(default=120, metadata=rule(ge=1))
    gradient_checkpointing: bool = True  # as the authors (numerics unchanged)
    vae_checkpointing: bool = True
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = field(default=None, metadata=DEPTH)  # random_init only: transformer blocks (28)
    text_encoder_layers: int | None = field(default=None, metadata=DEPTH)  # random_init only: T5 blocks (24)


@dataclass
class FluxSchnellConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.flux_schnell.FluxSchnell"
    hub_id: str = "black-forest-labs/FLUX.1-schnell"
    resolution: int = resolution(512, multiple=16)  # VAE 8 x 2x2 packing
    num_inference_steps: int = field(default=1, metadata=STEPS)
    # unused by schnell (no guidance embedder)
    guidance_scale: float = field(default=0.0, metadata=rule(ge=0, finite=True))
    max_sequence_length: int = field(default=256, metadata=rule(ge=1, le=512))
    vae_checkpointing: bool = False
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = field(default=None, metadata=DEPTH)  # random_init only: double-stream blocks (19)
    # random_init only: single-stream blocks (38)
    num_single_layers: int | None = field(default=None, metadata=DEPTH)
    text_encoder_layers: int | None = field(default=None, metadata=DEPTH)  # random_init only: T5 blocks (24)


@dataclass
class SanaSprintConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sana_sprint.SanaSprint"
    hub_id: str = "Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers"
    resolution: int = resolution(1024, multiple=32)  # the DC-AE divides by 32
    # embedded guidance (the pipeline's default)
    guidance_scale: float = field(default=4.5, metadata=rule(ge=0, finite=True))
    max_timesteps: float = field(default=1.5708, metadata=rule(gt=0, finite=True))
    max_sequence_length: int = field(default=300, metadata=rule(ge=1))
    complex_human_instruction: bool = True  # the pipeline's default prompt preamble
    vae_tiling: bool = False
    offload_text_encoders: bool = False
    num_layers: int | None = field(default=None, metadata=DEPTH)  # random_init only: transformer blocks (20)
    # random_init only: Gemma-2 blocks (26)
    text_encoder_layers: int | None = field(default=None, metadata=DEPTH)


SCHEMAS = {
    "tiny": TinyGeneratorConfig,
    "sd_turbo": SDTurboConfig,
    "sdxl_turbo": SDXLTurboConfig,
    "hyper_sdxl": HyperSDXLConfig,
    "pixart_dmd": PixArtDMDConfig,
    "flux_schnell": FluxSchnellConfig,
    "sana_sprint": SanaSprintConfig,
}
