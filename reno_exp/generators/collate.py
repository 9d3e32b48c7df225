"""Per-item conditioning -> one batch: what lets a generator and the rewards take many prompts at once.

Each prompt is encoded once, into tensors with a batch dimension of 1; a batch of items is those tensors
concatenated in item order (an item per row, however many items share a prompt). Dicts and dataclasses
are collated field by field; anything else (a prompt string, None) becomes the list of the items' values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch


def collate(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(items)
    if isinstance(first, dict):
        return {k: collate([x[k] for x in items]) for k in first}
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return dataclasses.replace(first, **{f.name: collate([getattr(x, f.name) for x in items])
                                            for f in dataclasses.fields(first)})
    if all(x is None for x in items):
        return None
    return list(items)
