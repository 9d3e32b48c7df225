"""T2I-CompBench's scoring rules (Huang et al., NeurIPS 2023), as pure functions.

Attribute binding (colour, shape, texture): one VQA question "<noun phrase>?" per spaCy noun chunk
of the prompt (chunks "top", "the side", "the left", "the right" dropped; at most 8), each answered
by BLIP-VQA as p = P(yes) / (P(yes) + P(no)) from the decoder's first step; the image's score is the
product of the answers, with the official arithmetic: each answer written with 4 decimals, the product
taken in float32, the product written with 4 decimals (``attribute_score``). Spatial: the first and last nouns (complex prompts: the nouns around the
spatial preposition) looked up among the detections; each found object adds 0.25 x its confidence,
a pair adds half of the box-centre rule's score, and totals below 0.5 become 0. Complex ("3-in-1"):
the mean of the attribute score and of the spatial and/or action (CLIP, adjectives removed) scores,
according to the sub-list the prompt comes from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

# T2I-CompBench's BLIP_vqa.py
EXCLUDED_CHUNKS = ("top", "the side", "the left", "the right")
MAX_PHRASES = 8  # --np_num: questions beyond the 8th noun phrase are never asked
# 2D_spatial_eval.py: the first of these found in the prompt (substring) is its relation
SPATIAL_WORDS = ["on side of", "next to", "near", "on the left of", "on the right of", "on the bottom of",
                 "on the top of", "on top of"]
# the complex-prompt parser's prepositions (note: "on the left"/"on the right", without "of")
COMPLEX_PREPOSITIONS = ["on top of", "on bottom of", "on the left", "on the right", "next to", "on side of", "near"]
PERSON_WORDS = ("girl", "boy", "man", "woman")  # UniDet has "person", not these
SCORE_CUT = 0.5
CATEGORIES = ["color", "shape", "texture", "spatial", "non_spatial", "complex", "3d_spatial", "numeracy"]
SUPPORTED = ["color", "shape", "texture", "spatial", "non_spatial", "complex"]


@dataclass(frozen=True)
class Token:
    """What the rules need of a spaCy token: its text, coarse part of speech and trailing space."""

    text: str
    pos: str
    ws: str = " "


def span_text(tokens: Sequence[Token]) -> str:
    return "".join(t.text + t.ws for t in tokens)[: -len(tokens[-1].ws) or None] if tokens else ""


def pre_question(question: str, max_words: int = 50) -> str:
    """BLIP's question normalisation: lower case, drop . ! " ( ) * # : ; ~, strip right spaces."""
    question = re.sub(r"([.!\"()*#:;~])", "", question.lower()).rstrip(" ")
    words = question.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else question


def vqa_questions(chunks: Sequence[str], max_phrases: int = MAX_PHRASES) -> list[str]:
    """The questions asked of one image, from the prompt's noun chunks in order."""
    kept = [c for c in chunks if c not in EXCLUDED_CHUNKS][:max_phrases]
    return [pre_question(f"{c}?") for c in kept]


def yes_probability(logits: torch.Tensor, yes_id: int, no_id: int) -> torch.Tensor:
    """(B, V) first-step decoder logits -> (B,) P(yes) / (P(yes) + P(no)) of the full softmax."""
    p = torch.softmax(logits.float(), dim=-1)
    return p[:, yes_id] / (p[:, yes_id] + p[:, no_id])


def round4(x: float) -> float:
    """A number as T2I-CompBench writes it: ``'{:.4f}'.format(x)`` read back (correctly rounded)."""
    return float(f"{x:.4f}")


def attribute_score(answers: Sequence[float]) -> float:
    """The image's BLIP-VQA score exactly as the official script computes it (1.0 without questions).

    models/blip_vqa.py:125 writes each answer as '{:.4f}'; BLIP_vqa.py:80,104 reads it back into a
    float32 tensor (questions not asked are 1), :108-110 multiply the columns in float32, :117 writes
    the product as '{:.4f}'. So round4(prod_f32(round4(a_i))): e.g. [0.5, 0.0001] gives 0.0, where a
    float64 product (5.0000000000000002e-05) would round up to 0.0001."""
    product = np.float32(1.0)
    for a in answers:
        product = np.float32(product * np.float32(round4(a)))
    return round4(float(product))


def by_confidence(scores: Sequence[float]) -> list[int]:
    """Indices of detections, most confident first; equal scores keep the detector's order (a stable
    sort: the official UniDet/detectron2 output is score-sorted with an unspecified order of ties, and
    the rule then takes the first detection of each name)."""
    return sorted(range(len(scores)), key=lambda i: -scores[i])


def relation_of(prompt: str) -> str | None:
    return next((w for w in SPATIAL_WORDS if w in prompt), None)


@dataclass(frozen=True)
class Box:
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2

    @property
    def area(self) -> float:
        return (self.x_max - self.x_min) * (self.y_max - self.y_min)


