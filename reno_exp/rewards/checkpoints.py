"""Where a component's weights come from: one spec per checkpoint, used both to load and to prefetch.

A component class lists what it needs with a ``checkpoints(cfg)`` classmethod; ``reno_exp.prefetch``
downloads them all into the Hugging Face cache, and the component loads the same spec through
``path()``, which honours ``HF_HUB_OFFLINE`` and turns every failure into ``MissingWeightsError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from reno_exp import hub


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Checkpoint:
    @property
    def name(self) -> str:
        raise NotImplementedError

    def fetch(self) -> str:
        """Download into the cache (or find it there offline); the local path."""
        raise NotImplementedError

    def path(self) -> str:
        """The local path, or MissingWeightsError naming this checkpoint."""
        return hub.load(self.name, self.fetch)


@dataclass(frozen=True)
class HubFile(Checkpoint):
    repo: str
    filename: str

    @property
    def name(self) -> str:
        return f"{self.repo}:{self.filename}"

    def fetch(self) -> str:
        from huggingface_hub import hf_hub_download

        return hf_hub_download(self.repo, self.filename)


@dataclass(frozen=True)
class HubRepo(Checkpoint):
    """The files of a hub repository that ``from_pretrained`` reads (weights in one format only)."""

    repo: str
    allow_patterns: tuple[str, ...] = ("*.json", "*.txt", "*.model", "*.safetensors")
    ignore_patterns: tuple[str, ...] = ()
    # the first of these the repository has is fetched too (weights: safetensors, else the pickle)
    one_of: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.repo

    def fetch(self) -> str:
        from huggingface_hub import list_repo_files, snapshot_download

        patterns = list(self.allow_patterns)
        if self.one_of:
            files = set() if offline() else set(list_repo_files(self.repo))
            patterns += [next((f for f in self.one_of if f in files), self.one_of[0])]
        return snapshot_download(self.repo, allow_patterns=patterns, ignore_patterns=list(self.ignore_patterns) or None)


@dataclass(frozen=True)
class OpenCLIPHubWeights(Checkpoint):
    """open_clip's weights on the hub (``open_clip_model.safetensors`` or ``open_clip_pytorch_model.bin``)."""

    repo: str

    @property
    def name(self) -> str:
        return f"{self.repo}:open_clip weights"

    def fetch(self) -> str:
        from open_clip.pretrained import download_pretrained_from_hf

        try:
            return download_pretrained_from_hf(self.repo)
        except FileNotFoundError as e:  # open_clip swallows the hub's error into this one
            raise OSError(str(e)) from None


@dataclass(frozen=True)
class UrlFile(Checkpoint):
    """A file outside the hub (a GitHub release), kept beside the hub cache in ``$HF_HOME/reno_exp``."""

    url: str
    filename: str
    sha256: str | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.url

    def local_file(self) -> Path:
        from huggingface_hub import constants

        return Path(constants.HF_HOME) / "reno_exp" / self.filename

    def fetch(self) -> str:
        target = self.local_file()
        if target.exists():
            return str(target)
        if offline():
            raise OSError(f"{target} is not in the cache and HF_HUB_OFFLINE is set")
        import torch.hub

        target.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(self.url, str(target), hash_prefix=self.sha256, progress=True)
        return str(target)


@dataclass(frozen=True)
class LocalFile(Checkpoint):
    """A file already on disk (a copy made elsewhere; tests)."""

    file: str

    @property
    def name(self) -> str:
        return self.file

    def fetch(self) -> str:
        if not Path(self.file).exists():
            raise OSError(f"{self.file} does not exist")
        return self.file
