"""What an item leaves in its run directory: its noises and latents, its images (initial, best, saved
iterates, the transfer model's renderings, the suite's official layout) and its record, written after the
files it points to."""

from __future__ import annotations

import torch

from reno_exp.benchmarks.base import Item, PromptSuite
from reno_exp.methods.tracking import Result
from reno_exp.store.records import Record, RunRecords


def transferred(transfer, batch: list[Item], results: list[Result]) -> list[dict[str, torch.Tensor]]:
    """Each item's initial and best noise rendered by the transfer model: image sets initial_transfer and
    best_transfer (one pipeline call for the batch)."""
    if transfer is None:
        return [{} for _ in batch]
    noise = torch.cat([r.initial.noise for r in results] + [r.best.noise for r in results])
    images = transfer.render(noise, [item.prompt for item in batch] * 2)
    n = len(batch)
    return [{"initial_transfer": images[i : i + 1], "best_transfer": images[n + i : n + i + 1]} for i in range(n)]


def save_item(records: RunRecords, suite: PromptSuite, item: Item, result: Result, more: dict[str, torch.Tensor],
              save_images: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    """The item's files (paths relative to the run, as its record points to them) and its images by set."""
    files = {"noise": records.save_tensors(
        {"initial_noise": result.initial.noise, "best_noise": result.best.noise,
         "initial_latent": result.initial.latent, "best_latent": result.best.latent},
        f"noise/{item.key}.safetensors")}
    images = {"initial": result.initial.image, "best": result.best.image, **more}
    if save_images:
        for image_set, image in (("initial", result.initial.image), ("best", result.best.image)):
            files[Record.image_field(image_set)] = records.save_image(image, f"images/{item.key}_{image_set}.png")
        files["iterates"] = [records.save_image(s.image, f"iterates/{item.key}_{s.iteration:03d}.png")
                             for s in result.saved]
    files |= {Record.image_field(name): records.save_image(image, f"images/{item.key}_{name}.png")
              for name, image in more.items()}
    if save_images:
        suite.export(item, images, records)
    return files, images


def record_of(item: Item, result: Result, fingerprint: str, files: dict, seconds: float, peak: int) -> Record:
    return Record(
        key=item.key, index=item.index, k=item.k, prompt=item.prompt, seed=item.seed, fingerprint=fingerprint,
        meta=item.meta or None,
        initial={**result.initial.scores, "total": result.initial.total},
        best={**result.best.scores, "total": result.best.total},
        best_iteration=result.best.iteration,
        history=[h["total"] for h in result.history],
        curves={k: [h.get(k) for h in result.history] for k in result.history[0] if k != "total"},
        events=result.events, evaluations=result.evaluations, files=files, seconds=seconds, peak_memory_bytes=peak)


def peak_memory(device: str) -> int:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated()
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # process peak RSS on Linux
