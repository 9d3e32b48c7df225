"""The CUDA dry run: every generator with reward=all at its real size and CUDA dtype, built on the meta
device, one iterate forward and backward to the noises at batch 1 and 2; and what the dry run
guarantees: it refuses what CUDA refuses, attention saves what the fused kernels save, and the memory
and FLOP counts are linear in the batch size."""

from __future__ import annotations

import pytest
import torch

from reno_exp.cost.accounting import count
from reno_exp.cost.dryrun import DryRun, cuda_like, fused_attention

# each model's real CUDA dtype (conf/model/*.yaml; FLUX and SANA run bfloat16), given explicitly
CUDA_DTYPES = {"tiny": "float32", "sd_turbo": "float16", "sdxl_turbo": "float16", "hyper_sdxl": "float16",
               "pixart_dmd": "float16", "flux_schnell": "bfloat16", "sana_sprint": "bfloat16"}
REWARDS = ("hpsv2", "imagereward", "clip", "pickscore")


def saved_numel(fn) -> list[int]:
    sizes = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: (sizes.append(t.numel()), t)[1], lambda t: t):
        fn()
    return sizes


@pytest.mark.slow
@pytest.mark.parametrize("model", list(CUDA_DTYPES))
def test_every_generator_with_all_rewards_runs_an_iterate_on_meta(compose, model):
    cfg = compose([f"model={model}", "reward=all", f"model.dtype={CUDA_DTYPES[model]}"])
    dry = DryRun.build(cfg)
    denoiser = dry.parts()["denoiser"][0]
    assert {p.dtype for p in denoiser.parameters()} == {getattr(torch, CUDA_DTYPES[model])}
    assert all(p.is_meta for p in [*dry.generator.parameters(), *dry.rewards.parameters()])  # nothing allocated
    for name in REWARDS:  # towers at the dtype CUDA resolves for dtype: null
        assert next(dry.rewards.rewards[name].parameters()).dtype == torch.float16
    for batch in (1, 2):
        cond, prepared = dry.conditioning(batch, prompts=batch)
        zs = dry.noises(batch)
        dry.iterate(cond, prepared, zs)
        for z in zs:  # the gradient reaches every item's noise, in float32
            assert z.grad is not None and z.grad.shape == z.shape and z.grad.dtype == torch.float32


def test_the_dry_run_refuses_a_cpu_tensor_where_cuda_would(compose, monkeypatch):
    from reno_exp.generators.tiny import TinyGenerator

    dry = DryRun.build(compose(["model=tiny", "reward=color"]))
    cond, prepared = dry.conditioning(1)
    dry.iterate(cond, prepared, dry.noises(1))  # as built: fine

    decode = TinyGenerator.decode

    def decode_with_a_cpu_tensor(self, latents):
        image = decode(self, latents)
        return image * torch.ones(image.shape[1:])  # a tensor made without device=: the CPU

    monkeypatch.setattr(TinyGenerator, "decode", decode_with_a_cpu_tensor)
    with pytest.raises(RuntimeError, match="device"):
        dry.iterate(cond, prepared, dry.noises(1))


@pytest.mark.slow  # two builds of PixArt's parts: imports and tokenizers
def test_offloaded_text_encoders_are_not_resident(compose):
    from reno_exp.cost.estimate import params_bytes

    cfg = ["model=pixart_dmd", "reward=color", "model.num_layers=1", "model.text_encoder_layers=1"]
    resident = DryRun.build(compose(cfg)).parts()["text encoders"]
    assert params_bytes(resident) > 0
    assert DryRun.build(compose([*cfg, "model.offload_text_encoders=true"])).parts()["text encoders"] == []


def test_attention_saves_what_the_fused_cuda_kernels_save():
    q = torch.empty(2, 4, 1024, 64, device="meta", dtype=torch.float16, requires_grad=True)
    text = torch.empty(2, 4, 77, 64, device="meta", dtype=torch.float16)
    mask = torch.zeros(2, 1, 1024, 77, device="meta", dtype=torch.bool)
    math = saved_numel(lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q))
    assert max(math) >= 1024 * 1024  # the math path keeps the attention matrix
    with cuda_like():
        flash = saved_numel(lambda: torch.nn.functional.scaled_dot_product_attention(q, q, q))
        masked = saved_numel(lambda: torch.nn.functional.scaled_dot_product_attention(q, text, text, attn_mask=mask))
    assert max(flash) == q.numel() and max(masked) == max(q.numel(), 2 * 4 * 1024 * 77)  # inputs, output, bias
    assert torch.nn.functional.scaled_dot_product_attention is not fused_attention  # restored


def test_memory_and_flops_are_linear_in_the_batch(compose):
    from reno_exp.cost.estimate import estimate_dry

    dry = DryRun.build(compose(["model=tiny", "reward=all", "tiny=true"]))
    est = estimate_dry(dry)
    three = count(dry, 3)
    assert len(three.grads) == 3 and all(g.shape == (1, *dry.generator.latent_shape) for g in three.grads)
    for part in ("denoiser", "vae", *REWARDS):  # every part keeps activations and does work for each item
        assert est.memory.parts[part].kept.per_item > 0 and est.flops[part] > 0, part
    assert est.memory.peak.at(3) == pytest.approx(three.peak, rel=0.02)
    for part, pm in est.memory.parts.items():
        assert pm.kept.at(3) == pytest.approx(three.kept.get(part, 0), rel=0.02, abs=1024), part
    assert {p: 3 * n for p, n in est.flops.items()} == {p: n for p, n in three.flops.items() if n}


def test_max_batch():
    from reno_exp.cost.estimate import GiB, Linear, MemoryPrediction, PartMemory, max_batch

    pred = MemoryPrediction({"denoiser": PartMemory(10 * GiB, Linear(0, GiB), Linear(0, 0))},
                            Linear(1 * GiB, 2 * GiB), None)
    assert pred.total(1) == 13 * GiB
    assert max_batch(pred, 80 * GiB, headroom=0.1) == 30  # (72 - 10 - 1) / 2
    assert max_batch(pred, 80 * GiB, headroom=0.0) == 34
    assert max_batch(pred, 12 * GiB, headroom=0.0) == 0
