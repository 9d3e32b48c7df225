"""Schemas of the `transfer` config group: one dataclass per multi-step target, checked by OmegaConf.

``transfer=none`` (the default) sets ``transfer: null``: no transfer. Every other option is built with
``hydra.utils.instantiate(cfg.transfer, random_init=..., device=..., generator=<the run's generator>)``;
only the FLUX target uses ``generator`` (it reuses a FLUX generator's networks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from reno_exp.config.model import DTYPES, SEED, resolution
from reno_exp.config.rules import rule

STEPS = rule(ge=1, le=1000)
GUIDANCE = rule(ge=0, finite=True)


@dataclass
class TransferConfig:
    _target_: str = MISSING
    steps: int = field(default=50, metadata=STEPS)
    guidance: float = field(default=7.5, metadata=GUIDANCE)  # classifier-free guidance scale (<= 1: none)
    # seeds the noise a step adds (ancestral schedulers; the default Euler ones add none): one CPU generator per
    # item, every call
    seed: int = field(default=0, metadata=SEED)
    resolution: int = resolution(512)  # rendered size; the noise must have the target's latent shape at this size
    # auto: float16 on CUDA (bfloat16 for FLUX), float32 on a CPU
    dtype: str = field(default="auto", metadata=rule(choices=DTYPES))
    # a diffusers scheduler class, built from the target's config
    scheduler: str = field(default="EulerDiscreteScheduler", metadata=rule(nonempty=True))
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
    guidance: float = field(default=5.0, metadata=GUIDANCE)
    # SDXL's original/target size; null: the rendered size
    size_conditioning: int | None = field(default=1024, metadata=rule(ge=1))


@dataclass
class FluxSchnellTransferConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.flux.FluxTransfer"
    hub_id: str = "black-forest-labs/FLUX.1-schnell"
    resolution: int = resolution(512, multiple=16)
    steps: int = field(default=4, metadata=STEPS)
    guidance: float = field(default=0.0, metadata=GUIDANCE)  # schnell has no guidance embedding
    scheduler: str = field(default="FlowMatchEulerDiscreteScheduler", metadata=rule(nonempty=True))
    max_sequence_length: int = field(default=256, metadata=rule(ge=1, le=512))


@dataclass
class TinyTransferConfig(TransferConfig):
    _target_: str = "reno_exp.transfer.sd.TinySDTransfer"
    weights_seed: int = field(default=1, metadata=SEED)  # another network than model=tiny's (weights_seed 0)
    steps: int = field(default=4, metadata=STEPS)
    resolution: int = resolution(64, lowest=8, highest=1024)
    dtype: str = field(default="float32", metadata=rule(choices=DTYPES))


SCHEMAS = {
    "sd21_base": SD21BaseConfig,
    "sdxl_base": SDXLBaseConfig,
    "flux_schnell": FluxSchnellTransferConfig,
    "tiny": TinyTransferConfig,
}
