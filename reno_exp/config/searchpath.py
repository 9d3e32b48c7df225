"""Where the app's config options are found: the package's ``conf/`` and users' own folders, searched in
Hydra's order (the first folder that has ``<group>/<option>.yaml`` gives that option).

Hydra's config search path for this app, first to last:

1. the package's ``reno_exp/conf`` (``main``);
2. ``$RENO_EXP_CONFIG_DIR`` (folders separated by ``os.pathsep``), then ``${XDG_CONFIG_HOME:-~/.config}/reno_exp``
   when it exists: both added by the SearchPathPlugin in ``hydra_plugins/reno_exp_searchpath``, so every
   way of composing the app's config has them (the command, prefetch, bench, the cost model, tests);
3. ``--config-dir DIR`` (where Hydra's command line puts it: just before its structured configs);
4. ``hydra.searchpath=[file://DIR,pkg://package.conf]`` (Hydra appends them as it composes).

A user's folder adds options to any group (and its own ``hydra/launcher`` options); the package's option
of a name wins over a user's of the same name, as Hydra takes the first it finds: a changed packaged
option is a new one that starts from it (``defaults: [tiny, _self_]``). ``group_options`` lists a group
across all of them, through Hydra's own config repository.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reno_exp.config.errors import UserError

CONF = Path(__file__).resolve().parents[1] / "conf"
ENV = "RENO_EXP_CONFIG_DIR"
PLUGIN = "reno_exp user configs"  # the plugin's provider name in Hydra's search path


def user_folders() -> list[Path]:
    """``$RENO_EXP_CONFIG_DIR``'s folders, then the XDG one when it exists; a folder the variable names
    that is not there is a UserError (Hydra's --config-dir refuses one too)."""
    found = []
    for part in os.environ.get(ENV, "").split(os.pathsep):
        if not part.strip():
            continue
        folder = Path(part).expanduser()
        if not folder.is_dir():
            raise UserError(f"{ENV}={os.environ[ENV]}: {part} is not a folder (it lists config folders, "
                            f"separated by {os.pathsep!r})")
        found.append(folder.resolve())
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "reno_exp"
    if xdg.is_dir():
        found.append(xdg.resolve())
    return list(dict.fromkeys(found))


def is_app(search_path: Any) -> bool:
    """Whether a Hydra search path is this app's (its primary config is the package's ``conf/``): other
    Hydra apps in the same environment get no folders from the plugin."""
    main = [e.path for e in search_path.get_path() if e.provider == "main"]
    return any(str(p).removeprefix("file://").rstrip("/") == str(CONF) for p in main)


def search_path(overrides: list[str] = (), config_dir: str | None = None, packaged_only: bool = False) -> Any:
    """The app's search path as ``python -m reno_exp [--config-dir DIR] [overrides]`` composes over it: the
    plugins' folders, ``config_dir`` where Hydra's command line puts it and the overrides'
    ``hydra.searchpath`` where Hydra appends it; from the running app's when there is one (it has its own
    --config-dir). ``packaged_only``: the package's conf/ alone (the paper's settings, which a run's labels
    compare with, whatever folders are around)."""
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from hydra._internal.utils import create_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    hydra = GlobalHydra.instance()
    if packaged_only:
        path = ConfigSearchPathImpl()
        path.append("main", str(CONF))
        path.append("schema", "structured://")
        return path
    if config_dir is None and hydra.is_initialized() and is_app(hydra.config_loader().get_search_path()):
        path = copy.deepcopy(hydra.config_loader().get_search_path())
    else:
        path = create_config_search_path(str(CONF))
    if config_dir is not None:
        folder = Path(config_dir).expanduser()
        if not folder.is_dir():
            raise UserError(f"--config-dir {config_dir}: no such folder")
        path.prepend("command-line", f"file://{folder.resolve()}", anchor=SearchPathQuery(provider="schema"))
    wanted = [o for o in overrides if o.split("=", 1)[0] == "hydra.searchpath"]
    added = OverridesParser.create().parse_overrides(wanted[-1:])[0].value() if wanted else []
    if isinstance(added, list) and added:  # as ConfigLoaderImpl._process_config_searchpath does, before schema
        schema = path.get_path().pop(-1)
        for entry in added:
            path.append("hydra.searchpath in command-line", str(entry))
        path.append(schema.provider, schema.path)
    return path


@contextmanager
def initialized(config_dir: str | None = None) -> Iterator[None]:
    """Hydra set up as ``initialize_config_dir`` sets it up, over the app's search path (users' folders and
    ``config_dir`` included, as the app's command line has them); Hydra's state is cleared after."""
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra.core.global_hydra import GlobalHydra

    path = search_path(config_dir=config_dir)  # inside the app, the app's own (its --config-dir)
    GlobalHydra.instance().clear()
    version.setbase("1.3")
    Hydra.create_main_hydra2(task_name="app", config_search_path=path)
    try:
        yield
    finally:
        GlobalHydra.instance().clear()


def repository(overrides: list[str] = (), config_dir: str | None = None, packaged_only: bool = False) -> Any:
    """Hydra's config repository over that search path (a folder in it that is not there: a UserError)."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra.core.plugins import Plugins

    Plugins.instance()  # registers the config sources (file://, pkg://) a repository reads through
    repo = ConfigRepository(search_path(overrides, config_dir, packaged_only))
    missing = [s.full_path() for s in repo.get_sources() if not s.available() and s.provider != "main"]
    if missing:
        raise UserError(f"hydra.searchpath: {missing[0]} is not there (it takes file://<folder> or "
                        "pkg://<package.with.configs>)")
    return repo


def group_options(group: str, overrides: list[str] = (), config_dir: str | None = None,
                  packaged_only: bool = False) -> list[str]:
    """The options of a config group (``model``, ``hydra/launcher``), across the app's search path."""
    return repository(overrides, config_dir, packaged_only).get_group_options(group)


def folders(overrides: list[str] = (), config_dir: str | None = None) -> list[str]:
    """The search path's config folders that are users' (the ways above), first searched first."""
    skip = {"hydra", "main", "schema"}
    return [s.path for s in repository(overrides, config_dir).get_sources() if s.provider not in skip]


def shadowed(group: str, option: str, overrides: list[str] = (), config_dir: str | None = None) -> str | None:
    """The user's folder whose ``group/option`` the package's option of that name hides, if any."""
    sources = [s for s in repository(overrides, config_dir).get_sources() if s.is_config(f"{group}/{option}")]
    if sources and sources[0].provider == "main":
        return next((s.path for s in sources[1:] if s.provider not in ("hydra", "schema")), None)
    return None


def register_resolvers() -> None:
    """``${reno_exp.options:<group>,${hydra.overrides.hydra}}``, ``${reno_exp.folders:...}`` and
    ``${reno_exp.pathsep:}`` for the app's --help (conf/hydra/help/reno_exp.yaml): its text is a string.Template, hence the ``$$``."""
    from omegaconf import OmegaConf

    def listed(items: list[str]) -> str:
        return (", ".join(items) or "(none)").replace("$", "$$")

    OmegaConf.register_new_resolver(
        "reno_exp.options", lambda group, hydra=(): listed(group_options(group, list(hydra or []))), replace=True)
    OmegaConf.register_new_resolver(
        "reno_exp.folders", lambda hydra=(): listed(folders(list(hydra or []))), replace=True)
    OmegaConf.register_new_resolver("reno_exp.pathsep", lambda: os.pathsep, replace=True)
