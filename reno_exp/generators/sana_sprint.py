"""SANA-Sprint (sCM + LADD distilled SANA) with one step, as diffusers' ``SanaSprintPipeline`` computes it.

Parts of ``Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers`` (the 0.6B model has the same layout):
Gemma-2 2B text encoder (the pipeline's default "complex human instruction" is prepended to the prompt;
the first token and the last 299 hidden states are kept), linear-attention DiT with embedded guidance 4.5,
SCM scheduler (TrigFlow), DC-AE with 32x downsampling. One step: the noise times sigma_data (0.5) at
t = max_timesteps (1.5708), one transformer call, the TrigFlow x0 (the scheduler's ``denoised``), divided
by sigma_data, decoded with ``z / 0.41407``. 1024 px (latent 32x32x32), bfloat16 as the model card runs it.
The instruction is read from the pipeline; its guidance, max length and max timestep are SanaSprintConfig's
defaults (tests/test_configs.py checks that they are still the pipeline's).

Parameters: transformer 1,610,237,472; Gemma-2 2B 2,614,341,888; DC-AE 312,250,275 (decoder 159,223,171).
Depth overrides (random_init only): ``num_layers`` (20 transformer blocks), ``text_encoder_layers`` (26 Gemma
blocks). The DC-AE has no gradient checkpointing in diffusers; ``vae_tiling`` lowers its memory.
"""

from __future__ import annotations

import inspect

import torch
from diffusers import AutoencoderDC, SanaSprintPipeline, SanaTransformer2DModel, SCMScheduler
from transformers import AutoTokenizer, Gemma2Config, Gemma2Model

from reno_exp.config.model import SanaSprintConfig
from reno_exp.generators.parts import arch, check_resolution, load_part, load_tokenizer, random_pipeline_parts
from reno_exp.generators.transformer_one_step import TransformerOneStep
from reno_exp.weights.text_tokenizers import offline_gemma_tokenizer

MODEL = "sana_sprint"
PIPELINE_DEFAULTS = {k: p.default for k, p in inspect.signature(SanaSprintPipeline.__call__).parameters.items()}


def random_sana_parts(num_layers=None, text_encoder_layers=None) -> dict:
    return {
        "transformer": SanaTransformer2DModel.from_config(arch(MODEL, "transformer", num_layers=num_layers)),
        "vae": AutoencoderDC.from_config(arch(MODEL, "vae")),
        "text_encoder": Gemma2Model(Gemma2Config(**arch(MODEL, "text_encoder", num_hidden_layers=text_encoder_layers))),
    }


def load_sana_parts(hub_id: str, dtype: torch.dtype) -> dict:
    return {
        "transformer": load_part(hub_id, SanaTransformer2DModel, "transformer", torch_dtype=dtype),
        "vae": load_part(hub_id, AutoencoderDC, "vae", torch_dtype=dtype),
        "text_encoder": load_part(hub_id, Gemma2Model, "text_encoder", dtype=dtype),
        "tokenizer": load_tokenizer(hub_id, AutoTokenizer),
        "scheduler": load_part(hub_id, SCMScheduler, "scheduler"),
    }


class SanaSprint(TransformerOneStep):
    schema = SanaSprintConfig
    cuda_dtype = "bfloat16"

    def random_parts(self) -> dict:
        return random_pipeline_parts(MODEL, lambda: random_sana_parts(self.cfg.num_layers, self.cfg.text_encoder_layers),
                                     SCMScheduler, tokenizer=offline_gemma_tokenizer())

    def load_parts(self) -> dict:
        return load_sana_parts(self.cfg.hub_id, self.dtype)

    def latent_shape_of(self, parts: dict) -> tuple[int, ...]:
        factor = 2 ** (len(parts["vae"].config.encoder_block_out_channels) - 1)
        check_resolution(self.cfg.resolution, factor)
        side = self.cfg.resolution // factor
        return parts["transformer"].config.in_channels, side, side

    def build(self, parts: dict) -> None:
        super().build(parts)
        self.tokenizer = parts["tokenizer"]
        self.tokenizer.padding_side = "right"
        chi = PIPELINE_DEFAULTS["complex_human_instruction"] if self.cfg.complex_human_instruction else None
        self.instruction = "\n".join(chi) if chi else None

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> dict:
        # as SanaSprintPipeline._get_gemma_prompt_embeds + encode_prompt (no caption cleaning by default)
        n = self.cfg.max_sequence_length
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
        self.scheduler.set_timesteps(1, device=self.device, max_timesteps=self.cfg.max_timesteps,
                                     intermediate_timesteps=None)
        self.scheduler.set_begin_index(0)
        t = self.scheduler.timesteps[0].expand(noise.shape[0])
        latents = noise * sigma_data
        scm_t = (torch.sin(t) / (torch.cos(t) + torch.sin(t))).view(-1, 1, 1, 1)
        norm = torch.sqrt(scm_t**2 + (1 - scm_t) ** 2)
        model_in = latents / sigma_data * norm
        guidance = torch.full((noise.shape[0],), self.cfg.guidance_scale, device=self.device)
        guidance = guidance.to(self.dtype) * self.transformer.config.guidance_embeds_scale
        pred = self.transformer(model_in.to(self.dtype), guidance=guidance, timestep=scm_t.flatten(),
                                return_dict=False, **cond)[0]
        pred = ((1 - 2 * scm_t) * model_in + (1 - 2 * scm_t + 2 * scm_t**2) * pred) / norm
        pred = pred.float() * sigma_data
        _, denoised = self.scheduler.step(pred, t, latents, return_dict=False)
        return denoised / sigma_data

