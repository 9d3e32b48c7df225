"""CLIP tokenizers that work offline, and a guard against the empty ones the hub hands out offline.

open_clip's wheel ships the real CLIP BPE vocabulary; transformers' ``CLIPTokenizer`` files
(vocab.json, merges.txt) are derived from it, so random-weight models tokenise exactly like the real
ones without any download.
"""

from __future__ import annotations

import functools
import gzip
import json
import tempfile
from pathlib import Path

from transformers import CLIPTokenizer

from reno_exp.weights.hub import MissingWeightsError


def _bytes_to_unicode() -> dict[int, str]:
    # the byte <-> printable-unicode table of GPT-2/CLIP BPE
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@functools.cache
def _clip_vocab_dir() -> Path:
    import open_clip

    merges = gzip.open(open_clip.tokenizer.default_bpe()).read().decode("utf-8").split("\n")
    merges = merges[1 : 49152 - 256 - 2 + 1]
    vocab = list(_bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    out = Path(tempfile.mkdtemp(prefix="reno_exp_clip_bpe_"))
    (out / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return out


def offline_clip_tokenizer(max_length: int = 77, pad_token: str = "<|endoftext|>") -> CLIPTokenizer:
    """The real CLIP tokenizer built from open_clip's vocabulary (SD 2.x and OpenCLIP pad with "!")."""
    d = _clip_vocab_dir()
    return CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"), model_max_length=max_length, pad_token=pad_token)


def check_tokenizer(tokenizer, source: str):
    """Offline, ``CLIPTokenizer.from_pretrained(hub_id)`` returns an empty tokenizer without error."""
    if len(tokenizer) < 1000:
        raise MissingWeightsError(source, f"the tokenizer loaded from it has only {len(tokenizer)} tokens")
    return tokenizer
