"""BLIP-VQA attribute-binding score of T2I-CompBench (colour, shape, texture; complex's attribute part).

BLIP ViT-B CapFilt-L VQA through transformers' ``BlipForQuestionAnswering``, driven the way
T2I-CompBench's ``vqa_prob`` drives the original BLIP: image resized to 480 x 480 (bicubic, PIL),
CLIP normalisation; question tokens with the first token replaced by [ENC], at most 35 tokens; one
decoder step from [DEC]; p = P(yes) / (P(yes) + P(no)) over the full vocabulary softmax. The hub
port's position embeddings are stored for 384 px; they are interpolated to 480 px (the original
checkpoint was fine-tuned at 480 px and its embeddings were interpolated to 384 px by the port).
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

from reno_exp.evaluate import t2i_compbench_rules as rules
from reno_exp.evaluate.base import local_or_hub, weights_note
from reno_exp.rewards.preprocess import CLIP_MEAN, CLIP_STD
from reno_exp.weights.checkpoints import HubRepo

CHECKPOINT = HubRepo("Salesforce/blip-vqa-capfilt-large")
IMAGE_SIZE = 480
MAX_QUESTION_TOKENS = 35
DEC, ENC = "[DEC]", "[ENC]"
# BLIP's token layout: [DEC] and [ENC] appended to bert-base-uncased's 30,522 entries
BLIP_DEC_ID, BLIP_ENC_ID = 30522, 30523

TINY = {
    "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                    "vocab_size": 30524, "encoder_hidden_size": 32},
    "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                      "image_size": 384, "patch_size": 16},
}


def preprocess(image_size: int = IMAGE_SIZE):
    return transforms.Compose([
        transforms.Resize((image_size, image_size), interpolation=InterpolationMode.BICUBIC),
        transforms.ToTensor(),
        transforms.Normalize(CLIP_MEAN, CLIP_STD),
    ])


def stand_in_tokenizer():
    """Offline random builds: BERT's layout with a stand-in vocabulary, plus BLIP's [DEC] and [ENC]."""
    from reno_exp.weights.bert_vocab import offline_bert_tokenizer

    tok = offline_bert_tokenizer()
    tok.add_special_tokens({"bos_token": DEC, "additional_special_tokens": [ENC]})
    return tok


class BlipVQA(torch.nn.Module):
    def __init__(self, random_init: bool = False, tiny: bool = False, device: str = "cpu",
                 checkpoint: str = CHECKPOINT.repo, image_size: int = IMAGE_SIZE):
        super().__init__()
        from transformers import AutoTokenizer, BlipConfig, BlipForQuestionAnswering

        from reno_exp.weights import hub
        from reno_exp.weights.tokenizers import check_tokenizer

        if random_init:
            config = BlipConfig(**TINY) if tiny else BlipConfig()  # BlipConfig() is BLIP ViT-B's architecture
            self.model = BlipForQuestionAnswering(config)
            self.tokenizer = stand_in_tokenizer()
        else:
            path = local_or_hub(checkpoint)
            self.model = hub.load(checkpoint, BlipForQuestionAnswering.from_pretrained, path)
            self.tokenizer = check_tokenizer(hub.load(checkpoint, AutoTokenizer.from_pretrained, path), checkpoint)
        self.model.requires_grad_(False).eval().to(device)
        self.device = torch.device(device)
        self.transform = preprocess(image_size)
        self.interpolate = self.model.config.vision_config.image_size != image_size
        self.dec_id = self.model.config.text_config.bos_token_id
        self.enc_id = self.token_id(ENC, BLIP_ENC_ID)
        self.yes_id, self.no_id = self.token_id("yes"), self.token_id("no")
        self.name = f"BLIP-VQA ({checkpoint}, transformers; {image_size} px){weights_note(random_init, tiny)}"

    def token_id(self, token: str, default: int | None = None) -> int:
        i = self.tokenizer.convert_tokens_to_ids(token)
        if i is None or i == self.tokenizer.unk_token_id:
            if default is None:
                raise ValueError(f"the BLIP tokenizer has no token {token!r}")
            return default
        return i

    @torch.no_grad()
    def answer(self, images: list[Image.Image], questions: list[str]) -> torch.Tensor:
        """P(yes)/(P(yes)+P(no)) of every question about every image: (len(images), len(questions))."""
        pixels = torch.stack([self.transform(im.convert("RGB")) for im in images]).to(self.device)
        q = self.tokenizer(questions, padding="longest", truncation=True, max_length=MAX_QUESTION_TOKENS,
                           return_tensors="pt").to(self.device)
        ids = q.input_ids.clone()
        ids[:, 0] = self.enc_id
        m, n_img, n_q = self.model, len(images), len(questions)
        image_embeds = m.vision_model(pixel_values=pixels, interpolate_pos_encoding=self.interpolate)[0]
        image_embeds = image_embeds.repeat_interleave(n_q, dim=0)  # the image side once per image
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
        ids, mask = ids.repeat(n_img, 1), q.attention_mask.repeat(n_img, 1)
        states = m.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=image_embeds,
                                encoder_attention_mask=image_mask)[0]
        start = torch.full((len(ids), 1), self.dec_id, dtype=torch.long, device=self.device)
        logits = m.text_decoder(input_ids=start, encoder_hidden_states=states, encoder_attention_mask=mask).logits[:, 0]
        return rules.yes_probability(logits, self.yes_id, self.no_id).cpu().view(n_img, n_q)

    @torch.no_grad()
    def score(self, images: list[Image.Image], chunks: list[str]) -> list[float]:
        """Each image's product of answers to the questions built from the prompt's noun chunks."""
        questions = rules.vqa_questions(chunks)
        if not questions:
            return [1.0] * len(images)
        return [rules.attribute_score(row.tolist()) for row in self.answer(images, questions)]
