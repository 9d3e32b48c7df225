"""``python tests/device_probe.py WHAT OUT [gpu_check arguments]``: gpu-check as on the GPU machine's image,
watched from inside, for tests/test_device_kit.py; what it saw goes to OUT/probe.json.

- W&B, spaCy, submitit and pooch cannot be imported, as on the image; each attempt is recorded. The
  reno_exp modules loaded by the end are listed (the test reads their imports).
- ``dry``: gpu-check's arguments as given; the stand-in's synchronize records how many rows the table file
  holds at each call (a row written as soon as it is measured is there before the next step's calls).
  Then every model's and reward=all's classes are imported, as the real run builds them.
- ``hang``: the cost model gives a fixed estimate, no allowance is added, a build is free, and the second
  measurement never returns: only the budget can end the run.
"""

from __future__ import annotations

import importlib.abc
import json
import sys
import threading
from pathlib import Path

BLOCKED = {"wandb", "spacy", "submitit", "pooch", "hydra_plugins"}
what, out, args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
seen = {"attempts": [], "rows_at_sync": []}


class Image(importlib.abc.MetaPathFinder):
    """A finder of the running interpreter that finds none of BLOCKED, as though they were not installed:
    an import of one fails, a probe of one (importlib.util.find_spec) answers None."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            frame = sys._getframe(1)
            while frame and (frame.f_code.co_filename.startswith("<frozen") or "importlib" in frame.f_code.co_filename):
                frame = frame.f_back
            seen["attempts"].append([frame.f_globals.get("__name__") if frame else None, name])
            return None
        return self.finder.find_spec(name, path, target) if hasattr(self.finder, "find_spec") else None

    def __getattr__(self, attr):
        return getattr(self.finder, attr)


sys.meta_path[:] = [Image(f) for f in sys.meta_path]
for name in [m for m in sys.modules if m.split(".")[0] in BLOCKED]:
    del sys.modules[name]

import reno_exp.assemble.parts  # noqa: E402
from reno_exp.bench import cuda, gpu_check, gpu_plan  # noqa: E402


def save(rc) -> None:
    seen["rc"] = rc
    seen["loaded"] = sorted(m for m in sys.modules if m.startswith("reno_exp"))
    (out / "probe.json").write_text(json.dumps(seen))


if what == "dry":
    def synchronize(self) -> None:
        table = out / gpu_check.OUT_MD
        seen["rows_at_sync"].append(len(table.read_text().splitlines()) - 2 if table.exists() else None)

    cuda.StandIn.synchronize = synchronize
    rc = gpu_check.main(args)
    from hydra.utils import get_class

    from reno_exp.bench.commands import compose_run

    for model in gpu_plan.MODELS:
        cfg = compose_run([f"model={model}", "random_init=true", *gpu_plan.REWARDS], 1, "cuda")
        for target in [cfg.model._target_, *(node._target_ for node in cfg.reward.values())]:
            get_class(target)
    save(rc)
elif what == "hang":
    import reno_exp.experiment.run
    from reno_exp.cost.estimate import Estimate, Linear, MemoryPrediction, PartMemory

    calls = []

    def measure(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            threading.Event().wait()
        return cuda.Measurement(0.5, None, 0.1, [])

    fixed = Estimate(MemoryPrediction({"denoiser": PartMemory(2**20, Linear(0, 2**20), Linear(0, 0))},
                                      Linear(0, 2**20), None), {"denoiser": 10**9})
    gpu_plan.Estimates.compute = lambda self, model, cfg: fixed
    gpu_plan.START_S = gpu_plan.BUILD_S = gpu_plan.RUN_S = 0.0
    cuda.measure = measure
    reno_exp.assemble.parts.build = lambda *a, **k: ("generator", "rewards")
    save(None)
    save(gpu_check.main(args))
else:
    raise SystemExit(f"unknown probe {what!r}")
