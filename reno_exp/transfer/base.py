"""What every transfer target does: check that a noise fits it, and render noises with a diffusers pipeline.

The pipeline is called as the authors call theirs: the noise as ``latents`` (the pipeline scales it by the
scheduler's initial sigma), the prompt, ``steps`` steps, classifier-free guidance ``guidance``. Noise
that a step adds (ancestral schedulers) comes from CPU generators seeded with ``seed``, one per item and
fresh on every call: an item's image depends on its noise and prompt alone, never on the batch it is
in or on what was rendered before. (The authors share one CUDA generator between all calls of a run, so
their ancestral noise depends on the order of the prompts.) The targets' default schedulers (Euler,
flow-matching Euler) add no noise; ``scheduler`` swaps in another diffusers scheduler, e.g.
``EulerAncestralDiscreteScheduler``, built from the target's scheduler config.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import diffusers
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from reno_exp.config.errors import UserError
from reno_exp.config.options import Configured
from reno_exp.config.placement import resolve_dtype
from reno_exp.generators.base import torch_dtype
from reno_exp.generators.parts import place


def scheduler_class(name: str) -> type:
    cls = getattr(diffusers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
        raise UserError(f"transfer.scheduler={name!r} is not a diffusers scheduler class "
                        "(e.g. EulerDiscreteScheduler, EulerAncestralDiscreteScheduler)")
    return cls


class PipelineTransfer(Configured):
    """Subclasses name their config dataclass (``schema``), build ``self.pipe`` (``build``, through ``setup``)
    and say how a resolution maps to a latent shape.

    Built as ``Target(random_init=..., device=..., generator=..., **options)`` (what
    ``hydra.utils.instantiate(cfg.transfer, ...)`` calls): ``options`` are fields of ``schema``, whose
    defaults fill the rest, held in ``self.cfg`` with ``dtype=auto`` decided for ``device``.
    """

    option = "transfer"  # the config option's name, for messages
    cuda_dtype = "float16"  # transfer.dtype=auto on CUDA (float32 on a CPU), as for the generators

    def __init__(self, random_init: bool = False, device: str | torch.device = "cpu", generator=None, **options):
        cfg = self.options(options)
        self.cfg = replace(cfg, dtype=resolve_dtype(cfg.dtype, self.cuda_dtype, device))
        if cfg.steps < 1:
            raise UserError(f"transfer.steps must be at least 1, got {cfg.steps}")
        self.steps, self.guidance, self.seed = cfg.steps, cfg.guidance, cfg.seed
        self.resolution = cfg.resolution
        self.device = torch.device(device)
        self.dtype = torch_dtype(self.cfg.dtype)
        self.pipe = None
        self.latent_shape: tuple[int, ...] = ()
        self.build(scheduler_class(cfg.scheduler), random_init, generator)

    def build(self, scheduler_cls: type, random_init: bool, generator) -> None:
        """Build the pipeline with a ``scheduler_cls`` scheduler and ``setup`` it; ``generator``: the run's
        one-step model, whose networks a target may reuse."""
        raise NotImplementedError

    def setup(self, pipe, latent_shape: tuple[int, ...], shared: bool = False) -> None:
        """Freeze the pipeline's networks, place them (or let accelerate move them on demand) and keep it.
        ``shared``: the networks belong to the run's generator, already placed; they are left as they are."""
        offload = self.cfg.cpu_offload and self.device.type == "cuda" and not shared
        for name, module in pipe.components.items():
            if isinstance(module, torch.nn.Module) and not shared:
                setattr(pipe, name, place(module, torch.device("cpu") if offload else self.device, self.dtype))
        if offload:  # the authors offload their transfer pipelines too (sequentially; this is per model)
            pipe.enable_model_cpu_offload(device=self.device)
        pipe.set_progress_bar_config(disable=True)
        self.pipe, self.latent_shape = pipe, tuple(latent_shape)

    def resolution_for(self, shape: tuple[int, ...]) -> int | None:
        """The ``transfer.resolution`` at which a noise of ``shape`` would fit, if any (for the message).
        Here for image latents (channels, h, w); FLUX's packed tokens override it."""
        ours = self.latent_shape
        if len(shape) == 3 and shape[0] == ours[0] and shape[1] == shape[2] and ours[1] == ours[2]:
            return shape[-1] * (self.resolution // ours[-1])
        return None

    def check_noise_shape(self, shape) -> None:
        shape = tuple(int(n) for n in shape)
        if shape != self.latent_shape:
            fits = self.resolution_for(shape)
            hint = f"; transfer.resolution={fits} would fit it" if fits else ""
            raise UserError(f"transfer={self.option}: the model's noise of shape {shape} does not fit the "
                            f"target's latent shape {self.latent_shape} at transfer.resolution={self.resolution}"
                            f"{hint}")

    def generators(self, n: int) -> list[torch.Generator]:
        return [torch.Generator("cpu").manual_seed(self.seed) for _ in range(n)]

    def encoders_on_device(self):
        """Where text encoders wait elsewhere between prompts (a shared FLUX generator's), bring them here."""
        return contextlib.nullcontext()

    def call_kwargs(self) -> dict:
        """Pipeline arguments beyond the common ones."""
        return {}

    @torch.no_grad()
    def render(self, noise: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """(B, *latent_shape) noises and B prompts -> (B, 3, H, W) float32 images in [0, 1], on the CPU."""
        if noise.shape[0] != len(prompts):
            raise ValueError(f"{noise.shape[0]} noises for {len(prompts)} prompts")
        self.check_noise_shape(noise.shape[1:])
        with self.encoders_on_device():
            images = self.pipe(
                prompt=list(prompts), latents=noise.to(self.device, self.dtype), num_inference_steps=self.steps,
                guidance_scale=self.guidance, generator=self.generators(len(prompts)), output_type="pt",
                height=self.resolution, width=self.resolution, **self.call_kwargs(),
            )[0]
        return images.float().cpu()
