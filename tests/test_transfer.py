"""Noise transfer to multi-step pipelines: tiny random pipelines render deterministic, batch-independent images
of the right shape; each target is wired as the authors' (scheduler, guidance, size conditioning, shared
FLUX networks); a noise that does not fit is a one-line error; the real targets build on the meta device."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import EulerDiscreteScheduler
from hydra.utils import instantiate
from test_generators import flux_dir, sdxl_dir  # noqa: F401  (module fixtures: tiny hub layouts)

from reno_exp.config.errors import UserError
from reno_exp.config.placement import placed
from reno_exp.generators.parts import arch
from reno_exp.generators.tiny import tiny_sd_parts
from reno_exp.transfer.sd import SDTransfer, TinySDTransfer

RES = 64
PROMPTS = ["a red cube on top of a blue sphere", "a green cat"]


def noises(gen_or_shape, seeds=(0, 1)):
    shape = gen_or_shape if isinstance(gen_or_shape, tuple) else gen_or_shape.latent_shape
    return torch.stack([torch.randn(shape, generator=torch.Generator().manual_seed(s)) for s in seeds])


@pytest.fixture(scope="module")
def tiny():
    return TinySDTransfer(steps=2)  # the option's 4 steps would only take longer


def test_tiny_transfer_renders_deterministic_per_item_images(tiny, tiny_generator):
    assert tiny.latent_shape == tiny_generator.latent_shape == (4, 8, 8)
    z = noises(tiny_generator)
    images = tiny.render(z, PROMPTS)
    assert images.shape == (2, 3, RES, RES) and images.dtype == torch.float32 and images.device.type == "cpu"
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0
    assert not torch.allclose(images[0], images[1])
    torch.rand(3)  # the global RNG must not matter
    torch.testing.assert_close(tiny.render(z, PROMPTS), images, atol=0, rtol=0)
    torch.testing.assert_close(tiny.render(z[1:], PROMPTS[1:]), images[1:], atol=1e-5, rtol=1e-4)  # batch-free


def test_steps_and_guidance_are_the_pipelines(tiny, tiny_generator):
    z = noises(tiny_generator, (0,))
    base = tiny.render(z, PROMPTS[:1])
    assert not torch.allclose(TinySDTransfer(steps=1).render(z, PROMPTS[:1]), base, atol=1e-3)
    assert not torch.allclose(TinySDTransfer(steps=2, guidance=1.0).render(z, PROMPTS[:1]), base, atol=1e-3)


def test_ancestral_noise_is_fixed_per_item_by_the_seed(tiny_generator):
    t = TinySDTransfer(scheduler="EulerAncestralDiscreteScheduler", seed=3, steps=2, guidance=1.0)
    z = noises(tiny_generator)
    images = t.render(z, PROMPTS)
    torch.testing.assert_close(t.render(z, PROMPTS), images, atol=0, rtol=0)
    torch.testing.assert_close(t.render(z[1:], PROMPTS[1:]), images[1:], atol=1e-5, rtol=1e-4)
    other = TinySDTransfer(scheduler="EulerAncestralDiscreteScheduler", seed=4, steps=2, guidance=1.0).render(
        z, PROMPTS)
    assert (other - images).abs().max() > 1e-3


def test_a_noise_that_does_not_fit_is_a_one_line_error(tiny):
    with pytest.raises(UserError, match=r"\(4, 16, 16\).*\(4, 8, 8\).*transfer.resolution=128 would fit") as e:
        tiny.check_noise_shape((4, 16, 16))
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="does not fit"):
        tiny.check_noise_shape((1024, 64))
    with pytest.raises(UserError, match="does not fit"):
        tiny.render(torch.zeros(1, 4, 16, 16), ["x"])
    with pytest.raises(UserError, match="not a diffusers scheduler"):
        TinySDTransfer(scheduler="Euler")
    with pytest.raises(UserError, match="transfer.steps"):
        TinySDTransfer(steps=0)


@pytest.fixture(scope="module")
def sd21_dir(tmp_path_factory):
    """Tiny SD 2.x parts in stable-diffusion-2-1-base's layout, with its PNDM scheduler config."""
    root = tmp_path_factory.mktemp("sd21_base")
    for name, part in tiny_sd_parts(weights_seed=6).items():
        if name != "scheduler":
            part.save_pretrained(root / name)
    # the repo's file as it is (no timestep_spacing key), not as a newer diffusers would write it
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(
        json.dumps({"_class_name": "PNDMScheduler", **arch("sd21_base", "scheduler")}))
    return root


