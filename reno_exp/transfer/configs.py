"""Schemas of the `transfer` config group: one dataclass per multi-step target, checked by OmegaConf.

``transfer=none`` (the default) sets ``transfer: null``: no transfer. Every other option is built with
``hydra.utils.instantiate(cfg.transfer, random_init=..., device=..., generator=<the run's generator>)``;
only the FLUX target uses ``generator`` (it reuses a FLUX generator's networks).
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class TransferConfig:
    _target_: str = MISSING
    steps: int = 50
    guidance: float = 7.5  # classifier-free guidance scale (<= 1: none)
    seed: int = 0  # seeds the noise a step adds (ancestral schedulers): one CPU generator per item, every call
    resolution: int = 512  # rendered size; the noise must have the target's latent shape at this size
    dtype: str = "auto"  # auto: float16 on CUDA (bfloat16 for FLUX), float32 on a CPU
    scheduler: str = "EulerDiscreteScheduler"  # a diffusers scheduler class, built from the target's config
    cpu_offload: bool = False  # on CUDA: each network visits the GPU only while it runs (less memory, slower)


@dataclass
class SD21BaseConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.sd.SDTransfer"
    hub_id: str = "stabilityai/stable-diffusion-2-1-base"
    variant: str | None = None


@dataclass
class SDXLBaseConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.sdxl.SDXLTransfer"
    hub_id: str = "stabilityai/stable-diffusion-xl-base-1.0"
    vae_id: str = "madebyollin/sdxl-vae-fp16-fix"  # "" : the VAE in hub_id
    variant: str | None = None  # "fp16": the half-size files the authors download (same values)
    guidance: float = 5.0
    size_conditioning: int | None = 1024  # SDXL's original/target size; null: the rendered size


@dataclass
class FluxSchnellTransferConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.flux.FluxTransfer"
    hub_id: str = "black-forest-labs/FLUX.1-schnell"
    steps: int = 4
    guidance: float = 0.0  # schnell has no guidance embedding
    scheduler: str = "FlowMatchEulerDiscreteScheduler"
    max_sequence_length: int = 256


@dataclass
class TinyTransferConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.sd.TinySDTransfer"
    weights_seed: int = 1  # another network than model=tiny's (weights_seed 0)
    steps: int = 4
    resolution: int = 64
    dtype: str = "float32"


SCHEMAS = {
    "sd21_base": SD21BaseConfig,
    "sdxl_base": SDXLBaseConfig,
    "flux_schnell": FluxSchnellTransferConfig,
    "tiny": TinyTransferConfig,
}