def position_score(relation: str | None, box1: Box, box2: Box, iou_threshold: float = 0.1,
                   distance_threshold: float = 150) -> float:
    """How well box1 stands in ``relation`` to box2, in [0, 1] (T2I-CompBench's determine_position).

    Distances are in pixels of the detector's input (shorter side 479, longer at most 480). Where both
    boxes have zero area the union is 0: the official code divides by it (UniDet_eval/2D_spatial_eval.py:39,
    a ZeroDivisionError that ends the whole evaluation); here the IoU is 0 (nothing overlaps)."""
    (x1, y1), (x2, y2) = box1.center, box2.center
    dx, dy = x2 - x1, y2 - y1
    ix = max(0.0, min(box1.x_max, box2.x_max) - max(box1.x_min, box2.x_min))
    iy = max(0.0, min(box1.y_max, box2.y_max) - max(box1.y_min, box2.y_min))
    inter = ix * iy
    union = box1.area + box2.area - inter
    iou = inter / union if union else 0.0

    def directional(along: float, across: float, sign: float) -> float:
        if sign * along > 0 and abs(along) > abs(across):
            return 1.0 if iou < iou_threshold else iou_threshold / iou
        return 0.0

    if relation in ("next to", "on side of", "near"):
        if abs(dx) < distance_threshold or abs(dy) < distance_threshold:
            return 1.0
        return distance_threshold / max(abs(dx), abs(dy))
    if relation == "on the right of":
        return directional(dx, dy, -1)
    if relation == "on the left of":
        return directional(dx, dy, +1)
    if relation == "on the bottom of":
        return directional(dy, dx, -1)
    if relation == "on the top of":
        return directional(dy, dx, +1)
    return 0.0  # includes "on top of", which the official rule does not handle


def simple_spatial_objects(tokens: Sequence[Token]) -> tuple[str | None, str | None]:
    """The first and the last noun (None, None without nouns; the official code fails there)."""
    nouns = [t.text for t in tokens if t.pos == "NOUN"]
    return (nouns[0], nouns[-1]) if nouns else (None, None)


def complex_spatial_objects(tokens: Sequence[Token]) -> tuple[str | None, str | None]:
    """The nouns before and after each spatial preposition; a pair only when exactly two are found."""
    objects: list[str] = []
    n = len(tokens)
    for i in range(n):
        width = next((k for k in (3, 2, 1) if span_text(tokens[i : i + k]) in COMPLEX_PREPOSITIONS), None)
        if width is None:
            continue
        for j in range(i - 1, -1, -1):
            if tokens[j].pos in ("NOUN", "PROPN"):
                objects.append(tokens[j].text)
                break
        fallback = False
        for j in range(i + width, n):
            if tokens[j].pos == "NOUN":
                objects.append(tokens[j].text)
                break
            if j == n - 1:
                fallback = True
        if fallback:
            for j in range(i + width, n):
                if j + 1 < n and tokens[j].pos == "PROPN" and tokens[j + 1].pos != "PROPN":
                    objects.append(tokens[j].text)
                    break
    return (objects[0], objects[1]) if len(objects) == 2 else (None, None)


@dataclass(frozen=True)
class Found:
    """One detection: the name it was found as, its box, its confidence."""

    name: str
    box: Box
    score: float


def spatial_score(obj1: str | None, obj2: str | None, relation: str | None, found: Sequence[Found]) -> float:
    """T2I-CompBench's spatial score of one image; ``found`` most confident first."""
    obj1 = "person" if obj1 in PERSON_WORDS else obj1
    obj2 = "person" if obj2 in PERSON_WORDS else obj2
    names = [f.name for f in found]
    if obj1 in names and obj2 in names:
        a, b = found[names.index(obj1)], found[names.index(obj2)]
        score = 0.25 * a.score + 0.25 * b.score + position_score(relation, a.box, b.box) / 2
    elif obj1 in names:
        score = 0.25 * found[names.index(obj1)].score
    elif obj2 in names:
        score = 0.25 * found[names.index(obj2)].score
    else:
        score = 0.0
    return 0.0 if score < SCORE_CUT else score


def without_adjectives(tokens: Sequence[Token]) -> str:
    """The prompt CLIP reads for a complex prompt's action score."""
    return " ".join(t.text for t in tokens if t.pos != "ADJ")


def complex_kind(prompt: str, spatial: set[str], action: set[str]) -> str:
    """Which 3-in-1 mix a complex prompt gets: "spatial", "action" or "both" (the official matching:
    the line up to its first '.', lower-cased)."""
    key = normalise_complex(prompt)
    if key in spatial:
        return "spatial"
    if key in action:
        return "action"
    return "both"


def normalise_complex(line: str) -> str:
    return line.strip().split(".")[0].lower()


def complex_score(kind: str, attribute: float, spatial: float | None = None, action: float | None = None) -> float:
    if kind == "spatial":
        return (spatial + attribute) * 0.5
    if kind == "action":
        return (action + attribute) * 0.5
    return (attribute + spatial + action) / 3
