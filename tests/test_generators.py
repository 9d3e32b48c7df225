"""The one-step generators at toy width: each built through its real loading path (tiny random parts saved
to a directory laid out like the hub repo, then loaded by the generator class), checked against the
diffusers pipeline it reproduces, for shapes, range, gradients and once-per-prompt conditioning."""

from __future__ import annotations

import pytest
import torch
from diffusers import (
    AutoencoderDC,
    AutoencoderKL,
    DDPMScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    LCMScheduler,
    PixArtAlphaPipeline,
    PixArtTransformer2DModel,
    SanaSprintPipeline,
    SanaTransformer2DModel,
    SCMScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    Gemma2Config,
    Gemma2Model,
    T5Config,
    T5EncoderModel,
)

from reno_exp.config.errors import UserError
from reno_exp.generators.parts import arch
from reno_exp.weights.hub import MissingWeightsError
from reno_exp.weights.text_tokenizers import offline_gemma_tokenizer, offline_t5_tokenizer
from reno_exp.weights.tokenizers import offline_clip_tokenizer

RES = 64
PROMPT = "a red cube on top of a blue sphere"


def tiny_vae(latent_channels=4, scaling=0.13025, **kw):
    return AutoencoderKL(block_out_channels=(8, 16, 16, 16), down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=latent_channels,
                         layers_per_block=1, norm_num_groups=8, scaling_factor=scaling, **kw)


def tiny_clip(cls=CLIPTextModel):
    return cls(CLIPTextConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              vocab_size=49408, projection_dim=32))


def tiny_t5():
    return T5EncoderModel(T5Config(d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, vocab_size=32128,
                                   feed_forward_proj="gated-gelu", relative_attention_num_buckets=8))


def tiny_sdxl_unet(seed=0):
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=64, attention_head_dim=(2, 4), norm_num_groups=8, use_linear_projection=True,
        transformer_layers_per_block=(1, 2), addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=32 + 6 * 8,
    )


def save_parts(root, parts):
    for name, part in parts.items():
        part.save_pretrained(root / name)


@pytest.fixture(scope="module")
def sdxl_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdxl")
    torch.manual_seed(0)
    parts = {"unet": tiny_sdxl_unet(), "vae": tiny_vae(force_upcast=False), "text_encoder": tiny_clip(),
             "text_encoder_2": tiny_clip(CLIPTextModelWithProjection), "tokenizer": offline_clip_tokenizer(),
             "tokenizer_2": offline_clip_tokenizer(pad_token="!"),
             "scheduler": EulerAncestralDiscreteScheduler.from_config(arch("sdxl_turbo", "scheduler"))}
    save_parts(root, parts)
    return root


@pytest.fixture(scope="module")
def hyper_dirs(sdxl_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("sdxl_base")
    for sub in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
        (base / sub).symlink_to(sdxl_dir / sub)
    EulerDiscreteScheduler.from_config(arch("hyper_sdxl", "scheduler")).save_pretrained(base / "scheduler")
    hyper = tmp_path_factory.mktemp("hyper")
    save_file(tiny_sdxl_unet(seed=1).state_dict(), str(hyper / "Hyper-SDXL-1step-Unet.safetensors"))
    return base, hyper


@pytest.fixture(scope="module")
def pixart_dirs(tmp_path_factory):
    dmd, pipe = tmp_path_factory.mktemp("dmd"), tmp_path_factory.mktemp("pixart")
    torch.manual_seed(0)
    transformer = PixArtTransformer2DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8, num_layers=2,
        cross_attention_dim=16, caption_channels=32, sample_size=8, patch_size=2, norm_type="ada_norm_single",
        num_embeds_ada_norm=1000, attention_bias=True, activation_fn="gelu-approximate",
        norm_elementwise_affine=False, norm_eps=1e-6, use_additional_conditions=False,
    )
    save_parts(dmd, {"transformer": transformer,
                     "scheduler": DDPMScheduler.from_config(arch("pixart_dmd", "scheduler"))})
    save_parts(pipe, {"vae": tiny_vae(scaling=0.18215), "text_encoder": tiny_t5(),
                      "tokenizer": offline_t5_tokenizer()})
    return dmd, pipe


