"""What the transformer-based one-step models (PixArt-alpha DMD, FLUX.1-schnell, SANA-Sprint) share:
a denoising transformer and a VAE on the accelerator, text encoders that may wait on the CPU, and the
memory controls. Each model supplies its prompt encoding and its one step (noise -> latent)."""

from __future__ import annotations

import torch

from reno_exp.config.errors import UserError
from reno_exp.generators.base import ConfiguredGenerator, Generation
from reno_exp.generators.parts import TextEncoders, decode_to_image, place


class TransformerOneStep(ConfiguredGenerator):
    """Parts: ``transformer``, ``vae``, ``scheduler``, the text encoders (``text_encoder``, ``text_encoder_2``)
    and their tokenizers. A schema without ``vae_checkpointing`` means none."""

    compile_targets = ("transformer", "vae.decoder")

    def latent_shape_of(self, parts: dict) -> tuple[int, ...]:
        """The noise's shape at ``cfg.resolution`` (a resolution the VAE and the patches do not divide is
        refused here)."""
        raise NotImplementedError

    def build(self, parts: dict) -> None:
        cfg = self.cfg
        self.resolution = cfg.resolution
        self.latent_shape = tuple(self.latent_shape_of(parts))
        self.vae_dtype = self.dtype
        self.transformer = place(parts["transformer"], self.device, self.dtype)
        self.vae = place(parts["vae"], self.device, self.vae_dtype)
        self.scheduler = parts["scheduler"]
        # kept out of the module tree: they never take part in the differentiable map noise -> image
        self.text = TextEncoders(self.device, self.dtype, cfg.offload_text_encoders,
                                 **{k: v for k, v in parts.items() if k.startswith("text_encoder")})
        if cfg.gradient_checkpointing:
            self.transformer.enable_gradient_checkpointing()
        if getattr(cfg, "vae_checkpointing", False):
            if not getattr(self.vae, "_supports_gradient_checkpointing", False):
                raise UserError(f"{type(self.vae).__name__} has no gradient checkpointing; "
                                "set model.vae_checkpointing=false (model.vae_tiling lowers its memory)")
            self.vae.enable_gradient_checkpointing()
        if cfg.vae_tiling:
            self.vae.enable_tiling()

    def step(self, noise: torch.Tensor, cond) -> torch.Tensor:
        """The one denoising step: the predicted clean latent, in the noise's shape."""
        raise NotImplementedError

    def to_vae_latents(self, latent: torch.Tensor) -> torch.Tensor:
        """The VAE's latent layout (FLUX unpacks its token sequence here)."""
        return latent

    def forward(self, noise: torch.Tensor, cond) -> Generation:
        latent = self.step(noise, cond)
        image = decode_to_image(self.vae, self.to_vae_latents(latent), self.vae_dtype)
        return Generation(image=image, latent=latent)
