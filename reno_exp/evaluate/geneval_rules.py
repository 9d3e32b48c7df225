"""GenEval's scoring rules (Ghosh et al., NeurIPS 2023 D&B), as pure functions of the detections.

An image is correct when every ``include`` clause holds (at least ``count`` objects of the class
above the confidence threshold; for colour clauses that many of the most confident ones classified
as the colour; for position clauses each of them placed as asked relative to every object of the
target clause) and no ``exclude`` clause does (``count`` or more objects of the class), which makes
counting exact. Thresholds: 0.3, 0.9 for the counting tag; at most 16 objects per class; no
extra non-maximum suppression (overlap 1.0). Relative position compares box centres after shrinking
the offset by 0.1 x (the sum of the two boxes' sizes) on each axis; a direction holds when its
share of the (unshrunk) offset's length exceeds 0.5.

Arithmetic as upstream (evaluation/evaluate_images.py): mmdet's boxes and scores are float32 arrays, so
scores are compared with the thresholds in float32 (a score of exactly float32(0.3) is not above 0.3,
since 0.3 is itself taken as float32), and box centres, sizes, offsets and IoUs are float32 too.
Detections of a class are ordered by ``np.argsort(scores)[::-1]``: equal scores come out in reverse
detector order (numpy 1.23's quicksort is an insertion sort, thus stable, up to 17 elements; here the
sort is always stable, so longer runs of ties keep that same reverse order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"]
COLOR_TEMPLATES = ["a photo of a {c} {cls}", "a photo of a {c}-colored {cls}", "a photo of a {c} object"]
TAGS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]
RELATIONS = ["left of", "right of", "above", "below"]


@dataclass
class Thresholds:
    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = 16
    max_overlap: float = 1.0  # 1.0: no suppression
    position_threshold: float = 0.1

    def for_tag(self, tag: str) -> float:
        return self.counting_threshold if tag == "counting" else self.threshold


@dataclass
class Detection:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    score: float
    mask: Any = field(default=None, repr=False)  # (H, W) bool array, or None


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """GenEval's compute_iou (evaluate_images.py:130-137): +1 pixel convention of inclusive box corners,
    float32 like mmdet's boxes, and 0 where the union is 0 (upstream's own guard)."""
    a, b = np.asarray(a[:4], dtype=np.float32), np.asarray(b[:4], dtype=np.float32)

    def area(box):
        return max(box[2] - box[0] + 1, 0) * max(box[3] - box[1] + 1, 0)

    inter = area([max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])])
    union = area(a) + area(b) - inter
    return float(inter / union) if union else 0.0


def upstream_order(scores: Sequence[float]) -> list[int]:
    """``np.argsort(scores)[::-1]`` of evaluate_images.py:232 with a stable sort: most confident first,
    equal scores in reverse detector order."""
    return np.argsort(np.asarray(scores, dtype=np.float32), kind="stable")[::-1].tolist()


def select(detections: dict[str, list[Detection]], threshold: float, th: Thresholds) -> dict[str, list[Detection]]:
    """Per class (evaluate_images.py:231-244): most confident first, strictly above the threshold in
    float32, at most ``max_objects``, greedy suppression of overlaps at ``max_overlap`` (off at 1.0).
    Classes left empty are dropped."""
    out = {}
    for name, dets in detections.items():
        scores = np.asarray([d.score for d in dets], dtype=np.float32)
        order = [i for i in upstream_order(scores) if scores[i] > np.float32(threshold)][: th.max_objects]
        kept = []
        while order:
            best = dets[order.pop(0)]
            kept.append(best)
            if th.max_overlap < 1:
                order = [i for i in order if np.float32(box_iou(best.box, dets[i].box)) < np.float32(th.max_overlap)]
        if kept:
            out[name] = kept
    return out


def relative_position(a: Sequence[float], b: Sequence[float], margin: float = 0.1) -> set[str]:
    """Where box ``a`` is relative to box ``b``: a subset of {left of, right of, above, below}."""
    boxes = np.asarray([a[:4], b[:4]], dtype=np.float32).reshape(2, 2, 2)  # float32 like mmdet's boxes
    center_a, center_b = boxes.mean(axis=-2)
    dim_a, dim_b = np.abs(np.diff(boxes, axis=-2))[..., 0, :]
    offset = center_a - center_b
    revised = np.maximum(np.abs(offset) - margin * (dim_a + dim_b), 0) * np.sign(offset)
    if np.all(np.abs(revised) < 1e-3):
        return set()
    dx, dy = revised / np.linalg.norm(offset)
    relations = set()
    if dx < -0.5:
        relations.add("left of")
    if dx > 0.5:
        relations.add("right of")
    if dy < -0.5:
        relations.add("above")
    if dy > 0.5:
        relations.add("below")
    return relations


ColorClassifier = Callable[[str, list[Detection]], list[str]]


def evaluate(
    detected: dict[str, list[Detection]], metadata: dict, classify: ColorClassifier, th: Thresholds | None = None
) -> tuple[bool, list[str]]:
    """GenEval's verdict on one image: (correct, reasons it is not).

    ``detected``: class -> selected detections, most confident first (see ``select``);
    ``classify(class_name, detections)`` -> one colour name of ``COLORS`` per detection."""
    th = th or Thresholds()
    correct, reasons, groups = True, [], []
    for req in metadata.get("include", []):
        name, count = req["class"], req["count"]
        found = detected.get(name, [])[:count]
        matched = True
        if len(found) < count:
            matched = False
            reasons.append(f"expected {name}>={count}, found {len(found)}")
        else:
            if "color" in req:
                colors = classify(name, found)
                if colors.count(req["color"]) < count:
                    matched = False
                    seen = ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)
                    reasons.append(f"expected {req['color']} {name}>={count}, found {seen}")
            if "position" in req and matched:
                relation, target = req["position"]
                if groups[target] is None:
                    matched = False
                    reasons.append(f"no target for {name} to be {relation}")
                else:
                    for obj in found:
                        for other in groups[target]:
                            actual = relative_position(obj.box, other.box, th.position_threshold)
                            if relation not in actual:
                                matched = False
                                reasons.append(f"expected {name} {relation} target, found {' and '.join(sorted(actual)) or 'no relation to the'} target")
                                break
                        if not matched:
                            break
        correct &= matched
        groups.append(found if matched else None)
    for req in metadata.get("exclude", []):
        n = len(detected.get(req["class"], []))
        if n >= req["count"]:
            correct = False
            reasons.append(f"expected {req['class']}<{req['count']}, found {n}")
    return correct, reasons
