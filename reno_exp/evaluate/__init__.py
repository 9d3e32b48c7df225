"""Benchmark scoring of finished runs: T2I-CompBench, GenEval and the LAION aesthetic score.

``python -m reno_exp.evaluate <run or sweep dir> [overrides]`` (``scoring``) writes one line
per (key, image set, metric) to ``<run>/evaluation.jsonl``. Pure scoring rules live in
``t2i_compbench_rules`` and ``geneval_rules``; the other modules wrap the models.
"""

METRICS = ("t2i_compbench", "geneval", "aesthetic")
