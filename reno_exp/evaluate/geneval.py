"""The GenEval evaluator: Mask2Former detections (mmdet port), CLIP ViT-L/14 colours, GenEval's rules.

Per image: 1.0 when GenEval judges it correct for its metadata (tag, include, exclude), else 0.0.
Colours as GenEval's ``color_classification``: each object's mask pasted on a grey (#999) canvas,
cropped to its box, classified zero-shot by OpenAI CLIP ViT-L/14 among 10 colours, each colour's
text embedding the normalised mean of 3 templates' normalised embeddings.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from PIL import Image

from reno_exp.config.rules import Rule, rule
from reno_exp.evaluate import geneval_rules as rules
from reno_exp.evaluate.base import Evaluator, weights_note

CLIP_ARCH = "ViT-L-14-quickgelu"
UNIT = rule(ge=0, le=1)  # a score or overlap threshold


@dataclass
class GenEvalConfig:
    detector_checkpoint: str = "facebook/mask2former-swin-small-coco-instance"
    input_scale: list[int] = field(default_factory=lambda: [1333, 800],  # mmdet's test scale (long, short)
                                   metadata=rule(nonempty=True, each=Rule(ge=1)))
    threshold: float = field(default=0.3, metadata=UNIT)
    counting_threshold: float = field(default=0.9, metadata=UNIT)
    max_objects: int = field(default=16, metadata=rule(ge=1))
    max_overlap: float = field(default=1.0, metadata=UNIT)
    position_threshold: float = field(default=0.1, metadata=rule(ge=0, finite=True))
    background: str = "#999"


@functools.cache
def class_names() -> list[str]:
    from reno_exp.benchmarks.files import fetch, read_lines

    return [t.strip() for _, t in read_lines(fetch("geneval", "object_names.txt")) if t.strip()]


def masked_crop(image: Image.Image, det: rules.Detection, background: str = "#999") -> Image.Image:
    """The object on a plain background, cropped to its box (GenEval's ImageCrops)."""
    image = image.convert("RGB")
    if det.mask is not None:
        image = Image.composite(image, Image.new("RGB", image.size, color=background), Image.fromarray(det.mask))
    return image.crop(tuple(det.box[:4]))


class ColorClassifier:
    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu", background: str = "#999"):
        from reno_exp.evaluate.clip_models import OpenAIClip

        self.clip = OpenAIClip(CLIP_ARCH, random_init, tiny, device)
        self.background = background
        self.name = f"CLIP ViT-L/14 zero-shot colours (OpenAI weights, open_clip){weights_note(random_init, tiny)}"

    @functools.lru_cache(maxsize=128)  # noqa: B019 (one classifier per evaluation run)
    def weights(self, class_name: str) -> torch.Tensor:
        """(D, 10): per colour, the normalised mean of the templates' normalised text embeddings."""
        columns = []
        for c in rules.COLORS:
            f = self.clip.text_features([t.format(c=c, cls=class_name) for t in rules.COLOR_TEMPLATES]).mean(0)
            columns.append(f / f.norm())
        return torch.stack(columns, dim=1)

    @torch.no_grad()
    def __call__(self, image: Image.Image, class_name: str, detections: list[rules.Detection]) -> list[str]:
        crops = [masked_crop(image, d, self.background) for d in detections]
        logits = 100.0 * self.clip.image_features(crops) @ self.weights(class_name)
        return [rules.COLORS[i] for i in logits.argmax(dim=1).tolist()]


class GenEval(Evaluator):
    metric = suite = "geneval"

    @classmethod
    def checkpoints(cls, settings) -> list:
        from reno_exp.evaluate.base import checkpoint_of
        from reno_exp.evaluate.clip_models import OPENAI

        return [checkpoint_of(settings.geneval.detector_checkpoint), OPENAI["ViT-L-14-quickgelu"]]

    def __init__(self, cfg: GenEvalConfig | None = None, random_init: bool = False, tiny: bool = False,
                 device: str = "cpu"):
        from reno_exp.evaluate.mask2former import Mask2FormerDetector

        self.cfg = cfg or GenEvalConfig()
        self.thresholds = rules.Thresholds(self.cfg.threshold, self.cfg.counting_threshold, self.cfg.max_objects,
                                           self.cfg.max_overlap, self.cfg.position_threshold)
        self.detector = Mask2FormerDetector(class_names(), random_init, tiny, device, self.cfg.detector_checkpoint,
                                            tuple(self.cfg.input_scale))
        self.colors = ColorClassifier(random_init, tiny, device, self.cfg.background)
        self.name = f"GenEval rules; {self.detector.name}; {self.colors.name}"

    def evaluator_name(self, record: dict) -> str:
        return self.name

    def judge(self, image: Image.Image, metadata: dict) -> tuple[bool, list[str]]:
        if metadata.get("tag") not in rules.TAGS:
            from reno_exp.config.errors import UserError

            raise UserError(f"GenEval metadata without a known tag: {metadata!r} (tags: {', '.join(rules.TAGS)})")
        detected = rules.select(self.detector.detect(image), self.thresholds.for_tag(metadata["tag"]), self.thresholds)
        return rules.evaluate(detected, metadata, lambda name, dets: self.colors(image, name, dets), self.thresholds)

    def score(self, images: list[Image.Image], record: dict) -> list[float]:
        return [float(self.judge(im, record["meta"])[0]) for im in images]
