"""One denoising step of a latent-diffusion UNet, then the VAE: the SD family of one-step models.

Everything that differs between SD-Turbo, SDXL-Turbo and Hyper-SDXL (which encoders, which scheduler,
extra UNet inputs) is decided when the parts are built; the step itself is the same and follows the
diffusers pipelines: scale the noise by the scheduler's initial sigma, one UNet call at the single
timestep, one scheduler step, decode.
"""

from __future__ import annotations

from typing import Any

import torch

from reno_exp.errors import UserError
from reno_exp.generators.base import Generation, OneStepGenerator, place


class UNetOneStep(OneStepGenerator):
    def __init__(
        self,
        unet,
        vae,
        scheduler,
        *,
        resolution: int,
        device: str | torch.device = "cpu",
        dtype: str = "float16",
        vae_dtype: str | None = None,
        timesteps: list[int] | None = None,
        gradient_checkpointing: bool = False,
        vae_checkpointing: bool = False,
    ):
        super().__init__(device, dtype)
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        if resolution % factor:
            raise UserError(f"model.resolution must be a multiple of {factor}, got {resolution}")
        self.resolution = resolution
        self.latent_shape = (unet.config.in_channels, resolution // factor, resolution // factor)
        self.vae_dtype = self.dtype if vae_dtype is None else getattr(torch, vae_dtype)
        self.unet = place(unet, self.device, self.dtype)
        self.vae = place(vae, self.device, self.vae_dtype)
        if gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        if vae_checkpointing:
            self.vae.enable_gradient_checkpointing()
        self.scheduler = scheduler
        self._timesteps = timesteps

    def _set_timesteps(self):
        # one step; schedulers keep a step index, so this resets it on every call (it costs microseconds).
        # The schedule lives on the CPU: its scalars enter the step as CPU scalars (no device sync for the
        # scheduler's index lookups and comparisons), and a meta-device dry run can run it for real.
        if self._timesteps is None:
            self.scheduler.set_timesteps(1, device="cpu")
        else:
            self.scheduler.set_timesteps(timesteps=self._timesteps, device="cpu")
        return self.scheduler.timesteps[0]

    def unet_inputs(self, cond: Any) -> dict[str, Any]:
        """Keyword arguments of the UNet call; ``cond`` comes from ``encode_prompt``."""
        return cond

    def forward(self, noise: torch.Tensor, cond: Any) -> Generation:
        t = self._set_timesteps()
        latents = noise * self.scheduler.init_noise_sigma
        model_in = self.scheduler.scale_model_input(latents, t).to(self.dtype)
        pred = self.unet(model_in, t, **self.unet_inputs(cond), return_dict=False)[0]
        x0 = self.scheduler.step(pred.float(), t, latents, return_dict=False)[0]
        return Generation(image=self.decode(x0), latent=x0)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents.to(self.vae_dtype) / self.vae.config.scaling_factor
        image = self.vae.decode(z, return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)


class CLIPTextUNetOneStep(UNetOneStep):
    """SD 1.x/2.x conditioning: one CLIP text encoder, its last hidden state, no guidance."""

    def __init__(self, text_encoder, tokenizer, unet, vae, scheduler, **kwargs):
        super().__init__(unet, vae, scheduler, **kwargs)
        self.tokenizer = tokenizer
        self.text_encoder = place(text_encoder, self.device, self.dtype)

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict[str, torch.Tensor]:
        ids = self.tokenizer(
            prompt, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids.to(self.device)
        return {"encoder_hidden_states": self.text_encoder(ids)[0]}
