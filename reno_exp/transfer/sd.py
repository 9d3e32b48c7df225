"""Stable Diffusion 2.1-base as the transfer target of SD-Turbo noise (the authors' ``--multi_step_model sd2``):
``StableDiffusionPipeline`` with the UNet, VAE and text encoder of ``stabilityai/stable-diffusion-2-1-base``
and ``EulerDiscreteScheduler`` built from its scheduler config (linspace spacing), 50 steps, guidance 7.5
(the empty prompt as the negative), 512 px. SD-Turbo is distilled from SD 2.1, so both share one latent
space and the noise shape 4 x 64 x 64.

``random_init``: SD-Turbo's architecture (the same as SD 2.1-base's) with random weights, the scheduler
from ``architectures/sd21_base/``. ``TinySDTransfer``: the tiny SD-style parts (other weights than
``model=tiny``'s), for tests and smoke runs.
"""

from __future__ import annotations

from diffusers import StableDiffusionPipeline

from reno_exp.config.transfer import SD21BaseConfig, TinyTransferConfig
from reno_exp.generators.parts import arch, check_resolution, cpu_scheduler
from reno_exp.generators.sd_turbo import load_sd_turbo_parts, random_sd_turbo_parts
from reno_exp.generators.tiny import tiny_sd_parts
from reno_exp.transfer.base import PipelineTransfer


class SDTransfer(PipelineTransfer):
    schema = SD21BaseConfig
    option = "sd21_base"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        from reno_exp.generators.parts import pipeline_repo

        cfg = cls.options(cfg)
        return [pipeline_repo(cfg.hub_id, cfg.variant)]

    def build(self, scheduler_cls, random_init, generator=None) -> None:
        # the run's generator is not reused here: SD 2.1-base is another network
        parts = self.parts(scheduler_cls, random_init)
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        check_resolution(self.resolution, factor)
        pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
        side = self.resolution // factor
        self.setup(pipe, (parts["unet"].config.in_channels, side, side))

    def parts(self, scheduler_cls, random_init) -> dict:
        if not random_init:
            return load_sd_turbo_parts(self.cfg.hub_id, self.dtype, scheduler_cls, self.cfg.variant)
        return {**random_sd_turbo_parts(), "scheduler": cpu_scheduler(scheduler_cls, arch("sd21_base", "scheduler"))}


class TinySDTransfer(SDTransfer):
    """The tiny SD-style model as a multi-step target: offline, instant, 64 px (``model=tiny``'s noise)."""

    schema = TinyTransferConfig
    option = "tiny"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        return []

    def parts(self, scheduler_cls, random_init) -> dict:  # always random
        return {**tiny_sd_parts(self.cfg.weights_seed),
                "scheduler": cpu_scheduler(scheduler_cls, arch("sd21_base", "scheduler"))}
