"""``python -m reno_exp.prefetch``: what a config needs, and clear failures where nothing can be fetched."""

from __future__ import annotations

import pytest

from reno_exp import prefetch
from reno_exp.config.compose import CONF, compose
from reno_exp.weights import needs
from reno_exp.weights.checkpoints import HubFile, HubRepo, UrlFile
from reno_exp.weights.hub import MissingWeightsError


def names(overrides):
    return [c.name for c in needs.needed(compose(overrides))]


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
    laion = next(c for c in needs.needed(compose(["reward=all"])) if c.name.startswith("laion/"))
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
    monkeypatch.setattr(needs, "PROVIDERS", [lambda cfg: [extra]])
    assert names(["model=tiny", "reward=hpsv2"])[-1] == "someone/detector:weights.pth"


def test_offline_fails_at_once_naming_every_checkpoint(monkeypatch, capsys, waits):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert prefetch.main(["model=tiny", "reward=imagereward"]) == 1
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "THUDM/ImageReward:ImageReward.pt" in err
    assert waits == {"connect": [], "sleep": []}  # no connection tried, no retry waited for


def test_unreachable_hub_fails_fast(monkeypatch, capsys, waits):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert prefetch.main(["model=tiny", "reward=hpsv2"]) == 1
    assert "not reachable" in capsys.readouterr().err
    assert waits["sleep"] == [] and 1 <= len(waits["connect"]) <= 2, waits  # one try (two addresses), no retries


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
    from reno_exp.evaluate import scoring as evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate, "checkpoints", lambda: [HubFile("someone/evaluator", "w.pt"), HubFile("xswu/HPSv2", "HPS_v2.1_compressed.pt")])
    assert prefetch.main(["--list", "--evaluate", "model=tiny", "reward=hpsv2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["xswu/HPSv2:HPS_v2.1_compressed.pt", "someone/evaluator:w.pt"]


# ------------------------------------------------------------------ missing weights: all at once, before building
def fake_hub_cache(root, repo: str, files: dict[str, bytes]) -> None:
    """The hub client's cache layout: refs/main -> a commit, snapshots/<commit>/<files>."""
    base = root / f"models--{repo.replace('/', '--')}"
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text("0" * 40)
    for name, data in files.items():
        (base / "snapshots" / ("0" * 40) / name).parent.mkdir(parents=True, exist_ok=True)
        (base / "snapshots" / ("0" * 40) / name).write_bytes(data)


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HOME", str(tmp_path))
    return tmp_path / "hub"


def test_require_names_every_missing_checkpoint_and_the_commands(hub_cache):
    overrides = ["model=sd_turbo", "reward=all"]
    with pytest.raises(MissingWeightsError) as e:
        needs.require_weights(compose(overrides), overrides)
    message = str(e.value)
    assert e.value.checkpoints == names(overrides)  # all seven, not the first
    assert message.startswith("weights for 7 checkpoints are not available (HF_HUB_OFFLINE is set): stabilityai/sd-turbo, ")
    assert "python -m reno_exp.prefetch model=sd_turbo reward=all" in message
    # the installed hub client's CLI, one command per repository (ImageReward's two files in one)
    assert "hf download THUDM/ImageReward ImageReward.pt med_config.json" in message
    assert "hf download xswu/HPSv2 HPS_v2.1_compressed.pt" in message
    assert "huggingface-cli" not in message and len(message.splitlines()) <= 3


def test_require_skips_what_is_cached(hub_cache):
    fake_hub_cache(hub_cache, "xswu/HPSv2", {"HPS_v2.1_compressed.pt": b"w"})
    needs.require_weights(compose(["reward=hpsv2"]), [])  # cached: no error
    with pytest.raises(MissingWeightsError) as e:
        needs.require_weights(compose(["reward=[hpsv2,pickscore]"]), [])
    assert e.value.checkpoints == ["yuvalkirstain/PickScore_v1", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"]


def test_cached_hub_repos_and_their_alternatives(hub_cache):
    repo = HubRepo("org/model", allow_patterns=("config.json",), one_of=("model.safetensors", "pytorch_model.bin"))
    assert not repo.cached()
    fake_hub_cache(hub_cache, "org/model", {"config.json": b"{}"})
    assert not repo.cached()  # the snapshot has no weights file of the alternatives
    (hub_cache / "models--org--model" / "snapshots" / ("0" * 40) / "pytorch_model.bin").write_bytes(b"w")
    assert repo.cached()
    assert repo.command() == "hf download org/model --include config.json --include model.safetensors"


def test_local_directories_are_not_hub_downloads(tmp_path, hub_cache):
    (tmp_path / "mine").mkdir()
    assert HubRepo(str(tmp_path / "mine")).cached() and HubRepo(str(tmp_path / "mine")).command() is None
    assert not HubFile(str(tmp_path / "mine"), "w.pt").cached()
    (tmp_path / "mine" / "w.pt").write_bytes(b"w")
    assert HubFile(str(tmp_path / "mine"), "w.pt").cached()


def test_online_missing_weights_are_left_to_the_loaders(hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(needs, "hub_reachable", lambda: None)
    needs.require_weights(compose(["reward=hpsv2"]), [])  # downloads on first use: no error
    monkeypatch.setattr(needs, "hub_reachable", lambda: "https://huggingface.co is not reachable (URLError)")
    with pytest.raises(MissingWeightsError, match="not reachable"):
        needs.require_weights(compose(["reward=hpsv2"]), [])


def test_a_run_names_its_missing_weights_before_building(compose, tmp_path, hub_cache, monkeypatch):
    from reno_exp.experiment.run import run

    monkeypatch.setattr("reno_exp.assemble.parts.build", lambda *a: pytest.fail("nothing is built without the weights"))
    with pytest.raises(MissingWeightsError) as e:
        run(compose(["model=sdxl_turbo", "reward=[hpsv2,imagereward]"]), tmp_path / "run")
    assert e.value.checkpoints[:2] == ["stabilityai/sdxl-turbo", "madebyollin/sdxl-vae-fp16-fix"]
    assert len(e.value.checkpoints) == 6
    assert not (tmp_path / "run" / "results.jsonl").exists() or not (tmp_path / "run" / "results.jsonl").read_text()


def test_hf_command_of_a_load_name():
    from reno_exp.weights.hub import hf_command

    assert hf_command("org/repo") == "hf download org/repo"
    assert hf_command("org/repo:unet") == "hf download org/repo --include 'unet/*'"
    assert hf_command("org/repo:w.safetensors") == "hf download org/repo w.safetensors"
    assert hf_command("/data/my-model") is None


@pytest.mark.parametrize("args, line", [
    (["--list", "model=sdxl_trubo"], "unknown model option 'sdxl_trubo': did you mean sdxl_turbo?"),
    (["reward=[hpsv2,imagerewrd]"], "unknown reward option 'imagerewrd': did you mean imagereward?"),
    (["--list", "experiment=tabel1"], "unknown experiment option 'tabel1': did you mean table1?"),
    (["--list", "modl=tiny"], "unknown key 'modl': did you mean model?"),
    (["--list", "model=sd_turbo", "model.hub_idd=x"], "unknown key 'model.hub_idd': did you mean model.hub_id?"),
    (["--list", "optimizer.n_iters=abc"], "could not be converted to Integer"),
    (["--list", "model="], "model= needs an option: flux_schnell,"),
    (["--list", "model=sd_turbo,tiny"], "model=sd_turbo,tiny is a sweep: prefetch takes one configuration"),
])
def test_bad_overrides_are_one_line_with_exit_code_2(args, line, capsys):
    assert prefetch.main(args) == 2
    err = capsys.readouterr().err
    assert line in err and len(err.strip().splitlines()) == 1, err


def test_prefetch_typo_from_the_command_line():
    import os
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "reno_exp.prefetch", "--list", "model=sdxl_trubo"], capture_output=True,
                       text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=CONF.parent, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "error: unknown model option 'sdxl_trubo': did you mean sdxl_turbo? (options: flux_schnell, hyper_sdxl, "
        "pixart_dmd, sana_sprint, sd_turbo, sdxl_turbo, tiny)"]


def test_null_lists_in_the_config_are_skipped():
    # parti_prompts leaves benchmark.challenges null: the walk over the config must not iterate it
    assert names(["benchmark=parti_prompts", "reward=hpsv2"]) == ["xswu/HPSv2:HPS_v2.1_compressed.pt"]
    assert names(["experiment=figure3"]) == ["stabilityai/stable-diffusion-xl-base-1.0",
                                             "ByteDance/Hyper-SD:Hyper-SDXL-1step-Unet.safetensors"]
