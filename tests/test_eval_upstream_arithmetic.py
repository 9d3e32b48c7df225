"""Evaluator arithmetic exactly as the official scorers do it, on constructed inputs.

Expected values are derived by hand from the upstream code, cited by file and line:
- T2I-CompBench (github.com/Karine-Huang/T2I-CompBench): BLIPvqa_eval/BLIP_vqa.py,
  BLIPvqa_eval/models/blip_vqa.py, UniDet_eval/2D_spatial_eval.py;
- GenEval (github.com/djghosh13/geneval): evaluation/evaluate_images.py (numpy 1.23.1, mmdet 2.x:
  boxes and scores are float32 arrays).
Each constructed case is one where a plain float64 reimplementation gives a different answer. The
``upstream_*`` functions transcribe the upstream lines for a randomised comparison as well.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from reno_exp.evaluate import geneval_rules as g
from reno_exp.evaluate import t2i_compbench_rules as t

F32_03 = float(np.float32(0.3))  # 0.30000001192092896: mmdet's float32 score "0.3"
ABOVE_03 = float(np.nextafter(np.float32(0.3), np.float32(1)))  # the next float32 up


# ---------------------------------------------------------------- T2I-CompBench BLIP-VQA
def upstream_blip(answers: list[float], np_num: int = 8) -> float:
    """BLIP_vqa.py:80 (float32 zeros), :104 float(answer) where models/blip_vqa.py:125 wrote
    '{:.4f}'.format(p), :106 unasked questions are 1, :108-110 product in float32, :117 '{:.4f}'."""
    reward = torch.zeros((1, np_num))
    for i in range(np_num):
        if i < len(answers):
            reward[0][i] = float("{:.4f}".format(torch.tensor(answers[i], dtype=torch.float32)))  # noqa: UP032 (verbatim)
        else:
            reward[0][i] = 1
    reward_final = reward[:, 0]
    for i in range(1, np_num):
        reward_final *= reward[:, i]
    return float("{:.4f}".format(reward_final[0].item()))  # noqa: UP032 (verbatim)


@pytest.mark.parametrize("answers, expected", [
    # float32(0.33335) = 0.33335000277 -> '0.3334'; 0.3334^3 = 0.03705... -> 0.0371 (plain product 0.03704 -> 0.037)
    ([0.33335, 0.33335, 0.33335], 0.0371),
    # float32(0.99995) = 0.99994999170 -> '0.9999'; 0.9999^2 = 0.99980001 -> 0.9998 (plain 0.99990 -> 0.9999)
    ([0.99995, 0.99995], 0.9998),
    # '0.5' and '0.0001'; in float32 0.0001 is 9.99999975e-05, times 0.5 = 4.99999988e-05 < 5e-05 -> 0.0
    # (a float64 product 5.0000000000000002e-05 rounds up to 0.0001)
    ([0.5, 0.0001], 0.0),
    ([0.00004], 0.0),  # '0.0000' (the unrounded answer would be 4e-05)
    ([], 1.0),  # no noun phrase: every column is 1 (:106) -> '1.0000'
])
def test_blip_attribute_score_rounds_like_upstream(answers, expected):
    a32 = [float(np.float32(a)) for a in answers]  # BLIP's answers are float32
    assert t.attribute_score(a32) == expected
    assert upstream_blip(a32) == expected


def test_blip_constructed_cases_differ_from_a_plain_product():
    # the cases above are not the plain product rounded: the test can tell the two apart
    assert round(math.prod([float(np.float32(0.33335))] * 3), 4) == 0.037
    assert float(f"{0.5 * 0.0001:.4f}") == 0.0001


def test_blip_attribute_score_matches_upstream_transcription():
    rng = random.Random(0)
    for _ in range(300):
        n = rng.randint(1, 8)
        # answers on a grid near rounding boundaries (x.xxxx5) and anywhere in [0, 1]
        answers = [float(np.float32(rng.choice([rng.random(), rng.randint(0, 9999) / 1e4 + 5e-5])))
                   for _ in range(n)]
        assert t.attribute_score(answers) == upstream_blip(answers), answers


def test_round4_is_upstreams_format():
    assert t.round4(0.12345) == 0.1235  # the double 0.12345 is 0.123450000000000004...: rounds up
    assert t.round4(float(np.float32(0.00005))) == 0.0  # float32(5e-05) = 4.99999987e-05: rounds down
    assert t.round4(0.00005) == 0.0001  # the double 5e-05 is 5.0000000000000002e-05: rounds up
    assert t.round4(0.00004999) == 0.0


# ---------------------------------------------------------------- T2I-CompBench spatial (UniDet rule)
def test_position_score_guards_union_zero():
    # Two zero-area boxes: upstream 2D_spatial_eval.py:38-39 computes union = 0 and divides by it
    # (ZeroDivisionError, the evaluation stops). Here the IoU is taken as 0: box2's centre is 10 px to
    # the right (dx = 10 > 0, |dx| > |dy|, iou 0 < 0.1 -> 1, lines 56-59).
    a, b = t.Box(0, 0, 0, 0), t.Box(10, 0, 10, 0)
    assert t.position_score("on the left of", a, b) == 1.0
    assert t.position_score("on the right of", a, b) == 0.0
    with pytest.raises(ZeroDivisionError):  # what the upstream line does with these boxes' areas
        _ = 0.0 / ((a.area + b.area) - 0.0)


def test_equal_scores_keep_detector_order_in_the_spatial_rule():
    assert t.by_confidence([0.5, 0.9, 0.5, 0.9]) == [1, 3, 0, 2]
    # two dogs of equal confidence: the rule takes the first one found (2D_spatial_eval.py:234, list.index)
    left, right = t.Box(0, 0, 10, 10), t.Box(400, 0, 410, 10)
    dogs = [t.Found("dog", right, 0.8), t.Found("dog", left, 0.8)]
    found = [dogs[i] for i in t.by_confidence([d.score for d in dogs])] + [t.Found("cat", t.Box(200, 0, 210, 10), 0.9)]
    # dog = the box on the right; "dog on the left of cat": 0.25 * 0.8 + 0.25 * 0.9 + 0 / 2 < 0.5 -> 0
    assert t.spatial_score("dog", "cat", "on the left of", found) == 0.0
    assert t.spatial_score("dog", "cat", "on the right of", found) == pytest.approx(0.25 * 0.8 + 0.25 * 0.9 + 0.5)


# ---------------------------------------------------------------- GenEval selection
def upstream_select(scores: np.ndarray, boxes: np.ndarray, threshold: float, max_objects: int = 16,
                    nms: float = 1.0) -> list[int]:
    """evaluate_images.py:232-242 on one class's float32 (N, 5) bbox array; returns kept row indices."""
    bbox = np.concatenate([boxes, scores[:, None]], axis=1).astype(np.float32)

    def compute_iou(box_a, box_b):  # :130-137
        area_fn = lambda box: max(box[2] - box[0] + 1, 0) * max(box[3] - box[1] + 1, 0)  # noqa: E731
        i_area = area_fn([max(box_a[0], box_b[0]), max(box_a[1], box_b[1]),
                          min(box_a[2], box_b[2]), min(box_a[3], box_b[3])])
        u_area = area_fn(box_a) + area_fn(box_b) - i_area
        return i_area / u_area if u_area else 0

    ordering = np.argsort(bbox[:, 4], kind="stable")[::-1]  # :232 (numpy 1.23 quicksort: stable for <= 17)
    ordering = ordering[bbox[ordering, 4] > threshold]
    ordering = ordering[:max_objects].tolist()
    kept = []
    while ordering:
        max_obj = ordering.pop(0)
        kept.append(max_obj)
        ordering = [o for o in ordering if nms == 1 or compute_iou(bbox[max_obj], bbox[o]) < nms]
    return kept


