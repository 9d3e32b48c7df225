"""SD-Turbo: the real architecture offline, the real loading path, and clear failures without weights."""

from __future__ import annotations

import time

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel

from reno_exp.generators import sd_turbo
from reno_exp.generators.sd_turbo import SDTurbo, arch
from reno_exp.generators.tiny import TinyGenerator, tiny_sd_parts
from reno_exp.hub import MissingWeightsError
from reno_exp.tokenizers import check_tokenizer, offline_clip_tokenizer


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


def test_missing_weights_fail_fast_naming_the_checkpoint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(MissingWeightsError, match=r"(?s)stabilityai/sd-turbo:unet.*prefetch"):
        SDTurbo(hub_id="stabilityai/sd-turbo")
    assert time.perf_counter() - start < 30


def test_an_empty_tokenizer_is_refused(tmp_path):
    from transformers import CLIPTokenizer

    (tmp_path / "vocab.json").write_text('{"a": 0, "<|endoftext|>": 1, "<|startoftext|>": 2}')
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(MissingWeightsError, match="only 3 tokens"):
        check_tokenizer(CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")), "x:tokenizer")
