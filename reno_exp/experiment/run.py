"""The experiment: config -> parts -> for each batch of (prompt, seed) items: noise -> ReNO -> records -> log.

The run directory is checked, locked and given its config record (reno_exp.store.rundir) before anything is
built. Items already recorded there with the same identity (prompt, seed, config fingerprint) are
skipped, so a killed run resumes where it stopped by running the same command again with the same
``hydra.run.dir``; batches may form differently on a resume, and each item's result is the same.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from tqdm import tqdm

from reno_exp.benchmarks.base import Item
from reno_exp.build.compiling import compile_parts
from reno_exp.config import labels
from reno_exp.config.errors import UserError
from reno_exp.experiment.batching import Batches, batch_size, predicted_batch
from reno_exp.generators.base import OneStepGenerator, auto_dtype
from reno_exp.methods import budget
from reno_exp.methods.tracking import Result
from reno_exp.rewards.base import RewardSet
from reno_exp.rewards.towers import tower_dtype
from reno_exp.store import summary
from reno_exp.store.records import RunRecords, pending, read_records
from reno_exp.store.rundir import RunDir
from reno_exp.weights.prefetch import require_weights

log = logging.getLogger(__name__)


def resolve_device(device: str | None) -> str:
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def placed(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` with the device and every ``auto``/null dtype decided: what a run computes with
    (and so what its records' identity holds) must not depend on where it happens to be resumed."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.device = resolve_device(cfg.device)
        for part in (cfg.model, cfg.get("transfer")):
            if part is not None and part.get("dtype") == "auto":
                part.dtype = auto_dtype(part._target_, cfg.device)
        cuda_like = "cuda" if cfg.device == "meta" else cfg.device  # the meta device stands in for CUDA
        for node in (cfg.reward or {}).values():
            if "dtype" in node and node.dtype is None:
                node.dtype = str(tower_dtype(None, cuda_like)).removeprefix("torch.")
    return cfg


HALF = ("float16", "bfloat16")


def warn_slow_device(cfg: DictConfig) -> None:
    """What makes a run on this device far slower than it needs to be, said once before the work."""
    if cfg.device != "cpu":
        return
    if not cfg.model._target_.endswith("TinyGenerator"):
        log.warning("no CUDA device: running on the CPU (slow for real models; fine for model=tiny)")
    half = [f"{key}={node.dtype}" for key, node in [("model.dtype", cfg.model), ("transfer.dtype", cfg.get("transfer")),
                                                     *((f"reward.{n}.dtype", r) for n, r in (cfg.reward or {}).items())]
            if node is not None and node.get("dtype") in HALF]
    if half:
        log.warning("%s on the CPU: half precision runs 50-100x slower than float32 there; leave the dtype at "
                    "auto (float32 on a CPU) unless you mean it", ", ".join(half))


def noise_stream(generator, seed: int):
    """Successive N(0, I) draws of one item's own torch.Generator: the first is the initial noise."""
    g = torch.Generator("cpu").manual_seed(int(seed))

    def draw() -> torch.Tensor:
        return torch.randn((1, *generator.latent_shape), generator=g).to(generator.device)

    return draw


def record_of(item: Item, result: Result, fingerprint: str, files: dict[str, str], seconds: float, peak: int) -> dict:
    return {
        "key": item.key,
        "index": item.index,
        "k": item.k,
        "prompt": item.prompt,
        "seed": item.seed,
        "fingerprint": fingerprint,
        **({"meta": item.meta} if item.meta else {}),
        "initial": {**result.initial.scores, "total": result.initial.total},
        "best": {**result.best.scores, "total": result.best.total},
        "best_iteration": result.best.iteration,
        "history": [h["total"] for h in result.history],
        "curves": {k: [h.get(k) for h in result.history] for k in result.history[0] if k != "total"},
        "events": result.events,
        "evaluations": result.evaluations,
        **files,
        "seconds": seconds,
        "peak_memory_bytes": peak,
    }


