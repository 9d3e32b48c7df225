"""T2I-CompBench (and T2I-CompBench++): ``benchmark=t2i_compbench benchmark.category=color``.

One category per run, as the official evaluators score one category's folder at a time. Images are also
written in the official layout, ``t2i_compbench/<set>/samples/{prompt}_{k:06d}.png`` under the run dir
(``<set>`` = ``initial``, the one-step model's image, or ``best``, ReNO's), with one running k per
category: prompt i owns k = n*i .. n*i + n-1 for n images per prompt. k comes from the item's position,
never from the order of execution, so shards and resumed runs name every image the same way.
"""

from __future__ import annotations

import functools

from reno_exp.benchmarks.base import Item, PromptSuite
from reno_exp.benchmarks.files import fetch, manifest, read_lines
from reno_exp.config.benchmark import CATEGORIES, T2ICompBenchConfig
from reno_exp.config.errors import UserError

SUITE = "t2i_compbench"


def file_name(category: str, split: str) -> str:
    return f"{category}_val.txt" if split == "val" else f"{category}_val_{split}.txt"


def splits(category: str) -> list[str]:
    names = manifest(SUITE)["files"]
    prefix = f"{category}_val_"
    return ["val"] + sorted(n[len(prefix): -4] for n in names if n.startswith(prefix))


class T2ICompBench(PromptSuite):
    schema = T2ICompBenchConfig
    name = SUITE

    def __init__(self, **options):
        super().__init__(**options)
        category, split = self.cfg.category, self.cfg.split
        if category not in CATEGORIES:
            raise UserError(f"benchmark.category={category!r}: T2I-CompBench has {', '.join(CATEGORIES)}")
        if split not in splits(category):
            raise UserError(f"benchmark.split={split!r}: {category} has the splits {', '.join(splits(category))}")
        self.category, self.split = category, split

    @functools.cache  # noqa: B019 (one suite object per run)
    def prompts(self):
        path = fetch(SUITE, file_name(self.category, self.split))
        out = []
        for line_no, line in read_lines(path):
            if not line.strip():
                raise UserError(f"{path}:{line_no}: empty line (expected one prompt per line)")
            if "/" in line or "\0" in line:
                raise UserError(f"{path}:{line_no}: a prompt cannot name a file in the official layout: {line!r}")
            out.append((line, {"suite": SUITE, "category": self.category}))
        return out

    def image_number(self, item: Item) -> int:
        return item.index * len(self.seeds) + item.k

    def export(self, item, images, records):
        for image_set, image in images.items():
            records.save_image(image, f"{SUITE}/{image_set}/samples/{item.prompt}_{self.image_number(item):06d}.png")