@pytest.fixture(scope="module")
def flux_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("flux")
    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(patch_size=1, in_channels=64, num_layers=1, num_single_layers=1,
                                         attention_head_dim=8, num_attention_heads=2, joint_attention_dim=32,
                                         pooled_projection_dim=32, guidance_embeds=False, axes_dims_rope=(2, 2, 4))
    vae = tiny_vae(latent_channels=16, scaling=0.3611, shift_factor=0.1159, use_quant_conv=False,
                   use_post_quant_conv=False)
    save_parts(root, {"transformer": transformer, "vae": vae, "text_encoder": tiny_clip(),
                      "text_encoder_2": tiny_t5(), "tokenizer": offline_clip_tokenizer(),
                      "tokenizer_2": offline_t5_tokenizer(256),
                      "scheduler": FlowMatchEulerDiscreteScheduler.from_config(arch("flux_schnell", "scheduler"))})
    return root


@pytest.fixture(scope="module")
def sana_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sana")
    torch.manual_seed(0)
    transformer = SanaTransformer2DModel(
        in_channels=32, out_channels=32, num_attention_heads=2, attention_head_dim=8, num_layers=2,
        num_cross_attention_heads=2, cross_attention_head_dim=8, cross_attention_dim=16, caption_channels=32,
        sample_size=2, guidance_embeds=True, qk_norm="rms_norm_across_heads", timestep_scale=1000.0,
    )
    vae = AutoencoderDC(
        in_channels=3, latent_channels=32, attention_head_dim=8, encoder_block_types="ResBlock",
        decoder_block_types="ResBlock", encoder_block_out_channels=(8, 8, 16, 16, 32, 32),
        decoder_block_out_channels=(8, 8, 16, 16, 32, 32), encoder_layers_per_block=(1,) * 6,
        decoder_layers_per_block=(1,) * 6, encoder_qkv_multiscales=((),) * 6, decoder_qkv_multiscales=((),) * 6,
        upsample_block_type="interpolate", downsample_block_type="Conv", decoder_norm_types="rms_norm",
        decoder_act_fns="silu", scaling_factor=0.41407,
    )
    gemma = Gemma2Model(Gemma2Config(vocab_size=256000, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1, head_dim=16,
                                     query_pre_attn_scalar=16))
    save_parts(root, {"transformer": transformer, "vae": vae, "text_encoder": gemma,
                      "tokenizer": offline_gemma_tokenizer(),
                      "scheduler": SCMScheduler.from_config(arch("sana_sprint", "scheduler"))})
    return root


@pytest.fixture(scope="module")
def generators(sdxl_dir, hyper_dirs, pixart_dirs, flux_dir, sana_dir):
    """Each model, loaded from its tiny local copy through the same code path as from the hub."""
    from reno_exp.generators.flux_schnell import FluxSchnell
    from reno_exp.generators.hyper_sdxl import HyperSDXL
    from reno_exp.generators.pixart_dmd import PixArtDMD
    from reno_exp.generators.sana_sprint import SanaSprint
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    common = {"resolution": RES, "dtype": "float32"}
    return {
        "sdxl_turbo": lambda: SDXLTurbo(hub_id=str(sdxl_dir), vae_id="", **common),
        "hyper_sdxl": lambda: HyperSDXL(hub_id=str(hyper_dirs[0]), hyper_repo=str(hyper_dirs[1]), **common),
        "pixart_dmd": lambda: PixArtDMD(hub_id=str(pixart_dirs[0]), pipeline_id=str(pixart_dirs[1]), **common),
        "flux_schnell": lambda: FluxSchnell(hub_id=str(flux_dir), **common),
        "sana_sprint": lambda: SanaSprint(hub_id=str(sana_dir), **common),
    }


MODELS = ["sdxl_turbo", "hyper_sdxl", "pixart_dmd", "flux_schnell", "sana_sprint"]
LATENT_SHAPES = {"sdxl_turbo": (4, 8, 8), "hyper_sdxl": (4, 8, 8), "pixart_dmd": (4, 8, 8),
                 "flux_schnell": (16, 64), "sana_sprint": (32, 2, 2)}


@pytest.fixture(scope="module")
def built(generators):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = generators[name]()
        return cache[name]

    return get


def encoder_calls(gen) -> dict[str, list[int]]:
    calls = {}
    for name, module in gen.text.modules.items():
        calls[name] = []
        module.register_forward_hook(lambda m, a, o, n=name: calls[n].append(1))
    return calls


