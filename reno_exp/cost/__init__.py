"""What a ReNO run will cost, known before it runs: memory, FLOPs, device-hours.

- ``dryrun``: a CUDA dry run on the meta device (real architectures at real size and dtype, nothing allocated)
- ``accounting``: one dry-run iterate counted (bytes kept for backward, live bytes, FLOPs) by part
- ``estimate``: ``predict_memory``, ``max_batch``, ``flops_per_item``
- ``plan``: the jobs, items and iterates of a sweep, and its device-hours
- ``gpus``: peak dense half-precision rates, for the share of peak a run achieves
"""

from reno_exp.cost.estimate import (
    Estimate,
    MemoryPrediction,
    estimate,
    flops_per_item,
    max_batch,
    predict_memory,
)

__all__ = ["Estimate", "MemoryPrediction", "estimate", "flops_per_item", "max_batch", "predict_memory"]
