"""The evaluators' models, tiny and random (offline), through their real loading paths, and the
``python -m reno_exp.evaluate`` command on run directories written here in the documented format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from reno_exp.config.errors import UserError
from reno_exp.evaluate import t2i_compbench_rules as t2i_rules
from reno_exp.weights.hub import MissingWeightsError


def noise_image(seed: int, size=(48, 40)) -> Image.Image:
    return Image.fromarray(np.random.RandomState(seed).randint(0, 256, (size[1], size[0], 3), dtype=np.uint8))


# ---------------------------------------------------------------- BLIP-VQA
@pytest.fixture(scope="module")
def blip():
    from reno_exp.evaluate.blip_vqa import BlipVQA

    return BlipVQA(random_init=True, tiny=True)


def test_blip_layout_and_product_of_answers(blip):
    assert (blip.dec_id, blip.enc_id) == (30522, 30523)  # BLIP's [DEC] and [ENC] after BERT's vocabulary
    assert blip.yes_id != blip.no_id and "tiny random weights" in blip.name
    images = [noise_image(0), noise_image(1)]
    answers = blip.answer(images, ["a red dog?", "a green cat?"])
    assert answers.shape == (2, 2) and ((answers > 0) & (answers < 1)).all()
    # the excluded chunk asks nothing; the score is the product of the two answers
    scores = blip.score(images, ["a red dog", "the left", "a green cat"])
    assert scores == [t2i_rules.attribute_score(row) for row in answers.tolist()]  # upstream's rounding
    assert scores == pytest.approx(answers.prod(dim=1).tolist(), abs=1e-4)
    assert blip.score(images, ["top"]) == [1.0, 1.0]


def test_blip_question_starts_with_enc(blip, monkeypatch):
    seen = {}
    encoder = blip.model.text_encoder.forward

    def spy(*args, **kwargs):
        seen["ids"] = kwargs["input_ids"].clone()
        return encoder(*args, **kwargs)

    monkeypatch.setattr(blip.model.text_encoder, "forward", spy)
    blip.answer([noise_image(0)], ["a red dog?"])
    assert seen["ids"][0, 0].item() == blip.enc_id


def test_blip_loads_from_a_saved_checkpoint(blip, tmp_path):
    from reno_exp.evaluate.blip_vqa import BlipVQA

    blip.model.save_pretrained(tmp_path)
    blip.tokenizer.save_pretrained(tmp_path)
    loaded = BlipVQA(checkpoint=str(tmp_path))
    assert "random" not in loaded.name and loaded.enc_id == blip.enc_id
    images = [noise_image(3)]
    assert torch.allclose(loaded.answer(images, ["a blue car?"]), blip.answer(images, ["a blue car?"]))


def test_missing_weights_are_one_clear_error():
    from reno_exp.evaluate.blip_vqa import BlipVQA

    with pytest.raises(MissingWeightsError, match="blip-vqa-capfilt-large"):
        BlipVQA()


# ---------------------------------------------------------------- spaCy
def test_spacy_model_absent_names_the_download(monkeypatch):
    import spacy

    from reno_exp.evaluate import noun_phrases

    def absent(name):
        raise OSError(f"[E050] Can't find model '{name}'")

    monkeypatch.setattr(spacy, "load", absent)
    with pytest.raises(UserError, match="python -m spacy download en_core_web_sm"):
        noun_phrases.EnglishParser()


def test_random_spacy_pipeline_tags_every_token():
    from reno_exp.evaluate.noun_phrases import TAG_TO_POS, EnglishParser

    parsed = EnglishParser(random_init=True)("a red dog on the left of a green cat")
    assert [tok.text for tok in parsed.tokens][:3] == ["a", "red", "dog"]
    assert all(tok.pos in set(TAG_TO_POS.values()) for tok in parsed.tokens)  # tag -> POS mapped


# ---------------------------------------------------------------- detectors
@pytest.mark.slow
def test_mask2former_detections_follow_their_masks(tmp_path):
    from reno_exp.evaluate.geneval import class_names
    from reno_exp.evaluate.mask2former import Mask2FormerDetector

    names = class_names()
    assert len(names) == 80 and names[0] == "person"
    det = Mask2FormerDetector(names, random_init=True, tiny=True, scale=(133, 80))
    image = noise_image(5)
    found = det.detect(image)
    all_dets = [d for ds in found.values() for d in ds]
    assert len(all_dets) == 100  # mmdet's top 100 (query, class) pairs, no score cut
    for d in all_dets:
        assert d.mask.shape == (image.height, image.width) and 0 <= d.score <= 1
        if d.mask.any():
            ys, xs = np.nonzero(d.mask)
            assert d.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    det.model.save_pretrained(tmp_path)
    loaded = Mask2FormerDetector(names, checkpoint=str(tmp_path), scale=(133, 80))
    again = loaded.detect(image)
    assert sorted(again) == sorted(found)
    for name in found:
        assert [d.score for d in again[name]] == pytest.approx([d.score for d in found[name]], rel=1e-4)


def test_owl_detector_names_and_frame():
    from reno_exp.evaluate.spatial import OwlDetector, unidet_scale

    assert unidet_scale(512, 512) == pytest.approx(479 / 512)
    assert unidet_scale(1024, 512) == pytest.approx(480 / 1024)  # the longer side capped at 480
    det = OwlDetector(random_init=True, tiny=True, threshold=0.0)
    found = det.detect(noise_image(2, (64, 32)), ["dog", "cat"])
    assert found and {f.name for f in found} <= {"dog", "cat"}
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)
    assert det.detect(noise_image(2), []) == []


# ---------------------------------------------------------------- the command
def write_run(run, records, size=(48, 40)):
    """A run directory in the documented format: images, iterates and results.jsonl lines."""
    (run / "images").mkdir(parents=True)
    (run / "iterates").mkdir()
    lines = []
    for i, (prompt, meta) in enumerate(records):
        key = f"{i:05d}_00"
        noise_image(2 * i, size).save(run / "images" / f"{key}_initial.png")
        noise_image(2 * i + 1, size).save(run / "images" / f"{key}_best.png")
        noise_image(2 * i + 1, size).save(run / "iterates" / f"{key}_002.png")
        lines.append({"key": key, "index": i, "k": 0, "prompt": prompt, "seed": 0, "meta": meta,
                      "initial_image": f"images/{key}_initial.png", "image": f"images/{key}_best.png",
                      "iterates": [f"iterates/{key}_002.png"]})
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return lines


def rows(run):
    return [json.loads(line) for line in (run / "evaluation.jsonl").read_text().splitlines()]


GENEVAL = {"suite": "geneval", "tag": "counting", "include": [{"class": "clock", "count": 2}],
           "exclude": [{"class": "clock", "count": 3}]}


def test_evaluate_aesthetic_resumes_and_repairs_a_torn_line(tmp_path):
    from reno_exp.evaluate.scoring import evaluate, load_config

    run = tmp_path / "sweep" / "0"
    write_run(run, [("a photo of two clocks", GENEVAL), ("a red dog", {"suite": "t2i_compbench", "category": "color"})])
    cfg = load_config(["metrics=[aesthetic]", "random_init=true", "tiny=true", "progress=false"])
    assert evaluate(tmp_path / "sweep", cfg) == {run: 4}  # a sweep directory: its runs found below
    first = rows(run)
    assert {(r["key"], r["image_set"]) for r in first} == {(k, s) for k in ("00000_00", "00001_00")
                                                            for s in ("initial", "best")}
    assert all(r["metric"] == "aesthetic" and "tiny random weights" in r["evaluator"] for r in first)
    assert evaluate(run, cfg) == {run: 0}  # resumed: nothing recomputed
    # a killed run leaves half a line: it is cut off and that score computed again, the same
    data = (run / "evaluation.jsonl").read_bytes()
    (run / "evaluation.jsonl").write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 1] + b'{"key": "000')
    assert evaluate(run, cfg) == {run: 1}
    assert rows(run) == first
    # iterates on request, named iter_XXX
    cfg = load_config(["metrics=[aesthetic]", "random_init=true", "tiny=true", "progress=false", "iterates=true"])
    assert evaluate(run, cfg) == {run: 2}
    assert {r["image_set"] for r in rows(run)} == {"initial", "best", "iter_002"}


def test_evaluate_config_errors(tmp_path):
    from reno_exp.evaluate.scoring import load_config, run_dirs

    with pytest.raises(UserError, match=r"metrics\[0\] must be one of t2i_compbench, geneval, aesthetic, got 'fid'"):
        load_config(["metrics=[fid]"])
    with pytest.raises(UserError, match="unknown key 'geneval.treshold': did you mean geneval.threshold"):
        load_config(["geneval.treshold=0.2"])
    with pytest.raises(UserError, match="tiny=true needs random_init=true"):
        load_config(["tiny=true"])
    with pytest.raises(UserError, match="no run under"):
        run_dirs(tmp_path)


def test_evaluate_names_every_missing_weight_before_building(tmp_path, monkeypatch, capsys):
    from reno_exp.evaluate import scoring as evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(evaluate, "build", lambda *a: pytest.fail("nothing is built without the weights"))
    write_run(tmp_path / "r", [("a photo of two clocks", GENEVAL)])
    before = (tmp_path / "r" / "results.jsonl").read_bytes()
    assert evaluate.main([str(tmp_path / "r"), "metrics=[geneval,aesthetic]", "progress=false"]) == 2
    message = capsys.readouterr().err.removeprefix("error: ")
    # GenEval's detector and CLIP, the aesthetic MLP (its CLIP is GenEval's, named once): all at once
    assert message.startswith("weights for 3 checkpoints are not available")
    for name in ("facebook/mask2former-swin-small-coco-instance", "timm/vit_large_patch14_clip_224.openai",
                 "sac%2Blogos%2Bava1-l14-linearMSE.pth"):
        assert name in message
    assert "python -m reno_exp.prefetch --evaluate" in message and "hf download facebook/mask2former" in message
    assert len(message.splitlines()) <= 3 and "huggingface-cli" not in message
    assert (tmp_path / "r" / "results.jsonl").read_bytes() == before
    assert not (tmp_path / "r" / "evaluation.jsonl").exists() or not (tmp_path / "r" / "evaluation.jsonl").read_text()


@pytest.mark.slow
def test_evaluate_geneval_and_t2i_compbench_offline(tmp_path):
    from reno_exp.evaluate.scoring import evaluate, load_config, main

    categories = ["color", "shape", "texture", "spatial", "non_spatial", "complex"]
    t2i = [(f"a red dog on the left of a green cat {c}", {"suite": "t2i_compbench", "category": c}) for c in categories]
    run_t, run_g = tmp_path / "t2i", tmp_path / "geneval"
    write_run(run_t, t2i)
    write_run(run_g, [("a photo of two clocks", GENEVAL),
                      ("a photo of a purple wine glass and a black apple",
                       {"suite": "geneval", "tag": "color_attr", "include": [
                           {"class": "wine glass", "count": 1, "color": "purple"},
                           {"class": "apple", "count": 1, "color": "black"}]})])
    overrides = ["random_init=true", "tiny=true", "progress=false", "geneval.input_scale=[133,80]",
                 "metrics=[t2i_compbench,geneval]"]
    assert main([str(run_t), *overrides]) == 0
    assert main([str(run_g), *overrides]) == 0
    by_metric = {}
    for r in rows(run_t) + rows(run_g):
        by_metric.setdefault(r["metric"], []).append(r)
    assert len(by_metric["t2i_compbench"]) == 2 * len(categories) and len(by_metric["geneval"]) == 4
    assert all(r["score"] in (0.0, 1.0) for r in by_metric["geneval"])
    assert all(-1 <= r["score"] <= 1 for r in by_metric["t2i_compbench"])
    names = {r["key"]: r["evaluator"] for r in by_metric["t2i_compbench"]}
    assert "BLIP-VQA" in names["00000_00"] and "CLIP ViT-B/32" in names["00004_00"]
    assert "port of T2I-CompBench's UniDet spatial rule" in names["00003_00"] and "3-in-1" in names["00005_00"]
    assert all("port of mmdet Mask2Former" in r["evaluator"] for r in by_metric["geneval"])
    # a record of an unsupported category is a clear error, not a silent skip
    write_run(tmp_path / "3d", [("a cat in front of a dog", {"suite": "t2i_compbench", "category": "3d_spatial"})])
    with pytest.raises(UserError, match="not supported"):
        evaluate(tmp_path / "3d", load_config(overrides))