@pytest.mark.parametrize("name", MODELS)
def test_generates_an_image_with_gradient_and_encodes_each_prompt_once(built, name):
    gen = built(name)
    assert gen.latent_shape == LATENT_SHAPES[name]
    calls = encoder_calls(gen)
    cond = gen.encode_prompt(PROMPT)
    z = gen.sample_noise(3).requires_grad_(True)
    out = gen(z, cond)
    assert out.image.shape == (1, 3, RES, RES)
    assert out.image.min() >= 0 and out.image.max() <= 1 and out.image.std() > 0
    assert out.latent.shape == z.shape
    out.image.mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    again = gen(z.detach(), cond)  # a second iteration: same noise, same image (scheduler state reset)
    torch.testing.assert_close(again.image, out.image.detach())
    assert calls and all(len(c) == 1 for c in calls.values()), calls
    assert not any(p.requires_grad for p in gen.parameters())


def pipeline_image(name, gen, noise, steps=1, generator=None):
    """The image the diffusers pipeline makes from the same parts and the same noise."""
    kw = {"prompt": PROMPT, "height": RES, "width": RES, "num_inference_steps": steps, "output_type": "pt",
          "latents": noise.clone(), "generator": generator}
    if name in ("sdxl_turbo", "hyper_sdxl"):
        te = gen.text
        pipe = StableDiffusionXLPipeline(vae=gen.vae, text_encoder=te["text_encoder"],
                                         text_encoder_2=te["text_encoder_2"], tokenizer=gen.tokenizers[0],
                                         tokenizer_2=gen.tokenizers[1], unet=gen.unet, scheduler=gen.scheduler)
        extra = {"guidance_scale": 0.0}
        if name == "hyper_sdxl":
            extra["timesteps"] = [800]
    elif name == "pixart_dmd":
        pipe = PixArtAlphaPipeline(tokenizer=gen.tokenizer, text_encoder=gen.text["text_encoder"], vae=gen.vae,
                                   transformer=gen.transformer, scheduler=gen.scheduler)
        extra = {"timesteps": [400], "guidance_scale": 1.0, "use_resolution_binning": False,
                 "max_sequence_length": 120, "clean_caption": False}
        kw["num_inference_steps"] = None
    elif name == "flux_schnell":
        pipe = FluxPipeline(scheduler=gen.scheduler, vae=gen.vae, text_encoder=gen.text["text_encoder"],
                            tokenizer=gen.tokenizer, text_encoder_2=gen.text["text_encoder_2"],
                            tokenizer_2=gen.tokenizer_2, transformer=gen.transformer)
        extra = {"guidance_scale": 0.0, "max_sequence_length": 256}
    else:
        pipe = SanaSprintPipeline(tokenizer=gen.tokenizer, text_encoder=gen.text["text_encoder"], vae=gen.vae,
                                  transformer=gen.transformer, scheduler=gen.scheduler)
        extra = {"intermediate_timesteps": None, "use_resolution_binning": False}
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        return pipe(**kw, **extra)[0]


@pytest.mark.slow  # five pipelines built and run beside the generators
@pytest.mark.parametrize("name", MODELS)
def test_matches_the_diffusers_pipeline_it_reproduces(built, name):
    gen = built(name)
    noise = gen.sample_noise(5)
    with torch.no_grad():
        ours = gen(noise, gen.encode_prompt(PROMPT)).image
    theirs = pipeline_image(name, gen, noise)
    torch.testing.assert_close(ours, theirs.float(), atol=2e-5, rtol=1e-4)


@pytest.mark.slow  # two pipeline runs of up to four steps beside the generator's
@pytest.mark.parametrize("steps", [2, 4])
def test_sdxl_turbo_multi_step_matches_the_pipeline_with_its_ancestral_noise(sdxl_dir, steps):
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    gen = SDXLTurbo(hub_id=str(sdxl_dir), vae_id="", resolution=RES, dtype="float32", num_inference_steps=steps,
                    ancestral_seed=7)
    assert gen.evaluations_per_call == steps
    noise = gen.sample_noise(5)
    with torch.no_grad():
        ours = gen(noise, gen.encode_prompt(PROMPT)).image
    # the pipeline given the same seeded CPU generator draws the same noise between the steps
    theirs = pipeline_image("sdxl_turbo", gen, noise, steps, [torch.Generator().manual_seed(7)])
    torch.testing.assert_close(ours, theirs.float(), atol=2e-5, rtol=1e-4)
    other_seed = pipeline_image("sdxl_turbo", gen, noise, steps, [torch.Generator().manual_seed(8)])
    assert (ours - other_seed).abs().max() > 1e-3  # the ancestral noise is really there


def batch_of(cond, n):
    if isinstance(cond, dict):
        return {k: batch_of(v, n) for k, v in cond.items()}
    return cond.expand(n, *cond.shape[1:])


