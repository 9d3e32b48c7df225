"""What the transformer-based one-step models (PixArt-alpha DMD, FLUX.1-schnell, SANA-Sprint) share:
a denoising transformer and a VAE on the accelerator, text encoders that may wait on the CPU, and the
memory controls. Each model supplies its prompt encoding and its one step (noise -> latent)."""

from __future__ import annotations

import torch
from torch import nn

from reno_exp.config.errors import UserError
from reno_exp.generators.base import Generation, OneStepGenerator, place, torch_dtype
from reno_exp.generators.parts import TextEncoders, decode_to_image


class TransformerOneStep(OneStepGenerator):
    compile_targets = ("transformer", "vae.decoder")

    def __init__(
        self,
        transformer: nn.Module,
        vae: nn.Module,
        scheduler,
        text_encoders: dict[str, nn.Module],
        *,
        latent_shape: tuple[int, ...],
        resolution: int,
        device: str | torch.device = "cpu",
        dtype: str = "float16",
        vae_dtype: str | None = None,
        text_encoder_dtype: str | None = None,
        gradient_checkpointing: bool = False,
        vae_checkpointing: bool = False,
        vae_tiling: bool = False,
        offload_text_encoders: bool = False,
    ):
        super().__init__(device, dtype)
        self.resolution = resolution
        self.latent_shape = tuple(latent_shape)
        self.vae_dtype = self.dtype if vae_dtype is None else torch_dtype(vae_dtype)
        self.transformer = place(transformer, self.device, self.dtype)
        self.vae = place(vae, self.device, self.vae_dtype)
        self.scheduler = scheduler
        te_dtype = self.dtype if text_encoder_dtype is None else torch_dtype(text_encoder_dtype)
        # kept out of the module tree: they never take part in the differentiable map noise -> image
        self.text = TextEncoders(self.device, te_dtype, offload_text_encoders, **text_encoders)
        if gradient_checkpointing:
            self.transformer.enable_gradient_checkpointing()
        if vae_checkpointing:
            if not getattr(self.vae, "_supports_gradient_checkpointing", False):
                raise UserError(f"{type(self.vae).__name__} has no gradient checkpointing; "
                                "set model.vae_checkpointing=false (model.vae_tiling lowers its memory)")
            self.vae.enable_gradient_checkpointing()
        if vae_tiling:
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
