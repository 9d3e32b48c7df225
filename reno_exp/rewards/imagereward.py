"""ImageReward (THUDM/ImageReward): BLIP ViT-L/16 + BERT-base with cross-attention + a linear MLP head.

Score = ``(MLP(h_CLS) - 0.16717362830052426) / 1.0333394966054072`` where h_CLS is the [CLS] output of
the BERT text encoder run on the prompt (max length 35, padded) with cross-attention to the ViT's
image tokens; loss offset 2. Built from maintained modules with the original key names, so
``ImageReward.pt`` loads strictly: the vision tower is timm's ``VisionTransformer`` (BLIP's ViT is
timm's; keys ``blip.visual_encoder.*``) and the text encoder is transformers' ``BlipTextModel`` (the
port of BLIP's ``med.py`` BERT, no token-type embeddings; keys ``blip.text_encoder.*``).

The text side cannot be encoded without the image (cross-attention in every layer): what is cached
per prompt is the tokenisation and the embedding layer's output.
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from transformers import BertTokenizer, BlipTextConfig, BlipTextModel

from reno_exp.config.reward import ImageRewardConfig
from reno_exp.rewards.linear_mlp import LinearMLP
from reno_exp.rewards.towers import CheckpointMismatchError, TowerReward, load_strict
from reno_exp.weights import hub
from reno_exp.weights.bert_vocab import offline_bert_tokenizer
from reno_exp.weights.checkpoints import Checkpoint, HubFile, HubRepo
from reno_exp.weights.tokenizers import check_tokenizer

MEAN, STD = 0.16717362830052426, 1.0333394966054072
MAX_LENGTH = 35
MED_CONFIG = Path(__file__).parent / "architectures" / "imagereward_med_config.json"
VIT_L = {"patch_size": 16, "embed_dim": 1024, "depth": 24, "num_heads": 16}
TINY_VIT = {"patch_size": 32, "embed_dim": 64, "depth": 2, "num_heads": 2}
TINY_BERT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
# saved by an old transformers where BERT's position ids were a persistent buffer: always arange
POSITION_IDS = "blip.text_encoder.embeddings.position_ids"


def blip_vit(patch_size: int, embed_dim: int, depth: int, num_heads: int) -> VisionTransformer:
    """BLIP's ViT: 224 px, pre-norm blocks with qkv bias, LayerNorm eps 1e-6, all tokens out, no head."""
    return VisionTransformer(
        img_size=224, patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
        mlp_ratio=4.0, qkv_bias=True, norm_layer=partial(nn.LayerNorm, eps=1e-6), num_classes=0,
        global_pool="", class_token=True,
    )


def blip_text_config(med: dict, encoder_width: int) -> BlipTextConfig:
    return BlipTextConfig(
        vocab_size=med["vocab_size"], hidden_size=med["hidden_size"], intermediate_size=med["intermediate_size"],
        num_hidden_layers=med["num_hidden_layers"], num_attention_heads=med["num_attention_heads"],
        max_position_embeddings=med["max_position_embeddings"], hidden_act=med["hidden_act"],
        layer_norm_eps=med["layer_norm_eps"], hidden_dropout_prob=med["hidden_dropout_prob"],
        attention_probs_dropout_prob=med["attention_probs_dropout_prob"], pad_token_id=med["pad_token_id"],
        encoder_hidden_size=encoder_width,
        is_decoder=True,  # makes the cross-attention layers; forward runs bidirectionally (is_decoder=False)
    )


class BLIP(nn.Module):
    """The parts of BLIP_Pretrain that ImageReward.pt holds (projections unused by the score, as in the original)."""

    def __init__(self, med: dict, vit: dict, embed_dim: int = 256):
        super().__init__()
        self.visual_encoder = blip_vit(**vit)
        self.text_encoder = BlipTextModel(blip_text_config(med, vit["embed_dim"]), add_pooling_layer=False)
        self.vision_proj = nn.Linear(vit["embed_dim"], embed_dim)
        self.text_proj = nn.Linear(med["hidden_size"], embed_dim)


def imagereward_state_dict(path: str, name: str) -> dict[str, torch.Tensor]:
    sd = torch.load(path, map_location="cpu", weights_only=True)
    pos = sd.pop(POSITION_IDS, None)
    if pos is not None and not torch.equal(pos.flatten(), torch.arange(pos.numel())):
        raise CheckpointMismatchError(name, f"{POSITION_IDS} is not 0..{pos.numel() - 1}")
    return sd


def blip_tokenizer(tokenizer: BertTokenizer) -> BertTokenizer:
    """BLIP's init_tokenizer: bert-base-uncased plus [DEC] (bos) and [ENC]: ids 30522 and 30523."""
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    tokenizer.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    return tokenizer


class ImageRewardReward(TowerReward):
    schema = ImageRewardConfig
    offset = 2.0

    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 checkpoint: Checkpoint | None = None, med_config: Checkpoint | None = None, **options):
        super().__init__(device, **options)
        repo, tokenizer = self.cfg.repo, self.cfg.tokenizer
        if random_init:
            med = json.loads(MED_CONFIG.read_text())
            med = {**med, **TINY_BERT} if tiny else med
            tok = offline_bert_tokenizer()
        else:  # the text encoder's size is the checkpoint's med_config; tiny picks the ViT only
            med = json.loads(Path((med_config or HubFile(repo, "med_config.json")).path()).read_text())
            tok = check_tokenizer(hub.load(tokenizer, BertTokenizer.from_pretrained, tokenizer), tokenizer)
        self.tokenizer = blip_tokenizer(tok)
        self.blip = BLIP(med, TINY_VIT if tiny else VIT_L)
        self.mlp = LinearMLP(med["hidden_size"])
        if not random_init:
            ckpt = checkpoint or HubFile(repo, "ImageReward.pt")
            load_strict(self, imagereward_state_dict(ckpt.path(), ckpt.name), ckpt.name)
        self.finish([*self.blip.visual_encoder.blocks, *self.blip.text_encoder.encoder.layer])
        self.mlp.float()

    @classmethod
    def checkpoints(cls, cfg) -> list[Checkpoint]:
        cfg = cls.options(cfg)
        return [HubFile(cfg.repo, "ImageReward.pt"), HubFile(cfg.repo, "med_config.json"),
                HubRepo(cfg.tokenizer, allow_patterns=("vocab.txt", "tokenizer_config.json", "tokenizer.json", "config.json"))]

    def encode_text(self, prompt: str) -> dict[str, torch.Tensor]:
        tokens = self.tokenizer(prompt, padding="max_length", truncation=True, max_length=MAX_LENGTH,
                                return_tensors="pt").to(self.device)
        embeds = self.blip.text_encoder.embeddings(input_ids=tokens.input_ids)
        return {"attention_mask": tokens.attention_mask, "embeds": embeds}

    def score(self, pixels: torch.Tensor, text: dict[str, torch.Tensor]) -> torch.Tensor:
        image_embeds = self.blip.visual_encoder.forward_features(pixels)
        b = image_embeds.shape[0]
        out = self.blip.text_encoder(
            encoder_embeds=text["embeds"].expand(b, -1, -1),
            attention_mask=text["attention_mask"].expand(b, -1),
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=pixels.device),
        )
        return (self.mlp(out.last_hidden_state[:, 0]) - MEAN) / STD
