"""spaCy's English pipeline, which T2I-CompBench uses for noun chunks and parts of speech.

The official evaluation uses ``en_core_web_sm``; it is not on PyPI through official channels, so its
absence is a clear error naming the command that installs it. With ``random_init`` the same kind of
pipeline (tagger, attribute ruler, dependency parser: spaCy's own components) is built with random
weights and the usual English label sets, offline: its tags and parses are arbitrary, like any
random-weight model's outputs, and it usually finds no noun chunk.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from reno_exp.config.errors import UserError
from reno_exp.evaluate.t2i_compbench_rules import Token

MODEL = "en_core_web_sm"
INSTALL = f"python -m spacy download {MODEL}"

# Penn Treebank tags and the coarse parts of speech en_core_web_sm's attribute ruler maps them to
TAG_TO_POS = {
    "$": "SYM", "''": "PUNCT", ",": "PUNCT", "-LRB-": "PUNCT", "-RRB-": "PUNCT", ".": "PUNCT", ":": "PUNCT",
    "ADD": "X", "AFX": "ADJ", "CC": "CCONJ", "CD": "NUM", "DT": "DET", "EX": "PRON", "FW": "X", "HYPH": "PUNCT",
    "IN": "ADP", "JJ": "ADJ", "JJR": "ADJ", "JJS": "ADJ", "LS": "X", "MD": "VERB", "NFP": "PUNCT", "NN": "NOUN",
    "NNP": "PROPN", "NNPS": "PROPN", "NNS": "NOUN", "PDT": "DET", "POS": "PART", "PRP": "PRON", "PRP$": "PRON",
    "RB": "ADV", "RBR": "ADV", "RBS": "ADV", "RP": "ADP", "SYM": "SYM", "TO": "PART", "UH": "INTJ", "VB": "VERB",
    "VBD": "VERB", "VBG": "VERB", "VBN": "VERB", "VBP": "VERB", "VBZ": "VERB", "WDT": "PRON", "WP": "PRON",
    "WP$": "PRON", "WRB": "ADV", "XX": "X", "_SP": "SPACE", "``": "PUNCT",
}
DEPS = ["ROOT", "acl", "acomp", "advcl", "advmod", "agent", "amod", "appos", "attr", "aux", "auxpass", "case", "cc",
        "ccomp", "compound", "conj", "dative", "dep", "det", "dobj", "expl", "intj", "mark", "meta", "neg", "nmod",
        "npadvmod", "nsubj", "nsubjpass", "nummod", "oprd", "parataxis", "pcomp", "pobj", "poss", "preconj", "predet",
        "prep", "prt", "punct", "quantmod", "relcl", "xcomp"]


@dataclass
class Parsed:
    chunks: list[str]  # noun chunk texts, in order
    tokens: list[Token]


class EnglishParser:
    def __init__(self, random_init: bool = False, model: str = MODEL):
        self.nlp = random_pipeline() if random_init else load_pipeline(model)
        self.name = f"spaCy {model}" + (" [random weights]" if random_init else "")

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one parser per evaluation run)
    def __call__(self, text: str) -> Parsed:
        doc = self.nlp(text)
        tokens = [Token(t.text, t.pos_, t.whitespace_) for t in doc]
        return Parsed([c.text for c in doc.noun_chunks], tokens)


def import_spacy():
    try:
        import spacy
    except ImportError:
        raise UserError(
            f"T2I-CompBench scoring needs spaCy: `pip install spacy` (and `{INSTALL}` for real scores)"
        ) from None
    return spacy


def load_pipeline(model: str = MODEL):
    spacy = import_spacy()
    try:
        return spacy.load(model)
    except OSError:
        raise UserError(
            f"spaCy's {model!r} pipeline is not installed; T2I-CompBench's noun phrases come from it: run "
            f"`{INSTALL}` (it is not on PyPI), or evaluate with random_init=true for a random-weight pipeline"
        ) from None


def random_pipeline():
    """A tagger + attribute ruler + parser English pipeline with random weights (fixed seed)."""
    spacy = import_spacy()
    from spacy.training import Example

    nlp = spacy.blank("en")
    tagger = nlp.add_pipe("tagger")
    ruler = nlp.add_pipe("attribute_ruler")
    parser = nlp.add_pipe("parser")
    for tag in TAG_TO_POS:
        tagger.add_label(tag)
    for dep in DEPS:
        parser.add_label(dep)
    # one annotated sentence only sizes the networks; no training step is taken
    words = ["a", "red", "dog", "near", "a", "cat"]
    example = Example.from_dict(
        nlp.make_doc(" ".join(words)),
        {"words": words, "tags": ["DT", "JJ", "NN", "IN", "DT", "NN"], "heads": [2, 2, 2, 2, 5, 3],
         "deps": ["det", "amod", "ROOT", "prep", "det", "pobj"]},
    )
    spacy.util.fix_random_seed(0)
    nlp.initialize(lambda: [example])
    for tag, pos in TAG_TO_POS.items():  # after initialize, which clears the ruler
        ruler.add([[{"TAG": tag}]], {"POS": pos})
    return nlp
