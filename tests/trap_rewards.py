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


class Transient(ColorReward):
    """A fault that comes and goes: the items whose prompt names ``word`` are scored NaN (``kind="loss"``),
    or finite with a NaN gradient (``kind="grad"``), at their iterates in ``at`` only, and normally before
    and after. An item's iterate is the number of calls that scored its prompt, modulo ``period`` (the
    calls each batch makes: n_iters for ReNO), so several seeds of one prompt in one batch fall together,
    as each does alone."""

    def __init__(self, word: str = "transient", at: tuple[int, ...] = (3,), period: int = 10, kind: str = "loss",
                 **kwargs):
        super().__init__(**kwargs)
        self.word, self.at, self.period, self.kind = word, set(at), period, kind
        self.calls: dict[str, int] = {}

    def forward(self, image, prepared=None):
        s = super().forward(image, prepared)
        prompts = prompts_of(prepared, len(s))
        faulty = set()
        for p in dict.fromkeys(prompts):
            if self.word in p and self.calls.get(p, 0) % self.period in self.at:
                faulty.add(p)
            self.calls[p] = self.calls.get(p, 0) + 1
        out = []
        for i, p in enumerate(prompts):
            if p not in faulty:
                out.append(s[i])
            elif self.kind == "loss":
                out.append(s[i] * float("nan"))
            else:
                u = image[i].sum()
                out.append(s[i] + 0 * torch.sqrt(u - u.detach()))  # value s[i], gradient NaN
        return torch.stack(out)
