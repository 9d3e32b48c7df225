"""FLUX.1-schnell with several steps as the transfer target of FLUX noise (the authors' default
``--multi_step_model flux``): ``FluxPipeline``, 4 steps (sigmas linspace(1, 1/4, 4)), no guidance, T5 max
length 256, bfloat16, the noise in FLUX's packed layout (1024 tokens x 64 channels at 512 px).

The authors render with the very pipeline they optimise through. Likewise, when the run's generator is
FLUX.1-schnell from the same weights (``model=flux_schnell``, same ``hub_id`` or both ``random_init``),
its networks are reused (12B + 4.8B parameters are not loaded twice); otherwise the pipeline is loaded
(or, with ``random_init``, built with random weights) here.
"""

from __future__ import annotations

import math

from diffusers import FluxPipeline

from reno_exp.config.transfer import FluxSchnellTransferConfig
from reno_exp.generators.flux_schnell import FluxSchnell, load_flux_parts, random_flux
from reno_exp.generators.parts import check_resolution, cpu_scheduler
from reno_exp.transfer.base import PipelineTransfer


class FluxTransfer(PipelineTransfer):
    schema = FluxSchnellTransferConfig
    cuda_dtype = "bfloat16"
    option = "flux_schnell"

    @classmethod
    def checkpoints(cls, cfg) -> list:
        from reno_exp.generators.parts import pipeline_repo

        return [pipeline_repo(cls.options(cfg).hub_id)]

    def build(self, scheduler_cls, random_init, generator=None) -> None:
        cfg = self.cfg
        self.shared = isinstance(generator, FluxSchnell) and generator.source == (
            "random_init" if random_init else cfg.hub_id)
        if self.shared:
            self.generator_text = generator.text
            self.dtype = generator.dtype
            parts = {"transformer": generator.transformer, "vae": generator.vae,
                     "text_encoder": generator.text["text_encoder"], "text_encoder_2": generator.text["text_encoder_2"],
                     "tokenizer": generator.tokenizer, "tokenizer_2": generator.tokenizer_2,
                     "scheduler": generator.scheduler}
        else:
            parts = random_flux(cfg.max_sequence_length) if random_init else load_flux_parts(cfg.hub_id, self.dtype)
        parts["scheduler"] = cpu_scheduler(scheduler_cls, parts["scheduler"].config)  # its own timestep state
        self.vae_factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        check_resolution(self.resolution, 2 * self.vae_factor)  # VAE downsampling, then 2x2 packing
        tokens = (self.resolution // (2 * self.vae_factor)) ** 2
        self.setup(FluxPipeline(**parts), (tokens, parts["transformer"].config.in_channels), shared=self.shared)

    def encoders_on_device(self):
        return self.generator_text.on_device() if self.shared else super().encoders_on_device()

    def call_kwargs(self) -> dict:
        return {"max_sequence_length": self.cfg.max_sequence_length}

    def resolution_for(self, shape):
        if len(shape) == 2 and shape[1] == self.latent_shape[1] and math.isqrt(shape[0]) ** 2 == shape[0]:
            return math.isqrt(shape[0]) * 2 * self.vae_factor
        return None
