"""CLIP image preprocessing as differentiable tensor ops: what every learned reward sees.

Resize the shorter side to 224 (bicubic, antialiased like torchvision's tensor ``Resize`` and PIL),
centre-crop 224 x 224, normalise with CLIP's mean and std. No PIL and no quantisation to 8 bits, so the
gradient reaches the image; values are not clamped after the bicubic resize (PIL clamps to [0, 255]),
which is the only difference to the authors' PIL pipelines on in-range images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def resize_shorter(image: torch.Tensor, size: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    if min(h, w) == size:
        return image
    # torchvision's rule for the longer side: int(size * long / short)
    oh, ow = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    return F.interpolate(image, size=(oh, ow), mode="bicubic", align_corners=False, antialias=True)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image[..., top : top + size, left : left + size]


def clip_preprocess(image: torch.Tensor, size: int = 224, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, 3, size, size) normalised, float32, differentiable."""
    x = center_crop(resize_shorter(image.float(), size), size)
    mean = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std