def test_sdxl_turbo_ancestral_noise_is_per_item_whatever_the_batch(sdxl_dir):
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    gen = SDXLTurbo(hub_id=str(sdxl_dir), vae_id="", resolution=RES, dtype="float32", num_inference_steps=2)
    cond = gen.encode_prompt(PROMPT)
    a, b = gen.sample_noise(1), gen.sample_noise(2)
    with torch.no_grad():
        alone = gen(b, cond).image
        torch.rand(5)  # the global RNG must not matter
        together = gen(torch.cat([a, b]), batch_of(cond, 2)).image
        again = gen(b, cond).image
    torch.testing.assert_close(together[1:], alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(again, alone, atol=0, rtol=0)


def test_one_step_models_cost_one_evaluation(built):
    for name in MODELS:
        assert built(name).evaluations_per_call == 1, name


def test_sdxl_conditioning_is_both_encoders_and_the_micro_conditions(built):
    cond = built("sdxl_turbo").encode_prompt(PROMPT)
    assert cond["encoder_hidden_states"].shape == (1, 77, 64)  # 32 (CLIP-L) + 32 (bigG) channels
    assert cond["added_cond_kwargs"]["text_embeds"].shape == (1, 32)
    assert cond["added_cond_kwargs"]["time_ids"].tolist() == [[RES, RES, 0, 0, RES, RES]]


def test_hyper_sdxl_unet_holds_the_one_step_checkpoint(built, hyper_dirs):
    gen = built("hyper_sdxl")
    hyper, base = tiny_sdxl_unet(seed=1).state_dict(), tiny_sdxl_unet(seed=0).state_dict()
    k = "conv_in.weight"
    assert torch.equal(gen.unet.state_dict()[k], hyper[k]) and not torch.equal(hyper[k], base[k])
    assert isinstance(gen.scheduler, LCMScheduler)


def test_hyper_sdxl_rejects_a_checkpoint_that_does_not_fill_the_unet(hyper_dirs, tmp_path):
    from reno_exp.generators.hyper_sdxl import HyperSDXL

    sd = tiny_sdxl_unet().state_dict()
    sd.pop("conv_in.bias")
    save_file(sd, str(tmp_path / "partial.safetensors"))
    with pytest.raises(RuntimeError, match="conv_in.bias"):
        HyperSDXL(hub_id=str(hyper_dirs[0]), hyper_repo=str(tmp_path), hyper_ckpt="partial.safetensors",
                  resolution=RES, dtype="float32")


def test_hyper_sdxl_keeps_the_vae_in_float32(hyper_dirs):
    from reno_exp.generators.hyper_sdxl import HyperSDXL

    gen = HyperSDXL(hub_id=str(hyper_dirs[0]), hyper_repo=str(hyper_dirs[1]), resolution=RES, dtype="bfloat16")
    assert next(gen.vae.parameters()).dtype == torch.float32
    assert next(gen.unet.parameters()).dtype == torch.bfloat16


def test_flux_latent_is_the_noise_minus_the_velocity(built):
    gen = built("flux_schnell")
    cond = gen.encode_prompt(PROMPT)
    z = gen.sample_noise(0)
    with torch.no_grad():
        txt_ids = torch.zeros(cond["encoder_hidden_states"].shape[1], 3)  # FLUX's text positions: all zero
        v = gen.transformer(hidden_states=z, timestep=torch.ones(1), guidance=None, img_ids=gen.img_ids,
                            txt_ids=txt_ids, return_dict=False, **cond)[0]
        torch.testing.assert_close(gen(z, cond).latent, z - v)


def test_pixart_latent_is_the_predicted_x0_at_t400_without_the_sigma_channels(built):
    gen = built("pixart_dmd")
    cond = gen.encode_prompt(PROMPT)
    z = gen.sample_noise(0)
    with torch.no_grad():
        out = gen.transformer(z, timestep=torch.tensor([400]), added_cond_kwargs={"resolution": None,
                                                                                   "aspect_ratio": None},
                              return_dict=False, **cond)[0]
        assert out.shape[1] == 8
        a = gen.scheduler.alphas_cumprod[400]
        torch.testing.assert_close(gen(z, cond).latent, (z - (1 - a).sqrt() * out[:, :4]) / a.sqrt())


def test_text_encoders_can_wait_on_the_cpu(sdxl_dir):
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    # on a CPU-only machine offloading is a no-op; the switch must still be accepted and encode the same
    gen = SDXLTurbo(hub_id=str(sdxl_dir), vae_id="", resolution=RES, dtype="float32", offload_text_encoders=True)
    assert next(gen.text["text_encoder"].parameters()).device.type == "cpu"
    assert gen.encode_prompt(PROMPT)["encoder_hidden_states"].shape == (1, 77, 64)


def test_depth_overrides_need_random_init():
    from reno_exp.generators.flux_schnell import FluxSchnell

    with pytest.raises(UserError, match="random_init"):
        FluxSchnell(num_layers=1)


def test_missing_checkpoint_fails_fast_and_clearly(sdxl_dir, hyper_dirs, tmp_path):
    from reno_exp.generators.hyper_sdxl import HyperSDXL
    from reno_exp.generators.pixart_dmd import PixArtDMD
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    with pytest.raises(MissingWeightsError, match="text_encoder"):  # the tiny copy has no fp16 variant files
        SDXLTurbo(hub_id=str(sdxl_dir), vae_id="", variant="fp16", resolution=RES, dtype="float32")
    with pytest.raises(MissingWeightsError, match="Hyper-SDXL-1step-Unet"):
        HyperSDXL(hub_id=str(hyper_dirs[0]), hyper_repo=str(tmp_path), resolution=RES, dtype="float32")
    with pytest.raises(MissingWeightsError, match="transformer"):
        PixArtDMD(hub_id=str(tmp_path), pipeline_id=str(tmp_path), resolution=RES, dtype="float32")


# Toy widths for the repo's architecture configs: random_init then builds through exactly the code a full-size
# random build uses (config files -> from_config -> offline tokenizers -> generator), small enough to run here.
TOY_ARCH = {
    "sdxl": {
        "unet": {"block_out_channels": [32, 32, 64], "attention_head_dim": [2, 2, 4], "norm_num_groups": 8,
                 "layers_per_block": 1, "transformer_layers_per_block": [1, 1, 1], "cross_attention_dim": 64,
                 "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 80},
        "text_encoder": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                         "num_hidden_layers": 2, "projection_dim": 32},
        "text_encoder_2": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                           "num_hidden_layers": 2, "projection_dim": 32},
        "vae": {"block_out_channels": [8, 16, 16, 16], "norm_num_groups": 8, "layers_per_block": 1},
    },
    "pixart_dmd": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 8, "num_layers": 2,
                        "cross_attention_dim": 16, "caption_channels": 32},
        "text_encoder": {"d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 4, "num_layers": 2,
                         "relative_attention_num_buckets": 8},
        "vae": {"block_out_channels": [8, 16, 16, 16], "norm_num_groups": 8, "layers_per_block": 1},
    },
    "flux_schnell": {
        "transformer": {"attention_head_dim": 8, "num_attention_heads": 2, "num_layers": 2, "num_single_layers": 2,
                        "joint_attention_dim": 32, "pooled_projection_dim": 32, "axes_dims_rope": [2, 2, 4]},
        "text_encoder": {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                         "num_hidden_layers": 2, "projection_dim": 32},
        "text_encoder_2": {"d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 4, "num_layers": 2,
                           "relative_attention_num_buckets": 8},
        "vae": {"block_out_channels": [8, 16, 16, 16], "norm_num_groups": 8, "layers_per_block": 1},
    },
    "sana_sprint": {
        "transformer": {"num_attention_heads": 2, "attention_head_dim": 8, "num_layers": 2,
                        "num_cross_attention_heads": 2, "cross_attention_head_dim": 8, "cross_attention_dim": 16,
                        "caption_channels": 32},
        "text_encoder": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                         "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
                         "query_pre_attn_scalar": 16},
        "vae": {"attention_head_dim": 8, "encoder_block_out_channels": [8, 8, 16, 16, 32, 32],
                "decoder_block_out_channels": [8, 8, 16, 16, 32, 32], "encoder_layers_per_block": [1] * 6,
                "decoder_layers_per_block": [1] * 6},
    },
}
TOY_ARCH["sdxl_turbo"] = TOY_ARCH["hyper_sdxl"] = TOY_ARCH.pop("sdxl")