def test_sd21_transfer_is_euler_from_its_config_the_same_steps_as_our_unet_loop(sd21_dir):
    from reno_exp.generators.sd_turbo import SDTurbo

    t = SDTransfer(hub_id=str(sd21_dir), steps=2, guidance=1.0, resolution=RES, dtype="float32")
    sched = t.pipe.scheduler
    assert type(sched) is EulerDiscreteScheduler and sched.config.timestep_spacing == "linspace"
    # an independent check of the wiring: without guidance the pipeline's 2 steps are our 2-step UNet map (SD-Turbo's
    # loop, loading the same files: SD 2.1's layout, and Euler from the same scheduler config)
    ours = SDTurbo(hub_id=str(sd21_dir), resolution=RES, dtype="float32", num_inference_steps=2)
    assert ours.scheduler.config == sched.config
    z = noises(ours.latent_shape, (2,))
    with torch.no_grad():
        expected = ours(z, ours.encode_prompt(PROMPTS[0])).image
    torch.testing.assert_close(t.render(z, PROMPTS[:1]), expected, atol=2e-5, rtol=1e-4)
    assert sched.timesteps.tolist() == [999.0, 0.0]  # linspace over 0..999
    guided = SDTransfer(hub_id=str(sd21_dir), steps=2, resolution=RES, dtype="float32")
    assert guided.guidance == 7.5 and not torch.allclose(guided.render(z, PROMPTS[:1]), expected, atol=1e-3)


def unet_calls(unet) -> list[dict]:
    calls = []
    unet.register_forward_pre_hook(lambda m, args, kwargs: calls.append({"batch": args[0].shape[0], **kwargs}),
                                   with_kwargs=True)
    return calls


@pytest.mark.slow  # a tiny SDXL pipeline built twice, two guided renders each
def test_sdxl_transfer_guides_and_is_size_conditioned_on_1024_as_the_authors(sdxl_dir):  # noqa: F811
    from reno_exp.transfer.sdxl import SDXLTransfer

    t = SDXLTransfer(hub_id=str(sdxl_dir), vae_id="", steps=2, resolution=RES, dtype="float32")
    assert type(t.pipe.scheduler) is EulerDiscreteScheduler and t.latent_shape == (4, 8, 8)
    calls = unet_calls(t.pipe.unet)
    z = noises(t.latent_shape)
    images = t.render(z, PROMPTS)
    assert images.shape == (2, 3, RES, RES) and len(calls) == 2
    assert calls[0]["batch"] == 4  # classifier-free guidance: unconditional + conditional
    assert calls[0]["added_cond_kwargs"]["time_ids"][0].tolist() == [1024, 1024, 0, 0, 1024, 1024]
    own = SDXLTransfer(hub_id=str(sdxl_dir), vae_id="", steps=2, resolution=RES, dtype="float32",
                       size_conditioning=None)
    calls = unet_calls(own.pipe.unet)
    assert not torch.allclose(own.render(z, PROMPTS), images, atol=1e-4)
    assert calls[0]["added_cond_kwargs"]["time_ids"][0].tolist() == [RES, RES, 0, 0, RES, RES]


@pytest.mark.slow  # three tiny FLUX builds
def test_flux_transfer_is_the_four_step_generator_and_shares_its_networks(flux_dir):  # noqa: F811
    from reno_exp.generators.flux_schnell import FluxSchnell
    from reno_exp.transfer.flux import FluxTransfer

    gen = FluxSchnell(hub_id=str(flux_dir), resolution=RES, dtype="float32", num_inference_steps=4)
    shared = FluxTransfer(hub_id=str(flux_dir), resolution=RES, dtype="float32", generator=gen)
    own = FluxTransfer(hub_id=str(flux_dir), resolution=RES, dtype="float32")
    assert shared.pipe.transformer is gen.transformer and own.pipe.transformer is not gen.transformer
    assert shared.pipe.scheduler is not gen.scheduler
    assert shared.latent_shape == gen.latent_shape == (16, 64)
    z = gen.sample_noise(0)
    with torch.no_grad():
        expected = gen(z, gen.encode_prompt(PROMPTS[0])).image
    torch.testing.assert_close(shared.render(z, PROMPTS[:1]), expected, atol=2e-5, rtol=1e-4)
    torch.testing.assert_close(own.render(z, PROMPTS[:1]), expected, atol=2e-5, rtol=1e-4)
    with pytest.raises(UserError, match=r"\(64, 64\).*\(16, 64\).*transfer.resolution=128 would fit"):
        shared.check_noise_shape((64, 64))


REAL = {  # option -> latent shape at its default resolution, parameters of its networks
    "sd21_base": ((4, 64, 64), {"unet": 865_910_724, "vae": 83_653_863, "text_encoder": 340_387_840}),
    "sdxl_base": ((4, 64, 64), {"unet": 2_567_463_684, "vae": 83_653_863, "text_encoder": 123_060_480,
                                "text_encoder_2": 694_659_840}),
    "flux_schnell": ((1024, 64), {"transformer": 11_891_178_560, "vae": 83_819_683, "text_encoder": 123_060_480,
                                  "text_encoder_2": 4_762_310_656}),
}


