"""Schemas of the `model` config group: one dataclass per generator, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING


@dataclass
class GeneratorConfig:
    _target_: str = MISSING
    resolution: int = 512
    dtype: str = "float16"  # float32 | float16 | bfloat16, of the networks; the noise stays float32
    gradient_checkpointing: bool = False


@dataclass
class TinyGeneratorConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.tiny.TinyGenerator"
    resolution: int = 64
    dtype: str = "float32"
    weights_seed: int = 0  # the random weights are a function of this seed alone


@dataclass
class SDTurboConfig(GeneratorConfig):
    _target_: str = "reno_exp.generators.sd_turbo.SDTurbo"
    hub_id: str = "stabilityai/sd-turbo"
    vae_checkpointing: bool = False

SCHEMAS = {"tiny": TinyGeneratorConfig, "sd_turbo": SDTurboConfig}