@pytest.fixture(scope="module")
def toy_architectures(tmp_path_factory):
    """A copy of architectures/ with the width keys of each config made toy-sized (every other key kept)."""
    import json

    from reno_exp.generators import parts

    root = tmp_path_factory.mktemp("architectures")
    for model_dir in parts.ARCHITECTURES.iterdir():
        (root / model_dir.name).mkdir()
        for f in model_dir.glob("*.json"):
            cfg = json.loads(f.read_text())
            toy = TOY_ARCH.get(model_dir.name, {}).get(f.stem, {})
            assert set(toy) <= set(cfg), f"{f}: {set(toy) - set(cfg)}"  # only real keys are shrunk
            (root / model_dir.name / f.name).write_text(json.dumps({**cfg, **toy}))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_the_app_runs_each_model_with_random_init(compose, toy_architectures, monkeypatch, tmp_path, name):
    from reno_exp.experiment.run import run
    from reno_exp.generators import parts
    from reno_exp.store.records import read_records

    monkeypatch.setattr(parts, "ARCHITECTURES", toy_architectures)
    overrides = [f"model={name}", "random_init=true", f"model.resolution={RES}", "model.dtype=float32",
                 "reward=color", "optimizer.n_iters=2", "device=cpu"]
    if name == "flux_schnell":  # a depth override, as the smoke runs of the full-width models use
        overrides += ["model.num_layers=1", "model.num_single_layers=1", "model.text_encoder_layers=1"]
    run(compose(overrides), tmp_path)
    (row,) = read_records(tmp_path)
    assert len(row["history"]) == 2 and all(map(torch.isfinite, torch.tensor(row["history"])))
    assert row["curves"]["grad_norm"][0] > 0  # the colour loss reached the noise through the model


