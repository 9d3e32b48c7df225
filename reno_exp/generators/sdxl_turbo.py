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

from reno_exp.config.model import SDXLTurboConfig
from reno_exp.generators.sdxl_one_step import SDXLUNetOneStep, load_sdxl_parts, sdxl_repos
from reno_exp.weights import hub


def load_sdxl_turbo_parts(hub_id: str, vae_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    parts = load_sdxl_parts(hub_id, vae_id, dtype, variant)
    config = hub.load(f"{hub_id}:scheduler", EulerAncestralDiscreteScheduler.load_config, hub_id,
                      subfolder="scheduler")
    parts["scheduler"] = EulerAncestralDiscreteScheduler.from_config(config, timestep_spacing="trailing")
    return parts


class SDXLTurbo(SDXLUNetOneStep):
    schema = SDXLTurboConfig
    architecture = "sdxl_turbo"
    scheduler_class = EulerAncestralDiscreteScheduler

    @classmethod
    def checkpoints(cls, cfg) -> list:
        """What ``python -m reno_exp.prefetch`` downloads for this config: the pipeline and the separate VAE."""
        cfg = cls.options(cfg)
        return sdxl_repos(cfg.hub_id, cfg.vae_id, cfg.variant)

    def load_parts(self) -> dict:
        return load_sdxl_turbo_parts(self.cfg.hub_id, self.cfg.vae_id, self.dtype, self.cfg.variant)
