"""What produced a result, in words: the labels of tables, runs.csv, figure titles and W&B runs, read from
a run's resolved config (its run.yaml, verified against its fingerprint) and never from the option names
or overrides it was launched with, which can say ``reno`` over a best-of-N run or hide random weights.

A config is described by its generator (the model option whose class it builds, whether its weights are
real, its resolution and steps), its rewards with their weights and its method (``describe``), and by
how it departs from the paper's setting of those choices (``departures``): the config that its model
option, reward option, prompt suite and method option compose with every other default, placed on CUDA
as the authors ran it (``dtype=auto``: the model's half precision). Every result-affecting key whose
value differs is a departure, written ``key=value`` as the run has it (``random_init=true``,
``model.resolution=64``, ``optimizer.n_iters=2``, ``model.dtype=float32`` for a run on a CPU), so a
label without departures is the paper's setting and nothing else is. The keys a table lays out as
columns (the T2I-CompBench category, GenEval tags: ``COLUMNS``) are not departures.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import yaml

from reno_exp.config import identity
from reno_exp.config.searchpath import CONF, group_options

COLUMNS = ("benchmark.category", "benchmark.tags")  # which items, laid out as a table's columns
UNSET = "(unset)"
FIRST = ("optimizer.method", "random_init", "tiny")  # shown first: what most changes what a number means
# a prompt file is labelled by its name: its folder and SHA-256 count in the fingerprint, which the tables
# add where two runs would share a label (reno_exp.tables.jobs)
BRIEF = {"benchmark.path": lambda v: Path(str(v)).name, "benchmark.sha256": None}


def option_of(target: str | None, schemas: dict[str, type]) -> str | None:
    """The group option whose schema builds ``target`` (model: reno_exp.generators.sd_turbo.SDTurbo ->
    sd_turbo)."""
    for name, schema in schemas.items():
        field = {f.name: f for f in dataclasses.fields(schema)}.get("_target_")
        if field is not None and field.default == target:
            return name
    return None


def model_option(config: dict, choices: dict | None = None) -> str:
    from reno_exp.config.model import SCHEMAS

    target = (config.get("model") or {}).get("_target_")
    return option_of(target, SCHEMAS) or (choices or {}).get("model") or str(target).rsplit(".", 1)[-1]


def transfer_option(config: dict, choices: dict | None = None) -> str | None:
    from reno_exp.config.transfer import SCHEMAS

    if not config.get("transfer"):
        return None
    target = config["transfer"].get("_target_")
    return option_of(target, SCHEMAS) or (choices or {}).get("transfer") or str(target).rsplit(".", 1)[-1]


def suite_option(config: dict, choices: dict | None = None) -> str:
    from reno_exp.config.benchmark import SCHEMAS

    target = (config.get("benchmark") or {}).get("_target_")
    module = str(target).split(".")  # reno_exp.benchmarks.geneval.GenEval -> geneval
    return option_of(target, SCHEMAS) or (choices or {}).get("benchmark") or module[max(len(module) - 2, 0)]


@functools.cache
def optimizer_options() -> dict[tuple[str, str | None], str]:
    """(method, torch optimiser) -> the optimizer option that sets them (reno + Adam -> adam)."""
    out = {}
    for name in group_options("optimizer", packaged_only=True):
        data = yaml.safe_load((CONF / "optimizer" / f"{name}.yaml").read_text()) or {}
        out.setdefault((str(data.get("method", name)), (data.get("optim") or {}).get("_target_")), name)
    return out


def method_option(config: dict) -> str:
    """The method that ran, as the optimizer option that sets it up: reno, adam, best_of_n, lbfgs,
    zero_order (a torch optimiser no option has: ``reno+<its class>``)."""
    optimizer = config.get("optimizer") or {}
    method = str(optimizer.get("method") or "reno")
    target = (optimizer.get("optim") or {}).get("_target_")
    options = optimizer_options()
    if (method, target) in options:
        return options[(method, target)]
    if method == "reno" and target:
        return f"reno+{str(target).rsplit('.', 1)[-1]}"
    return method


def reward_names(config: dict) -> list[str]:
    return list(config.get("reward") or {})


def reward_option(config: dict, choices: dict | None = None, overrides=()) -> str:
    """The reward option the run chose; Hydra records no choice for a list of options (``reward=[all,
    aesthetic]``): the override's; with neither (a run.yaml made by hand), the option that composes the
    config's rewards at their weights, else at other weights, else the list of their names."""
    chosen = (choices or {}).get("reward")
    typed = [o.split("=", 1)[1] for o in overrides if o.lstrip("+").split("=", 1)[0] == "reward"]
    if chosen or typed:
        return str(chosen or typed[-1])
    weights = {n: (r or {}).get("weight") for n, r in (config.get("reward") or {}).items()}
    options = reward_options()
    same = [o for o, w in options.items() if w == weights] or [o for o, w in options.items() if w.keys() == weights.keys()]
    return same[0] if same else f"[{','.join(weights)}]"


@functools.cache
def reward_options() -> dict[str, dict[str, float]]:
    """Each reward option's rewards and weights, as it composes (the paper's first: all before loo_*)."""
    names = sorted(group_options("reward", packaged_only=True), key=lambda n: (n.startswith("loo_"), n))
    return {n: {k: r.get("weight") for k, r in composed([f"reward={n}"]).reward.items()} for n in names}


def composed(overrides: list[str]):
    """The app's config for ``overrides``, leaving Hydra's own state as it was (inside the app, a run naming
    itself on W&B composes too)."""
    from hydra.core.singleton import Singleton

    from reno_exp.config.compose import compose

    state = Singleton.get_state()
    try:
        return compose(overrides, "labels")
    finally:
        Singleton.set_state(state)


