"""Mask2Former Swin-S COCO instance segmentation with mmdetection 2.x's inference, on transformers:
a port of the detector GenEval uses.

GenEval runs mmdet's ``mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco`` checkpoint. transformers has the
same architecture with the Mask2Former authors' own weights (``facebook/mask2former-swin-small-coco-
instance``, trained in detectron2), so the weights differ; everything around them follows mmdet:

- input: shorter side towards 800 / longer at most 1333 keeping the aspect ratio (bilinear, 8-bit
  like OpenCV), ImageNet mean/std, zero padding to a multiple of 32;
- masks: logits upsampled to the padded input, cropped to the image, resized to the original size
  (bilinear), binarised at logit 0;
- instances: the 100 best (query, class) pairs of the softmax without the no-object column (no score
  cut), score = class probability x mean mask probability inside the mask, box = the mask's
  bounding box (x2, y2 exclusive, as mmdet's mask2bbox).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from reno_exp.evaluate.base import local_or_hub, weights_note
from reno_exp.evaluate.geneval_rules import Detection
from reno_exp.weights.checkpoints import HubRepo

CHECKPOINT = HubRepo("facebook/mask2former-swin-small-coco-instance")
SCALE = (1333, 800)
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)
PAD = 32
MAX_PER_IMAGE = 100
NUM_CLASSES = 80

TINY_SWIN = {"embed_dim": 16, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 2, 2], "window_size": 7,
             "out_features": ["stage1", "stage2", "stage3", "stage4"]}
TINY = {"num_queries": 100, "hidden_dim": 32, "mask_feature_size": 32, "feature_size": 32, "encoder_layers": 1,
        "decoder_layers": 2, "num_attention_heads": 2, "dim_feedforward": 64, "encoder_feedforward_dim": 64}


def rescale_size(width: int, height: int, scale=SCALE) -> tuple[int, int]:
    """mmcv's keep-ratio rescale: the largest size within (long, short) bounds."""
    factor = min(max(scale) / max(width, height), min(scale) / min(width, height))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def preprocess(image: Image.Image, scale=SCALE) -> tuple[torch.Tensor, tuple[int, int]]:
    """(1, 3, H', W') padded float input, and the (h, w) of the resized image inside it."""
    x = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None]
    w, h = rescale_size(image.width, image.height, scale)
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False).round().clamp(0, 255)
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    ph, pw = -(-h // PAD) * PAD, -(-w // PAD) * PAD
    return F.pad(x, (0, pw - w, 0, ph - h)), (h, w)


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> (N, 4) float x1, y1, x2, y2 (exclusive ends; zeros for an empty mask)."""
    boxes = torch.zeros(len(masks), 4)
    xs, ys = masks.any(dim=1), masks.any(dim=2)
    for i in range(len(masks)):
        x, y = torch.where(xs[i])[0], torch.where(ys[i])[0]
        if len(x) and len(y):
            boxes[i] = torch.tensor([x[0], y[0], x[-1] + 1, y[-1] + 1], dtype=torch.float32)
    return boxes


def instances(class_logits: torch.Tensor, mask_logits: torch.Tensor, max_per_image: int = MAX_PER_IMAGE):
    """mmdet's MaskFormerFusionHead.instance_postprocess for one image.

    class_logits (Q, C+1); mask_logits (Q, H, W) at the original size -> labels (K,), scores (K,),
    boxes (K, 4), masks (K, H, W) bool, K = min(max_per_image, Q*C)."""
    num_classes = class_logits.shape[-1] - 1
    scores = F.softmax(class_logits.float(), dim=-1)[:, :-1]
    top_scores, top = scores.flatten().topk(min(max_per_image, scores.numel()), sorted=True)
    labels, queries = top % num_classes, top // num_classes
    logits = mask_logits[queries].float()
    binary = logits > 0
    mask_scores = (logits.sigmoid() * binary).flatten(1).sum(1) / (binary.flatten(1).sum(1) + 1e-6)
    return labels, top_scores * mask_scores, mask_boxes(binary.cpu()), binary


class Mask2FormerDetector:
    def __init__(self, class_names: list[str], random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 checkpoint: str = CHECKPOINT.repo, scale: tuple[int, int] = SCALE):
        from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

        from reno_exp.weights import hub

        if random_init:
            # Mask2FormerConfig's default backbone is Swin-S (96 wide, depths 2-2-18-2, window 7)
            extra = {"backbone_config": SwinConfig(**TINY_SWIN), **TINY} if tiny else {}
            self.model = Mask2FormerForUniversalSegmentation(Mask2FormerConfig(num_labels=len(class_names), **extra))
        else:
            path = local_or_hub(checkpoint)
            self.model = hub.load(checkpoint, Mask2FormerForUniversalSegmentation.from_pretrained, path)
        if self.model.config.num_labels != len(class_names):
            raise ValueError(f"{checkpoint} has {self.model.config.num_labels} classes, GenEval {len(class_names)}")
        self.model.requires_grad_(False).eval().to(device)
        self.device = torch.device(device)
        self.class_names = class_names
        self.scale = tuple(scale)
        self.name = (f"port of mmdet Mask2Former Swin-S COCO (transformers {checkpoint}, mmdet post-processing"
                     f"{'' if self.scale == SCALE else f'; input scale {self.scale}'}){weights_note(random_init, tiny)}")

    @torch.no_grad()
    def detect(self, image: Image.Image) -> dict[str, list[Detection]]:
        """Class name -> its instances (unsorted, unthresholded), boxes and masks at the image's size."""
        x, (h, w) = preprocess(image, self.scale)
        out = self.model(pixel_values=x.to(self.device))
        masks = F.interpolate(out.masks_queries_logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        masks = F.interpolate(masks[:, :, :h, :w], size=(image.height, image.width), mode="bilinear",
                              align_corners=False)[0]
        labels, scores, boxes, binary = instances(out.class_queries_logits[0], masks)
        binary = binary.cpu().numpy()
        found: dict[str, list[Detection]] = {}
        for i, label in enumerate(labels.tolist()):
            found.setdefault(self.class_names[label], []).append(
                Detection(tuple(boxes[i].tolist()), float(scores[i]), binary[i]))
        return found
