"""What ReNO needs from a one-step text-to-image model, and nothing more.

A generator owns everything model-specific: the noise shape and how the noise is scaled, the prompt
conditioning (computed once per prompt), and the differentiable map ``noise -> image in [0, 1]``.
``reno.py`` only sees this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from reno_exp.config.errors import UserError
from reno_exp.config.options import Configured
from reno_exp.config.placement import resolve_dtype
from reno_exp.generators.collate import collate
from reno_exp.generators.parts import check_options


@dataclass
class Generation:
    image: torch.Tensor  # (B, 3, H, W) in [0, 1], differentiable w.r.t. the noise
    latent: torch.Tensor  # the denoiser's output before decoding, same shape as the noise


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def torch_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise UserError(f"dtype must be one of {sorted(DTYPES)}, got {name!r}")
    return DTYPES[name]


class OneStepGenerator(nn.Module):
    """Base class. Subclasses set ``latent_shape`` and implement ``encode_prompt`` and ``forward``."""

    latent_shape: tuple[int, ...]  # shape of one noise sample, without the batch dimension
    cuda_dtype = "float16"  # the networks' dtype on CUDA with model.dtype=auto, as the authors run the model
    fine_on_a_cpu = False  # small enough that a run on a CPU needs no warning
    compile_targets: tuple[str, ...] = ()  # submodules that compile=true compiles (the denoiser, the VAE decoder)
    evaluations_per_call: int = 1  # denoiser evaluations per forward (what one iterate costs)

    def __init__(self, device: str | torch.device = "cpu", dtype: str = "float32"):
        super().__init__()
        self.device = torch.device(device)
        self.dtype = torch_dtype(dtype)

    def noise_stream(self, seed: int) -> Callable[[], torch.Tensor]:
        """Successive N(0, I) draws of one item's own generator, so an item's noise never depends on what
        ran before: the first draw is its initial noise; best-of-N and zero-order draw again.

        Drawn on the CPU in float32, as diffusers does with a CPU generator, so a seed gives the same
        noise on every device.
        """
        g = torch.Generator("cpu").manual_seed(int(seed))
        return lambda: torch.randn((1, *self.latent_shape), generator=g, dtype=torch.float32).to(self.device)

    def sample_noise(self, seed: int) -> torch.Tensor:
        """The item's initial noise: the first draw of its stream."""
        return self.noise_stream(seed)()

    @torch.no_grad()
    def encode_prompt(self, prompt: str) -> Any:
        """Prompt conditioning, computed once per prompt and reused for every iteration: tensors with a
        batch dimension of 1 (in dicts or dataclasses), so that ``collate`` can batch items."""
        raise NotImplementedError

    def collate(self, conds: list[Any]) -> Any:
        """The conditioning of a batch of items, in batch order (a prompt's tensors once per item)."""
        return collate(conds)

    def forward(self, noise: torch.Tensor, cond: Any) -> Generation:
        raise NotImplementedError


class ConfiguredGenerator(Configured, OneStepGenerator):
    """A model of the ``model`` config group: it names its config dataclass (``schema``), says where its
    networks come from (``random_parts``, ``load_parts``) and what it keeps of them (``build``).

    Built as ``Model(random_init=..., device=..., **options)`` (what ``hydra.utils.instantiate(cfg.model,
    random_init=..., device=...)`` calls): ``options`` are fields of ``schema``, whose defaults fill the rest,
    held in ``self.cfg`` with ``dtype=auto`` decided for ``device``.
    """

    def __init__(self, random_init: bool = False, device: str | torch.device = "cpu", **options):
        cfg = self.options(options)
        cfg = replace(cfg, dtype=resolve_dtype(cfg.dtype, self.cuda_dtype, device))
        check_options(cfg, random_init)
        super().__init__(device, cfg.dtype)
        self.cfg, self.random_init = cfg, random_init
        self.build(self.random_parts() if random_init else self.load_parts())

    def random_parts(self) -> dict[str, Any]:
        """The networks, scheduler and tokenizers of the published architecture with seeded random weights."""
        raise NotImplementedError

    def load_parts(self) -> dict[str, Any]:
        """The same parts from the checkpoints ``self.cfg`` names (hub repos or local directories)."""
        raise NotImplementedError

    def build(self, parts: dict[str, Any]) -> None:
        """Keep the parts: placed, frozen, with the memory controls ``self.cfg`` sets; ``latent_shape``."""
        raise NotImplementedError