def dets(scores, boxes=None):
    boxes = boxes or [(i * 20.0, 0.0, i * 20.0 + 10, 10.0) for i in range(len(scores))]
    return [g.Detection(b, s) for b, s in zip(boxes, scores)]


def test_threshold_is_compared_in_float32():
    # a float32 score equal to float32(0.3) is not above 0.3: numpy compares a float32 array with the
    # Python float in float32 (:233), and float32(0.3) > float32(0.3) is False. The next float32 passes.
    out = g.select({"dog": dets([F32_03, ABOVE_03])}, 0.3, g.Thresholds())
    assert [d.score for d in out["dog"]] == [ABOVE_03]
    assert F32_03 > 0.3  # a float64 comparison would have kept it
    assert not g.select({"dog": dets([F32_03])}, 0.3, g.Thresholds())
    f32_09 = float(np.float32(0.9))  # counting's threshold (:230, :287)
    assert not g.select({"dog": dets([f32_09])}, 0.9, g.Thresholds())


def test_equal_scores_come_in_reverse_detector_order():
    # np.argsort([.5, .7, .5, .5]) = [0, 2, 3, 1] (stable), reversed (:232): [1, 3, 2, 0]
    assert g.upstream_order([0.5, 0.7, 0.5, 0.5]) == [1, 3, 2, 0]
    d = dets([0.5, 0.7, 0.5, 0.5])
    out = g.select({"dog": d}, 0.3, g.Thresholds())["dog"]
    assert out == [d[1], d[3], d[2], d[0]]
    # which boxes a two-object clause reads (evaluate's [:count], :176): rows 1 and 3, not 1 and 0
    meta = {"tag": "position", "include": [{"class": "cat", "count": 1}, {"class": "dog", "count": 2, "position": ["right of", 0]}]}
    cat = {"cat": [g.Detection((0.0, 0.0, 10.0, 10.0), 0.9)]}
    boxes = [(300.0, 0, 310, 10), (300.0, 0, 310, 10), (300.0, 0, 310, 10), (-300.0, 0, -290, 10)]
    # row 3 is left of the cat: upstream reads rows 1 and 3 and fails; a stable descending sort (1, 0) would pass
    dogs = g.select({"dog": dets([0.5, 0.7, 0.5, 0.5], boxes)}, 0.3, g.Thresholds())
    ok, _ = g.evaluate({**cat, **dogs}, meta, lambda *_: [])
    assert not ok


