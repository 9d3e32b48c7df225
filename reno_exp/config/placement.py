"""Where a run computes and in what precision, decided once from its config: the device (CUDA when there is
one) and every ``auto``/null dtype (the model's own half precision on CUDA, float32 on a CPU, where half
precision is 50-100x slower; reward towers in float16 on CUDA, as the authors run them), and a prompt file's
absolute path and SHA-256 (reno_exp.config.prompt_files). What a run computes with, and so its records'
identity, must not depend on where it happens to be resumed."""

from __future__ import annotations

import re

from omegaconf import DictConfig, open_dict

from reno_exp.config.errors import UserError
from reno_exp.config.prompt_files import pin


def resolve_device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def cuda_like(device: str) -> bool:
    """The meta device stands in for CUDA (the cost model's dry run measures what CUDA will use)."""
    return device.split(":")[0] in ("cuda", "meta")


def resolve_dtype(name: str, cuda_dtype: str, device) -> str:
    """``dtype=auto``: ``cuda_dtype`` (the part's own half precision) on CUDA, float32 elsewhere (on CPUs half
    precision is 50-100x slower)."""
    if name != "auto":
        return name
    return cuda_dtype if cuda_like(str(device)) else "float32"


def auto_dtype(target: str, device: str) -> str:
    """What ``dtype=auto`` becomes on ``device`` for the model or transfer class ``target``."""
    from hydra.utils import get_class

    return resolve_dtype("auto", get_class(target).cuda_dtype, device)


def placed(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` with the device, every ``auto``/null dtype and the prompt file (if any) decided."""
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.device = resolve_device(cfg.device)
        for part in (cfg.model, cfg.get("transfer")):
            if part is not None and part.get("dtype") == "auto":
                part.dtype = auto_dtype(part._target_, cfg.device)
        for node in (cfg.reward or {}).values():
            if "dtype" in node and node.dtype is None:
                node.dtype = "float16" if cuda_like(cfg.device) else "float32"
        pin(cfg.get("benchmark"))
    return cfg


DEVICE = r"cpu|cuda(:\d+)?|mps"
DEVICE_HINT = "not a device; use cpu, cuda or cuda:N (or leave it unset: cuda when there is one, else cpu)"


def check_device(device: str | None, key: str = "device") -> None:
    """The device exists here (torch is imported only for a CUDA device)."""
    if device is None or device == "cpu":
        return
    if not re.fullmatch(DEVICE, device):
        hint = " (did you mean cuda?)" if device.lower().startswith(("gpu", "cuda", "nvidia")) else ""
        raise UserError(f"{key}={device}{hint}: {DEVICE_HINT}")
    if device == "mps":
        import torch

        if not torch.backends.mps.is_available():
            raise UserError(f"{key}=mps: no Apple MPS device here; use {key}=cpu, or leave it unset")
        return
    import torch

    n = torch.cuda.device_count()
    index = int(device.split(":")[1]) if ":" in device else 0
    if n == 0:
        raise UserError(f"{key}={device}: no CUDA device here (torch sees none); use {key}=cpu, or leave it unset")
    if index >= n:
        raise UserError(f"{key}={device}: this machine has {n} CUDA device(s), cuda:0..cuda:{n - 1}")
