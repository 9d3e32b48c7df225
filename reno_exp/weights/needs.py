"""The checkpoints a config needs, and which are not in the local cache.

What a config needs is asked of its components: every node with a ``_target_`` whose class has a
``checkpoints(cfg)`` classmethod contributes that list; a node without one but with a ``hub_id``
(a diffusers pipeline repository) contributes that repository's diffusers weights. Parts that are not
in the config register a function in ``PROVIDERS``.

``require_weights(cfg)`` checks that list against the local cache before a run builds anything: every
missing checkpoint is named at once, with ``python -m reno_exp.prefetch`` (which downloads them) and the
``hf download`` equivalents.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Callable

from omegaconf import DictConfig, ListConfig

from reno_exp.weights.checkpoints import Checkpoint, HubFile, HubRepo, offline
from reno_exp.weights.hub import MissingWeightsError

log = logging.getLogger(__name__)

# the files of a diffusers pipeline repository that from_pretrained(subfolder=...) reads, no variants
DIFFUSERS_FILES = (
    "model_index.json", "*/*.json", "*/*.txt", "*/*.model",
    "*/diffusion_pytorch_model.safetensors", "*/diffusion_pytorch_model-*.safetensors",
    "*/model.safetensors", "*/model-*.safetensors",
)

# more sources of checkpoints: functions cfg -> [Checkpoint], for parts outside the composed config
PROVIDERS: list[Callable[[DictConfig], list[Checkpoint]]] = []


def component_nodes(node, path: str = ""):
    """(path, node) for every config node with a ``_target_``, depth first."""
    if isinstance(node, (DictConfig, ListConfig)) and node._is_none():  # an optional list or group left null
        return
    if isinstance(node, DictConfig):
        if "_target_" in node:
            yield path, node
        for k in node:
            yield from component_nodes(node._get_node(k), f"{path}.{k}" if path else str(k))
    elif isinstance(node, ListConfig):
        for i, v in enumerate(node):
            yield from component_nodes(v, f"{path}[{i}]")


def checkpoints_of(node: DictConfig) -> list[Checkpoint]:
    from hydra.utils import get_object

    try:
        target = get_object(node._target_)
    except Exception:  # not importable here: nothing to prefetch for it
        return []
    if hasattr(target, "checkpoints"):
        return list(target.checkpoints(node))
    if node.get("hub_id"):
        return [HubRepo(node.hub_id, allow_patterns=DIFFUSERS_FILES)]
    return []


def needed(cfg: DictConfig) -> list[Checkpoint]:
    """Every checkpoint the config loads, without duplicates, in config order."""
    if cfg.get("random_init"):
        return []
    found: list[Checkpoint] = []
    for _, node in component_nodes(cfg):
        found += checkpoints_of(node)
    for provider in PROVIDERS:
        found += provider(cfg)
    return merge_repos(list(dict.fromkeys(found)))


def merge_repos(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """One snapshot per hub repository: the union of the files its users read."""
    out: list[Checkpoint] = []
    for c in checkpoints:
        same = next((i for i, o in enumerate(out) if isinstance(o, HubRepo) and isinstance(c, HubRepo) and o.repo == c.repo), None)
        if same is None:
            out.append(c)
            continue
        o = out[same]
        union = lambda a, b: tuple(dict.fromkeys((*a, *b)))  # noqa: E731
        out[same] = HubRepo(o.repo, union(o.allow_patterns, c.allow_patterns),
                            tuple(set(o.ignore_patterns) & set(c.ignore_patterns)), union(o.one_of, c.one_of))
    return out


def hub_reachable(timeout: float = 10.0) -> str | None:
    """None if the hub answers, else why not: fails in seconds where the hub client retries for minutes."""
    import urllib.request

    from huggingface_hub import constants

    try:
        urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout)
        return None
    except Exception as e:  # DNS, refused, timeout, proxy: all mean the same here
        return f"{constants.ENDPOINT} is not reachable ({type(e).__name__}: {e})"


def missing(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """The checkpoints that are not in the local cache (nothing is downloaded)."""
    return [c for c in checkpoints if not c.cached()]


def require(checkpoints: list[Checkpoint], prefetch_command: str) -> None:
    """MissingWeightsError naming every checkpoint not in the local cache, when it cannot be downloaded
    (HF_HUB_OFFLINE is set, or the hub does not answer); online, the loaders download what is missing."""
    absent = missing(list(dict.fromkeys(checkpoints)))
    if not absent:
        return
    why = "HF_HUB_OFFLINE is set" if offline() else hub_reachable()
    if why is None:
        log.info("not in the local cache, to be downloaded: %s", ", ".join(c.name for c in absent))
        return
    raise MissingWeightsError([c.name for c in absent], why, prefetch=prefetch_command, commands=commands(absent))


def commands(checkpoints: list[Checkpoint]) -> list[str]:
    """Each checkpoint's fetch command; single files of one repository in one ``hf download``."""
    out: dict[str, list[str]] = {}
    for c in checkpoints:
        cmd = c.command()
        if cmd is None:
            continue
        if isinstance(c, HubFile) and c.repo in out:
            out[c.repo].append(shlex.quote(c.filename))
        else:
            out[c.repo if isinstance(c, HubFile) else cmd] = [cmd]
    return [" ".join(parts) for parts in out.values()]


def require_weights(cfg: DictConfig, overrides: list[str] | None = None) -> None:
    """Before a run builds anything: every checkpoint of its config, or one error listing all missing.

    ``overrides`` default to the Hydra job's own (so the suggested prefetch command is the run's)."""
    todo = needed(cfg)
    if not todo:
        return
    if overrides is None:
        overrides = job_overrides()
    require(todo, prefetch_command(overrides))


def job_overrides() -> list[str] | None:
    from hydra.core.hydra_config import HydraConfig

    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:  # not inside a Hydra app
        return None


def prefetch_command(overrides: list[str] | None, evaluate: bool = False) -> str:
    if overrides is None:
        return f"python -m reno_exp.prefetch{' --evaluate' if evaluate else ''} <same overrides>"
    args = [o for o in overrides if not o.lstrip("+~").startswith("hydra.")]
    return " ".join(["python -m reno_exp.prefetch", *(["--evaluate"] if evaluate else []), *map(shlex.quote, args)])
