"""The LAION aesthetic predictor (improved-aesthetic-predictor, ``sac+logos+ava1-l14-linearMSE.pth``).

Score = LinearMLP(L2-normalised OpenAI CLIP ViT-L/14 image embedding), on a 1-10 scale; loss offset 10.
It does not read the prompt. An evaluation metric in the paper (Table 1), weight 0 in ``reward=all``;
``evaluate`` scores finished images without gradients.
"""

from __future__ import annotations

import torch

from reno_exp.config.errors import first_line
from reno_exp.config.reward import AestheticConfig
from reno_exp.rewards.linear_mlp import LinearMLP
from reno_exp.rewards.openclip_towers import build_clip
from reno_exp.rewards.towers import CheckpointMismatchError, TowerReward, load_strict
from reno_exp.weights.checkpoints import Checkpoint, OpenCLIPHubWeights, UrlFile

CLIP_NAME = "ViT-L-14-quickgelu"  # OpenAI's ViT-L/14 uses QuickGELU
CLIP_WEIGHTS = OpenCLIPHubWeights("timm/vit_large_patch14_clip_224.openai")
MLP_WEIGHTS = UrlFile(
    "https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/sac%2Blogos%2Bava1-l14-linearMSE.pth",
    "sac+logos+ava1-l14-linearMSE.pth",
)


class AestheticReward(TowerReward):
    schema = AestheticConfig
    offset = 10.0

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 clip_checkpoint: Checkpoint | None = None, checkpoint: Checkpoint | None = None, **options):
        super().__init__(device, **options)
        clip = build_clip(CLIP_NAME, tiny=tiny)
        self.mlp = LinearMLP(clip.visual.output_dim)
        if not random_init:
            import open_clip

            clip_ckpt, mlp_ckpt = clip_checkpoint or CLIP_WEIGHTS, checkpoint or MLP_WEIGHTS
            try:  # open_clip's own loader: converts OpenAI's layout, strict
                open_clip.load_checkpoint(clip, clip_ckpt.path(), strict=True)
            except RuntimeError as e:
                raise CheckpointMismatchError(clip_ckpt.name, first_line(e)) from None
            load_strict(self.mlp, torch.load(mlp_ckpt.path(), map_location="cpu", weights_only=True), mlp_ckpt.name)
        self.visual = clip.visual  # the text tower is never used: dropped
        self.finish(self.visual.transformer.resblocks)
        self.mlp.float()

    @classmethod
    def checkpoints(cls, cfg=None) -> list:
        return [CLIP_WEIGHTS, MLP_WEIGHTS]

    def encode_text(self, prompt: str) -> None:
        return None

    def prepare(self, prompt: str):
        return None  # the aesthetic score does not depend on the prompt

    def forward(self, image: torch.Tensor, prepared=None) -> torch.Tensor:
        from reno_exp.rewards.preprocess import clip_preprocess

        pixels = clip_preprocess(image.to(self.device)).to(self.dtype)
        return self.score(pixels, None)

    def score(self, pixels: torch.Tensor, text=None) -> torch.Tensor:
        features = self.visual(pixels).float()
        return self.mlp(features / features.norm(dim=-1, keepdim=True))

    @torch.no_grad()
    def evaluate(self, image: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B,) aesthetic scores, no gradient."""
        return self.forward(image)
