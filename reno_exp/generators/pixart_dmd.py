"""PixArt-alpha DMD (one-step distillation of PixArt-alpha XL/2 at 512 px) as the ReNO authors run it.

The transformer and DDPM scheduler of ``PixArt-alpha/PixArt-Alpha-DMD-XL-2-512x512``, the T5 tokenizer and
encoder and the VAE of ``PixArt-alpha/PixArt-XL-2-1024-MS``. One transformer call at timestep 400 on the
unscaled noise (DDPM's initial sigma is 1), the learned-sigma half of the output dropped, and the DDPM
step's predicted x0 is the latent (DMD's one-step rule). T5 max length 120, no caption cleaning, no
guidance; float16; the authors checkpoint the transformer and the VAE decoder.

Parameters: transformer 610,856,096; T5-XXL encoder 4,762,310,656; VAE 83,653,863.
Depth overrides (random_init only): ``num_layers`` (28 transformer blocks), ``text_encoder_layers`` (24 T5
blocks): the same blocks, fewer of them, so a smoke run fits this machine.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKL, DDPMScheduler, PixArtTransformer2DModel
from transformers import T5Config, T5EncoderModel, T5Tokenizer

from reno_exp.config.model import PixArtDMDConfig
from reno_exp.generators.parts import arch, check_resolution, load_part, load_tokenizer, random_pipeline_parts
from reno_exp.generators.transformer_one_step import TransformerOneStep
from reno_exp.weights.text_tokenizers import offline_t5_tokenizer

MODEL = "pixart_dmd"


def random_pixart_parts(num_layers: int | None = None, text_encoder_layers: int | None = None) -> dict:
    return {
        "transformer": PixArtTransformer2DModel.from_config(arch(MODEL, "transformer", num_layers=num_layers)),
        "vae": AutoencoderKL.from_config(arch(MODEL, "vae")),
        "text_encoder": T5EncoderModel(T5Config(**arch(MODEL, "text_encoder", num_layers=text_encoder_layers))),
    }


def load_pixart_parts(hub_id: str, pipeline_id: str, dtype: torch.dtype) -> dict:
    return {
        "transformer": load_part(hub_id, PixArtTransformer2DModel, "transformer", torch_dtype=dtype),
        "scheduler": load_part(hub_id, DDPMScheduler, "scheduler"),
        "vae": load_part(pipeline_id, AutoencoderKL, "vae", torch_dtype=dtype),
        "text_encoder": load_part(pipeline_id, T5EncoderModel, "text_encoder", dtype=dtype),
        "tokenizer": load_tokenizer(pipeline_id, T5Tokenizer),
    }


class PixArtDMD(TransformerOneStep):
    schema = PixArtDMDConfig

    @classmethod
    def checkpoints(cls, cfg) -> list:
        """The DMD transformer and scheduler, and the base pipeline without its own transformer weights."""
        from reno_exp.generators.parts import pipeline_repo

        cfg = cls.options(cfg)
        return [pipeline_repo(cfg.hub_id), pipeline_repo(cfg.pipeline_id, skip=("transformer",))]

    def random_parts(self) -> dict:
        return random_pipeline_parts(MODEL, lambda: random_pixart_parts(self.cfg.num_layers, self.cfg.text_encoder_layers),
                                     DDPMScheduler, tokenizer=offline_t5_tokenizer())

    def load_parts(self) -> dict:
        return load_pixart_parts(self.cfg.hub_id, self.cfg.pipeline_id, self.dtype)

    def latent_shape_of(self, parts: dict) -> tuple[int, ...]:
        transformer = parts["transformer"]
        factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1) * transformer.config.patch_size
        check_resolution(self.cfg.resolution, factor)
        side = self.cfg.resolution // (factor // transformer.config.patch_size)
        return transformer.config.in_channels, side, side

    def build(self, parts: dict) -> None:
        super().build(parts)
        self.tokenizer = parts["tokenizer"]
        self.timesteps = [int(t) for t in self.cfg.timesteps]

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict:
        tokens = self.tokenizer(prompt, padding="max_length", max_length=self.cfg.max_sequence_length,
                                truncation=True, add_special_tokens=True, return_tensors="pt")
        mask = tokens.attention_mask.to(self.device)
        with self.text.on_device():
            embeds = self.text["text_encoder"](tokens.input_ids.to(self.device), attention_mask=mask)[0]
        return {"encoder_hidden_states": embeds.to(self.dtype), "encoder_attention_mask": mask}

    def micro_conditions(self, batch: int) -> dict:
        # only the 1024-px PixArt-alpha transformers (sample_size 128) take resolution and aspect ratio
        if self.transformer.config.sample_size != 128:
            return {"resolution": None, "aspect_ratio": None}
        r = float(self.resolution)
        return {"resolution": torch.tensor([[r, r]], dtype=self.dtype, device=self.device).expand(batch, 2),
                "aspect_ratio": torch.tensor([[1.0]], dtype=self.dtype, device=self.device).expand(batch, 1)}

    def step(self, noise: torch.Tensor, cond: dict) -> torch.Tensor:
        # reset on every call: the scheduler keeps a step index; its schedule stays on the CPU (as SD's)
        self.scheduler.set_timesteps(timesteps=self.timesteps, device="cpu")
        t = self.scheduler.timesteps[0]
        latents = noise * self.scheduler.init_noise_sigma
        model_in = self.scheduler.scale_model_input(latents, t).to(self.dtype)
        pred = self.transformer(
            model_in,
            timestep=t.reshape(1).expand(noise.shape[0]).to(self.device),
            added_cond_kwargs=self.micro_conditions(noise.shape[0]),
            return_dict=False,
            **cond,
        )[0]
        if pred.shape[1] == 2 * noise.shape[1]:  # learned sigma: keep the noise prediction
            pred = pred.chunk(2, dim=1)[0]
        return self.scheduler.step(pred.float(), t, latents).pred_original_sample
