"""Rewards that fail on purpose, per item, for the batching tests (``_target_: trap_rewards.<class>``).

Each is the colour criterion (reno_exp.rewards.color), except for the items whose prompt names the trap:
once such an item's score passes ``threshold`` its score turns NaN (``NaNTrap``), or its score stays
finite while its gradient does not (``GradTrap``: 0 * sqrt(0) has a finite value and an infinite slope).
Whether an item falls depends on that item alone, so batching must not change who falls, or when.
"""

from __future__ import annotations

import torch

from reno_exp.rewards.color import ColorReward


def prompts_of(prepared, n: int) -> list[str]:
    return prepared if isinstance(prepared, list) else [prepared] * n


class NaNTrap(ColorReward):
    def __init__(self, word: str = "nan", threshold: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.word, self.threshold = word, threshold

    def forward(self, image, prepared=None):
        s = super().forward(image, prepared)
        trapped = torch.tensor([self.word in p for p in prompts_of(prepared, len(s))])
        return torch.where(trapped & (s.detach() > self.threshold), torch.full_like(s, float("nan")), s)


class GradTrap(ColorReward):
    def __init__(self, word: str = "grad", threshold: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.word, self.threshold = word, threshold

    def forward(self, image, prepared=None):
        s = super().forward(image, prepared)
        out = []
        for i, p in enumerate(prompts_of(prepared, len(s))):
            if self.word in p and s[i].detach() > self.threshold:
                u = image[i].sum()
                out.append(s[i] + 0 * torch.sqrt(u - u.detach()))  # value s[i], gradient NaN
            else:
                out.append(s[i])
        return torch.stack(out)


class GradCheck(ColorReward):
    """Records whether it was called with gradients enabled (a metric at weight 0 must not be)."""

    calls: list[bool] = []

    def forward(self, image, prepared=None):
        GradCheck.calls.append(torch.is_grad_enabled() and image.requires_grad)
        return super().forward(image, prepared)
