"""What produced a result: the part of a config that changes the numbers, and its fingerprint.

Decided here and nowhere else. Everything in the composed config is result-affecting unless listed in
``NEUTRAL``, so an option added later (a transfer model, a new optimiser setting) is part of an item's
identity from its first day. ``NEUTRAL`` holds keys that change how a run is carried out or reported
(logging, progress, device placement, batching, compilation, memory savers with unchanged numerics) and
keys that select WHICH items run (limit, shards, seeds) rather than what an item is: an item's seed is
part of its own identity, next to its prompt.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from reno_exp.config.errors import shorten

NEUTRAL = (
    "logger", "logger.*", "progress", "device", "save_images", "batch_size", "compile", "compile_backend",
    "seed", "benchmark.seeds", "benchmark.limit", "benchmark.num_shards", "benchmark.shard_index",
    "optimizer.save_every", "optimizer.save_at_evaluations",
    # recomputation and host offloading: the same operations on the same values
    "model.gradient_checkpointing", "model.vae_checkpointing", "model.offload_text_encoders",
    "reward.*.gradient_checkpointing", "reward.*.cache_text",
)


def neutral(key: str) -> bool:
    """Whether a dotted config key (or a Hydra override's key: ``optimizer``, ``+reward``, ``hydra/launcher``)
    leaves results unchanged."""
    key = key.lstrip("+~").replace("/", ".")
    return key.startswith("hydra") or any(fnmatch.fnmatchcase(key, pattern) for pattern in NEUTRAL)


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.c": leaf}: lists are leaves (a list of seeds or timesteps is one value)."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            out |= flatten(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v}
        return out
    return {prefix.rstrip("."): node}


# Runs recorded before the method became the one setting carry ``optimizer.loop``, the module that ran it
# then; a composed config carries the same stamp, derived from its method, so that their fingerprints
# (and so their resumes) stay what they were. It is a record, not a setting: no schema has the key.
LEGACY_LOOPS = {"reno": "reno_exp.reno", "best_of_n": "reno_exp.reno", "lbfgs": "reno_exp.lbfgs",
                "zero_order": "reno_exp.zero_order"}


def result_config(cfg: DictConfig | dict) -> dict[str, Any]:
    """The result-affecting part of a composed config, resolved, as nested plain data."""
    if isinstance(cfg, DictConfig):
        data = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        optimizer = data.get("optimizer")
        if isinstance(optimizer, dict) and optimizer.get("method") in LEGACY_LOOPS and "loop" not in optimizer:
            optimizer["loop"] = LEGACY_LOOPS[optimizer["method"]]
    else:
        data = cfg
    return prune(data)


def prune(node: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in node.items():
        if neutral(prefix + str(k)):
            continue
        out[k] = prune(v, f"{prefix}{k}.") if isinstance(v, dict) else v
    return out


def fingerprint(cfg: DictConfig | dict) -> str:
    """12 hex digits of SHA-256 over the canonical JSON of ``result_config``."""
    text = json.dumps(result_config(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for each result-affecting key that differs (flattened configs), values shortened."""
    keys = sorted(set(old) | set(new))
    missing = "(unset)"
    return [f"{k}: {shorten(old.get(k, missing))} -> {shorten(new.get(k, missing))}"
            for k in keys if old.get(k, missing) != new.get(k, missing)]
