"""OpenAI CLIP models for evaluation (open_clip, QuickGELU), with their PIL preprocessing.

Evaluation scores saved 8-bit images without gradients, so the official PIL pipeline is used as is:
shorter side to 224 (bicubic), centre crop, CLIP normalisation.
"""

from __future__ import annotations

import torch

from reno_exp.weights.checkpoints import OpenCLIPHubWeights

# open_clip's own sources of OpenAI's weights
OPENAI = {
    "ViT-B-32-quickgelu": OpenCLIPHubWeights("timm/vit_base_patch32_clip_224.openai"),
    "ViT-L-14-quickgelu": OpenCLIPHubWeights("timm/vit_large_patch14_clip_224.openai"),
}


class OpenAIClip:
    def __init__(self, arch: str, random_init: bool = False, tiny: bool = False, device: str = "cpu"):
        import open_clip

        from reno_exp.rewards.openclip_towers import build_clip

        self.model = build_clip(arch, tiny=tiny)
        if not random_init:
            open_clip.load_checkpoint(self.model, OPENAI[arch].path(), strict=True)
        self.model.requires_grad_(False).eval().to(device)
        self.device = torch.device(device)
        self.tokenizer = open_clip.get_tokenizer(arch)  # ships its vocabulary: works offline
        self.transform = open_clip.image_transform(self.model.visual.image_size, is_train=False)

    @torch.no_grad()
    def image_features(self, images) -> torch.Tensor:
        """L2-normalised float32 features of PIL images."""
        x = torch.stack([self.transform(im.convert("RGB")) for im in images]).to(self.device)
        f = self.model.encode_image(x).float()
        return f / f.norm(dim=-1, keepdim=True)

    @torch.no_grad()
    def text_features(self, texts: list[str]) -> torch.Tensor:
        f = self.model.encode_text(self.tokenizer(texts).to(self.device)).float()
        return f / f.norm(dim=-1, keepdim=True)
