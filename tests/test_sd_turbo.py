"""SD-Turbo: the real architecture offline, the real loading path, and clear failures without weights."""

from __future__ import annotations

import time

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel

from reno_exp.generators import sd_turbo
from reno_exp.generators.sd_turbo import SDTurbo, arch
from reno_exp.generators.tiny import TinyGenerator, tiny_sd_parts
from reno_exp.weights.hub import MissingWeightsError
from reno_exp.weights.tokenizers import check_tokenizer, offline_clip_tokenizer


def n_params(m) -> int:
    return sum(p.numel() for p in m.parameters())


def test_random_init_architecture_has_sd_turbo_parameter_counts():
    with torch.device("meta"):
        unet = sd_turbo.UNet2DConditionModel.from_config(arch("unet"))
        vae = sd_turbo.AutoencoderKL.from_config(arch("vae"))
        text = CLIPTextModel(CLIPTextConfig(**arch("text_encoder")))
    assert n_params(unet) == 865_910_724
    assert n_params(vae) == 83_653_863
    assert n_params(text) == 340_387_840


def test_offline_tokenizer_is_the_real_clip_bpe():
    tok = offline_clip_tokenizer(pad_token="!")
    assert len(tok) == 49408
    ids = tok("a photo of a cat", padding="max_length", max_length=77).input_ids
    assert ids[:7] == [49406, 320, 1125, 539, 320, 2368, 49407]  # CLIP's ids for these words
    assert ids[7] == tok.convert_tokens_to_ids("!") == 0  # SD 2.x pads with "!"


@pytest.mark.slow
def test_random_init_sd_turbo_builds_and_the_gradient_reaches_the_noise():
    start = time.perf_counter()
    gen = SDTurbo(random_init=True, resolution=64, dtype="float32", gradient_checkpointing=True)
    assert n_params(gen.unet) == 865_910_724 and n_params(gen.vae) == 83_653_863
    assert n_params(gen.text_encoder) == 340_387_840
    assert gen.latent_shape == (4, 8, 8)
    cond = gen.encode_prompt("a red dog")
    assert cond["encoder_hidden_states"].shape == (1, 77, 1024)
    z = gen.sample_noise(0).requires_grad_()
    out = gen(z, cond)
    assert out.image.shape == (1, 3, 64, 64) and 0 <= out.image.min() and out.image.max() <= 1
    out.image.mean().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    print(f"SD-Turbo random init at 64 px: build + one step {time.perf_counter() - start:.1f} s")


def save_hub_layout(parts: dict, path):
    for name, part in parts.items():
        part.save_pretrained(path / name)


def test_sd_turbo_loads_a_local_checkpoint_through_from_pretrained(tmp_path):
    # tiny weights in SD-Turbo's hub layout, loaded back through the same code path as the real checkpoint
    save_hub_layout(tiny_sd_parts(weights_seed=3), tmp_path)
    loaded = SDTurbo(hub_id=str(tmp_path), resolution=64, dtype="float32")
    reference = TinyGenerator(weights_seed=3)
    z = reference.sample_noise(0)
    a = loaded(z, loaded.encode_prompt("a cat")).image
    b = reference(z, reference.encode_prompt("a cat")).image
    torch.testing.assert_close(a, b)


def test_missing_weights_fail_fast_naming_the_checkpoint(monkeypatch, waits):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=r"(?s)stabilityai/sd-turbo:unet.*prefetch"):
        SDTurbo(hub_id="stabilityai/sd-turbo")
    assert waits == {"connect": [], "sleep": []}  # no connection tried, no retry waited for


def test_an_empty_tokenizer_is_refused(tmp_path):
    from transformers import CLIPTokenizer

    (tmp_path / "vocab.json").write_text('{"a": 0, "<|endoftext|>": 1, "<|startoftext|>": 2}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(MissingWeightsError, match="only 3 tokens"):
        check_tokenizer(CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")), "x:tokenizer")


@pytest.fixture(scope="module")
def sd_turbo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sd_turbo")
    save_hub_layout(tiny_sd_parts(weights_seed=4), root)
    return root


@pytest.mark.slow  # pipeline comparisons are slow tests, as the other generators'
@pytest.mark.parametrize("steps", [1, 2, 4])
def test_k_step_sd_turbo_matches_the_diffusers_pipeline(sd_turbo_dir, steps):
    from diffusers import StableDiffusionPipeline

    gen = SDTurbo(hub_id=str(sd_turbo_dir), resolution=64, dtype="float32", num_inference_steps=steps)
    assert gen.evaluations_per_call == steps
    pipe = StableDiffusionPipeline(vae=gen.vae, text_encoder=gen.text_encoder, tokenizer=gen.tokenizer,
                                   unet=gen.unet, scheduler=gen.scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    noise = gen.sample_noise(2)
    with torch.no_grad():
        ours = gen(noise, gen.encode_prompt("a cat")).image
        theirs = pipe("a cat", height=64, width=64, num_inference_steps=steps, guidance_scale=0.0,
                      latents=noise.clone(), output_type="pt")[0]
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
    assert [int(t) for t in gen.scheduler.timesteps] == {1: [999], 2: [999, 499], 4: [999, 749, 499, 249]}[steps]


def test_the_gradient_flows_through_every_step():
    # autograd's directional derivative of the k-step map agrees with a finite difference: a step cut from
    # the graph (a detach between steps) would make them disagree
    gen = TinyGenerator(num_inference_steps=3)
    cond = gen.encode_prompt("a cat")
    z = gen.sample_noise(0).requires_grad_()
    w = torch.randn(gen(z, cond).image.shape, generator=torch.Generator().manual_seed(1))
    (gen(z, cond).image * w).sum().backward()
    v = torch.randn(z.shape, generator=torch.Generator().manual_seed(2))
    eps = 1e-2
    with torch.no_grad():
        f = lambda x: (gen(x, cond).image * w).sum()  # noqa: E731
        numeric = (f(z + eps * v) - f(z - eps * v)) / (2 * eps)
    analytic = (z.grad * v).sum()
    assert abs(analytic - numeric) < 0.05 * abs(numeric), (analytic, numeric)
    one_step = TinyGenerator()
    z1 = z.detach().clone().requires_grad_()
    (one_step(z1, cond).image * w).sum().backward()
    assert not torch.allclose(z1.grad, z.grad, rtol=0.1)  # the three steps are not the first step alone


def test_num_inference_steps_must_be_positive():
    from reno_exp.config.errors import UserError

    with pytest.raises(UserError, match="num_inference_steps"):
        TinyGenerator(num_inference_steps=0)
