"""Schemas of the `reward` config group: one dataclass per reward model, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from omegaconf import MISSING

from reno_exp.config.rules import rule

TOWER_DTYPES = ("float32", "float16", "bfloat16")


@dataclass
class RewardConfig:
    _target_: str = MISSING
    # in the loss and in the total the best iterate is chosen on (0: scored, steers nothing). One default for
    # every reward: the weights of a combination are its preset's (reward=all sets the paper's)
    weight: float = field(default=1.0, metadata=rule(finite=True))


class Channel(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


@dataclass
class ColorRewardConfig(RewardConfig):
    _target_: str = "reno_exp.rewards.color.ColorReward"
    channel: Channel = Channel.red


@dataclass
class LearnedRewardConfig(RewardConfig):
    # float32 | float16 | bfloat16 of the towers; null: float16 on CUDA, else float32
    dtype: str | None = field(default=None, metadata=rule(choices=TOWER_DTYPES))
    gradient_checkpointing: bool = False  # recompute the towers' block activations in the backward pass
    cache_text: bool = True  # text side once per prompt; false: every iteration, as the authors' code


@dataclass
class HPSv2Config(LearnedRewardConfig):
    _target_: str = "reno_exp.rewards.hpsv2.HPSv2Reward"
    repo: str = "xswu/HPSv2"
    filename: str = "HPS_v2.1_compressed.pt"


@dataclass
class ImageRewardConfig(LearnedRewardConfig):
    _target_: str = "reno_exp.rewards.imagereward.ImageRewardReward"
    repo: str = "THUDM/ImageReward"
    tokenizer: str = "google-bert/bert-base-uncased"


@dataclass
class CLIPScoreConfig(LearnedRewardConfig):
    _target_: str = "reno_exp.rewards.clipscore.CLIPScoreReward"
    model: str = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
    processor: str = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"


@dataclass
class PickScoreConfig(CLIPScoreConfig):
    _target_: str = "reno_exp.rewards.pickscore.PickScoreReward"
    model: str = "yuvalkirstain/PickScore_v1"


@dataclass
class AestheticConfig(LearnedRewardConfig):
    _target_: str = "reno_exp.rewards.aesthetic.AestheticReward"


SCHEMAS = {
    "color": ColorRewardConfig,
    "hpsv2": HPSv2Config,
    "imagereward": ImageRewardConfig,
    "clip": CLIPScoreConfig,
    "pickscore": PickScoreConfig,
    "aesthetic": AestheticConfig,
}
