"""PickScore (``yuvalkirstain/PickScore_v1``): laion's ViT-H-14 CLIP fine-tuned on Pick-a-Pic.

The same model class and score as CLIPScore (``logit_scale.exp() * cosine``, the model's own logit
scale), tokenizer from the processor ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``; loss offset 30.
"""

from __future__ import annotations

from reno_exp.config.reward import PickScoreConfig
from reno_exp.rewards.clipscore import CLIPScoreReward


class PickScoreReward(CLIPScoreReward):
    schema = PickScoreConfig
    offset = 30.0
