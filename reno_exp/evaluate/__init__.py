"""Benchmark scoring of finished runs: T2I-CompBench, GenEval and the LAION aesthetic score.

``python -m reno_exp.evaluate <run or sweep dir> [overrides]`` (``scoring``) writes one line
per (key, image set, metric) to ``<run>/evaluation.jsonl``. Pure scoring rules live in
``t2i_compbench_rules`` and ``geneval_rules``; the other modules wrap the models.
"""

# metric -> the evaluator class that scores it (imported when it is used: each loads its own models)
EVALUATORS = {
    "t2i_compbench": "reno_exp.evaluate.t2i_compbench.T2ICompBench",
    "geneval": "reno_exp.evaluate.geneval.GenEval",
    "aesthetic": "reno_exp.evaluate.aesthetic.Aesthetic",
}
METRICS = tuple(EVALUATORS)
