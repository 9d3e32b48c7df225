"""SANA-Sprint (sCM + LADD distilled SANA) with one step, as diffusers' ``SanaSprintPipeline`` computes it.

Parts of ``Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers`` (the 0.6B model has the same layout):
Gemma-2 2B text encoder (the pipeline's default "complex human instruction" is prepended to the prompt;
the first token and the last 299 hidden states are kept), linear-attention DiT with embedded guidance 4.5,
SCM scheduler (TrigFlow), DC-AE with 32x downsampling. One step: the noise times sigma_data (0.5) at
t = max_timesteps (1.5708), one transformer call, the TrigFlow x0 (the scheduler's ``denoised``), divided
by sigma_data, decoded with ``z / 0.41407``. 1024 px (latent 32x32x32), bfloat16 as the model card runs it.
The pipeline's own defaults (instruction, guidance, max length, max timestep) are read from it, not copied.

Parameters: transformer 1,610,237,472; Gemma-2 2B 2,614,341,888; DC-AE 312,250,275 (decoder 159,223,171).
Depth overrides (random_init only): ``num_layers`` (20 transformer blocks), ``text_encoder_layers`` (26 Gemma
blocks). The DC-AE has no gradient checkpointing in diffusers; ``vae_tiling`` lowers its memory.
"""

from __future__ import annotations

import inspect

import torch
from diffusers import AutoencoderDC, SanaSprintPipeline, SanaTransformer2DModel, SCMScheduler
from transformers import AutoTokenizer, Gemma2Config, Gemma2Model

from reno_exp.generators.parts import arch, check_depth_overrides, check_resolution
from reno_exp.generators.transformer_one_step import TransformerOneStep
from reno_exp.weights import hub
from reno_exp.weights.hub import seeded_init
from reno_exp.weights.text_tokenizers import offline_gemma_tokenizer
from reno_exp.weights.tokenizers import check_tokenizer

MODEL = "sana_sprint"
PIPELINE_DEFAULTS = {k: p.default for k, p in inspect.signature(SanaSprintPipeline.__call__).parameters.items()}


def random_sana_parts(num_layers=None, text_encoder_layers=None) -> dict:
    return {
        "transformer": SanaTransformer2DModel.from_config(arch(MODEL, "transformer", num_layers=num_layers)),
        "vae": AutoencoderDC.from_config(arch(MODEL, "vae")),
        "text_encoder": Gemma2Model(Gemma2Config(**arch(MODEL, "text_encoder", num_hidden_layers=text_encoder_layers))),
    }


def load_sana_parts(hub_id: str, dtype: torch.dtype) -> dict:
    def get(cls, sub, **kw):
        return hub.load(f"{hub_id}:{sub}", cls.from_pretrained, hub_id, subfolder=sub, **kw)

    return {
        "transformer": get(SanaTransformer2DModel, "transformer", torch_dtype=dtype),
        "vae": get(AutoencoderDC, "vae", torch_dtype=dtype),
        "text_encoder": get(Gemma2Model, "text_encoder", dtype=dtype),
        "tokenizer": check_tokenizer(get(AutoTokenizer, "tokenizer"), f"{hub_id}:tokenizer"),
        "scheduler": get(SCMScheduler, "scheduler"),
    }


class SanaSprint(TransformerOneStep):
    cuda_dtype = "bfloat16"

    def __init__(
        self,
        hub_id: str = "Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers",
        resolution: int = 1024,
        dtype: str = "bfloat16",
        guidance_scale: float = PIPELINE_DEFAULTS["guidance_scale"],
        max_timesteps: float = PIPELINE_DEFAULTS["max_timesteps"],
        max_sequence_length: int = PIPELINE_DEFAULTS["max_sequence_length"],
        complex_human_instruction: bool = True,
        gradient_checkpointing: bool = False,
        vae_tiling: bool = False,
        offload_text_encoders: bool = False,
        num_layers: int | None = None,
        text_encoder_layers: int | None = None,
        random_init: bool = False,
        device: str = "cpu",
    ):
        check_depth_overrides(random_init, num_layers=num_layers, text_encoder_layers=text_encoder_layers)
        if random_init:
            with seeded_init():
                parts = random_sana_parts(num_layers, text_encoder_layers)
            parts["scheduler"] = SCMScheduler.from_config(arch(MODEL, "scheduler"))  # real in a meta build
            parts["tokenizer"] = offline_gemma_tokenizer()
        else:
            parts = load_sana_parts(hub_id, getattr(torch, dtype))
        vae = parts["vae"]
        factor = 2 ** (len(vae.config.encoder_block_out_channels) - 1)
        check_resolution(resolution, factor)
        side = resolution // factor
        super().__init__(
            parts["transformer"], vae, parts["scheduler"], {"text_encoder": parts["text_encoder"]},
            latent_shape=(parts["transformer"].config.in_channels, side, side),
            resolution=resolution, device=device, dtype=dtype,
            gradient_checkpointing=gradient_checkpointing, vae_tiling=vae_tiling,
            offload_text_encoders=offload_text_encoders,
        )
        self.tokenizer = parts["tokenizer"]
        self.tokenizer.padding_side = "right"
        self.guidance_scale = guidance_scale
        self.max_timesteps = max_timesteps
        self.max_sequence_length = max_sequence_length
        chi = PIPELINE_DEFAULTS["complex_human_instruction"] if complex_human_instruction else None
        self.instruction = "\n".join(chi) if chi else None

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict:
        # as SanaSprintPipeline._get_gemma_prompt_embeds + encode_prompt (no caption cleaning by default)
        n = self.max_sequence_length
        if self.instruction:
            prompt = self.instruction + prompt
            max_length = len(self.tokenizer.encode(self.instruction)) + n - 2
        else:
            max_length = n
        tokens = self.tokenizer(prompt, padding="max_length", max_length=max_length, truncation=True,
                                add_special_tokens=True, return_tensors="pt")
        mask = tokens.attention_mask.to(self.device)
        with self.text.on_device():
            embeds = self.text["text_encoder"](tokens.input_ids.to(self.device), attention_mask=mask)[0]
        keep = [0] + list(range(-n + 1, 0))  # the BOS token and the last n - 1 positions
        return {"encoder_hidden_states": embeds[:, keep].to(self.dtype), "encoder_attention_mask": mask[:, keep]}

    def step(self, noise: torch.Tensor, cond: dict) -> torch.Tensor:
        sigma_data = self.scheduler.config.sigma_data
        self.scheduler.set_timesteps(1, device=self.device, max_timesteps=self.max_timesteps,
                                     intermediate_timesteps=None)
        self.scheduler.set_begin_index(0)
        t = self.scheduler.timesteps[0].expand(noise.shape[0])
        latents = noise * sigma_data
        scm_t = (torch.sin(t) / (torch.cos(t) + torch.sin(t))).view(-1, 1, 1, 1)
        norm = torch.sqrt(scm_t**2 + (1 - scm_t) ** 2)
        model_in = latents / sigma_data * norm
        guidance = torch.full((noise.shape[0],), self.guidance_scale, device=self.device)
        guidance = guidance.to(self.dtype) * self.transformer.config.guidance_embeds_scale
        pred = self.transformer(model_in.to(self.dtype), guidance=guidance, timestep=scm_t.flatten(),
                                return_dict=False, **cond)[0]
        pred = ((1 - 2 * scm_t) * model_in + (1 - 2 * scm_t + 2 * scm_t**2) * pred) / norm
        pred = pred.float() * sigma_data
        _, denoised = self.scheduler.step(pred, t, latents, return_dict=False)
        return denoised / sigma_data

