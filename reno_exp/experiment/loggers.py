"""Where a run reports as it goes: nowhere (``logger=none``) or Weights & Biases (``logger=wandb``)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

from reno_exp.config.errors import first_line
from reno_exp.store.records import to_pil
from reno_exp.store.summary import Mean

log = logging.getLogger(__name__)


PROBE_TIMEOUT = 10  # seconds for the W&B server to answer at all, DNS included
INIT_TIMEOUT = 30  # seconds for wandb.init once it has answered (wandb's own default: 90)


def server() -> str:
    import wandb

    return os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url


def unreachable(url: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``url`` answers within ``timeout`` seconds (any HTTP status), else why not. The wait is
    bounded even where name resolution hangs (a socket timeout does not cover DNS)."""
    import urllib.error
    import urllib.request

    def probe() -> str | None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
        except urllib.error.HTTPError:  # an answer, even 401/404: the server is there
            return None
        except Exception as e:  # DNS, refused, timeout, proxy: all mean the same here
            return f"{url}: {type(e).__name__}: {str(e)[:100]}"
        return None

    answer: list[str | None] = []
    thread = threading.Thread(target=lambda: answer.append(probe()), daemon=True)  # daemon: never holds exit
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else f"{url} did not answer within {timeout:g} s"


def open_wandb(mode: str, where: str | Path, **kw):
    """``wandb.init`` in ``mode``; online, after a bounded probe of the server, and offline with one warning
    when it does not answer or refuses (no key): the run, the tables and the analysis all log this way,
    and an offline run is uploaded later with ``wandb sync``."""
    import wandb

    settings = wandb.Settings(init_timeout=INIT_TIMEOUT, silent=True)
    why = None
    if mode == "online":
        url = server()
        log.info("W&B: connecting to %s (at most %d s, then offline)", url, PROBE_TIMEOUT + INIT_TIMEOUT)
        why = unreachable(url)
    if why is None:
        try:
            return wandb.init(mode=mode, settings=settings, **kw)
        except Exception as e:  # wandb raises several types for "no key" and "no network"
            if mode != "online":
                raise
            why = first_line(e, 120)
    log.warning("W&B unreachable (%s); logging offline to %s (upload later with `wandb sync`)", why, where)
    return wandb.init(mode="offline", settings=settings, **kw)


def wandb_settings(logger: dict) -> dict | None:
    """A run's logger config (its latest launch's: logging is not part of its identity) when it logged to
    W&B: project, entity, mode, group; else None."""
    from hydra.utils import get_class

    try:
        logged = issubclass(get_class(str(logger.get("_target_"))), WandbLogger)
    except Exception:  # no logger, or one this version does not have
        return None
    if not logged or logger.get("mode") == "disabled":
        return None
    return {k: logger.get(k) for k in ("project", "entity", "mode", "group")}


class NullLogger:
    def start(self, config: dict, run_dir: Path, group: str | None, job_type: str, name: str | None = None) -> None:
        """``job_type`` and ``name``: what the run is, from its config (reno_exp.config.labels.wandb_names)."""

    def log_iterate(self, iteration: int, steps: list[dict[str, float]]) -> None:
        """One iterate of a batch: each item's values."""

    def log_item(self, record: dict, images: dict[str, Any]) -> None:
        pass

    def finish(self, means: dict[str, Mean], curves: dict[str, list[float | None]]) -> None:
        """``means``/``curves``: the whole run's numbers (reno_exp.store.summary), over all its items."""


class WandbLogger(NullLogger):
    """Full resolved config, live per-iterate curves (the batch's mean), each item's scores and images,
    and a run summary that is the run's: the mean over ALL its items of each reward, initial and best,
    the gain, the share of items improved, the number of items, and the mean reward per iterate. (W&B
    would otherwise keep the last logged item's values as the run's summary.)

    If W&B cannot be reached (no key, no network), the run goes on offline with one warning, after a
    bounded wait (it says where it connects and for how long at most); the offline run can be uploaded
    later with ``wandb sync``.
    """

    def __init__(self, project="reno_exp", entity=None, mode="online", group=None, job_type=None, tags=(),
                 log_images=True):
        self.kw = {"project": project, "entity": entity, "group": group, "job_type": job_type, "tags": list(tags)}
        self.mode = mode
        self.log_images = log_images
        self.run = None

    def start(self, config, run_dir, group, job_type, name=None):
        kw = {**self.kw, "config": config, "dir": str(run_dir), "name": name or Path(run_dir).name}
        kw["group"] = kw["group"] or group
        kw["job_type"] = kw["job_type"] or job_type
        self.run = open_wandb(self.mode, run_dir, **kw)
        # per-iterate and per-item values are history only: the summary gets the run's means in finish()
        self.run.define_metric("iterate/*", step_metric="iterate/step", summary="none")
        self.run.define_metric("item/*", step_metric="item/number", summary="none")
        self.run.define_metric("mean/*", step_metric="mean/iteration", summary="none")
        self._step = self._items = 0

    def log_iterate(self, iteration, steps):
        self._step += 1
        names = [k for k in steps[0] if k != "grad_norm"]
        values = {f"iterate/{k}": sum(s[k] for s in steps) / len(steps) for k in names}
        self.run.log({**values, "iterate/iteration": iteration, "iterate/step": self._step})

    def log_item(self, record, images):
        import wandb

        self._items += 1
        data = {f"item/initial/{k}": v for k, v in record["initial"].items()}
        data |= {f"item/best/{k}": v for k, v in record["best"].items()}
        data |= {"item/gain": record["best"]["total"] - record["initial"]["total"],
                 "item/best_iteration": record["best_iteration"], "item/number": self._items}
        if self.log_images:
            data["item/images"] = [wandb.Image(to_pil(img), caption=f"{name}: {record['prompt'][:80]}")
                                   for name, img in images.items()]
        self.run.log(data)

    def finish(self, means, curves):
        import wandb

        if self.run is None:
            return
        for i in range(max((len(c) for c in curves.values()), default=0)):
            self.run.log({"mean/iteration": i, **{f"mean/{k}": c[i] for k, c in curves.items() if i < len(c)}})
        for name, m in means.items():
            self.run.summary.update({f"initial/{name}": m.initial, f"best/{name}": m.best, f"gain/{name}": m.gain,
                                     f"improved/{name}": m.improved, f"non_finite/{name}": m.non_finite})
        self.run.summary["items"] = max((m.n + m.non_finite for m in means.values()), default=0)
        self.run.finish()
        # finish() can return before wandb-core has closed (flushed) the run's .wandb file; teardown waits for
        # it, so the offline run is complete on disk when the job ends (a test read it half written: a flake)
        wandb.teardown()
        self.run = None
