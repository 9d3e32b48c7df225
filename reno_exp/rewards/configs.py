"""Schemas of the `reward` config group: one dataclass per reward model, checked by OmegaConf."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from omegaconf import MISSING


@dataclass
class RewardConfig:
    _target_: str = MISSING
    weight: float = 1.0


class Channel(str, Enum):
    red = "red"
    green = "green"
    blue = "blue"


@dataclass
class ColorRewardConfig(RewardConfig):
    _target_: str = "reno_exp.rewards.color.ColorReward"
    channel: Channel = Channel.red

SCHEMAS = {"color": ColorRewardConfig}
