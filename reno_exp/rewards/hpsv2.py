"""HPSv2.1: OpenCLIP ViT-H-14 fine-tuned on human preferences (``HPS_v2.1_compressed.pt`` in xswu/HPSv2).

Score = cosine of the L2-normalised image and text features (``image_features @ text_features.T``
of the hpsv2 package, diagonal); loss offset 1. The state dict (its ``state_dict`` entry) is loaded
strictly into open_clip's ViT-H-14; tokens from open_clip's ViT-H-14 tokenizer (real CLIP BPE, 77).
"""

from __future__ import annotations

import open_clip
import torch

from reno_exp.config.reward import HPSv2Config
from reno_exp.rewards.openclip_towers import blocks, build_clip
from reno_exp.rewards.towers import TowerReward, cosine, load_strict
from reno_exp.weights.checkpoints import Checkpoint, HubFile

CLIP_NAME = "ViT-H-14"


def hps_state_dict(path: str) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt["state_dict"] if "state_dict" in ckpt else ckpt


class HPSv2Reward(TowerReward):
    schema = HPSv2Config
    offset = 1.0

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 checkpoint: Checkpoint | None = None, **options):
        super().__init__(device, **options)
        self.model = build_clip(CLIP_NAME, tiny=tiny)
        self.tokenizer = open_clip.get_tokenizer(CLIP_NAME)  # ships its vocabulary: works offline
        if not random_init:
            ckpt = checkpoint or HubFile(self.cfg.repo, self.cfg.filename)
            load_strict(self.model, hps_state_dict(ckpt.path()), ckpt.name)
        self.finish(blocks(self.model))

    @classmethod
    def checkpoints(cls, cfg) -> list[Checkpoint]:
        cfg = cls.options(cfg)
        return [HubFile(cfg.repo, cfg.filename)]

    def encode_text(self, prompt: str) -> torch.Tensor:
        return self.model.encode_text(self.tokenizer([prompt]).to(self.device)).float()

    def score(self, pixels: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return cosine(self.model.encode_image(pixels), text)