def save_files(records: RunRecords, item: Item, result: Result, save_images: bool) -> dict[str, str]:
    files = {
        "noise": records.save_tensors(
            {
                "initial_noise": result.initial.noise,
                "best_noise": result.best.noise,
                "initial_latent": result.initial.latent,
                "best_latent": result.best.latent,
            },
            f"noise/{item.key}.safetensors",
        )
    }
    if save_images:
        files["initial_image"] = records.save_image(result.initial.image, f"images/{item.key}_initial.png")
        files["image"] = records.save_image(result.best.image, f"images/{item.key}_best.png")
        files["iterates"] = [
            records.save_image(s.image, f"iterates/{item.key}_{s.iteration:03d}.png") for s in result.saved
        ]
    return files


def peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # process peak RSS on Linux


def build(cfg: DictConfig, device: str) -> tuple[OneStepGenerator, RewardSet]:
    generator = instantiate(cfg.model, random_init=cfg.random_init, device=device)
    rewards = RewardSet.from_config(cfg.reward, random_init=cfg.random_init, tiny=cfg.tiny, device=device)
    if cfg.compile:
        names = compile_parts(generator, rewards, cfg.compile_backend)
        log.info("compiling %s with %s (the first iterate is slower)", ", ".join(names), cfg.compile_backend)
    return generator, rewards


def build_transfer(cfg: DictConfig, generator: OneStepGenerator):
    """The multi-step model that also renders each item's initial and best noise (``transfer=``), or None."""
    if not cfg.get("transfer"):
        return None
    transfer = instantiate(cfg.transfer, random_init=cfg.random_init, device=cfg.device, generator=generator)
    transfer.check_noise_shape(generator.latent_shape)  # one line, before any item
    return transfer


def transferred(transfer, batch: list[Item], results: list[Result]) -> list[dict[str, torch.Tensor]]:
    """Each item's initial and best noise rendered by the transfer model: image sets initial_transfer and
    best_transfer (one pipeline call for the batch)."""
    if transfer is None:
        return [{} for _ in batch]
    noise = torch.cat([r.initial.noise for r in results] + [r.best.noise for r in results])
    images = transfer.render(noise, [item.prompt for item in batch] * 2)
    n = len(batch)
    return [{"initial_transfer": images[i : i + 1], "best_transfer": images[n + i : n + i + 1]} for i in range(n)]


def hydra_launch() -> dict | None:
    """This launch's Hydra files, choices and overrides; None outside a Hydra app (tests, bench)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    task = list(hc.overrides.task)
    return {"hydra.yaml": {"hydra": OmegaConf.to_container(hc, enum_to_str=True)}, "overrides.yaml": task,
            "choices": dict(hc.runtime.choices), "overrides": task}


class Conditioning:
    """Each prompt encoded once (generator and rewards), kept while its items are in flight."""

    def __init__(self, generator: OneStepGenerator, rewards: RewardSet):
        self.generator, self.rewards, self.cache = generator, rewards, {}

    def batch(self, items: list[Item]):
        prompts = [item.prompt for item in items]
        self.cache = {p: self.cache.get(p) or (self.generator.encode_prompt(p), self.rewards.prepare(p)) for p in prompts}
        return (self.generator.collate([self.cache[p][0] for p in prompts]),
                self.rewards.collate([self.cache[p][1] for p in prompts]))


def optimiser_loop(cfg: DictConfig):
    """The module that runs ``cfg.optimizer`` (reno_exp.methods.budget.loop_of), checked before anything is built:
    a loop with ``MAX_BATCH_SIZE`` takes no more items at once (``batch_size=auto`` is capped to it), and
    budgets to save images at need a gradient method's measured cost."""
    loop = budget.loop_of(cfg.optimizer)
    limit = getattr(loop, "MAX_BATCH_SIZE", None)
    if limit and cfg.batch_size != "auto" and int(cfg.batch_size) > limit:
        raise UserError(f"optimizer.method={cfg.optimizer.method.value} takes at most {limit} item(s) at once "
                        f"({loop.__name__}.MAX_BATCH_SIZE), got batch_size={cfg.batch_size}")
    if cfg.optimizer.save_at_evaluations:
        loop.spent(cfg.optimizer, 1)
    return loop


