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

from reno_exp.generators.parts import arch, check_resolution, cpu_scheduler
from reno_exp.generators.sd_turbo import load_sd_turbo_parts, random_sd_turbo_parts
from reno_exp.generators.tiny import tiny_sd_parts
from reno_exp.transfer.base import PipelineTransfer, scheduler_class


class SDTransfer(PipelineTransfer):
    option = "sd21_base"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        from reno_exp.generators.parts import pipeline_repo

        return [pipeline_repo(cfg.hub_id, cfg.get("variant"))]

    def __init__(
        self,
        hub_id: str = "stabilityai/stable-diffusion-2-1-base",
        variant: str | None = None,
        scheduler: str = "EulerDiscreteScheduler",
        steps: int = 50,
        guidance: float = 7.5,
        seed: int = 0,
        resolution: int = 512,
        dtype: str = "float16",
        cpu_offload: bool = False,
        random_init: bool = False,
        device: str = "cpu",
        generator=None,  # the run's generator: not reused here (SD 2.1-base is another network)
    ):
        super().__init__(steps=steps, guidance=guidance, seed=seed, resolution=resolution, dtype=dtype,
                         device=device, cpu_offload=cpu_offload)
        scheduler_cls = scheduler_class(scheduler)
        self.build(self.parts(hub_id, variant, scheduler_cls, random_init))

    def parts(self, hub_id, variant, scheduler_cls, random_init) -> dict:
        if not random_init:
            return load_sd_turbo_parts(hub_id, self.dtype, scheduler_cls, variant)
        return {**random_sd_turbo_parts(), "scheduler": cpu_scheduler(scheduler_cls, arch("sd21_base", "scheduler"))}

    def build(self, parts: dict) -> None:
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        check_resolution(self.resolution, factor)
        pipe = StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
        side = self.resolution // factor
        self.setup(pipe, (parts["unet"].config.in_channels, side, side))


class TinySDTransfer(SDTransfer):
    """The tiny SD-style model as a multi-step target: offline, instant, 64 px (``model=tiny``'s noise)."""

    option = "tiny"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        return []

    def __init__(self, weights_seed: int = 1, scheduler: str = "EulerDiscreteScheduler", steps: int = 4,
                 guidance: float = 7.5, seed: int = 0, resolution: int = 64, dtype: str = "float32",
                 cpu_offload: bool = False, random_init: bool = True, device: str = "cpu", generator=None):
        self.weights_seed = weights_seed
        super().__init__(scheduler=scheduler, steps=steps, guidance=guidance, seed=seed, resolution=resolution,
                         dtype=dtype, cpu_offload=cpu_offload, random_init=True, device=device)

    def parts(self, hub_id, variant, scheduler_cls, random_init) -> dict:
        return {**tiny_sd_parts(self.weights_seed),
                "scheduler": cpu_scheduler(scheduler_cls, arch("sd21_base", "scheduler"))}
