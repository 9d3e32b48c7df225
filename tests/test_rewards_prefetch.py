"""``python -m reno_exp.prefetch``: what a config needs, and clear failures where nothing can be fetched."""

from __future__ import annotations

import time

import pytest

from reno_exp import prefetch
from reno_exp.hub import MissingWeightsError
from reno_exp.rewards.checkpoints import HubFile, HubRepo, UrlFile


def names(overrides):
    return [c.name for c in prefetch.needed(prefetch.compose(overrides))]


def test_every_checkpoint_of_sd_turbo_with_all_rewards():
    got = names(["model=sd_turbo", "reward=all"])
    assert got == [
        "stabilityai/sd-turbo",
        "xswu/HPSv2:HPS_v2.1_compressed.pt",
        "THUDM/ImageReward:ImageReward.pt",
        "THUDM/ImageReward:med_config.json",
        "google-bert/bert-base-uncased",
        "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",  # CLIPScore's model and both rewards' processor: one snapshot
        "yuvalkirstain/PickScore_v1",
    ]
    laion = next(c for c in prefetch.needed(prefetch.compose(["reward=all"])) if c.name.startswith("laion/"))
    assert "vocab.json" in laion.allow_patterns and "config.json" in laion.allow_patterns
    assert laion.one_of[0] == "model.safetensors"


def test_overrides_change_what_is_fetched():
    got = names(["model=tiny", "reward=[pickscore,aesthetic]", "reward.pickscore.model=me/my-pickscore",
                 "hydra.run.dir=/tmp/ignored"])
    assert got == ["me/my-pickscore", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K",
                   "timm/vit_large_patch14_clip_224.openai:open_clip weights",
                   "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac%2Blogos%2Bava1-l14-linearMSE.pth"]
    assert names(["model=sd_turbo", "reward=all", "random_init=true"]) == []
    assert names(["model=tiny", "reward=color"]) == []


def test_providers_and_component_classes_extend_the_list(monkeypatch):
    extra = HubFile("someone/detector", "weights.pth")
    monkeypatch.setattr(prefetch, "PROVIDERS", [lambda cfg: [extra]])
    assert names(["model=tiny", "reward=hpsv2"])[-1] == "someone/detector:weights.pth"


def test_offline_fails_at_once_naming_every_checkpoint(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    assert prefetch.main(["model=tiny", "reward=imagereward"]) == 1
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "THUDM/ImageReward:ImageReward.pt" in err
    assert time.perf_counter() - start < 15


def test_unreachable_hub_fails_fast(monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.perf_counter()
    assert prefetch.main(["model=tiny", "reward=hpsv2"]) == 1
    assert "not reachable" in capsys.readouterr().err
    assert time.perf_counter() - start < 15


def test_list_prints_without_downloading(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert prefetch.main(["--list", "model=tiny", "reward=clip"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("laion/CLIP-ViT-H-14-laion2B-s32B-b79K  [config.json")


def test_url_checkpoints_live_beside_the_hub_cache(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HOME", str(tmp_path))
    spec = UrlFile("https://example.org/x/head.pth", "head.pth")
    with pytest.raises(MissingWeightsError, match="https://example.org/x/head.pth"):
        spec.path()
    (tmp_path / "reno_exp").mkdir()
    (tmp_path / "reno_exp" / "head.pth").write_bytes(b"weights")
    assert spec.path() == str(tmp_path / "reno_exp" / "head.pth")


def test_hub_checkpoints_fail_offline_with_their_name(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match="nobody/nothing"):
        HubRepo("nobody/nothing").path()


def test_evaluators_checkpoints_on_request(monkeypatch, capsys):
    from reno_exp import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate, "checkpoints", lambda: [HubFile("someone/evaluator", "w.pt"), HubFile("xswu/HPSv2", "HPS_v2.1_compressed.pt")])
    assert prefetch.main(["--list", "--evaluate", "model=tiny", "reward=hpsv2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["xswu/HPSv2:HPS_v2.1_compressed.pt", "someone/evaluator:w.pt"]