def run(cfg: DictConfig, run_dir: str | Path, group: str | None = None, parts=None) -> RunRecords:
    """``parts``: an already built (generator, rewards) pair for ``cfg`` (bench reuses them)."""
    cfg = placed(cfg)
    loop = optimiser_loop(cfg)
    device = cfg.device
    suite = instantiate(cfg.benchmark)
    items = suite.items(cfg.seed)
    launch = hydra_launch()
    if launch is not None:
        launch["config.yaml"] = OmegaConf.to_container(cfg, enum_to_str=True)

    def check(info) -> None:
        """Every refusal, before anything is written or built: records of another item or config, and
        (when there is work left) every missing checkpoint named at once."""
        if pending(read_records(run_dir), items, info.fingerprint) and parts is None:
            require_weights(cfg)

    with RunDir.open(run_dir, cfg, launch, check=check) as rd:
        records = RunRecords(run_dir)
        todo = pending(records.done, items, rd.info.fingerprint)
        if not todo:
            log.info("all %d items of this run are already recorded in %s", len(items), records.path)
            return records
        warn_slow_device(cfg)
        log.info("%d items to run (%d already recorded); model.dtype %s", len(todo), len(records.done), cfg.model.get("dtype"))
        generator, rewards = parts or build(cfg, device)
        transfer = build_transfer(cfg, generator)
        logger = instantiate(cfg.logger)
        job_type, name = labels.wandb_names(rd.info.config, rd.info.choices, rd.info.overrides, records.dir)
        logger.start(OmegaConf.to_container(cfg, resolve=True), records.dir, group, job_type, name)
        try:
            optimise_all(cfg, loop, suite, todo, generator, rewards, transfer, records, rd.info.fingerprint, logger)
        finally:
            done = read_records(records.path)
            logger.finish(summary.means(done), summary.curves(done))
    return records


def optimise_all(cfg, loop, suite, todo, generator, rewards, transfer, records, fingerprint, logger) -> None:
    conditioning = Conditioning(generator, rewards)
    size = batch_size(cfg.batch_size, cfg.device, len(todo), lambda: predicted_batch(cfg))
    batches = Batches(todo, min(size, getattr(loop, "MAX_BATCH_SIZE", size)))
    items_bar = tqdm(total=len(todo), desc="ReNO items", unit="item", disable=not cfg.progress, dynamic_ncols=True)
    iter_bar = tqdm(total=cfg.optimizer.n_iters, desc="iterates", unit="it", leave=False, disable=not cfg.progress,
                    dynamic_ncols=True)
    gains = []

    def on_iterate(it: int, steps: list[dict]) -> None:
        totals = [s["total"] for s in steps]
        iter_bar.update(1)
        iter_bar.set_postfix(total=f"{sum(totals) / len(totals):.4g}")
        logger.log_iterate(it, steps)

    with items_bar, iter_bar:
        for batch in batches:
            cond, prepared = conditioning.batch(batch)
            if cfg.device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            iter_bar.reset()
            iter_bar.set_description(f"iterates (batch of {len(batch)})")
            start = time.perf_counter()
            with batches.retry_on_oom(batch):
                results = loop.optimise(generator, rewards, cond, prepared,
                                        [noise_stream(generator, item.seed) for item in batch], cfg.optimizer,
                                        on_iterate=on_iterate)
            if batches.retrying:
                continue
            seconds = (time.perf_counter() - start) / len(batch)  # this item's share of the batch's time
            for item, result, more in zip(batch, results, transferred(transfer, batch, results)):
                result.events[:0] = batches.events.pop(item.key, [])
                files = save_files(records, item, result, cfg.save_images)
                images = {"initial": result.initial.image, "best": result.best.image, **more}
                files |= {f"{name}_image": records.save_image(image, f"images/{item.key}_{name}.png")
                          for name, image in more.items()}
                if cfg.save_images:
                    suite.export(item, images, records)
                record = record_of(item, result, fingerprint, files, seconds, peak_memory(cfg.device))
                records.append(record)
                logger.log_item(record, images)
                for e in result.events:
                    log.warning("%s (%s, seed %d): %s", item.key, item.prompt[:40], item.seed, e)
                gains.append(result.best.total - result.initial.total)
            items_bar.update(len(batch))
            items_bar.set_postfix(gain=f"{sum(gains) / len(gains):+.4g}", s_per_item=f"{seconds:.1f}")