def test_box_iou_float32_and_union_zero_guard():
    # upstream compute_iou (:136-137) returns 0 when the union is 0: both boxes inverted (area clamps to 0)
    assert g.box_iou((5, 5, 3, 3), (5, 5, 3, 3)) == 0.0
    a, b = (0.0, 0.0, 9.0, 9.0), (5.0, 0.0, 14.0, 9.0)
    assert g.box_iou(a, b) == float(np.float32(50) / np.float32(150))


def test_select_matches_upstream_transcription():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 17))
        # scores on a coarse grid (ties) plus the float32 neighbours of the thresholds
        pool = np.array([0.3, 0.9, ABOVE_03, 0.5, 0.7, 0.95, 0.2], dtype=np.float32)
        scores = rng.choice(pool, n).astype(np.float32)
        xy = rng.integers(0, 50, (n, 2)).astype(np.float32)
        boxes = np.concatenate([xy, xy + rng.integers(1, 30, (n, 2))], axis=1).astype(np.float32)
        for threshold, nms in ((0.3, 1.0), (0.9, 1.0), (0.3, 0.5)):
            d = [g.Detection(tuple(map(float, boxes[i])), float(scores[i])) for i in range(n)]
            got = g.select({"x": d}, threshold, g.Thresholds(max_objects=5, max_overlap=nms)).get("x", [])
            want = upstream_select(scores, boxes, threshold, max_objects=5, nms=nms)
            assert [d.index(x) for x in got] == want


def test_relative_position_in_float32():
    # evaluate_images.py:142-157 on float32 boxes (:142 builds the array from mmdet's float32 rows).
    # Zero-size box a at (1, s) with s = float32(sqrt 3), b at the origin: no margin (sizes 0), so
    # dx = 1 / |(1, s)|. In float32 1 + s^2 rounds to 4: |offset| = 2, dx = 0.5, not > 0.5 (:154): only
    # "below". In float64 s^2 = 2.9999999 < 3, dx = 0.50000001: "right of" as well. (mmdet's mask boxes
    # are whole pixels, where the two agree; the boundary is a matter of principle.)
    s = float(np.float32(np.sqrt(3)))
    assert g.relative_position((1.0, s, 1.0, s), (0.0, 0.0, 0.0, 0.0)) == {"below"}
    assert 1 / math.hypot(1.0, s) > 0.5  # the float64 share
    # and randomly, against the transcription of :142-157
    rng = np.random.default_rng(1)
    for _ in range(300):
        a = rng.uniform(0, 512, 4).astype(np.float32)
        b = rng.uniform(0, 512, 4).astype(np.float32)
        boxes = np.array([np.r_[a, 0.5], np.r_[b, 0.5]], dtype=np.float32)[:, :4].reshape(2, 2, 2)
        center_a, center_b = boxes.mean(axis=-2)
        dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
        offset = center_a - center_b
        revised = np.maximum(np.abs(offset) - 0.1 * (dim_a + dim_b), 0) * np.sign(offset)
        want = set()
        if not np.all(np.abs(revised) < 1e-3):
            dx, dy = revised / np.linalg.norm(offset)
            want = {r for r, c in (("left of", dx < -0.5), ("right of", dx > 0.5), ("above", dy < -0.5),
                                   ("below", dy > 0.5)) if c}
        assert g.relative_position(tuple(map(float, a)), tuple(map(float, b))) == want
