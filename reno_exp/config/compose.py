"""The app's config from command-line overrides, and what a bad override becomes: one line with the nearest
option or key (``model=sdxl_trubo``: "did you mean sdxl_turbo?").

``app_config(overrides)`` composes and validates (reno_exp.config.rules) as ``python -m reno_exp`` does; the
other entry points that take the app's overrides (prefetch, bench) use it. ``explain(error, overrides)``
turns the exceptions Hydra raises for a bad override into that line; the main app uses it too.
"""

from __future__ import annotations

import difflib
import re
import sys

from omegaconf import DictConfig, OmegaConf

from reno_exp.config.errors import UserError, first_line
from reno_exp.config.searchpath import CONF, folders, group_options, initialized, shadowed  # noqa: F401 (CONF: its old home)


def app_config(overrides: list[str], command: str = "this command", config_dir: str | None = None) -> DictConfig:
    """The app's composed and validated config; a UserError of one line otherwise. ``command`` names the
    caller in the refusal of a sweep (``prefetch``); ``config_dir``: the app's ``--config-dir``."""
    from reno_exp.config.rules import validate

    cfg = compose(overrides, command, config_dir)
    validate(cfg)
    return cfg


def compose(overrides: list[str], command: str = "this command", config_dir: str | None = None) -> DictConfig:
    """The app's config for these overrides (one configuration: a sweep is refused); a bad override is a
    UserError of one line."""
    from hydra import compose as hydra_compose

    from reno_exp.config.schema import register

    register()
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if "," in value and not value.startswith(("[", "{", "'", '"')):
            raise UserError(f"{o} is a sweep: {command} takes one configuration, so run it once per value "
                            f"({', '.join(f'{key}={v}' for v in value.split(','))})")
    check_options(overrides, config_dir)
    # hydra.* overrides (run dirs, launchers) do not change the app's config; hydra.searchpath finds options
    kept = [o for o in overrides if not o.lstrip("+~").startswith("hydra") or o.startswith("hydra.searchpath=")]
    try:
        with initialized(config_dir):
            return hydra_compose("config", overrides=kept)
    except UserError:
        raise
    except Exception as e:
        message = explain(e, overrides, config_dir)
        if message is None:
            raise
        raise UserError(message) from None


def check_options(overrides: list[str], config_dir: str | None = None) -> None:
    """Every ``group=option`` names one option of the group, in the package's conf/ or a user's folder
    (reno_exp.config.searchpath): Hydra itself ignores an unknown option of an
    ``optional`` group (``experiment=tabel2`` would run the defaults), merges a list of options into one
    config (``experiment=[table1,table3]``: table3's settings over table1's, silently) and ends a null
    (``model=null``, ``experiment=null``) in a traceback. Only ``reward`` combines a list (its options are disjoint rewards)."""
    if any(o.startswith("hydra.searchpath=") for o in overrides):
        folders(overrides, config_dir)  # a folder that is not there: Hydra only warns, then runs without it
    for o in overrides:
        key, _, value = o.lstrip("+~").partition("=")
        if key.startswith("hydra") or "." in key or value == "" or value.startswith("$"):
            continue
        options = group_options(key, overrides, config_dir)
        if not options:  # not a group (seed=1)
            continue
        if value == "null":  # Hydra takes no null for a group (a traceback): say what to write instead
            alone = "leave it out to run without one, or give" if key == "experiment" else "it needs"
            raise UserError(f"{o}: {alone} an option of the {key} group ({', '.join(options)})")
        if value.startswith("[") and key != "reward":
            options = value.strip("[]").replace(" ", "")
            raise UserError(f"{o}: {key} takes one option (a list merges them, the last one's settings over "
                            f"the others'); to run each, sweep them: -m {key}={options}")
        for option in value.strip("[]").split(","):  # a sweep's values, or the rewards a list combines
            if not option.strip() and value.startswith("["):
                continue  # reward=[]: no reward
            if option.strip() not in options:
                raise UserError(unknown_option(f"{key}/{option.strip()}", options))
            hidden = shadowed(key, option.strip(), overrides, config_dir)
            if hidden:  # not refused: a copy of a packaged option kept for reference is harmless
                print(f"warning: {key}={option.strip()} is the package's own; {hidden} has one of that name too, "
                      f"which Hydra does not read (the first folder wins): give yours a name of its own",
                      file=sys.stderr)


