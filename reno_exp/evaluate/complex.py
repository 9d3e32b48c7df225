"""T2I-CompBench's complex ("3-in-1") score: the attribute (BLIP-VQA), spatial (detector) and action
(CLIP, adjectives removed) scores mixed by the sub-list a prompt comes from.

``complex_val.txt`` is ``complex_val_action`` + ``complex_val_spatial`` + ``complex_val_spatialaction``;
the official 3_in_1.py matches a prompt against the first two lists (line up to its first '.',
lower-cased): spatial -> (spatial + attribute)/2, action -> (action + attribute)/2, else the mean of
all three.
"""

from __future__ import annotations

import functools

from PIL import Image

from reno_exp.evaluate import t2i_compbench_rules as rules


@functools.cache
def sublists() -> tuple[frozenset[str], frozenset[str]]:
    from reno_exp.benchmarks.files import fetch, read_lines

    def lines(name):
        return frozenset(rules.normalise_complex(t) for _, t in read_lines(fetch("t2i_compbench", name)))

    return lines("complex_val_spatial.txt"), lines("complex_val_action.txt")


class ComplexScore:
    def __init__(self, attribute, spatial, action, kinds=sublists):
        self.attribute, self.spatial, self.action, self.kinds = attribute, spatial, action, kinds
        self.name = f"3-in-1 of [{attribute.name}] + [{spatial.name}] + [{action.name}]"

    def score(self, images: list[Image.Image], prompt: str, parsed) -> list[float]:
        spatial_list, action_list = self.kinds()
        kind = rules.complex_kind(prompt, spatial_list, action_list)
        attribute = self.attribute.score(images, parsed.chunks)
        spatial = self.spatial.score(images, prompt, parsed.tokens, complex=True) if kind != "action" else None
        action = (self.action.score(images, rules.without_adjectives(parsed.tokens)) if kind != "spatial"
                  else None)
        return [rules.complex_score(kind, a, None if spatial is None else spatial[i],
                                    None if action is None else action[i]) for i, a in enumerate(attribute)]
