"""``python -m reno_exp.bench``: what a run costs. Timing (``timing``: interleaved repeats, minima,
spread), the app's overhead over a bare loop (``overhead``), items/hour by batch size (``batches``),
and the predictions of ``reno_exp.cost`` printed (``report``): memory, FLOPs, a sweep's device-hours.
``gpu_check`` is ``make gpu-check``."""
