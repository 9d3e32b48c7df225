"""The random_init architectures are the published ones: parameter counts of the repo configs, built on the
meta device (nothing allocated), equal the real models' counts; depth overrides build fewer of the same
blocks; the offline tokenizers have the real vocabulary sizes and special-token layout."""

from __future__ import annotations

import pytest
import torch

from reno_exp.generators.parts import n_params

# meta builds of 20B parameters and the 256k-token tokenizer: tens of seconds here
pytestmark = pytest.mark.slow

SDXL = {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840}
T5_XXL = 4_762_310_656


def counts(parts: dict) -> dict:
    return {k: n_params(v) for k, v in parts.items() if isinstance(v, torch.nn.Module)}


@pytest.mark.parametrize("model", ["sdxl_turbo", "hyper_sdxl"])
def test_sdxl_family_counts(model):
    from reno_exp.generators.sdxl_one_step import random_sdxl_parts

    with torch.device("meta"):
        assert counts(random_sdxl_parts(model)) == SDXL
        shallow = counts(random_sdxl_parts(model, text_encoder_layers=1, unet_transformer_layers=1))
    assert shallow["unet"] < SDXL["unet"] and shallow["text_encoder_2"] < SDXL["text_encoder_2"]
    assert shallow["vae"] == SDXL["vae"]


def test_pixart_counts():
    from reno_exp.generators.pixart_dmd import random_pixart_parts

    with torch.device("meta"):
        full = counts(random_pixart_parts())
        one = counts(random_pixart_parts(num_layers=1, text_encoder_layers=1))
    assert full == {"transformer": 610_856_096, "vae": 83_653_863, "text_encoder": T5_XXL}
    # one block of 28 and one of 24 kept: the removed blocks are all the same size
    assert (full["transformer"] - one["transformer"]) % 27 == 0
    assert (full["text_encoder"] - one["text_encoder"]) % 23 == 0


def test_flux_counts():
    from reno_exp.generators.flux_schnell import random_flux_parts

    with torch.device("meta"):
        full = counts(random_flux_parts())
        shallow = counts(random_flux_parts(num_layers=1, num_single_layers=1, text_encoder_layers=1))
    # FLUX.1-dev's 11,901,408,320 includes a 10,229,760-parameter guidance embedder that schnell lacks
    assert full == {"transformer": 11_891_178_560, "vae": 83_819_683, "text_encoder": 123_060_480,
                    "text_encoder_2": T5_XXL}
    assert shallow["transformer"] < 0.06 * full["transformer"]


def test_sana_sprint_counts():
    from reno_exp.generators.sana_sprint import random_sana_parts

    with torch.device("meta"):
        full = counts(random_sana_parts())
        shallow = counts(random_sana_parts(num_layers=1, text_encoder_layers=1))
    assert full == {"transformer": 1_610_237_472, "vae": 312_250_275, "text_encoder": 2_614_341_888}
    assert (full["transformer"] - shallow["transformer"]) % 19 == 0
    assert (full["text_encoder"] - shallow["text_encoder"]) % 25 == 0


def test_offline_tokenizers_have_the_real_layouts():
    from reno_exp.weights.text_tokenizers import offline_gemma_tokenizer, offline_t5_tokenizer

    t5 = offline_t5_tokenizer()
    assert len(t5) == 32100 and (t5.pad_token_id, t5.eos_token_id, t5.unk_token_id) == (0, 1, 2)
    ids = t5("a photo of a cat", padding="max_length", max_length=120).input_ids
    assert len(ids) == 120 and ids[5] == 1 and ids[6:] == [0] * 114 and 2 not in ids  # words known, EOS, pads
    gemma = offline_gemma_tokenizer()
    assert len(gemma) == 256000 and (gemma.pad_token_id, gemma.eos_token_id, gemma.bos_token_id) == (0, 1, 2)
    ids = gemma("a photo of a cat").input_ids
    assert ids[0] == 2 and 3 not in ids and len(ids) == 6  # BOS first, no unknowns
