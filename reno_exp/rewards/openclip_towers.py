"""open_clip CLIP models built from open_clip's own architecture configs, full size or tiny.

``create_model`` is not used for the architecture so that a random-weight build never looks for
weights and a tiny build is the same ``open_clip.model.CLIP`` class at toy width.
"""

from __future__ import annotations

import copy

import open_clip
import torch
from open_clip.model import CLIP

# the same CLIP class at toy width: 224 px input (the preprocessing is fixed), the real vocabulary
TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "head_width": 32, "patch_size": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def build_clip(model_name: str, tiny: bool = False) -> CLIP:
    cfg = copy.deepcopy(open_clip.get_model_config(model_name))
    if cfg is None:
        raise ValueError(f"open_clip has no model config {model_name!r}")
    quick_gelu = cfg.pop("quick_gelu", False)
    if tiny:
        cfg = copy.deepcopy(TINY)
    return CLIP(**cfg, quick_gelu=quick_gelu)


def blocks(model: CLIP):
    """The residual blocks of both towers (what gradient checkpointing wraps)."""
    return [*model.visual.transformer.resblocks, *model.transformer.resblocks]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