@pytest.mark.slow
def test_flux_multi_step_schedules_match_the_pipeline(flux_dir):
    from reno_exp.generators.flux_schnell import FluxSchnell

    gen = FluxSchnell(hub_id=str(flux_dir), resolution=RES, dtype="float32", num_inference_steps=2)
    noise = gen.sample_noise(1)
    pipe = FluxPipeline(scheduler=gen.scheduler, vae=gen.vae, text_encoder=gen.text["text_encoder"],
                        tokenizer=gen.tokenizer, text_encoder_2=gen.text["text_encoder_2"],
                        tokenizer_2=gen.tokenizer_2, transformer=gen.transformer)
    pipe.set_progress_bar_config(disable=True)
    with torch.no_grad():
        ours = gen(noise, gen.encode_prompt(PROMPT)).image
        theirs = pipe(prompt=PROMPT, height=RES, width=RES, num_inference_steps=2, guidance_scale=0.0,
                      max_sequence_length=256, latents=noise.clone(), output_type="pt")[0]
        one_step = FluxSchnell(hub_id=str(flux_dir), resolution=RES, dtype="float32")(noise, gen.encode_prompt(PROMPT))
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
    assert not torch.allclose(ours, one_step.image)
    assert gen.evaluations_per_call == 2


def test_random_init_weights_are_a_function_of_the_config_alone(toy_architectures, monkeypatch):
    from reno_exp.generators import parts
    from reno_exp.generators.sdxl_turbo import SDXLTurbo

    monkeypatch.setattr(parts, "ARCHITECTURES", toy_architectures)
    a = SDXLTurbo(random_init=True, resolution=RES, dtype="float32")
    torch.rand(3)  # whatever ran before must not matter
    b = SDXLTurbo(random_init=True, resolution=RES, dtype="float32")
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)
    assert a.unet.config.block_out_channels == [32, 32, 64]  # built from the (toy) repo config


def test_prefetch_lists_every_checkpoint_a_model_loads():
    from reno_exp.config.compose import compose
    from reno_exp.weights.needs import needed

    def names(model, *extra):
        return {c.name: c for c in needed(compose([f"model={model}", "reward=color", *extra]))}

    hyper = names("hyper_sdxl")
    assert set(hyper) == {"stabilityai/stable-diffusion-xl-base-1.0", "ByteDance/Hyper-SD:Hyper-SDXL-1step-Unet.safetensors"}
    assert hyper["stabilityai/stable-diffusion-xl-base-1.0"].ignore_patterns == ("unet/*.safetensors",)
    turbo = names("sdxl_turbo", "model.variant=fp16")
    assert set(turbo) == {"stabilityai/sdxl-turbo", "madebyollin/sdxl-vae-fp16-fix"}
    assert "*/diffusion_pytorch_model.fp16.safetensors" in turbo["stabilityai/sdxl-turbo"].allow_patterns
    assert set(names("pixart_dmd")) == {"PixArt-alpha/PixArt-Alpha-DMD-XL-2-512x512", "PixArt-alpha/PixArt-XL-2-1024-MS"}
    assert set(names("flux_schnell")) == {"black-forest-labs/FLUX.1-schnell"}
    assert set(names("sana_sprint")) == {"Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers"}
