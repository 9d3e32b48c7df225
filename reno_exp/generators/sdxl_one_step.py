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

from reno_exp.generators.parts import TextEncoders, arch, load_part, load_tokenizer, random_pipeline_parts
from reno_exp.generators.unet_one_step import UNetOneStep
from reno_exp.weights import hub
from reno_exp.weights.tokenizers import offline_clip_tokenizer


class SDXLUNetOneStep(UNetOneStep):
    architecture: str  # its folder of configs in architectures/, for random_init
    scheduler_class: type  # of its random_init build, from that folder's scheduler config

    def random_parts(self) -> dict:
        return random_sdxl(self.architecture, self.scheduler_class, self.cfg.text_encoder_layers,
                           self.cfg.unet_transformer_layers)

    def build(self, parts: dict) -> None:
        super().build(parts)
        self.tokenizers = (parts["tokenizer"], parts["tokenizer_2"])
        # kept out of the module tree: they never take part in the differentiable map noise -> image
        self.text = TextEncoders(self.device, self.dtype, self.cfg.offload_text_encoders,
                                 text_encoder=parts["text_encoder"], text_encoder_2=parts["text_encoder_2"])
        if self.cfg.vae_tiling:
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
    # CLIP-L pads with <|endoftext|>; the OpenCLIP-bigG tokenizer of SDXL pads with "!"
    return random_pipeline_parts(model, lambda: random_sdxl_parts(model, text_encoder_layers, unet_transformer_layers),
                                 scheduler_cls, tokenizer=offline_clip_tokenizer(),
                                 tokenizer_2=offline_clip_tokenizer(pad_token="!"))


def load_sdxl_parts(hub_id: str, vae_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    """Text encoders, tokenizers, UNet of an SDXL pipeline repo, and the VAE of ``vae_id`` ("" : the repo's)."""
    parts = load_sdxl_text_parts(hub_id, dtype, variant)
    parts["unet"] = load_part(hub_id, UNet2DConditionModel, "unet", torch_dtype=dtype, variant=variant)
    vae_args = (vae_id,) if vae_id else (hub_id,)
    vae_kw = {} if vae_id else {"subfolder": "vae", "variant": variant}
    parts["vae"] = hub.load(f"{vae_id or hub_id + ':vae'}", AutoencoderKL.from_pretrained, *vae_args,
                            torch_dtype=dtype, **vae_kw)
    return parts


def sdxl_repos(hub_id: str, vae_id: str, variant: str | None = None) -> list:
    """What ``reno_exp.weights.prefetch`` downloads for ``load_sdxl_parts``: the pipeline repo, and the VAE repo
    that replaces its VAE ("" : none)."""
    from reno_exp.generators.parts import pipeline_repo
    from reno_exp.weights.checkpoints import HubRepo

    if not vae_id:
        return [pipeline_repo(hub_id, variant)]
    return [pipeline_repo(hub_id, variant, skip=("vae",)),
            HubRepo(vae_id, allow_patterns=("config.json", "diffusion_pytorch_model.safetensors"))]


def load_sdxl_text_parts(hub_id: str, dtype: torch.dtype, variant: str | None = None) -> dict:
    return {
        "text_encoder": load_part(hub_id, CLIPTextModel, "text_encoder", dtype=dtype, variant=variant),
        "text_encoder_2": load_part(hub_id, CLIPTextModelWithProjection, "text_encoder_2", dtype=dtype, variant=variant),
        "tokenizer": load_tokenizer(hub_id, CLIPTokenizer),
        "tokenizer_2": load_tokenizer(hub_id, CLIPTokenizer, "tokenizer_2"),
    }
