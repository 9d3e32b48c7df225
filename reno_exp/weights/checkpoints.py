"""Where a component's weights come from: one spec per checkpoint, used both to load and to prefetch.

A component class lists what it needs with a ``checkpoints(cfg)`` classmethod; ``python -m reno_exp.prefetch``
downloads them all into the Hugging Face cache, and the component loads the same spec through
``path()``, which honours ``HF_HUB_OFFLINE`` and turns every failure into ``MissingWeightsError``.
``cached()`` says whether a spec is in the local cache without touching the network (so a run can
list everything it lacks before building anything), ``command()`` how to fetch it by hand.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from reno_exp.weights import hub


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")


def local(repo: str) -> bool:
    """A path rather than a hub repository id (``org/name``)."""
    return repo.startswith(("/", ".", "~")) or Path(repo).is_dir()


@dataclass(frozen=True)
class Checkpoint:
    @property
    def name(self) -> str:
        raise NotImplementedError

    def fetch(self) -> str:
        """Download into the cache (or find it there offline); the local path."""
        raise NotImplementedError

    def cached(self) -> bool:
        """Whether it is in the local cache (no network)."""
        raise NotImplementedError

    def command(self) -> str | None:
        """A shell command that fetches it with the installed tools (``hf download ...``)."""
        return None

    def path(self) -> str:
        """The local path, or MissingWeightsError naming this checkpoint."""
        try:
            return self.fetch()
        except (OSError, ValueError) as e:  # OSError covers the hub's HTTP/offline errors
            raise hub.MissingWeightsError(self.name, hub.first_line(e), commands=[self.command()]) from None


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

    def cached(self) -> bool:
        from huggingface_hub import try_to_load_from_cache

        if local(self.repo):  # a directory laid out like the repository
            return (Path(self.repo) / self.filename).is_file()
        return isinstance(try_to_load_from_cache(self.repo, self.filename), str)

    def command(self) -> str | None:
        return None if local(self.repo) else f"hf download {self.repo} {shlex.quote(self.filename)}"


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

    def cached(self) -> bool:
        from huggingface_hub import snapshot_download

        if local(self.repo):  # from_pretrained reads a local directory as is
            return Path(self.repo).is_dir()
        try:  # the snapshot of the default revision (checked complete where the hub client can tell)
            folder = Path(snapshot_download(self.repo, allow_patterns=list(self.allow_patterns),
                                            ignore_patterns=list(self.ignore_patterns) or None, local_files_only=True))
        except Exception:  # not cached: the client's LocalEntryNotFoundError, or an incomplete snapshot
            return False
        return not self.one_of or any((folder / f).exists() for f in self.one_of)

    def command(self) -> str | None:
        if local(self.repo):
            return None
        include = [*self.allow_patterns, *self.one_of[:1]]
        return " ".join([f"hf download {self.repo}", *(f"--include {shlex.quote(p)}" for p in include),
                         *(f"--exclude {shlex.quote(p)}" for p in self.ignore_patterns)])


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

    # open_clip reads the safetensors file when the repository has it, else the pickle
    FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

    def cached(self) -> bool:
        from huggingface_hub import try_to_load_from_cache

        return any(isinstance(try_to_load_from_cache(self.repo, f), str) for f in self.FILES)

    def command(self) -> str:
        return f"hf download {self.repo} {self.FILES[0]}"


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

    def cached(self) -> bool:
        return self.local_file().exists()

    def command(self) -> str:  # not on the hub: hf cannot fetch it
        return f"curl -L --create-dirs -o {shlex.quote(str(self.local_file()))} {shlex.quote(self.url)}"


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

    def cached(self) -> bool:
        return Path(self.file).exists()
