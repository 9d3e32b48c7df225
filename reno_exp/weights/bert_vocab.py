"""A BERT WordPiece tokenizer for random-weight ImageReward builds, offline.

bert-base-uncased's ``vocab.txt`` is not shipped by any installed package and the hub is not
reachable, so random builds use a stand-in vocabulary with BERT's layout: the special tokens at
their bert-base-uncased ids ([PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103), 30,522 entries,
words taken from the CLIP BPE vocabulary. Token ids differ from the real tokenizer's for ordinary
words (irrelevant with random weights); with real weights the real tokenizer is loaded from the hub.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from transformers import BertTokenizer

BERT_VOCAB_SIZE = 30522
SPECIAL = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}


@functools.cache
def _vocab_file() -> Path:
    from reno_exp.weights.tokenizers import _clip_vocab_dir

    clip_words = (Path(_clip_vocab_dir()) / "merges.txt").read_text().splitlines()[1:]
    words, seen = [], set(SPECIAL.values())
    for c in "abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"-:;()&/":  # every single character, and as a suffix
        for w in (c, "##" + c):
            words.append(w)
            seen.add(w)
    for merge in clip_words:
        piece = "".join(merge.split())
        word = piece[:-4] if piece.endswith("</w>") else "##" + piece
        if word.strip("#").isascii() and word.strip("#").isalnum() and word not in seen:
            seen.add(word)
            words.append(word)
    vocab, it = [], iter(words)
    for i in range(BERT_VOCAB_SIZE):
        vocab.append(SPECIAL.get(i) or (f"[unused{i}]" if i < 104 else next(it)))
    out = Path(tempfile.mkdtemp(prefix="reno_exp_bert_vocab_")) / "vocab.txt"
    out.write_text("\n".join(vocab) + "\n")
    return out


def offline_bert_tokenizer() -> BertTokenizer:
    return BertTokenizer(str(_vocab_file()), do_lower_case=True)
