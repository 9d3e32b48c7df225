"""T2I-CompBench's non-spatial score: the raw cosine of OpenAI CLIP ViT-B/32 image and prompt
features (not x100, not clipped at 0). Complex prompts are read with their adjectives removed."""

from __future__ import annotations

import torch
from PIL import Image

from reno_exp.evaluate.base import weights_note
from reno_exp.evaluate.clip_models import OpenAIClip

ARCH = "ViT-B-32-quickgelu"


class ClipSimilarity:
    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu"):
        self.clip = OpenAIClip(ARCH, random_init, tiny, device)
        self.name = f"CLIP ViT-B/32 cosine (OpenAI weights, open_clip){weights_note(random_init, tiny)}"

    @torch.no_grad()
    def score(self, images: list[Image.Image], text: str) -> list[float]:
        return (self.clip.image_features(images) @ self.clip.text_features([text]).T)[:, 0].tolist()