def settings(schema: type, overrides: list[str]) -> DictConfig:
    """A command's own ``key=value`` settings (OmegaConf's dot-list) over its schema, validated: a bad one
    is a UserError of one line with the nearest key."""
    from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

    from reno_exp.config.identity import flatten
    from reno_exp.config.rules import validate

    base = OmegaConf.structured(schema)
    for o in overrides:
        if "=" not in o or o.startswith("="):
            raise UserError(f"{o!r} is not a key=value setting (keys: {', '.join(map(str, base))})")
    for o in overrides:  # one at a time, so the error names the override
        try:
            base = OmegaConf.merge(base, OmegaConf.from_dotlist([o]))
        except ConfigKeyError as e:
            key = e.full_key or o.split("=", 1)[0]
            parent, _, name = key.rpartition(".")
            node = OmegaConf.select(base, parent) if parent else base
            keys = [str(k) for k in node] if isinstance(node, DictConfig) else []
            close = difflib.get_close_matches(name, keys, n=1)
            deep = {k.rsplit(".", 1)[-1]: k for k in flatten(OmegaConf.to_container(base))}
            far = difflib.get_close_matches(name, list(deep), n=1)
            hint = (f"did you mean {parent + '.' if parent else ''}{close[0]}?" if close else
                    f"did you mean {deep[far[0]]}?" if far else f"keys there: {', '.join(keys)}")
            raise UserError(f"unknown key '{key}': {hint}") from None
        except OmegaConfBaseException as e:
            key, _, value = o.partition("=")
            if "is not a ListConfig" in str(e):
                raise UserError(f"{key} takes a list: {key}=[{value}]") from None
            raise UserError(f"{o}: {first_line(e)}") from None
    validate(base)
    return base


def unknown_option(missing: str, options: list[str] | None = None) -> str:
    """'unknown model option sdxl_trubo: did you mean sdxl_turbo? (options: ...)' from Hydra's
    ``group/option`` that it could not find."""
    group, _, option = missing.rpartition("/")
    options = sorted(options or (group_options(group) if group else []))
    if not options:
        return f"unknown option {missing!r}"
    if not option:
        return f"{group}= needs an option: {', '.join(options)}"
    close = difflib.get_close_matches(option, options, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown {group} option {option!r}: {hint}(options: {', '.join(options)})"


def unknown_key(key: str, overrides: list[str], value: str = "...") -> str:
    """"unknown key 'model.hub_idd': did you mean model.hub_id?", from the keys known where it was put (or
    anywhere in the config: save_every -> optimizer.save_every)."""
    from reno_exp.config.rules import target_params

    parent, _, name = key.rpartition(".")
    others = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] != key]
    try:
        node = compose(others)
        node = node if not parent else OmegaConf.select(node, parent)
    except UserError:
        node = None
    if not isinstance(node, DictConfig):
        return f"unknown key '{key}'"
    keys = [str(k) for k in node.keys()]
    if OmegaConf.get_type(node) is dict and node.get("_target_"):  # a torch optimiser's arguments
        params = target_params(node._target_) or set()
        if name in params:
            return f"{key} is not set by this config; add it with +{key}={value}"
        keys = sorted(set(keys) | params)
    close = difflib.get_close_matches(name, keys, n=1)
    if close:
        return f"unknown key '{key}': did you mean {parent + '.' if parent else ''}{close[0]}?"
    elsewhere = elsewhere_key(name, others)
    if elsewhere:
        return f"unknown key '{key}': did you mean {elsewhere}?"
    return f"unknown key '{key}' (keys there: {', '.join(k for k in keys if not k.startswith('_'))})"


def elsewhere_key(name: str, overrides: list[str]) -> str | None:
    """The dotted key anywhere in the config whose last part is (nearly) ``name``: save_every ->
    optimizer.save_every."""
    from reno_exp.config.identity import flatten

    try:
        keys = list(flatten(OmegaConf.to_container(compose(overrides), enum_to_str=True)))
    except UserError:
        return None
    last = {k.rsplit(".", 1)[-1]: k for k in reversed(keys)}
    close = difflib.get_close_matches(name, list(last), n=1)
    return last[close[0]] if close else None


def unknown_schema_key(full_key: str, key: str, schema: str) -> str:
    """"unknown key 'model.resolutoin': did you mean model.resolution?", from the keys of the schema
    (reno_exp.config.schema's ConfigStore entries) that rejected it."""
    from hydra.core.config_store import ConfigStore

    nodes = [node.node for group in ConfigStore.instance().repo.get("schema", {}).values() if isinstance(group, dict)
             for node in group.values()]
    keys = next(([str(k) for k in n] for n in nodes if OmegaConf.get_type(n).__name__ == schema), [])
    close = difflib.get_close_matches(key, keys, n=1)
    parent = full_key[: -len(key)]
    hint = f"did you mean {parent}{close[0]}?" if close else f"{schema} has {', '.join(keys)}"
    return f"unknown key '{full_key}': {hint}"


