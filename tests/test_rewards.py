"""The learned rewards: gradients to the noise, score conventions, the text cache, strict checkpoint
loading through the real loaders, clear offline errors, full-size architectures (on the meta device)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from omegaconf import OmegaConf

from reno_exp import methods
from reno_exp.config.optimizer import OptimizerConfig
from reno_exp.generators.base import Generation, OneStepGenerator
from reno_exp.rewards.aesthetic import AestheticReward
from reno_exp.rewards.base import RewardSet
from reno_exp.rewards.clipscore import CLIPScoreReward
from reno_exp.rewards.hpsv2 import HPSv2Reward
from reno_exp.rewards.imagereward import MEAN, STD, ImageRewardReward
from reno_exp.rewards.pickscore import PickScoreReward
from reno_exp.rewards.preprocess import clip_preprocess
from reno_exp.rewards.towers import CheckpointMismatchError
from reno_exp.weights.checkpoints import LocalFile
from reno_exp.weights.hub import MissingWeightsError

CLASSES = {
    "hpsv2": HPSv2Reward,
    "imagereward": ImageRewardReward,
    "clip": CLIPScoreReward,
    "pickscore": PickScoreReward,
    "aesthetic": AestheticReward,
}
PROMPT = "a red dog and a green cat"


def tiny(name, **kw):
    torch.manual_seed(0)
    return CLASSES[name](random_init=True, tiny=True, **kw)


@pytest.fixture(scope="module")
def tiny_rewards():
    return {name: tiny(name) for name in CLASSES}


# ---------------------------------------------------------------------------------------------- gradient


@pytest.mark.slow
def test_gradient_reaches_the_noise_through_every_reward(tiny_rewards, tiny_generator):
    z = tiny_generator.sample_noise(0).requires_grad_(True)
    image = tiny_generator(z, tiny_generator.encode_prompt(PROMPT)).image  # one generator graph, five rewards
    for name, reward in tiny_rewards.items():
        score = reward(image, reward.prepare(PROMPT))
        assert score.shape == (1,) and score.dtype == torch.float32, name
        (grad,) = torch.autograd.grad(score.sum(), z, retain_graph=True)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name


@pytest.mark.parametrize("name", ["hpsv2", "imagereward"])
def test_gradient_checkpointing_keeps_scores_and_gradients(name):
    image = torch.rand(2, 3, 96, 96)
    out = {}
    for ckpt in (False, True):
        reward = tiny(name, gradient_checkpointing=ckpt)
        x = image.clone().requires_grad_(True)
        s = reward(x, reward.prepare(PROMPT))
        s.sum().backward()
        out[ckpt] = (s.detach(), x.grad)
    torch.testing.assert_close(out[True][0], out[False][0])
    torch.testing.assert_close(out[True][1], out[False][1])


def test_bfloat16_towers_score_in_float32_close_to_float32():
    image = torch.rand(1, 3, 64, 64)
    s32 = tiny("hpsv2")(image, tiny("hpsv2").prepare(PROMPT))
    r16 = tiny("hpsv2", dtype="bfloat16")
    assert next(r16.model.parameters()).dtype == torch.bfloat16
    s16 = r16(image, r16.prepare(PROMPT))
    assert s16.dtype == torch.float32
    assert abs(s16.item() - s32.item()) < 0.02


# ----------------------------------------------------------------------------------------- conventions


def test_hps_score_is_the_cosine_max_one_min_minus_one(tiny_rewards):
    r = tiny_rewards["hpsv2"]
    pixels = clip_preprocess(torch.rand(1, 3, 224, 224))
    with torch.no_grad():
        feats = r.model.encode_image(pixels)
        assert r.score(pixels, feats).item() == pytest.approx(1.0, abs=1e-5)
        assert r.score(pixels, -3 * feats).item() == pytest.approx(-1.0, abs=1e-5)


@pytest.mark.parametrize("name", ["clip", "pickscore"])
def test_clip_scores_are_logit_scale_times_cosine(name, tiny_rewards):
    r = tiny_rewards[name]
    pixels = clip_preprocess(torch.rand(1, 3, 224, 224))
    with torch.no_grad():
        feats = r.model.get_image_features(pixel_values=pixels).pooler_output
        scale = r.model.logit_scale.exp().item()
        assert r.score(pixels, 2 * feats).item() == pytest.approx(scale, rel=1e-5)  # identical direction: max
        other = torch.randn_like(feats)
        cos = torch.nn.functional.cosine_similarity(feats, other).item()
        assert r.score(pixels, other).item() == pytest.approx(scale * cos, rel=1e-4, abs=1e-5)


def test_imagereward_is_the_standardised_mlp_output(tiny_rewards):
    r = tiny_rewards["imagereward"]
    text = r.encode_text(PROMPT)
    pixels = clip_preprocess(torch.rand(1, 3, 224, 224))
    last = r.mlp.layers[7]
    with torch.no_grad():
        saved = last.weight.clone(), last.bias.clone()
        try:
            last.weight.zero_()
            for raw in (MEAN, MEAN + STD, 0.0):  # the head's output, whatever the image: known scores
                last.bias.fill_(raw)
                assert r.score(pixels, text).item() == pytest.approx((raw - MEAN) / STD, abs=1e-6)
        finally:
            last.weight.copy_(saved[0])
            last.bias.copy_(saved[1])


def test_aesthetic_reads_the_normalised_embedding(tiny_rewards):
    r = tiny_rewards["aesthetic"]
    pixels = clip_preprocess(torch.rand(2, 3, 224, 224))
    with torch.no_grad():
        e = r.visual(pixels)
        expected = r.mlp(e / e.norm(dim=-1, keepdim=True))
        torch.testing.assert_close(r.score(pixels), expected)
        assert r.prepare("anything") is None
        torch.testing.assert_close(r.evaluate(torch.rand(1, 3, 64, 64)).shape, torch.Size([1]))


def test_offsets_and_weights_of_reward_all(compose):
    cfg = compose(["reward=all"])
    assert {k: v.weight for k, v in cfg.reward.items()} == {
        "hpsv2": 5.0, "imagereward": 1.0, "clip": 0.01, "pickscore": 0.05}
    assert {n: c.offset for n, c in CLASSES.items()} == {
        "hpsv2": 1.0, "imagereward": 2.0, "clip": 100.0, "pickscore": 30.0, "aesthetic": 10.0}
    assert compose(["reward=all", "reward.hpsv2.weight=2"]).reward.hpsv2.weight == 2.0


def test_reward_set_loss_uses_each_offset(tiny_rewards):
    rs = RewardSet({"hpsv2": tiny_rewards["hpsv2"], "clip": tiny_rewards["clip"]}, {"hpsv2": 5.0, "clip": 0.01})
    image = torch.rand(1, 3, 64, 64)
    loss, scores = rs(image, rs.prepare(PROMPT))
    expected = 5.0 * (1.0 - scores["hpsv2"]) + 0.01 * (100.0 - scores["clip"])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


# ------------------------------------------------------------------------------------------ text cache


class PixelGenerator(OneStepGenerator):
    """image = sigmoid(noise): a differentiable stand-in generator that costs nothing."""

    latent_shape = (3, 64, 64)

    def encode_prompt(self, prompt):
        return None

    def forward(self, noise, cond):
        return Generation(image=torch.sigmoid(noise), latent=noise)


@pytest.mark.parametrize("name", ["hpsv2", "imagereward"])
def test_text_cache_is_hit_after_the_first_iteration(name):
    n = 3
    tiny_generator = PixelGenerator()
    cfg = OmegaConf.merge(OmegaConf.structured(OptimizerConfig), {"n_iters": n})
    runs = {}
    for cache in (True, False):
        reward = tiny(name, cache_text=cache)
        rs = RewardSet({name: reward}, {name: 1.0})
        noise = tiny_generator.noise_stream(seed=0)
        result = methods.optimise(tiny_generator, rs, tiny_generator.encode_prompt(PROMPT), rs.prepare(PROMPT), [noise], cfg)[0]
        runs[cache] = (reward.text_encodes, [h[name] for h in result.history])
    assert runs[True][0] == 1  # in prepare, then never again
    assert runs[False][0] == n  # once per iterate, as the authors' code
    assert runs[True][1] == pytest.approx(runs[False][1], rel=1e-5, abs=1e-6)


# ------------------------------------------------------------------------------------- strict loading


def test_hps_loads_a_saved_state_dict_strictly(tmp_path, tiny_rewards):
    src = tiny_rewards["hpsv2"]
    path = tmp_path / "hps.pt"
    torch.save({"state_dict": src.model.state_dict()}, path)
    loaded = HPSv2Reward(tiny=True, checkpoint=LocalFile(str(path)))
    image = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded(image, loaded.prepare(PROMPT)), src(image, src.prepare(PROMPT)))

    sd = dict(src.model.state_dict())
    for broken, what in (
        ({k: v for k, v in sd.items() if k != "ln_final.weight"}, "missing"),
        ({**sd, "extra.weight": torch.zeros(1)}, "unexpected"),
        ({**sd, "ln_final.weight": torch.zeros(7)}, "shape"),
    ):
        torch.save({"state_dict": broken}, path)
        with pytest.raises(CheckpointMismatchError, match=what):
            HPSv2Reward(tiny=True, checkpoint=LocalFile(str(path)))


def test_imagereward_loads_strictly_with_the_old_position_ids(tmp_path, tiny_rewards):
    src = tiny_rewards["imagereward"]
    sd = dict(src.state_dict())
    n_pos = src.blip.text_encoder.embeddings.position_embeddings.num_embeddings
    sd["blip.text_encoder.embeddings.position_ids"] = torch.arange(n_pos).unsqueeze(0)  # as saved in 2023
    torch.save(sd, tmp_path / "ImageReward.pt")
    med = json.loads((__import__("reno_exp.rewards.imagereward", fromlist=["x"]).MED_CONFIG).read_text())
    med.update(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    (tmp_path / "med_config.json").write_text(json.dumps(med))
    src.tokenizer.save_pretrained(tmp_path / "tok")
    loaded = ImageRewardReward(tiny=True, tokenizer=str(tmp_path / "tok"), checkpoint=LocalFile(str(tmp_path / "ImageReward.pt")),
                               med_config=LocalFile(str(tmp_path / "med_config.json")))
    image = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded(image, loaded.prepare(PROMPT)), src(image, src.prepare(PROMPT)))
    sd.pop("mlp.layers.7.bias")
    torch.save(sd, tmp_path / "ImageReward.pt")
    with pytest.raises(CheckpointMismatchError, match="mlp.layers.7.bias"):
        ImageRewardReward(tiny=True, tokenizer=str(tmp_path / "tok"), checkpoint=LocalFile(str(tmp_path / "ImageReward.pt")),
                          med_config=LocalFile(str(tmp_path / "med_config.json")))


def test_clip_rewards_load_through_from_pretrained(tmp_path, tiny_rewards):
    src = tiny_rewards["pickscore"]
    src.model.save_pretrained(tmp_path / "model")
    src.tokenizer.save_pretrained(tmp_path / "processor")
    loaded = PickScoreReward(model=str(tmp_path / "model"), processor=str(tmp_path / "processor"))
    image = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded(image, loaded.prepare(PROMPT)), src(image, src.prepare(PROMPT)))


def test_aesthetic_loads_open_clip_and_mlp_weights(tmp_path, tiny_rewards):
    from reno_exp.rewards.openclip_towers import build_clip

    src = tiny_rewards["aesthetic"]
    clip = build_clip("ViT-L-14-quickgelu", tiny=True)
    clip.visual.load_state_dict(src.visual.state_dict())
    torch.save(clip.state_dict(), tmp_path / "clip.pt")
    torch.save(src.mlp.state_dict(), tmp_path / "mlp.pth")
    loaded = AestheticReward(tiny=True, clip_checkpoint=LocalFile(str(tmp_path / "clip.pt")),
                             checkpoint=LocalFile(str(tmp_path / "mlp.pth")))
    image = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(loaded(image), src(image))


# ------------------------------------------------------------------------------------------- offline


@pytest.mark.parametrize("name,names", [
    ("hpsv2", "xswu/HPSv2:HPS_v2.1_compressed.pt"),
    ("imagereward", "THUDM/ImageReward:med_config.json"),
    ("clip", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
    ("pickscore", "yuvalkirstain/PickScore_v1"),
])
def test_missing_checkpoint_fails_fast_and_names_it(name, names, monkeypatch, waits):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="prefetch") as e:
        CLASSES[name](tiny=True)
    assert names in str(e.value)
    assert waits == {"connect": [], "sleep": []}  # no connection tried, no retry waited for


def test_offline_empty_tokenizer_is_refused(tmp_path, tiny_rewards, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tiny_rewards["clip"].model.save_pretrained(tmp_path / "model")  # weights there, tokenizer only on the hub
    with pytest.raises(MissingWeightsError, match="laion/CLIP-ViT-H-14-laion2B-s32B-b79K"):
        CLIPScoreReward(model=str(tmp_path / "model"))


# ------------------------------------------------------------------------------- full-size architectures


def test_full_size_architectures_on_meta():
    """The random_init builds are the published architectures (parameter counts of the released models)."""
    from transformers import CLIPModel

    from reno_exp.rewards.clipscore import clip_config
    from reno_exp.rewards.imagereward import BLIP, MED_CONFIG, VIT_L
    from reno_exp.rewards.openclip_towers import build_clip, count_parameters

    with torch.device("meta"):
        hps = build_clip("ViT-H-14")
        aesthetic = build_clip("ViT-L-14-quickgelu")
        hf = CLIPModel(clip_config())
        blip = BLIP(json.loads(MED_CONFIG.read_text()), VIT_L)
    assert count_parameters(hps) == count_parameters(hf)  # one architecture in two libraries
    assert math.isclose(count_parameters(hps), 986.11e6, rel_tol=1e-3)  # open_clip's table: ViT-H-14
    assert math.isclose(count_parameters(aesthetic), 427.62e6, rel_tol=1e-3)  # ViT-L-14
    assert hf.vision_model.config.patch_size == 14 and hf.text_model.config.num_hidden_layers == 24
    vit = blip.visual_encoder
    assert (vit.patch_embed.proj.kernel_size, len(vit.blocks), vit.embed_dim) == ((16, 16), 24, 1024)
    bert = blip.text_encoder
    assert bert.config.hidden_size == 768 and bert.config.num_hidden_layers == 12
    assert bert.encoder.layer[0].crossattention.self.key.in_features == 1024  # cross-attention to ViT-L tokens
    assert bert.embeddings.word_embeddings.num_embeddings == 30524  # bert-base-uncased + [DEC] + [ENC]


# ------------------------------------------------------------------------------------------- the app


@pytest.mark.slow
def test_app_records_every_reward_by_name(compose, tmp_path):
    from reno_exp.experiment.run import run

    cfg = compose(["model=tiny", "reward=all", "random_init=true", "tiny=true", "optimizer.n_iters=2",
                   "device=cpu", "progress=false", "save_images=false"])
    records = run(cfg, tmp_path)
    row = json.loads(records.path.read_text().splitlines()[0])
    for part in ("initial", "best"):
        assert set(row[part]) == {"hpsv2", "imagereward", "clip", "pickscore", "total"}
        total = sum(w * row[part][n] for n, w in (("hpsv2", 5.0), ("imagereward", 1.0), ("clip", 0.01), ("pickscore", 0.05)))
        assert row[part]["total"] == pytest.approx(total, rel=1e-5)
