"""A few denoising steps of a latent-diffusion UNet, then the VAE: the SD family of one-step models.

Everything that differs between SD-Turbo, SDXL-Turbo and Hyper-SDXL (which encoders, which scheduler,
extra UNet inputs) is decided when the parts are built; the steps are the same and follow the diffusers
pipelines: scale the noise by the scheduler's initial sigma, then per timestep one UNet call and one
scheduler step, decode. One step by default; ``num_inference_steps = k`` (or k explicit ``timesteps``)
runs k steps with the gradient flowing through all of them, as the authors' ``--n_inference_steps``.

Ancestral schedulers (SDXL-Turbo's Euler ancestral) add fresh noise after every step but the last. As
the authors (who re-seed one generator with ``--seed`` before every call), that noise is fixed: each
forward draws it from CPU generators seeded with ``ancestral_seed``, one per batch item, so an item's
image never depends on the batch it is in, on what ran before, or on the device. The authors' generator
lives on CUDA, so their ancestral noise differs from ours for the same seed (the distribution is the same).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from reno_exp.config.errors import UserError
from reno_exp.generators.base import ConfiguredGenerator, Generation
from reno_exp.generators.parts import place


class UNetOneStep(ConfiguredGenerator):
    """Options a model's schema lacks mean what their absence means: no explicit ``timesteps`` (then
    ``num_inference_steps``, one by default), the VAE in the networks' dtype, no VAE checkpointing."""

    compile_targets = ("unet", "vae.decoder")

    def build(self, parts: dict[str, Any]) -> None:
        cfg, unet, vae = self.cfg, parts["unet"], parts["vae"]
        factor = 2 ** (len(vae.config.block_out_channels) - 1)
        if cfg.resolution % factor:
            raise UserError(f"model.resolution must be a multiple of {factor}, got {cfg.resolution}")
        self.resolution = cfg.resolution
        self.latent_shape = (unet.config.in_channels, cfg.resolution // factor, cfg.resolution // factor)
        vae_dtype = getattr(cfg, "vae_dtype", None)
        self.vae_dtype = self.dtype if vae_dtype is None else getattr(torch, vae_dtype)
        self.unet = place(unet, self.device, self.dtype)
        self.vae = place(vae, self.device, self.vae_dtype)
        if cfg.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
        if getattr(cfg, "vae_checkpointing", False):
            self.vae.enable_gradient_checkpointing()
        self.scheduler = parts["scheduler"]
        timesteps = getattr(cfg, "timesteps", None)
        self.num_inference_steps = getattr(cfg, "num_inference_steps", 1)
        if timesteps is not None and self.num_inference_steps != 1:
            raise UserError(f"this model runs its explicit timesteps {list(timesteps)}; set model.timesteps "
                            "for more steps, not model.num_inference_steps")
        self._timesteps = None if timesteps is None else [int(t) for t in timesteps]
        self.ancestral_seed = getattr(cfg, "ancestral_seed", 0)
        self._takes_generator = "generator" in inspect.signature(self.scheduler.step).parameters

    @property
    def evaluations_per_call(self) -> int:
        """UNet evaluations per forward: what one iterate costs."""
        return len(self._timesteps) if self._timesteps is not None else self.num_inference_steps

    def _set_timesteps(self) -> torch.Tensor:
        # schedulers keep a step index, so this resets it on every call (it costs microseconds). The schedule
        # lives on the CPU: its scalars enter each step as CPU scalars (no device sync for the scheduler's
        # index lookups and comparisons), and a meta-device dry run can run it for real.
        if self._timesteps is None:
            self.scheduler.set_timesteps(self.num_inference_steps, device="cpu")
        else:
            self.scheduler.set_timesteps(timesteps=self._timesteps, device="cpu")
        return self.scheduler.timesteps

    def _step_kwargs(self, batch: int) -> dict[str, Any]:
        if not self._takes_generator:
            return {}
        return {"generator": [torch.Generator("cpu").manual_seed(self.ancestral_seed) for _ in range(batch)]}

    def unet_inputs(self, cond: Any) -> dict[str, Any]:
        """Keyword arguments of the UNet call; ``cond`` comes from ``encode_prompt``."""
        return cond

    def forward(self, noise: torch.Tensor, cond: Any) -> Generation:
        timesteps = self._set_timesteps()
        latents = noise * self.scheduler.init_noise_sigma
        step_kwargs = self._step_kwargs(noise.shape[0])
        for t in timesteps:
            model_in = self.scheduler.scale_model_input(latents, t).to(self.dtype)
            pred = self.unet(model_in, t, **self.unet_inputs(cond), return_dict=False)[0]
            latents = self.scheduler.step(pred.float(), t, latents, **step_kwargs, return_dict=False)[0]
        return Generation(image=self.decode(latents), latent=latents)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        z = latents.to(self.vae_dtype) / self.vae.config.scaling_factor
        image = self.vae.decode(z, return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)


class CLIPTextUNetOneStep(UNetOneStep):
    """SD 1.x/2.x conditioning: one CLIP text encoder, its last hidden state, no guidance."""

    def build(self, parts: dict[str, Any]) -> None:
        super().build(parts)
        self.tokenizer = parts["tokenizer"]
        self.text_encoder = place(parts["text_encoder"], self.device, self.dtype)

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict[str, torch.Tensor]:
        ids = self.tokenizer(
            prompt, padding="max_length", max_length=self.tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids.to(self.device)
        return {"encoder_hidden_states": self.text_encoder(ids)[0]}