def raised_in(e: BaseException, package: str) -> bool:
    """Whether ``package`` raised ``e`` (its own exception type, or a builtin one raised in its code)."""
    if type(e).__module__.startswith(package):
        return True
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith(package)


def unreadable(text: str, overrides: list[str]) -> str:
    """Why Hydra's override grammar refuses an override, and the quoting that makes it readable: outside
    quotes it reads ASCII letters, digits and a few signs only (not é, 日本, parentheses...)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    bad = None
    for o in overrides:
        try:
            parser.parse_overrides([o])
        except Exception:
            bad = o
            break
    lines = [x for x in text.splitlines() if x.strip(" ^") and not x.startswith(("See https", "Error parsing"))]
    why = re.sub(r" expecting (\{.*\}|\S+)", "", lines[-1] if lines else text)  # the grammar's tokens help nobody
    if bad is None:
        return f"cannot read the overrides: {why} (key=value, see `--help`)"
    key, sep, value = bad.partition("=")
    if not sep or not key or "=" in value:
        return f"cannot read the override {bad}: {why} (key=value, see `--help`)"
    odd = "".join(dict.fromkeys(c for c in value if not c.isascii()))
    what = f"{odd} (not ASCII)" if odd else "these signs"
    return (f"cannot read the override {bad}: Hydra reads {what} only inside quotes; write it as "
            f"'{key}=\"{value}\"' (the single quotes are for the shell, the double ones for Hydra)")


def explain(e: BaseException, overrides: list[str], config_dir: str | None = None) -> str | None:
    """One line for an exception Hydra raised over a bad override or option; None for anything else."""
    from hydra.errors import (
        HydraException,
        MissingConfigException,
        OverrideParseException,
        SearchPathException,
    )
    from omegaconf.errors import OmegaConfBaseException

    text = str(e)
    if isinstance(e, MissingConfigException):
        missing = e.missing_cfg_file or ""
        found = re.search(r"Could not (?:find|load) '([^']+)'", text)
        return unknown_option(missing or (found.group(1) if found else ""), list(e.options or []))
    if isinstance(e, OverrideParseException):
        return unreadable(text, overrides)
    folder = re.match(r"Additional config directory '(.+)' not found", text)
    if isinstance(e, SearchPathException) and folder:
        return f"--config-dir {folder.group(1)}: no such folder"
    inside = re.match(r"In '([\w/]+)': ConfigKeyError .*\s+Key '([^']+)' not in '(\w+)'\s+full_key: (\S+)", text)
    if inside:  # a key that an option's file sets and its schema has not (a user's option, most likely)
        option, key, schema, full_key = inside.groups()
        return f"{option}.yaml: {unknown_schema_key(full_key, key, schema)}"
    if isinstance(e, ValueError) and text.startswith("Config group override must be a string or a list"):
        try:
            check_options(overrides, config_dir)  # group=null
        except UserError as found:
            return str(found)
    if isinstance(e, HydraException | OmegaConfBaseException):
        key = re.match(r"Could not override '([^']+)'", text)
        if key:
            value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key.group(1)), "...")
            return unknown_key(key.group(1), overrides, value)
        exists = re.match(r"Could not append to config. An item is already at '([^']+)'", text)
        if exists:
            return f"{exists.group(1)} is already in the config: set it without the +, {exists.group(1)}=..."
        several = re.match(r"Multiple values for ([\w/]+)", text)
        if several:
            group = several.group(1)
            return (f"{group} already has its option; +{group}=... cannot add another: list them all, "
                    f"{group}=[a,b] (options: {', '.join(group_options(group, overrides, config_dir))})")
        merging = re.match(r"Error merging override (.+)", text)
        if merging:
            return f"{merging.group(1)}: {first_line(e.__cause__)}"
        detail = f" ({first_line(e.__cause__)})" if e.__cause__ else ""
        return f"bad override: {' '.join(text.split())[:300]}{detail}"
    if raised_in(e, "submitit"):  # sbatch refused, no srun (no cluster here, a bad partition...)
        said = text.strip().splitlines()[-1][:200] if text.strip() else type(e).__name__  # submitit printed the rest
        return (f"hydra/launcher=slurm could not submit the jobs ({said}); without a SLURM cluster, run the "
                "sweep with hydra/launcher=submitit_local, or without hydra/launcher")
    return None
