"""The spatial layout of a noise: (C, H, W) images for the frequency analysis and the pictures.

SD-family noises are (1, C, H, W) already. FLUX packs its latent into tokens: (1, h*w, C*4), each
token a 2x2 patch of a (C, 2h, 2w) latent (diffusers' ``_pack_latents``), which has no 2-D layout as
saved; :func:`spatial` unpacks it, assuming a square token grid, and says so.
"""

from __future__ import annotations

import math

import torch


def spatial(x: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    """(1, *latent_shape) -> ((C, H, W) float tensor, note), or (None, why) when there is no 2-D layout.

    The note is None for a plain (C, H, W) latent and explains the unpacking otherwise.
    """
    x = x.detach().float()
    if x.dim() == 4 and x.shape[0] == 1:
        return x[0], None
    if x.dim() == 3 and x.shape[0] == 1:
        tokens, features = x.shape[1:]
        side = math.isqrt(tokens)
        if side * side != tokens or features % 4:
            return None, f"packed latent {tuple(x.shape[1:])} is not a square grid of 2x2 patches: skipped"
        c = features // 4
        img = x[0].reshape(side, side, c, 2, 2).permute(2, 0, 3, 1, 4).reshape(c, 2 * side, 2 * side)
        return img, (
            f"packed latent {tuple(x.shape[1:])} unpacked to {tuple(img.shape)} "
            "(square grid of 2x2 patches, FLUX's packing)"
        )
    return None, f"latent of shape {tuple(x.shape)} has no (C, H, W) layout: skipped"
