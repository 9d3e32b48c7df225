"""The benchmarks' scoring rules on constructed inputs with known answers (no model, no weights)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reno_exp.config.errors import UserError
from reno_exp.evaluate import geneval_rules as g
from reno_exp.evaluate import t2i_compbench_rules as t
from reno_exp.evaluate.mask2former import instances, mask_boxes, rescale_size


def det(x1, y1, x2, y2, score=0.95):
    return g.Detection((x1, y1, x2, y2), score)


def never(name, dets):
    raise AssertionError("colour classification must not run for this clause")


# ---------------------------------------------------------------- GenEval: position
def test_relative_position_four_directions():
    centre = (100, 100, 140, 140)
    assert g.relative_position((0, 100, 40, 140), centre) == {"left of"}
    assert g.relative_position((200, 100, 240, 140), centre) == {"right of"}
    assert g.relative_position((100, 0, 140, 40), centre) == {"above"}
    assert g.relative_position((100, 200, 140, 240), centre) == {"below"}
    # far along both axes: both directions (each component share 0.707 > 0.5)
    assert g.relative_position((0, 0, 40, 40), (200, 200, 240, 240)) == {"left of", "above"}


def test_relative_position_margin_and_threshold():
    # centres 30 px apart, boxes 40 wide: the 0.1 * (40 + 40) = 8 px margin leaves 22/30 > 0.5: "left of"
    assert g.relative_position((0, 0, 40, 40), (30, 0, 70, 40)) == {"left of"}
    # 10 px apart: 2 px left, 2/10 < 0.5 of the offset: no relation; 6 px: swallowed by the margin
    assert g.relative_position((0, 0, 40, 40), (10, 0, 50, 40)) == set()
    assert g.relative_position((0, 0, 40, 40), (6, 0, 46, 40)) == set()
    # a larger margin (16 px) leaves 14/30 < 0.5 of the 30 px
    assert g.relative_position((0, 0, 40, 40), (30, 0, 70, 40), margin=0.2) == set()
    # mostly vertical offset with a small horizontal one: only "above" passes the 0.5 share
    assert g.relative_position((0, 0, 40, 40), (30, 200, 70, 240)) == {"above"}


def test_box_iou_inclusive_pixels():
    assert g.box_iou((0, 0, 9, 9), (0, 0, 9, 9)) == 1.0
    assert g.box_iou((0, 0, 9, 9), (10, 0, 19, 9)) == 0.0
    assert g.box_iou((0, 0, 9, 9), (5, 0, 14, 9)) == pytest.approx(50 / 150)


# ---------------------------------------------------------------- GenEval: selection
def test_select_threshold_order_cap():
    th = g.Thresholds(max_objects=2)
    dets = {"dog": [det(0, 0, 1, 1, 0.3), det(0, 0, 1, 1, 0.5), det(0, 0, 1, 1, 0.9), det(0, 0, 1, 1, 0.7)],
            "cat": [det(0, 0, 1, 1, 0.2)]}
    out = g.select(dets, 0.3, th)
    assert [d.score for d in out["dog"]] == [0.9, 0.7]  # strictly above 0.3, best first, at most 2
    assert "cat" not in out


def test_select_suppression_only_below_overlap_one():
    dets = {"dog": [det(0, 0, 10, 10, 0.9), det(0, 0, 10, 10, 0.8), det(50, 50, 60, 60, 0.7)]}
    assert len(g.select(dets, 0.3, g.Thresholds())["dog"]) == 3  # 1.0: no suppression (GenEval's default)
    assert len(g.select(dets, 0.3, g.Thresholds(max_overlap=0.5))["dog"]) == 2


def test_thresholds_per_tag():
    th = g.Thresholds()
    assert th.for_tag("counting") == 0.9
    assert all(th.for_tag(tag) == 0.3 for tag in g.TAGS if tag != "counting")


# ---------------------------------------------------------------- GenEval: every tag
def test_single_object():
    meta = {"tag": "single_object", "include": [{"class": "bench", "count": 1}]}
    assert g.evaluate({"bench": [det(0, 0, 5, 5)]}, meta, never)[0]
    ok, reasons = g.evaluate({"dog": [det(0, 0, 5, 5)]}, meta, never)
    assert not ok and "expected bench>=1, found 0" in reasons[0]


def test_two_object():
    meta = {"tag": "two_object", "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 1}]}
    assert g.evaluate({"cat": [det(0, 0, 5, 5)], "dog": [det(9, 9, 15, 15)]}, meta, never)[0]
    assert not g.evaluate({"cat": [det(0, 0, 5, 5)]}, meta, never)[0]


def test_counting_is_exact_and_uses_its_threshold():
    meta = {"tag": "counting", "include": [{"class": "clock", "count": 2}], "exclude": [{"class": "clock", "count": 3}]}
    th = g.Thresholds()
    raw = {"clock": [det(0, 0, 5, 5, 0.95), det(10, 0, 15, 5, 0.92), det(20, 0, 25, 5, 0.5)]}
    # at the counting threshold (0.9) the third clock does not count: exactly two
    assert g.evaluate(g.select(raw, th.for_tag("counting"), th), meta, never, th)[0]
    # at the ordinary 0.3 all three count: the exclude clause fails
    ok, reasons = g.evaluate(g.select(raw, 0.3, th), meta, never, th)
    assert not ok and "expected clock<3, found 3" in reasons[0]
    # one clock is too few
    assert not g.evaluate({"clock": raw["clock"][:1]}, meta, never, th)[0]


def test_colors_classifies_the_most_confident_objects():
    meta = {"tag": "colors", "include": [{"class": "car", "count": 1, "color": "red"}]}
    seen = []

    def classify(name, dets):
        seen.append((name, len(dets)))
        return ["red" if d.score > 0.9 else "blue" for d in dets]

    two_cars = {"car": [det(0, 0, 5, 5, 0.95), det(10, 0, 15, 5, 0.5)]}
    assert g.evaluate(two_cars, meta, classify)[0]
    assert seen == [("car", 1)]  # only the first `count` detections are classified
    blue = {"car": [det(0, 0, 5, 5, 0.5)]}
    ok, reasons = g.evaluate(blue, meta, classify)
    assert not ok and "expected red car>=1" in reasons[0] and "1 blue" in reasons[0]


def test_position():
    meta = {"tag": "position", "include": [{"class": "teddy bear", "count": 1},
                                           {"class": "dog", "count": 1, "position": ["right of", 0]}]}
    bear = det(0, 100, 40, 140)
    assert g.evaluate({"teddy bear": [bear], "dog": [det(200, 100, 240, 140)]}, meta, never)[0]
    ok, reasons = g.evaluate({"teddy bear": [bear], "dog": [det(-200, 100, -160, 140)]}, meta, never)
    assert not ok and "expected dog right of target, found left of target" in reasons[0]
    # no bear: the dog has no target
    ok, reasons = g.evaluate({"dog": [det(200, 100, 240, 140)]}, meta, never)
    assert not ok and any("no target for dog" in r for r in reasons)


def test_color_attr():
    meta = {"tag": "color_attr", "include": [{"class": "wine glass", "count": 1, "color": "purple"},
                                             {"class": "apple", "count": 1, "color": "black"}]}
    dets = {"wine glass": [det(0, 0, 5, 5)], "apple": [det(10, 0, 15, 5)]}
    right = {"wine glass": "purple", "apple": "black"}
    swapped = {"wine glass": "black", "apple": "purple"}
    assert g.evaluate(dets, meta, lambda name, ds: [right[name]] * len(ds))[0]
    assert not g.evaluate(dets, meta, lambda name, ds: [swapped[name]] * len(ds))[0]


# ---------------------------------------------------------------- GenEval detector post-processing (mmdet)
def test_rescale_size_like_mmcv():
    assert rescale_size(512, 512) == (800, 800)
    assert rescale_size(1024, 512) == (1333, 667)  # the long side binds
    assert rescale_size(640, 480) == (1067, 800)


def test_mask_boxes_are_exclusive_and_empty_is_zero():
    masks = torch.zeros(2, 10, 12, dtype=torch.bool)
    masks[0, 2:5, 3:9] = True  # rows 2-4, columns 3-8
    assert mask_boxes(masks).tolist() == [[3.0, 2.0, 9.0, 5.0], [0.0, 0.0, 0.0, 0.0]]


def test_instances_topk_over_query_class_pairs_and_mask_score():
    # 2 queries, 3 classes + no-object; query 0 is class 2 (p=.6), query 1 class 0 (p=.5)
    probs = torch.tensor([[0.1, 0.1, 0.6, 0.2], [0.5, 0.2, 0.1, 0.2]])
    logits = probs.log()
    masks = torch.full((2, 4, 4), -10.0)
    masks[0, :2, :2] = 2.0  # mean sigmoid inside = sigmoid(2)
    masks[1, 1:3, 1:4] = 0.0  # logit 0 is not > 0: empty mask, score 0
    masks[1, 3, 3] = 4.0
    labels, scores, boxes, binary = instances(logits, masks, max_per_image=3)
    assert labels.tolist() == [2, 0, 1]  # pairs (q0, c2) .6, (q1, c0) .5, (q1, c1) .2
    s = torch.sigmoid(torch.tensor(2.0))
    assert scores[0].item() == pytest.approx(0.6 * s.item(), rel=1e-5)
    assert scores[1].item() == pytest.approx(0.5 * torch.sigmoid(torch.tensor(4.0)).item(), rel=1e-5)
    assert boxes[0].tolist() == [0, 0, 2, 2] and boxes[1].tolist() == [3, 3, 4, 4]
    assert binary.shape == (3, 4, 4) and binary[2].equal(binary[1])  # the third pair is query 1 again


# ---------------------------------------------------------------- T2I-CompBench: BLIP-VQA questions and answers
def test_questions_from_noun_chunks():
    chunks = ["A red book", "top", "the left", "a yellow vase", "the side", "the right"]
    assert t.vqa_questions(chunks) == ["a red book?", "a yellow vase?"]
    assert t.vqa_questions([f"thing {i}" for i in range(12)]) == [f"thing {i}?" for i in range(8)]
    assert t.vqa_questions(['the "big" (blue) car.']) == ["the big blue car?"]
    assert t.vqa_questions([]) == []


def test_yes_probability_from_first_step_logits():
    logits = torch.full((2, 10), -5.0)
    logits[0, 3], logits[0, 7] = 2.0, 0.0  # yes = 3, no = 7
    logits[1, 3], logits[1, 7] = -1.0, 1.0
    logits[1, 5] = 9.0  # another answer's mass does not change the ratio
    p = t.yes_probability(logits, yes_id=3, no_id=7)
    assert p.tolist() == pytest.approx([1 / (1 + math.exp(-2)), 1 / (1 + math.exp(2))], rel=1e-5)


def test_attribute_score_is_product():
    assert t.attribute_score([0.5, 0.8]) == pytest.approx(0.4)
    assert t.attribute_score([]) == 1.0


# ---------------------------------------------------------------- T2I-CompBench: spatial
B = t.Box


def test_relation_of_prompt():
    assert t.relation_of("a dog on the left of a cat") == "on the left of"
    assert t.relation_of("a cup near a plate") == "near"
    assert t.relation_of("a book on top of a table") == "on top of"
    assert t.relation_of("a red dog") is None


def test_position_score_each_relation():
    left, right = B(0, 0, 100, 100), B(300, 0, 400, 100)
    top, bottom = B(0, 0, 100, 100), B(0, 300, 100, 400)
    assert t.position_score("on the left of", left, right) == 1
    assert t.position_score("on the left of", right, left) == 0
    assert t.position_score("on the right of", right, left) == 1
    assert t.position_score("on the top of", top, bottom) == 1
    assert t.position_score("on the bottom of", bottom, top) == 1
    assert t.position_score("on the bottom of", top, bottom) == 0
    # mostly vertical: not "left of" even though it is to the left
    assert t.position_score("on the left of", B(0, 0, 10, 10), B(20, 300, 30, 310)) == 0
    # overlapping boxes: iou_threshold / iou
    a, b = B(0, 0, 100, 100), B(50, 0, 150, 100)
    assert t.position_score("on the left of", a, b) == pytest.approx(0.1 / (5000 / 15000))
    # "on top of" has no branch in the official rule
    assert t.position_score("on top of", top, bottom) == 0


def test_position_score_next_to_distance():
    assert t.position_score("next to", B(0, 0, 10, 10), B(100, 400, 110, 410)) == 1  # |dx| < 150
    assert t.position_score("near", B(0, 0, 10, 10), B(300, 600, 310, 610)) == pytest.approx(150 / 600)


def tokens(spec: str) -> list[t.Token]:
    """"a/DET red/ADJ dog/NOUN" -> tokens."""
    out = [t.Token(*w.split("/")) for w in spec.split()]
    return out[:-1] + [t.Token(out[-1].text, out[-1].pos, "")]


def test_spatial_objects():
    simple = tokens("a/DET girl/NOUN on/ADP the/DET left/NOUN of/ADP a/DET dog/NOUN")
    assert t.simple_spatial_objects(simple) == ("girl", "dog")
    assert t.simple_spatial_objects(tokens("a/DET red/ADJ")) == (None, None)
    complex_ = tokens("the/DET red/ADJ hat/NOUN was/AUX on/ADP top/NOUN of/ADP the/DET brown/ADJ rack/NOUN ./PUNCT")
    assert t.complex_spatial_objects(complex_) == ("hat", "rack")
    left = tokens("a/DET man/NOUN sits/VERB on/ADP the/DET left/NOUN of/ADP a/DET black/ADJ car/NOUN")
    assert t.complex_spatial_objects(left) == ("man", "car")
    assert t.complex_spatial_objects(tokens("a/DET dog/NOUN runs/VERB")) == (None, None)


def test_spatial_score():
    f = t.Found
    dog, cat = f("dog", B(0, 0, 100, 100), 0.8), f("cat", B(300, 0, 400, 100), 0.6)
    # both found and well placed: 0.25*0.8 + 0.25*0.6 + 1/2
    assert t.spatial_score("dog", "cat", "on the left of", [dog, cat]) == pytest.approx(0.85)
    # wrong side: 0.35 < 0.5 -> 0
    assert t.spatial_score("cat", "dog", "on the left of", [dog, cat]) == 0
    # one object only: at most 0.25 -> 0
    assert t.spatial_score("dog", "cat", "on the left of", [dog]) == 0
    # girl/boy/man/woman are looked up as "person"; the first (most confident) match counts
    person = f("person", B(0, 0, 100, 100), 0.9)
    assert t.spatial_score("woman", "cat", "on the left of", [person, f("person", B(500, 0, 600, 100), 0.1), cat]) \
        == pytest.approx(0.25 * 0.9 + 0.25 * 0.6 + 0.5)


# ---------------------------------------------------------------- T2I-CompBench: non-spatial and complex
def test_without_adjectives():
    assert t.without_adjectives(tokens("a/DET fluffy/ADJ cat/NOUN chases/VERB a/DET red/ADJ ball/NOUN")) \
        == "a cat chases a ball"


def test_complex_kind_and_mix():
    spatial, action = {"the red hat was on top of the brown coat rack"}, {"a man rides a blue bike"}
    assert t.complex_kind("The red hat was on top of the brown coat rack.", spatial, action) == "spatial"
    assert t.complex_kind("A man rides a blue bike", spatial, action) == "action"
    assert t.complex_kind("A cat near a dog chases a ball", spatial, action) == "both"
    assert t.complex_score("spatial", attribute=0.4, spatial=0.8) == pytest.approx(0.6)
    assert t.complex_score("action", attribute=0.4, action=0.3) == pytest.approx(0.35)
    assert t.complex_score("both", attribute=0.3, spatial=0.6, action=0.3) == pytest.approx(0.4)


def test_every_category_is_dispatched_or_refused():
    from reno_exp.evaluate.t2i_compbench import T2ICompBench

    ev = T2ICompBench()  # builds nothing until a score is asked for
    for category in t.SUPPORTED:
        assert ev.category({"meta": {"suite": "t2i_compbench", "category": category}}) == category
    for category in ("3d_spatial", "numeracy"):
        with pytest.raises(UserError, match="not supported"):
            ev.category({"meta": {"suite": "t2i_compbench", "category": category}})
    with pytest.raises(UserError, match="unknown T2I-CompBench category"):
        ev.category({"key": "x", "meta": {"suite": "t2i_compbench", "category": "colour"}})
    assert set(t.CATEGORIES) == {"color", "shape", "texture", "spatial", "non_spatial", "complex", "3d_spatial",
                                 "numeracy"}


def test_masked_crop_pastes_on_grey_and_crops_to_box():
    from PIL import Image

    from reno_exp.evaluate.geneval import masked_crop

    image = Image.new("RGB", (20, 10), (255, 0, 0))
    mask = np.zeros((10, 20), dtype=bool)
    mask[2:6, 4:8] = True
    mask[2, 4] = False
    crop = np.asarray(masked_crop(image, g.Detection((4, 2, 8, 6), 1.0, mask)))
    assert crop.shape == (4, 4, 3)
    assert tuple(crop[1, 1]) == (255, 0, 0)
    assert tuple(crop[0, 0]) == (0x99, 0x99, 0x99)
