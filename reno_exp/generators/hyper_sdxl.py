"""Hyper-SDXL 1-step as the ReNO authors run it: the SDXL base architecture with the UNet weights of
``Hyper-SDXL-1step-Unet.safetensors`` (``ByteDance/Hyper-SD``) loaded strictly, the LCM scheduler built from
SDXL base's scheduler config and called at timesteps [800], 1024 px, float16 with the VAE in float32 (SDXL
base's VAE overflows in float16; the pipeline upcasts it).

From the hub (or local directories in the same layouts: ``hub_id`` as SDXL base, ``hyper_repo`` holding
``hyper_ckpt``), or with ``random_init`` the same architecture from ``architectures/hyper_sdxl/``.
Parameters: UNet 2,567,463,684; VAE 83,653,863; CLIP-L text encoder 123,060,480; OpenCLIP-bigG text
encoder 694,659,840; total 3,468,837,867.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, LCMScheduler, UNet2DConditionModel
from safetensors.torch import load_file

from reno_exp.config.model import HyperSDXLConfig
from reno_exp.generators.parts import hub_file, load_part
from reno_exp.generators.sdxl_one_step import SDXLUNetOneStep, load_sdxl_text_parts
from reno_exp.weights import hub


def load_hyper_sdxl_parts(hub_id: str, hyper_repo: str, hyper_ckpt: str, dtype: torch.dtype,
                          variant: str | None = None) -> dict:
    parts = load_sdxl_text_parts(hub_id, dtype, variant)
    config = hub.load(f"{hub_id}:unet", UNet2DConditionModel.load_config, hub_id, subfolder="unet")
    state = load_file(hub_file(hyper_repo, hyper_ckpt))
    with torch.device("meta"):  # no 2.6B-parameter random init only to be overwritten
        unet = UNet2DConditionModel.from_config(config)
    # strict: a checkpoint that does not fill every SDXL UNet weight must fail here, not generate noise
    unet.load_state_dict(state, strict=True, assign=True)
    left = [n for n, t in [*unet.named_parameters(), *unet.named_buffers()] if t.is_meta]
    if left:
        raise hub.MissingWeightsError(f"{hyper_repo}:{hyper_ckpt}", f"no values for {left[:3]}")
    parts["unet"] = unet
    parts["vae"] = load_part(hub_id, AutoencoderKL, "vae", variant=variant)
    sched = hub.load(f"{hub_id}:scheduler", LCMScheduler.load_config, hub_id, subfolder="scheduler")
    parts["scheduler"] = LCMScheduler.from_config(sched)
    return parts


class HyperSDXL(SDXLUNetOneStep):
    schema = HyperSDXLConfig
    architecture = "hyper_sdxl"
    scheduler_class = LCMScheduler

    @classmethod
    def checkpoints(cls, cfg) -> list:
        """SDXL base without its UNet weights (the Hyper-SD file replaces them), and that file."""
        from reno_exp.generators.parts import pipeline_repo
        from reno_exp.weights.checkpoints import HubFile

        cfg = cls.options(cfg)
        return [pipeline_repo(cfg.hub_id, cfg.variant, skip=("unet",)), HubFile(cfg.hyper_repo, cfg.hyper_ckpt)]

    def load_parts(self) -> dict:
        cfg = self.cfg
        return load_hyper_sdxl_parts(cfg.hub_id, cfg.hyper_repo, cfg.hyper_ckpt, self.dtype, cfg.variant)
