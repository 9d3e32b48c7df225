"""FLUX.1-schnell (timestep-distilled rectified-flow transformer) with one step, as ReNO's FLUX pipeline.

The noise is FLUX's packed latent: (H/16 * W/16) tokens of 2x2 patches of the 16-channel VAE latent, i.e.
1024 tokens x 64 channels at 512 px, unscaled (flow matching starts at sigma = 1). Sigmas
linspace(1, 1/n, n) with the scheduler's shift (1 for schnell, no dynamic shift), so one step at t = 1000:
``x0 = x - v``. No guidance embedding (schnell has none), T5 max length 256, CLIP-L pooled output,
bfloat16. Decode: unpack, ``z / 0.3611 + 0.1159``, VAE.

Our noise is drawn directly in the packed layout: the same N(0, I) distribution as the pipeline's draw of
(16, H/8, W/8) followed by packing, but a given seed maps to a different (permuted) tensor.

Parameters: transformer 11,891,178,560 (FLUX.1-dev's 11.90B includes a guidance embedder schnell lacks);
T5-XXL encoder 4,762,310,656; CLIP-L text encoder 123,060,480; VAE 83,819,683.
Depth overrides (random_init only): ``num_layers`` (19 double-stream blocks), ``num_single_layers`` (38
single-stream blocks), ``text_encoder_layers`` (24 T5 blocks).
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
from diffusers.pipelines.flux.pipeline_flux import calculate_shift
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5Tokenizer

from reno_exp.config.model import FluxSchnellConfig
from reno_exp.generators.parts import arch, check_resolution, load_part, load_tokenizer, random_pipeline_parts
from reno_exp.generators.transformer_one_step import TransformerOneStep
from reno_exp.weights.text_tokenizers import offline_t5_tokenizer
from reno_exp.weights.tokenizers import offline_clip_tokenizer

MODEL = "flux_schnell"


def random_flux_parts(num_layers=None, num_single_layers=None, text_encoder_layers=None) -> dict:
    return {
        "transformer": FluxTransformer2DModel.from_config(
            arch(MODEL, "transformer", num_layers=num_layers, num_single_layers=num_single_layers)
        ),
        "vae": AutoencoderKL.from_config(arch(MODEL, "vae")),
        "text_encoder": CLIPTextModel(CLIPTextConfig(**arch(MODEL, "text_encoder"))),
        "text_encoder_2": T5EncoderModel(T5Config(**arch(MODEL, "text_encoder_2", num_layers=text_encoder_layers))),
    }


def random_flux(max_sequence_length: int = 256, num_layers=None, num_single_layers=None,
                text_encoder_layers=None) -> dict:
    """Every part of FLUX.1-schnell with seeded random weights and offline tokenizers."""
    return random_pipeline_parts(MODEL, lambda: random_flux_parts(num_layers, num_single_layers, text_encoder_layers),
                                 FlowMatchEulerDiscreteScheduler, tokenizer=offline_clip_tokenizer(),
                                 tokenizer_2=offline_t5_tokenizer(max_sequence_length))


def load_flux_parts(hub_id: str, dtype: torch.dtype) -> dict:
    return {
        "transformer": load_part(hub_id, FluxTransformer2DModel, "transformer", torch_dtype=dtype),
        "vae": load_part(hub_id, AutoencoderKL, "vae", torch_dtype=dtype),
        "text_encoder": load_part(hub_id, CLIPTextModel, "text_encoder", dtype=dtype),
        "text_encoder_2": load_part(hub_id, T5EncoderModel, "text_encoder_2", dtype=dtype),
        "tokenizer": load_tokenizer(hub_id, CLIPTokenizer),
        "tokenizer_2": load_tokenizer(hub_id, T5Tokenizer, "tokenizer_2"),
        "scheduler": load_part(hub_id, FlowMatchEulerDiscreteScheduler, "scheduler"),
    }


class FluxSchnell(TransformerOneStep):
    schema = FluxSchnellConfig
    cuda_dtype = "bfloat16"

    def random_parts(self) -> dict:
        cfg = self.cfg
        return random_flux(cfg.max_sequence_length, cfg.num_layers, cfg.num_single_layers, cfg.text_encoder_layers)

    def load_parts(self) -> dict:
        return load_flux_parts(self.cfg.hub_id, self.dtype)

    def latent_shape_of(self, parts: dict) -> tuple[int, ...]:
        self.vae_scale_factor = 2 ** (len(parts["vae"].config.block_out_channels) - 1)
        check_resolution(self.cfg.resolution, 2 * self.vae_scale_factor)  # VAE downsampling, then 2x2 packing
        tokens = (self.cfg.resolution // (2 * self.vae_scale_factor)) ** 2
        return tokens, parts["transformer"].config.in_channels

    def build(self, parts: dict) -> None:
        super().build(parts)
        self.tokenizer, self.tokenizer_2 = parts["tokenizer"], parts["tokenizer_2"]
        # where the weights came from: the FLUX transfer reuses these parts if the same
        self.source = "random_init" if self.random_init else self.cfg.hub_id
        self.num_inference_steps = self.cfg.num_inference_steps
        side = self.cfg.resolution // (2 * self.vae_scale_factor)
        self.register_buffer(
            "img_ids", FluxPipeline._prepare_latent_image_ids(1, side, side, self.device, self.dtype), persistent=False
        )

    @property
    def evaluations_per_call(self) -> int:
        return self.num_inference_steps

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict:
        clip_ids = self.tokenizer(prompt, padding="max_length", max_length=self.tokenizer.model_max_length,
                                  truncation=True, return_tensors="pt").input_ids.to(self.device)
        t5_ids = self.tokenizer_2(prompt, padding="max_length", max_length=self.cfg.max_sequence_length,
                                  truncation=True, return_tensors="pt").input_ids.to(self.device)
        with self.text.on_device():
            pooled = self.text["text_encoder"](clip_ids, output_hidden_states=False).pooler_output
            embeds = self.text["text_encoder_2"](t5_ids, output_hidden_states=False)[0]
        return {
            "pooled_projections": pooled.to(self.dtype),
            "encoder_hidden_states": embeds.to(self.dtype),
        }

    def _set_timesteps(self):
        n = self.num_inference_steps
        sigmas = np.linspace(1.0, 1 / n, n)
        cfg = self.scheduler.config
        mu = None
        if cfg.get("use_dynamic_shifting", False):
            mu = calculate_shift(self.latent_shape[0], cfg.get("base_image_seq_len", 256),
                                 cfg.get("max_image_seq_len", 4096), cfg.get("base_shift", 0.5),
                                 cfg.get("max_shift", 1.15))
        self.scheduler.set_timesteps(sigmas=sigmas, device="cpu", mu=mu)  # the schedule stays on the CPU

    def step(self, noise: torch.Tensor, cond: dict) -> torch.Tensor:
        # one step by default; schnell's 2-4 step schedules run the same loop as the pipeline
        self._set_timesteps()
        guidance = None
        if self.transformer.config.guidance_embeds:
            guidance = torch.full((noise.shape[0],), self.cfg.guidance_scale, device=self.device, dtype=torch.float32)
        # text positions are all zero and shared by every item (no batch dimension): not per-prompt conditioning
        txt_ids = torch.zeros(cond["encoder_hidden_states"].shape[1], 3, device=self.device, dtype=self.dtype)
        x = noise
        for t in self.scheduler.timesteps:
            v = self.transformer(
                hidden_states=x.to(self.dtype), timestep=t.expand(noise.shape[0]).to(self.device, self.dtype) / 1000,
                guidance=guidance, img_ids=self.img_ids, txt_ids=txt_ids, return_dict=False, **cond,
            )[0]
            x = self.scheduler.step(v.float(), t, x, return_dict=False)[0]
        return x

    def to_vae_latents(self, latent: torch.Tensor) -> torch.Tensor:
        return FluxPipeline._unpack_latents(latent, self.resolution, self.resolution, self.vae_scale_factor)
