"""The experiment: config -> parts -> for each (prompt, seed): noise -> ReNO -> record -> log.

Items already in the run directory's ``results.jsonl`` are skipped, so a killed run resumes where it
stopped by running the same command again with the same ``hydra.run.dir``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from reno_exp import reno
from reno_exp.benchmarks.base import Item
from reno_exp.generators.base import OneStepGenerator
from reno_exp.prefetch import require_weights
from reno_exp.records import RunRecords
from reno_exp.rewards.base import RewardSet

log = logging.getLogger(__name__)


def resolve_device(device: str | None) -> str:
    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    log.warning("no CUDA device: running on the CPU (slow for real models; fine for model=tiny)")
    return "cpu"


def noise_stream(generator, seed: int):
    """Successive N(0, I) draws of one item's own torch.Generator: the first is the initial noise."""
    g = torch.Generator("cpu").manual_seed(int(seed))

    def draw() -> torch.Tensor:
        return torch.randn((1, *generator.latent_shape), generator=g).to(generator.device)

    return draw


def record_of(item: Item, result: reno.Result, files: dict[str, str], seconds: float, peak: int) -> dict:
    return {
        "key": item.key,
        "index": item.index,
        "k": item.k,
        "prompt": item.prompt,
        "seed": item.seed,
        **({"meta": item.meta} if item.meta else {}),
        "initial": {**result.initial.scores, "total": result.initial.total},
        "best": {**result.best.scores, "total": result.best.total},
        "best_iteration": result.best.iteration,
        "history": [h["total"] for h in result.history],
        "curves": {k: [h.get(k) for h in result.history] for k in result.history[0] if k != "total"},
        "events": result.events,
        **files,
        "seconds": seconds,
        "peak_memory_bytes": peak,
    }


def save_files(records: RunRecords, item: Item, result: reno.Result, save_images: bool) -> dict[str, str]:
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
    return generator, rewards


def run(cfg: DictConfig, run_dir: str | Path, group: str | None = None, parts=None) -> RunRecords:
    """``parts``: an already built (generator, rewards) pair for ``cfg`` (benchmarks reuse them)."""
    device = resolve_device(cfg.device)
    records = RunRecords(run_dir)
    suite = instantiate(cfg.benchmark)
    todo = [item for item in suite.items(cfg.seed) if item.key not in records.done]
    if not todo:
        log.info("all items of this run are already recorded in %s", records.path)
        return records
    log.info("%d items to run (%d already recorded)", len(todo), len(records.done))

    require_weights(cfg)  # every missing checkpoint named at once, before anything is built
    generator, rewards = parts or build(cfg, device)
    logger = instantiate(cfg.logger)
    job_type = f"{cfg.model._target_.rsplit('.', 1)[-1]}/{'+'.join(cfg.reward) or 'none'}"
    logger.start(OmegaConf.to_container(cfg, resolve=True), records.dir, group, job_type)

    prompt, gains = None, []
    bar = tqdm(todo, desc="ReNO", unit="item", disable=not cfg.progress, dynamic_ncols=True)
    try:
        for item in bar:
            if item.prompt != prompt:  # items of a prompt are consecutive: encode each prompt once
                prompt = item.prompt
                cond, prepared = generator.encode_prompt(prompt), rewards.prepare(prompt)
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            result = reno.optimise(
                generator, rewards, cond, prepared, noise_stream(generator, item.seed), cfg.optimizer,
                on_iterate=lambda it, v, key=item.key: logger.log_iterate(key, it, v),
            )
            seconds = time.perf_counter() - start
            files = save_files(records, item, result, cfg.save_images)
            if cfg.save_images:
                suite.export(item, {"initial": result.initial.image, "best": result.best.image}, records)
            record = record_of(item, result, files, seconds, peak_memory(device))
            records.append(record)
            logger.log_item(record, {"initial": result.initial.image, "best": result.best.image})
            for e in result.events:
                log.warning("%s (%s, seed %d): %s", item.key, item.prompt[:40], item.seed, e)
            gains.append(result.best.total - result.initial.total)
            bar.set_postfix(gain=f"{sum(gains) / len(gains):+.4g}", s_per_item=f"{seconds:.1f}")
    finally:
        logger.finish()
    return records
