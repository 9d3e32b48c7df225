"""Parity of the rewards with the authors' code on shared random weights.

ImageReward and HPSv2 are compared with the original packages (``image-reward`` 1.5, ``hpsv2`` 1.2.0,
installed for tests only with ``pip install --no-deps image-reward==1.5 hpsv2==1.2.0``) through a
small compatibility shim; their weights are saved and loaded back into our rewards through the real
strict loading path. CLIPScore, PickScore and the aesthetic score, whose original code is a few lines
around a library model, are compared with references written from those lines.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reno_exp.rewards.base import RewardSet
from reno_exp.rewards.preprocess import CLIP_MEAN, CLIP_STD, clip_preprocess
from reno_exp.weights.checkpoints import LocalFile

PROMPT = "a photo of an astronaut riding a horse on the moon"
INSTALL = "pip install --no-deps image-reward==1.5 hpsv2==1.2.0"


def package_root(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None:
        pytest.fail(f"the original package {name!r} is needed for this parity test: {INSTALL}")
    return Path(spec.submodule_search_locations[0])


def bare_package(name: str, path: Path) -> None:
    """Register a package without running its __init__ (which imports what we do not need)."""
    if name not in sys.modules:
        module = types.ModuleType(name)
        module.__path__ = [str(path)]
        sys.modules[name] = module


@functools.cache
def original_imagereward():
    """ImageReward 1.5 under transformers 5: the helpers it imports from transformers.modeling_utils
    moved or went, fairscale (for gradient checkpointing only) is not installed, BertModel's
    init_weights/invert_attention_mask/get_head_mask of transformers 4 are gone, so is the tokenizer's
    ``additional_special_tokens_ids``; the package __init__
    imports the undeclared ``clip``. Each is restored as transformers 4 defined it."""
    import transformers.modeling_utils as mu
    import transformers.pytorch_utils as pu

    def apply_chunking_to_forward(forward_fn, chunk_size, chunk_dim, *inputs):
        assert chunk_size == 0  # BERT's chunk_size_feed_forward is 0: no chunking
        return forward_fn(*inputs)

    mu.apply_chunking_to_forward = getattr(mu, "apply_chunking_to_forward", apply_chunking_to_forward)
    for name in ("find_pruneable_heads_and_indices", "prune_linear_layer"):
        if not hasattr(mu, name):
            setattr(mu, name, getattr(pu, name, None))
    ckpt = types.ModuleType("fairscale.nn.checkpoint.checkpoint_activations")
    ckpt.checkpoint_wrapper = lambda module, *a, **k: module
    for name in ("fairscale", "fairscale.nn", "fairscale.nn.checkpoint"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules.setdefault(ckpt.__name__, ckpt)

    root = package_root("ImageReward")
    bare_package("ImageReward", root)
    bare_package("ImageReward.models", root / "models")
    med = importlib.import_module("ImageReward.models.BLIP.med")

    def invert_attention_mask(self, mask):
        ext = (mask[:, None, :, :] if mask.dim() == 3 else mask[:, None, None, :]).to(self.dtype)
        return (1.0 - ext) * torch.finfo(self.dtype).min

    def get_head_mask(self, head_mask, num_hidden_layers, is_attention_chunked=False):
        assert head_mask is None
        return [None] * num_hidden_layers

    med.BertPreTrainedModel.init_weights = lambda self: self.apply(self._init_weights)
    from transformers import BertTokenizer  # BLIP's init_tokenizer reads a tokenizer attribute v5 renamed

    if "additional_special_tokens_ids" not in vars(BertTokenizer):
        BertTokenizer.additional_special_tokens_ids = property(
            lambda self: self.convert_tokens_to_ids(self.extra_special_tokens))
    for f in (invert_attention_mask, get_head_mask):
        if not hasattr(med.BertPreTrainedModel, f.__name__):
            setattr(med.BertPreTrainedModel, f.__name__, f)
    return types.SimpleNamespace(
        vit=importlib.import_module("ImageReward.models.BLIP.vit"),
        blip=importlib.import_module("ImageReward.models.BLIP.blip"),
        blip_pretrain=importlib.import_module("ImageReward.models.BLIP.blip_pretrain"),
        ImageReward=importlib.import_module("ImageReward.ImageReward").ImageReward,
    )


@functools.cache
def original_hps_open_clip():
    """hpsv2 1.2.0's vendored open_clip; its wheel lacks the BPE vocabulary it reads at import: the
    same file from open_clip is read instead."""
    import open_clip

    root = package_root("hpsv2")
    bare_package("hpsv2", root)
    real_open = gzip.open

    def gzip_open(f, *a, **k):
        return real_open(open_clip.tokenizer.default_bpe() if str(f).endswith("bpe_simple_vocab_16e6.txt.gz") else f, *a, **k)

    gzip.open = gzip_open
    try:
        return importlib.import_module("hpsv2.src.open_clip")
    finally:
        gzip.open = real_open


def pil_image(size: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float().div(255).unsqueeze(0)


# --------------------------------------------------------------------------------------- preprocessing


def test_preprocess_equals_torchvision_tensor_transforms():
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize

    reference = Compose([Resize(224, interpolation=InterpolationMode.BICUBIC, antialias=True), CenterCrop(224),
                         Normalize(CLIP_MEAN, CLIP_STD)])
    for shape in ((2, 3, 512, 512), (1, 3, 128, 128), (1, 3, 300, 420)):
        x = torch.rand(shape)
        torch.testing.assert_close(clip_preprocess(x), reference(x), atol=1e-5, rtol=1e-5)


def test_preprocess_is_close_to_the_pil_pipeline_of_the_packages():
    """The packages preprocess PIL images (resize in 8 bits, clamped); the tensor path differs only by
    that rounding: about 1/255 of the pixel range before normalisation."""
    from torchvision.transforms import CenterCrop, Compose, InterpolationMode, Normalize, Resize, ToTensor

    pil = Compose([Resize(224, interpolation=InterpolationMode.BICUBIC), CenterCrop(224), ToTensor(),
                   Normalize(CLIP_MEAN, CLIP_STD)])
    img = pil_image(512).resize((512, 512))
    diff = (clip_preprocess(to_tensor(img)) - pil(img).unsqueeze(0)).abs() * 0.27  # back to pixel units
    assert diff.mean() < 1.5 / 255 and diff.max() < 0.1
    same = pil_image(224)  # no resize: identical
    torch.testing.assert_close(clip_preprocess(to_tensor(same)), pil(same).unsqueeze(0), atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------- ImageReward


@pytest.fixture(scope="module")
def imagereward_pair(tmp_path_factory):
    """The original ImageReward (tiny ViT; BERT 768 wide because the original head is MLP(768)), its
    weights loaded strictly into ours from a saved ImageReward.pt."""
    from reno_exp.rewards.imagereward import MED_CONFIG, TINY_VIT, ImageRewardReward
    from reno_exp.weights.bert_vocab import offline_bert_tokenizer

    orig = original_imagereward()
    tmp = tmp_path_factory.mktemp("imagereward")
    med = json.loads(MED_CONFIG.read_text())
    med.update(num_hidden_layers=2, intermediate_size=256)
    (tmp / "med_config.json").write_text(json.dumps(med))

    def tiny_vit(vit, image_size, *args, **kwargs):
        return orig.vit.VisionTransformer(img_size=image_size, patch_size=TINY_VIT["patch_size"],
                                          embed_dim=TINY_VIT["embed_dim"], depth=TINY_VIT["depth"],
                                          num_heads=TINY_VIT["num_heads"]), TINY_VIT["embed_dim"]

    saved = orig.blip_pretrain.create_vit, orig.blip.BertTokenizer
    orig.blip_pretrain.create_vit = tiny_vit
    orig.blip.BertTokenizer = types.SimpleNamespace(from_pretrained=lambda name: offline_bert_tokenizer())
    try:
        torch.manual_seed(0)
        original = orig.ImageReward(med_config=str(tmp / "med_config.json"), device="cpu").eval()
    finally:
        orig.blip_pretrain.create_vit, orig.blip.BertTokenizer = saved
    with torch.no_grad():  # the original head starts near 0 (std 1/769): spread it so differences show
        for p in original.mlp.parameters():
            p.normal_(0, 0.05)
    torch.save(original.state_dict(), tmp / "ImageReward.pt")  # includes the old persistent position_ids
    original.blip.tokenizer.save_pretrained(tmp / "tokenizer")
    ours = ImageRewardReward(tiny=True, tokenizer=str(tmp / "tokenizer"), dtype="float32",
                             checkpoint=LocalFile(str(tmp / "ImageReward.pt")),
                             med_config=LocalFile(str(tmp / "med_config.json")))
    return original, ours


def test_imagereward_matches_the_original_score_and_gradient(imagereward_pair):
    original, ours = imagereward_pair
    x = torch.rand(1, 3, 256, 256)
    # ReNO's call: the original's tokenizer and score_gard on the tensor-preprocessed image
    tokens = original.blip.tokenizer(PROMPT, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    xa = x.clone().requires_grad_(True)
    ref = original.score_gard(tokens.input_ids, tokens.attention_mask, clip_preprocess(xa)).squeeze(-1)
    ref.sum().backward()
    xb = x.clone().requires_grad_(True)
    got = ours(xb, ours.prepare(PROMPT))
    got.sum().backward()
    assert ref.abs().max() > 0.1  # not a degenerate comparison
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-6, rtol=1e-4)


def test_imagereward_matches_the_original_pil_score(imagereward_pair):
    original, ours = imagereward_pair
    long = "a very detailed painting of " + ", ".join(f"a {c} bird on a {c} branch" for c in ("red", "blue", "green", "gold"))
    for prompt in (PROMPT, "two cats", long):  # the long one is truncated at 35 tokens
        img = pil_image(224, seed=1)
        ref = original.score(prompt, img)  # the package's own entry point: its tokenizer, its PIL preprocessing
        assert ours(to_tensor(img), ours.prepare(prompt)).item() == pytest.approx(ref, abs=1e-5)


# --------------------------------------------------------------------------------------------- HPSv2


def test_hpsv2_matches_the_original_package(tmp_path):
    from reno_exp.rewards.hpsv2 import HPSv2Reward
    from reno_exp.rewards.openclip_towers import TINY

    oc = original_hps_open_clip()
    torch.manual_seed(0)
    original = oc.model.CLIP(**TINY, output_dict=True).eval()
    torch.save({"state_dict": original.state_dict()}, tmp_path / "HPS_v2.1_compressed.pt")
    ours = HPSv2Reward(tiny=True, dtype="float32", checkpoint=LocalFile(str(tmp_path / "HPS_v2.1_compressed.pt")))

    x = torch.rand(2, 3, 256, 256)
    xa = x.clone().requires_grad_(True)
    out = original(clip_preprocess(xa), oc.get_tokenizer("ViT-H-14")([PROMPT]))
    ref = (out["image_features"] @ out["text_features"].T)[:, 0]  # the package's diagonal, one prompt for all
    ref.sum().backward()
    xb = x.clone().requires_grad_(True)
    got = ours(xb, ours.prepare(PROMPT))
    got.sum().backward()
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(xb.grad, xa.grad, atol=1e-6, rtol=1e-4)
    # the package's score() on a PIL image: its own tokenizer and preprocessing
    img = pil_image(224, seed=2)
    with torch.no_grad():
        out = original(oc.transform.image_transform(224, is_train=False)(img).unsqueeze(0),
                       oc.get_tokenizer("ViT-H-14")([PROMPT]))
    ref_pil = (out["image_features"] @ out["text_features"].T)[0, 0].item()
    assert ours(to_tensor(img), ours.prepare(PROMPT)).item() == pytest.approx(ref_pil, abs=1e-5)


# ------------------------------------------------------------------------- CLIPScore, PickScore, aesthetic


@pytest.mark.parametrize("name", ["clip", "pickscore"])
def test_clip_rewards_match_the_authors_formula(name):
    """ReNO: ``offset - (img @ txt.T).mean() * logit_scale.exp()`` on normalised features from
    ``get_image_features`` / ``get_text_features`` with ``tokenizer(prompt, padding=True, max_length=77,
    truncation=True)``. The reference here is transformers' own CLIPModel.forward (logits_per_image) on
    the processor's PIL preprocessing."""
    from transformers import CLIPImageProcessor

    from reno_exp.rewards.clipscore import CLIPScoreReward
    from reno_exp.rewards.pickscore import PickScoreReward

    torch.manual_seed(0)
    ours = (CLIPScoreReward if name == "clip" else PickScoreReward)(random_init=True, tiny=True, dtype="float32")
    with torch.no_grad():
        ours.model.logit_scale.fill_(np.log(100.0))
    processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                                   resample=3, image_mean=list(CLIP_MEAN), image_std=list(CLIP_STD))
    img = pil_image(224, seed=3)
    tokens = ours.tokenizer(PROMPT, padding=True, truncation=True, max_length=77, return_tensors="pt")
    with torch.no_grad():
        ref = ours.model(**tokens, pixel_values=processor(img, return_tensors="pt").pixel_values).logits_per_image[0, 0]
    got = ours(to_tensor(img), ours.prepare(PROMPT))
    assert got.item() == pytest.approx(ref.item(), abs=1e-4)
    loss, _ = RewardSet({name: ours}, {name: 1.0})(to_tensor(img), {name: ours.prepare(PROMPT)})
    assert loss.item() == pytest.approx(ours.offset - ref.item(), abs=1e-4)


def test_aesthetic_matches_the_predictor_formula():
    """improved-aesthetic-predictor: ``mlp(normalized(clip.encode_image(x)))`` with numpy L2 normalisation."""
    from reno_exp.rewards.aesthetic import AestheticReward
    from reno_exp.rewards.openclip_towers import build_clip

    torch.manual_seed(0)
    ours = AestheticReward(random_init=True, tiny=True, dtype="float32")
    clip = build_clip("ViT-L-14-quickgelu", tiny=True).eval()
    clip.visual.load_state_dict(ours.visual.state_dict())
    x = torch.rand(2, 3, 256, 256)
    with torch.no_grad():
        emb = clip.encode_image(clip_preprocess(x)).numpy()
        l2 = np.atleast_1d(np.linalg.norm(emb, 2, -1))
        l2[l2 == 0] = 1
        ref = ours.mlp.layers(torch.from_numpy(emb / np.expand_dims(l2, -1)).float()).squeeze(-1)
    torch.testing.assert_close(ours(x), ref, atol=1e-5, rtol=1e-5)
