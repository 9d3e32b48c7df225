"""A tiny SD-style one-step model with random weights, built in-process: the offline default.

Real diffusers and transformers parts (UNet, VAE, CLIP text encoder, Euler scheduler as SD-Turbo's)
at toy width, real CLIP tokenisation, 64 px. The weights are a function of ``weights_seed`` alone.
"""

from __future__ import annotations

from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

from reno_exp.config.model import TinyGeneratorConfig
from reno_exp.generators.sd_turbo import arch
from reno_exp.generators.unet_one_step import CLIPTextUNetOneStep
from reno_exp.weights.hub import seeded_init
from reno_exp.weights.tokenizers import offline_clip_tokenizer


def tiny_sd_parts(weights_seed: int = 0) -> dict:
    with seeded_init(weights_seed):
        unet = UNet2DConditionModel(
            sample_size=8,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=8,
            use_linear_projection=True,
        )
        vae = AutoencoderKL(
            block_out_channels=(8, 16, 16, 16),  # four blocks: the 8x downsampling of SD's VAE
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=4,
            layers_per_block=1,
            norm_num_groups=8,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=49408
            )
        )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": offline_clip_tokenizer(pad_token="!"),
        "scheduler": EulerDiscreteScheduler.from_config(arch("scheduler")),
    }


class TinyGenerator(CLIPTextUNetOneStep):
    fine_on_a_cpu = True
    schema = TinyGeneratorConfig

    def random_parts(self) -> dict:
        return tiny_sd_parts(self.cfg.weights_seed)

    load_parts = random_parts  # always random: random_init is accepted so every model takes the same keys
