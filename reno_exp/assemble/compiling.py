"""``compile=true``: torch.compile of the denoiser, the VAE decoder and the reward towers, in place.

``nn.Module.compile`` keeps each module object (its attributes, config and hooks stay reachable); a
part whose compilation fails runs eagerly from then on, with one warning, instead of ending the run.
Compilation is lazy, so a failure shows at the part's first call: that call is retried eagerly.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from reno_exp.config.errors import first_line

log = logging.getLogger(__name__)


def warn(name: str, e: Exception) -> None:
    first = first_line(e, 160) if str(e).strip() else ""
    log.warning("torch.compile failed for %s (%s: %s); it runs eagerly", name, type(e).__name__, first)


def compile_or_eager(module: nn.Module, name: str, backend="inductor") -> None:
    try:
        module.compile(backend=backend)
    except Exception as e:  # e.g. an unknown backend
        warn(name, e)
        return
    compiled = module._compiled_call_impl  # what nn.Module.__call__ runs once compiled (torch >= 2.2)

    def call(*args, **kwargs):
        try:
            return compiled(*args, **kwargs)
        except torch.OutOfMemoryError:
            raise  # not a compilation failure: the batch size logic handles it
        except Exception as e:
            warn(name, e)
            module._compiled_call_impl = None
            return module(*args, **kwargs)

    module._compiled_call_impl = call


def compile_parts(generator: nn.Module, rewards: nn.Module, backend: str = "inductor") -> list[str]:
    """Compile what the generator lists in ``compile_targets`` (attribute paths) and every reward that has
    parameters (a tower); returns the names compiled."""
    names = []
    for path in getattr(generator, "compile_targets", ()):
        compile_or_eager(generator.get_submodule(path), f"model.{path}", backend)
        names.append(f"model.{path}")
    for name, reward in rewards.rewards.items():
        if any(True for _ in reward.parameters()):
            compile_or_eager(reward, f"reward.{name}", backend)
            names.append(f"reward.{name}")
    return names
