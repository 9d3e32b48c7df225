"""T5 and Gemma tokenizers built offline, for random-weight builds only.

The real T5 (sentencepiece unigram, 32,100 tokens) and Gemma-2 (256,000 tokens) vocabularies cannot be
downloaded here. A random-weight text encoder only needs real token ids of the right vocabulary size, with the
right special tokens and padding/EOS/BOS behaviour, so these tokenizers are unigram models whose pieces are
derived from CLIP's BPE vocabulary (shipped in open_clip's wheel): English words and sub-words get ids, the
special tokens sit where the real tokenizers put them, and the rest of the vocabulary is filled with
``<unused{i}>`` entries up to the published size. Ids therefore differ from the real tokenizers' ids: with
real weights the real tokenizer is always loaded from the checkpoint.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import math
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, T5Tokenizer

T5_VOCAB = 32100  # tokenizer size (the T5 embedding table has 32,128 rows)
T5_EXTRA_IDS = 100
GEMMA_VOCAB = 256000


@functools.cache
def _pieces() -> tuple[str, ...]:
    """Sentencepiece-style pieces ("▁" starts a word), most frequent first, from CLIP's merge list."""
    # the file open_clip.tokenizer.default_bpe() names, found without importing open_clip (slow to import)
    bpe = Path(importlib.util.find_spec("open_clip").submodule_search_locations[0]) / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe).read().decode("utf-8").split("\n")[1:49152 - 256 - 1]
    chars = [chr(c) for c in range(33, 127)]
    out = dict.fromkeys(["▁" + c for c in chars] + chars + ["▁"])
    for m in merges:
        tok = "".join(m.split())
        if tok.endswith("</w>"):  # CLIP marks word ends; as a whole word it starts with "▁" in sentencepiece
            out["▁" + tok[:-4]] = None
        else:
            out[tok] = None
            out["▁" + tok] = None
    return tuple(p for p in out if p and "</w>" not in p)


def _vocab(specials: list[str], size: int) -> list[tuple[str, float]]:
    pieces = [p for p in _pieces() if p not in specials][: size - len(specials)]
    pieces += [f"<unused{i}>" for i in range(size - len(specials) - len(pieces))]
    # log-probability falling with the merge rank: frequent (early) pieces are preferred, whole words win
    return [(s, 0.0) for s in specials] + [(p, -math.log(i + 2.0)) for i, p in enumerate(pieces)]


def offline_t5_tokenizer(max_length: int = 120) -> T5Tokenizer:
    """T5's layout: <pad>=0, </s>=1, <unk>=2, pieces, then 100 <extra_id_*>; appends </s>, no BOS."""
    vocab = _vocab(["<pad>", "</s>", "<unk>"], T5_VOCAB - T5_EXTRA_IDS)
    tok = T5Tokenizer(vocab=vocab, extra_ids=T5_EXTRA_IDS)
    tok.model_max_length = max_length
    return tok


def offline_gemma_tokenizer(max_length: int = 8192) -> PreTrainedTokenizerFast:
    """Gemma's layout: <pad>=0, <eos>=1, <bos>=2, <unk>=3, <mask>=4; prepends <bos>, pads on the right."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
    backend = Tokenizer(models.Unigram(_vocab(specials, GEMMA_VOCAB), unk_id=3, byte_fallback=False))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    backend.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", 2)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        padding_side="right",
        model_max_length=max_length,
    )
