"""The T2I-CompBench evaluator: each record scored by its category's official metric.

colour/shape/texture: BLIP-VQA; non_spatial: CLIP ViT-B/32 cosine; spatial: the detector rule
(OWLv2 port of UniDet); complex: the 3-in-1 mix. T2I-CompBench++'s 3d_spatial (depth expert) and
numeracy (UniDet counting) are not supported: a clear error. Models are built on first use, so a run
of one category loads only what that category needs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from PIL import Image

from reno_exp.config.errors import UserError
from reno_exp.config.rules import rule
from reno_exp.evaluate import t2i_compbench_rules as rules
from reno_exp.evaluate.base import Evaluator


@dataclass
class T2ICompBenchConfig:
    blip_checkpoint: str = "Salesforce/blip-vqa-capfilt-large"
    detector_checkpoint: str = "google/owlv2-base-patch16-ensemble"
    detector_threshold: float = field(default=0.1, metadata=rule(ge=0, le=1))  # OWLv2's usual threshold (UniDet's was 0.5 on its own scale)
    spacy_model: str = "en_core_web_sm"


class T2ICompBench(Evaluator):
    metric = suite = "t2i_compbench"

    @classmethod
    def checkpoints(cls, settings) -> list:
        from reno_exp.evaluate.base import checkpoint_of
        from reno_exp.evaluate.clip_models import OPENAI

        cfg = settings.t2i_compbench
        return [checkpoint_of(cfg.blip_checkpoint), checkpoint_of(cfg.detector_checkpoint), OPENAI["ViT-B-32-quickgelu"]]

    def __init__(self, cfg: T2ICompBenchConfig | None = None, random_init: bool = False, tiny: bool = False,
                 device: str = "cpu"):
        self.cfg = cfg or T2ICompBenchConfig()
        self.build = {"random_init": random_init, "tiny": tiny, "device": device}
        self.name = "T2I-CompBench"

    # the parts, built on first use
    @functools.cached_property
    def parser(self):
        from reno_exp.evaluate.noun_phrases import EnglishParser

        return EnglishParser(self.build["random_init"], self.cfg.spacy_model)

    @functools.cached_property
    def blip(self):
        from reno_exp.evaluate.blip_vqa import BlipVQA

        return BlipVQA(checkpoint=self.cfg.blip_checkpoint, **self.build)

    @functools.cached_property
    def clip(self):
        from reno_exp.evaluate.clip_similarity import ClipSimilarity

        return ClipSimilarity(**self.build)

    @functools.cached_property
    def spatial(self):
        from reno_exp.evaluate.spatial import OwlDetector, SpatialScore

        return SpatialScore(OwlDetector(checkpoint=self.cfg.detector_checkpoint, threshold=self.cfg.detector_threshold,
                                        **self.build))

    @functools.cached_property
    def complex(self):
        from reno_exp.evaluate.complex import ComplexScore

        return ComplexScore(self.blip, self.spatial, self.clip)

    def category(self, record: dict) -> str:
        category = (record.get("meta") or {}).get("category")
        if category not in rules.SUPPORTED:
            if category in rules.CATEGORIES:
                raise UserError(f"T2I-CompBench category {category!r} is not supported by reno_exp.evaluate.scoring "
                                f"(it needs {'a depth expert' if category == '3d_spatial' else 'UniDet counting'}); "
                                f"supported: {', '.join(rules.SUPPORTED)}")
            raise UserError(f"record {record.get('key')}: unknown T2I-CompBench category {category!r}")
        return category

    def evaluator_name(self, record: dict) -> str:
        category = self.category(record)
        part = {"non_spatial": "clip", "spatial": "spatial", "complex": "complex"}.get(category, "blip")
        names = {"clip": lambda: self.clip.name, "spatial": lambda: self.spatial.name,
                 "complex": lambda: self.complex.name, "blip": lambda: self.blip.name}
        extra = "" if category == "non_spatial" else f"; noun phrases: {self.parser.name}"
        return f"T2I-CompBench {category}: {names[part]()}{extra}"

    def score(self, images: list[Image.Image], record: dict) -> list[float]:
        category, prompt = self.category(record), record["prompt"]
        if category == "non_spatial":
            return self.clip.score(images, prompt)
        parsed = self.parser(prompt)
        if category == "spatial":
            return self.spatial.score(images, prompt, parsed.tokens, complex=False)
        if category == "complex":
            return self.complex.score(images, prompt, parsed)
        return self.blip.score(images, parsed.chunks)