def rewards_text(config: dict) -> str:
    """'hpsv2 5 + imagereward 1' (weights as the config has them; a held-out reward at 0)."""
    parts = []
    for name, reward in (config.get("reward") or {}).items():
        w = reward.get("weight") if isinstance(reward, dict) else None
        parts.append(f"{name} {w:g}" if isinstance(w, int | float) and not isinstance(w, bool) else name)
    return " + ".join(parts) or "no reward"


def generator_text(config: dict, choices: dict | None = None) -> str:
    """'sd_turbo 512 px', 'sd_turbo 512 px, 2 steps, random weights'."""
    model = config.get("model") or {}
    text = model_option(config, choices)
    if model.get("resolution"):
        text += f" {model['resolution']} px"
    if (model.get("num_inference_steps") or 1) > 1:
        text += f", {model['num_inference_steps']} steps"
    return text + (", random weights" if config.get("random_init") else "")


def describe(config: dict, choices: dict | None = None) -> str:
    """'sd_turbo 512 px | hpsv2 5 + imagereward 1 | reno, 50 iterates': generator, rewards, method."""
    n = (config.get("optimizer") or {}).get("n_iters")
    return (f"{generator_text(config, choices)} | {rewards_text(config)} | {method_option(config)}"
            + (f", {n} iterates" if n is not None else ""))


def value_text(v: Any) -> str:
    """A value as an override writes it: true, null, 10 (not 10.0), [0,1]."""
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    if isinstance(v, float):
        return repr(v).removesuffix(".0") if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, list | tuple):
        return "[" + ",".join(value_text(x) for x in v) + "]"
    return str(v)


@functools.cache
def paper_setting(model: str, reward: str, suite: str, method: str, transfer: str | None = None) -> dict[str, Any] | None:
    """The flattened result config that these options compose on CUDA (None when they no longer compose:
    an option renamed or removed since the run)."""
    from reno_exp.config.errors import UserError
    from reno_exp.config.placement import placed

    overrides = [f"model={model}", f"benchmark={suite}", f"optimizer={method}", f"reward={reward}", "device=cuda",
                 *([f"transfer={transfer}"] if transfer else [])]
    try:
        return identity.flatten(identity.result_config(placed(composed(overrides))))
    except (UserError, ImportError):  # ImportError: a generator class that no longer imports, for its dtype
        return None


def departures(config: dict, choices: dict | None = None, overrides=()) -> list[str]:
    """How the run's result config departs from the paper's setting of its model, rewards, suite and
    method (and transfer model): ``key=value`` as the run has it, columns left out; ``[]`` is the paper's
    setting. ``choices`` and ``overrides`` (run.yaml's) only say which reward option to compare with."""
    method = method_option(config)
    method = method if method in optimizer_options().values() else "reno"  # reno+<another optimiser>
    reference = paper_setting(model_option(config, choices), reward_option(config, choices, tuple(overrides)),
                              suite_option(config, choices), method, transfer_option(config, choices))
    mine = {k: v for k, v in identity.flatten(config).items() if k not in COLUMNS}
    if reference is None:  # nothing to compare with: the config itself tells it apart
        return [f"config {identity.fingerprint(config)}"]
    keys = [*mine, *(k for k in reference if k not in mine and k not in COLUMNS)]
    differ = [k for k in keys if mine.get(k, UNSET) != reference.get(k, UNSET)]
    differ = [k for k in differ if not (k in BRIEF and BRIEF[k] is None)]
    differ.sort(key=lambda k: (FIRST.index(k) if k in FIRST else len(FIRST), keys.index(k)))
    shown = {k: BRIEF[k](mine[k]) if k in BRIEF and k in mine else mine.get(k, UNSET) for k in differ}
    return compact(list(shown.items()), reward_names(config))


def compact(pairs: list[tuple[str, Any]], rewards: list[str]) -> list[str]:
    """``reward.<name>.<key>=v`` for every reward alike (a run's dtypes on a CPU) as ``reward.*.<key>=v``."""
    out, said = [], set()
    for key, value in pairs:
        parts = key.split(".")
        if len(rewards) > 1 and len(parts) == 3 and parts[0] == "reward":
            alike = [f"reward.{n}.{parts[2]}" for n in rewards]
            if all((k, value) in pairs for k in alike):
                if parts[2] not in said:
                    said.add(parts[2])
                    out.append(f"reward.*.{parts[2]}={value_text(value)}")
                continue
        out.append(f"{key}={value if value is UNSET else value_text(value)}")
    return out


def differing(settings: list[dict[str, Any]]) -> list[str]:
    """Per entry (flattened configs, or parsed overrides), its ``key=value`` pairs whose value is not the
    same in every entry, joined with ", "; a key missing from an entry counts as differing."""
    keys = list(dict.fromkeys(k for entry in settings for k in entry))
    differ = [k for k in keys if len({value_text(entry.get(k, UNSET)) for entry in settings}) > 1]
    return [", ".join(f"{k}={value_text(entry[k])}" for k in differ if k in entry) for entry in settings]


def wandb_names(config: dict, choices: dict | None = None, overrides=(), run_dir: Path | str = "") -> tuple[str, str]:
    """(job_type, name) of a run on W&B, from its config: the job type is its model, method and reward
    option (W&B groups and filters runs by it, so two methods never share one), the name its directory
    and label, departures included (W&B's limits: 64 and 128 characters)."""
    job_type = f"{model_option(config, choices)}/{method_option(config)}/{reward_option(config, choices, tuple(overrides))}"
    off = departures(config, choices, overrides)
    name = f"{Path(run_dir).name}: {describe(config, choices)}" + (f" [{', '.join(off)}]" if off else "")
    return job_type[:64], name[:128]
