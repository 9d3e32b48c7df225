"""The LAION aesthetic score (Table 1's last column), on every image whatever its suite: a thin
wrapper over ``reno_exp.rewards.aesthetic.AestheticReward`` reading the saved 8-bit images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from reno_exp.evaluate.base import Evaluator, weights_note


class Aesthetic(Evaluator):
    metric = "aesthetic"

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu", dtype: str | None = None):
        from reno_exp.rewards.aesthetic import AestheticReward

        self.reward = AestheticReward(random_init=random_init, tiny=tiny, device=device, dtype=dtype)
        self.name = ("LAION aesthetic predictor (sac+logos+ava1-l14-linearMSE on OpenAI CLIP ViT-L/14)"
                     f"{weights_note(random_init, tiny)}")

    @classmethod
    def from_settings(cls, settings, **common) -> Aesthetic:
        return cls(dtype=settings.aesthetic_dtype, **common)

    @classmethod
    def checkpoints(cls, settings) -> list:
        from reno_exp.rewards.aesthetic import AestheticReward

        return AestheticReward.checkpoints()

    def evaluator_name(self, record: dict) -> str:
        return self.name

    @torch.no_grad()
    def score(self, images: list[Image.Image], record: dict) -> list[float]:
        out = []
        for im in images:  # images of a record may differ in size
            x = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
            out.append(float(self.reward.evaluate(x)[0]))
        return out
