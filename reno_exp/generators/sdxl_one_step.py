"""SDXL conditioning on top of the one-step UNet: two CLIP text encoders and the micro-conditioning.

As ``StableDiffusionXLPipeline.encode_prompt`` with guidance off: the penultimate hidden states of CLIP-L
and OpenCLIP-bigG concatenated (2048 channels) as cross-attention context, bigG's projected pooled output
as ``text_embeds``, and ``time_ids`` = (H, W, crop top, crop left, target H, target W) = (H, W, 0, 0, H, W).
"""

from __future__ import annotations

import contextlib
import logging

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from reno_exp.generators.parts import TextEncoders, arch, cpu_scheduler
from reno_exp.generators.unet_one_step import UNetOneStep
from reno_exp.weights import hub
from reno_exp.weights.hub import seeded_init
from reno_exp.weights.tokenizers import check_tokenizer, offline_clip_tokenizer


class SDXLUNetOneStep(UNetOneStep):
    def __init__(self, text_encoder, text_encoder_2, tokenizer, tokenizer_2, unet, vae, scheduler, *,
                 offload_text_encoders: bool = False, vae_tiling: bool = False, **kwargs):
        super().__init__(unet, vae, scheduler, **kwargs)
        self.tokenizers = (tokenizer, tokenizer_2)
        # kept out of the module tree: they never take part in the differentiable map noise -> image
        self.text = TextEncoders(self.device, self.dtype, offload_text_encoders,
                                 text_encoder=text_encoder, text_encoder_2=text_encoder_2)
        if vae_tiling:
            self.vae.enable_tiling()

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict:
        hidden, pooled = [], None
        with self.text.on_device():
            for tok, enc in zip(self.tokenizers, (self.text["text_encoder"], self.text["text_encoder_2"])):
                ids = tok(prompt, padding="max_length", max_length=tok.model_max_length, truncation=True,
                          return_tensors="pt").input_ids.to(self.device)
                out = enc(ids, output_hidden_states=True)
                hidden.append(out.hidden_states[-2])
                pooled = out[0]  # the last encoder's projected pooled output, as the SDXL pipeline keeps it
        h = w = self.resolution
        time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=self.dtype, device=self.device)
        return {
            "encoder_hidden_states": torch.cat(hidden, dim=-1).to(self.dtype),
            "added_cond_kwargs": {"text_embeds": pooled.to(self.dtype), "time_ids": time_ids},
        }

    def _set_timesteps(self):
        # LCM warns on every call that 800 is off its 50-step training grid (the authors' choice): say it once
        if getattr(self, "_warned_timesteps", False):
            with quiet_diffusers():
                return super()._set_timesteps()
        self._warned_timesteps = True
        return super()._set_timesteps()


@contextlib.contextmanager
def quiet_diffusers():
    log = logging.getLogger("diffusers")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


def random_sdxl_parts(model: str, text_encoder_layers: int | None = None,
                      unet_transformer_layers: int | None = None) -> dict:
    """SDXL UNet, VAE and both CLIP text encoders from ``architectures/<model>/`` with random weights."""
    unet_cfg = arch(model, "unet")
    if unet_transformer_layers is not None:
        unet_cfg["transformer_layers_per_block"] = [min(n, unet_transformer_layers)
                                                    for n in unet_cfg["transformer_layers_per_block"]]
    te = arch(model, "text_encoder", num_hidden_layers=text_encoder_layers)
    te2 = arch(model, "text_encoder_2", num_hidden_layers=text_encoder_layers)
    return {
        "unet": UNet2DConditionModel.from_config(unet_cfg),
        "vae": AutoencoderKL.from_config(arch(model, "vae")),
        "text_encoder": CLIPTextModel(CLIPTextConfig(**te)),
        "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**te2)),
    }


def random_sdxl(model: str, scheduler_cls, text_encoder_layers: int | None = None,
                unet_transformer_layers: int | None = None) -> dict:
    """Every part of an SDXL one-step model with seeded random weights and offline tokenizers."""
    with seeded_init():
        parts = random_sdxl_parts(model, text_encoder_layers, unet_transformer_layers)
    return {
        **parts,
        # CLIP-L pads with <|endoftext|>; the OpenCLIP-bigG tokenizer of SDXL pads with "!"
        "tokenizer": offline_clip_tokenizer(),
        "tokenizer_2": offline_clip_tokenizer(pad_token="!"),
        "scheduler": cpu_scheduler(scheduler_cls, arch(model, "scheduler")),
    }


def load_sdxl_parts(hub_id: str, vae_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    """Text encoders, tokenizers, UNet of an SDXL pipeline repo, and the VAE of ``vae_id`` ("" : the repo's)."""
    parts = load_sdxl_text_parts(hub_id, dtype, variant)
    parts["unet"] = hub.load(f"{hub_id}:unet", UNet2DConditionModel.from_pretrained, hub_id, subfolder="unet",
                             torch_dtype=dtype, variant=variant)
    vae_args = (vae_id,) if vae_id else (hub_id,)
    vae_kw = {} if vae_id else {"subfolder": "vae", "variant": variant}
    parts["vae"] = hub.load(f"{vae_id or hub_id + ':vae'}", AutoencoderKL.from_pretrained, *vae_args,
                            torch_dtype=dtype, **vae_kw)
    return parts


def load_sdxl_text_parts(hub_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    def get(cls, sub, **kw):
        return hub.load(f"{hub_id}:{sub}", cls.from_pretrained, hub_id, subfolder=sub, **kw)

    return {
        "text_encoder": get(CLIPTextModel, "text_encoder", dtype=dtype, variant=variant),
        "text_encoder_2": get(CLIPTextModelWithProjection, "text_encoder_2", dtype=dtype, variant=variant),
        "tokenizer": check_tokenizer(get(CLIPTokenizer, "tokenizer"), f"{hub_id}:tokenizer"),
        "tokenizer_2": check_tokenizer(get(CLIPTokenizer, "tokenizer_2"), f"{hub_id}:tokenizer_2"),
    }
