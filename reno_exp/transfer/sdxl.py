"""SDXL base 1.0 as the transfer target of SDXL-Turbo and Hyper-SDXL noise (the authors' ``--multi_step_model
sdxl``): ``StableDiffusionXLPipeline`` with ``stabilityai/stable-diffusion-xl-base-1.0`` and the fp16-safe VAE
``madebyollin/sdxl-vae-fp16-fix``, its own Euler scheduler (leading spacing), 50 steps, guidance 5.0 (zero
negative embeddings, as SDXL base's ``force_zeros_for_empty_prompt``), float16.

Size conditioning: the authors' pipeline call leaves height and width unset, so SDXL base's
micro-conditioning says 1024 x 1024 (its default sample size) while the latents are SDXL-Turbo's 64 x 64
(512 px). ``size_conditioning=1024`` reproduces that; ``null`` conditions on the rendered size. The
rendered size is ``resolution`` (512 for SDXL-Turbo noise; 1024 for Hyper-SDXL's).

``random_init``: SDXL base's architecture (``architectures/hyper_sdxl/``, the same networks) with random weights.
"""

from __future__ import annotations

from diffusers import StableDiffusionXLPipeline

from reno_exp.config.transfer import SDXLBaseConfig
from reno_exp.generators.parts import check_resolution, cpu_scheduler
from reno_exp.generators.sdxl_one_step import load_sdxl_parts, random_sdxl, sdxl_repos
from reno_exp.transfer.base import PipelineTransfer
from reno_exp.weights import hub

ARCH = "hyper_sdxl"  # SDXL base's configs


class SDXLTransfer(PipelineTransfer):
    schema = SDXLBaseConfig
    option = "sdxl_base"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        cfg = cls.options(cfg)
        return sdxl_repos(cfg.hub_id, cfg.vae_id, cfg.variant)  # as SDXL-Turbo's: the pipeline (less its VAE), the VAE

    def build(self, scheduler_cls, random_init, generator=None) -> None:
        # the run's generator is not reused: another UNet (the authors load SDXL base apart)
        cfg = self.cfg
        if random_init:
            parts = random_sdxl(ARCH, scheduler_cls)
            parts["vae"].register_to_config(force_upcast=False)  # the fp16-fix VAE's config
        else:
            parts = load_sdxl_parts(cfg.hub_id, cfg.vae_id, self.dtype, cfg.variant)
            config = hub.load(f"{cfg.hub_id}:scheduler", scheduler_cls.load_config, cfg.hub_id, subfolder="scheduler")
            parts["scheduler"] = cpu_scheduler(scheduler_cls, config)
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        check_resolution(self.resolution, factor)
        pipe = StableDiffusionXLPipeline(**parts, add_watermarker=False)
        side = self.resolution // factor
        self.setup(pipe, (parts["unet"].config.in_channels, side, side))

    def call_kwargs(self) -> dict:
        if self.cfg.size_conditioning is None:
            return {}
        size = (self.cfg.size_conditioning, self.cfg.size_conditioning)
        return {"original_size": size, "target_size": size}

