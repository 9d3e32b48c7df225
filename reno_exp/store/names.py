"""The names of what a run directory holds, in one place."""

RESULTS = "results.jsonl"  # one record per (prompt, seed): reno_exp.store.records
EVALUATION = "evaluation.jsonl"  # one score per (key, image set, metric): reno_exp.store.evaluations
RUN = "run.yaml"  # the run's result-affecting config and its fingerprint: reno_exp.store.rundir
LAUNCHES = "launches"  # each accepted launch's Hydra files, launches/000/, 001/, ...
LOCK = ".lock"  # the writer's flock
ANALYSIS = "analysis"  # what python -m reno_exp.analysis writes, per run and per sweep
FOLDERS = ("noise", "images", "iterates", LAUNCHES)  # must be folders when present
