"""CLIPScore with laion's OpenCLIP ViT-H-14 as a transformers ``CLIPModel``; base of PickScore.

Score = ``logit_scale.exp() * cosine(image_features, text_features)`` (about 100 x cosine); loss offset
100. Text tokenised like the authors (``padding=True``, truncation at 77) with the processor's
tokenizer of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``; offline and random, the same CLIP BPE from
open_clip's vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from reno_exp.config.reward import CLIPScoreConfig
from reno_exp.rewards.towers import TowerReward, cosine
from reno_exp.weights import hub
from reno_exp.weights.checkpoints import Checkpoint, HubRepo
from reno_exp.weights.tokenizers import check_tokenizer, offline_clip_tokenizer

ARCH = Path(__file__).parent / "architectures" / "clip_vit_h14.json"
TOKENIZER_FILES = ("tokenizer*.json", "vocab.json", "merges.txt", "special_tokens_map.json", "preprocessor_config.json")
TINY = {
    "projection_dim": 32,
    "text_config": {"vocab_size": 49408, "hidden_size": 32, "intermediate_size": 64, "projection_dim": 32,
                    "num_hidden_layers": 2, "num_attention_heads": 2, "hidden_act": "gelu"},
    "vision_config": {"hidden_size": 64, "intermediate_size": 128, "projection_dim": 32, "num_hidden_layers": 2,
                      "num_attention_heads": 2, "image_size": 224, "patch_size": 32, "hidden_act": "gelu"},
}


def clip_config(tiny: bool = False) -> CLIPConfig:
    cfg = TINY if tiny else {k: v for k, v in json.loads(ARCH.read_text()).items() if not k.startswith("_")}
    return CLIPConfig(**cfg)


def model_repo(repo: str) -> HubRepo:
    return HubRepo(repo, allow_patterns=("config.json",), one_of=("model.safetensors", "pytorch_model.bin"))


def tokenizer_repo(repo: str) -> HubRepo:
    return HubRepo(repo, allow_patterns=TOKENIZER_FILES)


class CLIPScoreReward(TowerReward):
    schema = CLIPScoreConfig
    offset = 100.0

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu", **options):
        super().__init__(device, **options)
        if random_init:
            self.model = CLIPModel(clip_config(tiny))
            self.tokenizer = offline_clip_tokenizer()
        else:
            model, processor = self.cfg.model, self.cfg.processor
            self.model = hub.load(model, CLIPModel.from_pretrained, model, dtype=self.dtype)
            tok = hub.load(processor, CLIPTokenizer.from_pretrained, processor)
            self.tokenizer = check_tokenizer(tok, processor)
        self.finish([*self.model.vision_model.encoder.layers, *self.model.text_model.encoder.layers])

    @classmethod
    def checkpoints(cls, cfg) -> list[Checkpoint]:
        cfg = cls.options(cfg)
        return [model_repo(cfg.model), tokenizer_repo(cfg.processor)]

    def encode_text(self, prompt: str) -> torch.Tensor:
        tokens = self.tokenizer(prompt, padding=True, truncation=True, max_length=77, return_tensors="pt")
        return self.model.get_text_features(**tokens.to(self.device)).pooler_output.float()

    def score(self, pixels: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        image = self.model.get_image_features(pixel_values=pixels).pooler_output
        return self.model.logit_scale.exp().float() * cosine(image, text)
