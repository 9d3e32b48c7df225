"""The seed's colour criterion (equation 5): how much one channel dominates the other two.

score = sum over pixels of x[c] - x[c1] - x[c2], for the chosen channel c and the other two c1, c2.
A toy objective with a known optimum (a pure-colour image), for checking the loop without any weights.
"""

from __future__ import annotations

import torch

from reno_exp.config.errors import UserError
from reno_exp.config.reward import ColorRewardConfig
from reno_exp.rewards.base import Reward

CHANNELS = ("red", "green", "blue")


class ColorReward(Reward):
    schema = ColorRewardConfig

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu", **options):
        super().__init__()
        self.cfg = self.options(options)
        channel = self.cfg.channel
        if channel not in CHANNELS:
            raise UserError(f"reward color: channel must be one of {CHANNELS}, got {channel!r}")
        self.c = CHANNELS.index(channel)

    def forward(self, image: torch.Tensor, prepared=None) -> torch.Tensor:
        x = image.float()
        others = [i for i in range(3) if i != self.c]
        return (x[:, self.c] - x[:, others[0]] - x[:, others[1]]).sum(dim=(1, 2))
