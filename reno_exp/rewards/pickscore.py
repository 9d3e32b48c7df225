"""PickScore (``yuvalkirstain/PickScore_v1``): laion's ViT-H-14 CLIP fine-tuned on Pick-a-Pic.

The same model class and score as CLIPScore (``logit_scale.exp() * cosine``, the model's own logit
scale), tokenizer from the processor ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``; loss offset 30.
"""

from __future__ import annotations

from reno_exp.rewards.clipscore import LAION, CLIPScoreReward

PICKSCORE = "yuvalkirstain/PickScore_v1"


class PickScoreReward(CLIPScoreReward):
    offset = 30.0

    def __init__(self, model: str = PICKSCORE, processor: str = LAION, **kwargs):
        super().__init__(model=model, processor=processor, **kwargs)

    @classmethod
    def checkpoints(cls, cfg) -> list:
        return super().checkpoints({"model": cfg.get("model", PICKSCORE), "processor": cfg.get("processor", LAION)})
