"""The linear score head of the LAION aesthetic predictor and of ImageReward.

Five linear layers D-1024-128-64-16-1 with dropout between the first four and no activation (so the
head is one affine map, kept in its factored form to load the official state dicts: keys
``layers.{0,2,4,6,7}``). Runs in float32 whatever the towers' dtype.
"""

from __future__ import annotations

import torch
from torch import nn


class LinearMLP(nn.Module):
    def __init__(self, input_size: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_size, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.float()).squeeze(-1)