@pytest.mark.parametrize("name", REAL)
def test_random_init_builds_each_real_target_on_the_meta_device(compose, name):
    cfg = placed(compose([f"transfer={name}", "random_init=true", "device=meta"]))
    with torch.device("meta"):
        t = instantiate(cfg.transfer, random_init=True, device="meta")
    shape, counts = REAL[name]
    assert t.latent_shape == shape
    assert {k: sum(p.numel() for p in getattr(t.pipe, k).parameters()) for k in counts} == counts


@pytest.mark.parametrize("model,transfer,fits", [
    ("sd_turbo", "sd21_base", None), ("sdxl_turbo", "sdxl_base", None), ("flux_schnell", "flux_schnell", None),
    ("hyper_sdxl", "sdxl_base", "transfer.resolution=1024 would fit"), ("sd_turbo", "flux_schnell", "does not fit"),
])
def test_the_paper_pairs_fit_and_others_fail_before_any_work(compose, model, transfer, fits):
    cfg = placed(compose([f"model={model}", f"transfer={transfer}", "random_init=true", "device=meta"]))
    with torch.device("meta"):
        gen = instantiate(cfg.model, random_init=True, device="meta")
        t = instantiate(cfg.transfer, random_init=True, device="meta", generator=gen)
    if fits is None:
        t.check_noise_shape(gen.latent_shape)
    else:
        with pytest.raises(UserError, match=fits):
            t.check_noise_shape(gen.latent_shape)


def test_none_is_no_transfer(compose):
    assert compose([]).transfer is None and compose(["transfer=none"]).transfer is None
    assert instantiate(compose([]).transfer, random_init=False, device="cpu", generator=None) is None
    assert compose(["transfer=tiny"]).transfer.steps == 4


def test_prefetch_lists_each_targets_checkpoints():
    from reno_exp.config.compose import compose
    from reno_exp.weights.needs import needed

    def names(*overrides):
        return {c.name: c for c in needed(compose(["reward=color", *overrides]))}

    sdxl = names("model=sdxl_turbo", "transfer=sdxl_base")
    assert set(sdxl) == {"stabilityai/sdxl-turbo", "madebyollin/sdxl-vae-fp16-fix",
                         "stabilityai/stable-diffusion-xl-base-1.0"}
    assert sdxl["stabilityai/stable-diffusion-xl-base-1.0"].ignore_patterns == ("vae/*.safetensors",)
    assert set(names("model=sd_turbo", "transfer=sd21_base")) == {"stabilityai/sd-turbo",
                                                                  "stabilityai/stable-diffusion-2-1-base"}
    assert set(names("model=flux_schnell", "transfer=flux_schnell")) == {"black-forest-labs/FLUX.1-schnell"}
    assert names("transfer=tiny") == {} and names("transfer=sdxl_base", "random_init=true") == {}


@pytest.mark.slow
def test_a_run_with_transfer_records_evaluates_and_tables_both_image_sets(compose, tmp_path, capsys):
    """model=tiny reward=color transfer=tiny: each item's initial and best noise are rendered by the
    multi-step model too; evaluate scores those image sets and the tables give them rows of their own."""
    from PIL import Image

    from reno_exp import tables
    from reno_exp.evaluate.scoring import main as evaluate
    from reno_exp.experiment.run import run
    from reno_exp.store.records import read_records

    run(compose(["transfer=tiny", "benchmark=t2i_compbench", "benchmark.limit=1", "benchmark.seeds=[0,1]",
                 "optimizer.n_iters=2", "progress=false"]), tmp_path)
    records = read_records(tmp_path)
    assert len(records) == 2
    for r in records:
        for name in ("initial_transfer", "best_transfer"):
            assert Image.open(tmp_path / r[f"{name}_image"]).size == (64, 64)
            assert list((tmp_path / "t2i_compbench" / name / "samples").glob("*.png"))
        initial, best = (Image.open(tmp_path / r[f"{n}_transfer_image"]) for n in ("initial", "best"))
        assert initial.tobytes() != best.tobytes()  # the optimised noise renders another image
    assert evaluate([str(tmp_path), "random_init=true", "tiny=true", "metrics=[t2i_compbench]"]) == 0
    scored = {json.loads(x)["image_set"] for x in (tmp_path / "evaluation.jsonl").read_text().splitlines()}
    assert scored == {"initial", "best", "initial_transfer", "best_transfer"}
    assert tables.main([str(tmp_path), "--no-wandb"]) == 0
    out = capsys.readouterr().out
    assert "| tiny → tiny [optimizer.n_iters=2] |" in out  # the initial noises through the transfer model
    assert "| tiny + ReNO (color) → tiny [optimizer.n_iters=2] |" in out
