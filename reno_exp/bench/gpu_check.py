"""``make gpu-check``: every generator with random weights at its real resolution and CUDA dtype, with
``reward=all``, 3 iterates, at batch 1 and at the largest batch the cost model predicts to fit, eager and
compiled: s/iterate, items/hour (at 50 iterates), achieved TFLOP/s and share of the GPU's peak, predicted
and measured peak memory, as one Markdown table. About 8 minutes on one H100.

``--dry``: the same table for ``model=tiny reward=color`` at batches 1 and 2, eager, on whatever device
there is (CPU: no share of peak, no measured memory), so that the script itself is tested without a GPU.
"""

from __future__ import annotations

import argparse
import time

from reno_exp.bench.commands import say
from reno_exp.bench.report import gib, table

MODELS = ("sd_turbo", "sdxl_turbo", "hyper_sdxl", "pixart_dmd", "flux_schnell", "sana_sprint")
HEADER = ["model", "batch", "compile", "s/iterate", "items/hour", "TFLOP/s", "share of peak",
          "predicted GiB", "measured GiB"]
PROTOCOL_ITERATES = 50


def row(model: str, batch: int, compiled: bool, seconds: float, flops: float, peak: float | None,
        predicted: int, measured: int | None) -> list[str]:
    achieved = flops * batch / seconds / 1e12
    return [model, str(batch), "yes" if compiled else "no", f"{seconds:.3f}",
            f"{batch * 3600 / (seconds * PROTOCOL_ITERATES):,.0f}", f"{achieved:.3g}",
            f"{100 * achieved / peak:.1f} %" if peak else "—", gib(predicted),
            gib(measured) if measured is not None else "—"]


def check(models, overrides, batches, compile_modes, n_iters: int) -> str:
    import torch

    from reno_exp import hub
    from reno_exp import run as app
    from reno_exp.bench.commands import compose_run
    from reno_exp.cost import estimate, max_batch
    from reno_exp.cost.gpus import peak_tflops

    cuda = torch.cuda.is_available()
    peak = peak_tflops(torch.cuda.get_device_name()) if cuda else None
    gpu_bytes = torch.cuda.mem_get_info()[1] if cuda else None
    rows = []
    for model in models:
        cfg = compose_run([f"model={model}", "random_init=true", *overrides], 1)
        start = time.perf_counter()
        est = estimate(cfg)
        flops = sum(est.flops.values())
        sizes = [max_batch(est.memory, gpu_bytes) if b == "auto" else b for b in batches]
        say(f"{model}: {flops / 1e12:.3g} TFLOP/iterate/item, batches {sizes} (dry run {time.perf_counter() - start:.1f} s)")
        for compiled in compile_modes:
            cfg_c = cfg.copy()
            cfg_c.compile = compiled
            with hub.random_init_on(cfg.device):
                parts = app.build(cfg_c, cfg.device)
            for batch in sizes:
                if batch < 1:
                    say(f"{model}: the cost model predicts no batch fits; skipped")
                    continue
                seconds, measured = timed(cfg_c, batch, n_iters, parts, cuda)
                rows.append(row(model, batch, compiled, seconds, flops, peak, est.memory.total(batch), measured))
                say("| " + " | ".join(rows[-1]) + " |")
            del parts
            if cuda:
                torch.cuda.empty_cache()
    return table(HEADER, rows)


def timed(cfg, batch: int, n_iters: int, parts, cuda: bool) -> tuple[float, int | None]:
    if cuda:
        from reno_exp.bench.cuda import measure

        return measure(cfg, batch, n_iters, parts)
    import tempfile

    from omegaconf import open_dict

    from reno_exp import run as app

    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.benchmark.seeds, cfg.batch_size, cfg.optimizer.n_iters = list(range(batch)), batch, n_iters
    for _ in ("warm-up", "timed"):  # a warm-up first, as on CUDA
        with tempfile.TemporaryDirectory() as d:
            start = time.perf_counter()
            app.run(cfg, d, parts=parts)
    return (time.perf_counter() - start) / n_iters, None


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m reno_exp.bench.gpu_check", description=__doc__.splitlines()[0])
    p.add_argument("--dry", action="store_true", help="model=tiny reward=color, batches 1 and 2, eager")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args(argv)
    if args.dry:
        out = check(["tiny"], ["reward=color"], [1, 2], [False], 2)
    else:
        out = check(args.models.split(","), ["reward=all"], [1, "auto"],
                    [False] if args.no_compile else [False, True], 3)
    say("")
    say(out)


if __name__ == "__main__":
    main()
