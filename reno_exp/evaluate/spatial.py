"""T2I-CompBench's spatial score with OWLv2 in place of UniDet: a port.

UniDet (detectron2, a unified 700-class label space) has no maintained equivalent; OWLv2 is an
open-vocabulary detector in transformers, so the prompt's two nouns are looked for by name
("a photo of a <noun>") instead of among fixed labels. Each predicted box takes its best query;
boxes above ``threshold`` count, most confident first. Boxes are measured in the frame UniDet saw
(shorter side 479, longer at most 480), where the rule's 150-pixel "next to" distance applies.
"""

from __future__ import annotations

import torch
from PIL import Image

from reno_exp.evaluate import t2i_compbench_rules as rules
from reno_exp.evaluate.base import local_or_hub, weights_note
from reno_exp.weights.checkpoints import HubRepo

CHECKPOINT = HubRepo("google/owlv2-base-patch16-ensemble")
QUERY = "a photo of a {}"
UNIDET_SHORT, UNIDET_MAX = 479, 480  # torchvision Resize(size=479, max_size=480) of the official script

TINY = {
    "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2},
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                      "image_size": 64, "patch_size": 16},
    "projection_dim": 32,
}


def unidet_scale(width: int, height: int) -> float:
    short, long = min(width, height), max(width, height)
    scale = UNIDET_SHORT / short
    return UNIDET_MAX / long if long * scale > UNIDET_MAX else scale


class OwlDetector:
    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 checkpoint: str = CHECKPOINT.repo, threshold: float = 0.1):
        from transformers import AutoTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor

        from reno_exp.weights import hub
        from reno_exp.weights.tokenizers import check_tokenizer, offline_clip_tokenizer

        if random_init:
            config = Owlv2Config(**TINY) if tiny else Owlv2Config(vision_config={"image_size": 960})
            self.model = Owlv2ForObjectDetection(config)
            size = config.vision_config.image_size
            self.image_processor = Owlv2ImageProcessor(size={"height": size, "width": size})
            self.tokenizer = offline_clip_tokenizer(config.text_config.max_position_embeddings, pad_token="!")
        else:
            path = local_or_hub(checkpoint)
            self.model = hub.load(checkpoint, Owlv2ForObjectDetection.from_pretrained, path)
            self.image_processor = hub.load(checkpoint, Owlv2ImageProcessor.from_pretrained, path)
            self.tokenizer = check_tokenizer(hub.load(checkpoint, AutoTokenizer.from_pretrained, path), checkpoint)
        self.model.requires_grad_(False).eval().to(device)
        self.device = torch.device(device)
        self.threshold = threshold
        self.name = f"OWLv2 ({checkpoint}, transformers; threshold {threshold}){weights_note(random_init, tiny)}"

    @torch.no_grad()
    def detect(self, image: Image.Image, names: list[str]) -> list[rules.Found]:
        """Detections of the named objects, most confident first, boxes in UniDet's input frame."""
        if not names:
            return []
        image = image.convert("RGB")
        pixels = self.image_processor(images=image, return_tensors="pt").pixel_values.to(self.device)
        text = self.tokenizer([QUERY.format(n) for n in names], padding="max_length", truncation=True,
                              max_length=self.model.config.text_config.max_position_embeddings, return_tensors="pt")
        out = self.model(input_ids=text.input_ids.to(self.device), attention_mask=text.attention_mask.to(self.device),
                         pixel_values=pixels)
        probs = out.logits[0].float().sigmoid()  # (boxes, queries)
        scores, labels = probs.max(dim=-1)
        # boxes are relative to the square the image was padded to (bottom and right)
        side = max(image.size) * unidet_scale(*image.size)
        cx, cy, w, h = (out.pred_boxes[0].float() * side).unbind(-1)
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
        keep = (scores > self.threshold).nonzero()[:, 0].tolist()
        keep = [keep[j] for j in rules.by_confidence([float(scores[i]) for i in keep])]
        return [rules.Found(names[int(labels[i])], rules.Box(*boxes[i].tolist()), float(scores[i])) for i in keep]


class SpatialScore:
    def __init__(self, detector: OwlDetector):
        self.detector = detector
        self.name = f"port of T2I-CompBench's UniDet spatial rule with {detector.name}"

    def score(self, images: list[Image.Image], prompt: str, tokens: list[rules.Token], complex: bool) -> list[float]:
        parse = rules.complex_spatial_objects if complex else rules.simple_spatial_objects
        obj1, obj2 = parse(tokens)
        names = [n for n in dict.fromkeys("person" if o in rules.PERSON_WORDS else o for o in (obj1, obj2)) if n]
        relation = rules.relation_of(prompt)
        return [rules.spatial_score(obj1, obj2, relation, self.detector.detect(im, names)) for im in images]
