"""Value checks of a composed config: the ranges live next to the fields they check.

OmegaConf checks what a schema can say by itself (known keys, types, enums). What it cannot say, a
field says in its metadata, ``field(default=50, metadata=rule(ge=1))``, and ``validate(cfg)`` walks the
composed config once, reading the rule of every field it meets: ranges, finiteness, choices, multiples,
non-empty and duplicate-free lists, keys of an untyped ``_target_`` node, and keys that ``+key=value``
added where no schema has them. Every entry point that composes a config calls it before anything is
built; a failure is one ``UserError`` line.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from reno_exp.config.errors import UserError, first_line, user_error

Bound = float | str | None  # a number, or the name of a sibling field whose value is the bound


@dataclass(frozen=True)
class Rule:
    ge: Bound = None
    gt: Bound = None
    le: Bound = None
    lt: Bound = None
    finite: bool = False  # NaN and infinities refused
    integer: bool = False  # for untyped fields: a whole number
    multiple_of: int | None = None
    choices: tuple | None = None
    normalize: Callable[[str], str] | None = None  # how a string is compared with the choices (snake case)
    auto: bool = False  # the string "auto" is accepted too
    pattern: str | None = None  # a regular expression the whole string must match
    nonempty: bool = False
    unique: bool = False  # a list without repeated values
    each: Rule | None = None  # every element of a list
    keys: dict[str, Rule] | None = None  # an untyped node: the rule of each of these keys, when present
    target_args: bool = False  # an untyped node with _target_: every key is a parameter of the target
    schema: type | None = None  # a dict of named nodes, each one of this dataclass's subclasses
    nonnull: bool = False  # for untyped (Any) fields, where OmegaConf lets null through
    # checks of the value against its sibling fields: relation(value, siblings) yields the problems
    relation: Callable[[Any, DictConfig], Iterable[str]] | None = None
    # choices known only by importing (torch): choices_of(siblings) gives them, or None when they do not
    # matter; run only by the checks that may import
    choices_of: Callable[[DictConfig], Iterable[str] | None] | None = None
    hint: str = ""  # said after the problem: what to do instead

    def requirement(self) -> str:
        """'an integer >= 1 or "auto"', 'a multiple of 8 between 64 and 2048', 'in [0, 1)'."""
        noun = ("an integer" if self.integer else f"a multiple of {self.multiple_of}" if self.multiple_of
                else "a finite number" if self.finite else "")
        if self.ge is not None and self.le is not None:
            bounds = f"between {self.ge} and {self.le}"
        elif self.ge is not None and self.lt is not None:
            bounds = f"in [{self.ge}, {self.lt})"
        else:
            bounds = " and ".join(f"{op} {b}" for op, b in ((">=", self.ge), (">", self.gt), ("<=", self.le),
                                                            ("<", self.lt)) if b is not None)
        text = " ".join(filter(None, [noun, bounds]))
        return text + (' or "auto"' if self.auto else "")


def rule(**kw) -> dict[str, Rule]:
    """Field metadata: ``field(default=..., metadata=rule(ge=1))``."""
    return {"check": Rule(**kw)}


def rule_of(f: dataclasses.Field) -> Rule | None:
    return f.metadata.get("check")


def suggest(word: str, options) -> str:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def shown(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
    return str(value)


def bound(b: Bound, siblings: DictConfig | None) -> float | None:
    if isinstance(b, str):
        return None if siblings is None else siblings.get(b)
    return b


def check_value(key: str, value: Any, r: Rule, siblings: DictConfig | None = None,
                imports: bool = False) -> Iterator[str]:
    """The problems of one value against its rule (None: only ``nonnull`` refuses it; elsewhere null is the
    schema's business). ``imports``: also the choices that need an import to be known."""
    tail = f"; {r.hint}" if r.hint else ""
    if value is None:
        if r.nonnull:
            yield f"{key} must be {r.requirement()}, got null{tail}"
        return
    if r.relation is not None and siblings is not None:
        yield from r.relation(value, siblings)
    if r.choices_of is not None and siblings is not None and imports:
        known = None if (found := r.choices_of(siblings)) is None else list(found)
        if known is not None and value not in known:
            more = f" and {len(known) - 8} more" if len(known) > 8 else ""
            yield f"{key}={value} is not one of {', '.join(known[:8])}{more}{suggest(value, known)}{tail}"
    if r.auto and value == "auto":
        return
    if isinstance(value, ListConfig | list):
        items = list(value)
        if r.nonempty and not items:
            yield f"{key} is empty: give at least one value{tail}"
        if r.unique:
            dupes = sorted({shown(v) for v in items if items.count(v) > 1})
            if dupes:
                yield f"{key} repeats {', '.join(dupes)}: each value would give the same result twice"
        if r.each:
            for i, v in enumerate(items):
                yield from check_value(f"{key}[{i}]", v, r.each)
        return
    if isinstance(value, str):
        if r.nonempty and not value.strip():
            yield f"{key} is empty{tail}"
        same = r.normalize or (lambda x: x)
        if r.choices is not None and same(value) not in {same(c) for c in r.choices}:
            yield f"{key} must be one of {', '.join(map(str, r.choices))}, got {value!r}{suggest(value, r.choices)}"
        if r.pattern is not None and not re.fullmatch(r.pattern, value):
            yield f"{key}={value}: {r.hint or 'not valid'}"
        if any(b is not None for b in (r.ge, r.gt, r.le, r.lt)) or r.integer:
            yield f"{key} must be {r.requirement()}, got {value!r}{tail}"
        return
    if r.choices is not None and value not in r.choices:
        yield f"{key} must be one of {', '.join(map(str, r.choices))}, got {shown(value)!r}"
        return
    numeric = r.integer or r.finite or r.multiple_of or any(b is not None for b in (r.ge, r.gt, r.le, r.lt))
    if isinstance(value, bool) or not isinstance(value, int | float):  # true, or a mapping, where a number goes
        if numeric:
            yield f"{key} must be {r.requirement()}, got {shown(value)}{tail}"
        return
    whole = math.isfinite(value) and float(value).is_integer()
    ok = not (math.isnan(value) or (r.finite and not math.isfinite(value)) or (r.integer and not whole)
              or (r.multiple_of and (not whole or int(value) % r.multiple_of)))
    for test, b in ((float.__ge__, r.ge), (float.__gt__, r.gt), (float.__le__, r.le), (float.__lt__, r.lt)):
        if ok and (b := bound(b, siblings)) is not None:
            ok = test(float(value), float(b))
    if not ok:
        req = r.requirement()
        for b in (r.ge, r.gt, r.le, r.lt):
            if isinstance(b, str):  # name the sibling's value too
                req = req.replace(b, f"{b} ({bound(b, siblings)})")
        yield f"{key} must be {req}, got {value}{tail}"


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *subclasses(sub)]
    return out


def schema_for(node: DictConfig, base: type) -> type | None:
    """The dataclass (``base`` or a subclass) whose ``_target_`` default is the node's ``_target_``."""
    target = node.get("_target_")
    for cls in [base, *subclasses(base)]:
        f = {f.name: f for f in dataclasses.fields(cls)}.get("_target_")
        if f is not None and f.default == target:
            return cls
    return None


def entries(path: str, node: DictConfig, r: Rule, imports: bool) -> Iterator[str]:
    """A dict of named nodes that must each be one of ``r.schema``'s (sub)classes (``reward``: name -> reward)."""
    base, tail = r.schema, f"; {r.hint}" if r.hint else ""
    for name in node:
        key, entry = join(path, name), node._get_node(name)
        if not isinstance(entry, DictConfig) or entry._is_none():
            yield f"{key} must be a {base.__name__}, got {shown(entry)!r}{tail}"
            continue
        typed = OmegaConf.get_type(entry)
        if dataclasses.is_dataclass(typed) and issubclass(typed, base):
            yield from problems(entry, key, imports)
            continue
        if "_target_" not in entry or entry._get_node("_target_")._is_missing():
            others = [str(k) for k in node if k != name]
            close = difflib.get_close_matches(str(name), others, n=1)
            did = f": did you mean {join(path, close[0])}?" if close else f" ({', '.join(others) or 'none'})"
            yield f"{key} is not in this config{did}{tail}"
            continue
        schema = schema_for(entry, base)
        if schema is None:
            yield f"{key}._target_={entry._target_} is not a known {base.__name__.removesuffix('Config')} class{tail}"
            continue
        try:
            merged = OmegaConf.merge(OmegaConf.structured(schema), entry)
        except OmegaConfBaseException as e:
            yield f"{key}: {first_line(e)}"
            continue
        yield from problems(merged, key, imports)


def target_params(target: str) -> set[str] | None:
    """The keyword parameters of a ``_target_``; None when it takes ``**kwargs`` or cannot be imported."""
    from hydra.utils import get_object

    try:
        params = inspect.signature(get_object(target)).parameters.values()
    except Exception:
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind is not p.VAR_POSITIONAL}


def untyped(path: str, node: DictConfig, r: Rule, imports: bool) -> Iterator[str]:
    for name, sub in (r.keys or {}).items():
        if name in node:
            yield from check_value(join(path, name), node[name], sub, node)
    if r.target_args and imports and node.get("_target_"):
        params = target_params(node._target_)
        if params is not None:
            for name in node:
                if not str(name).startswith("_") and name not in params:
                    yield f"{join(path, name)} is not a parameter of {node._target_}{suggest(name, params)}"


def problems(node: DictConfig, path: str = "", imports: bool = True) -> Iterator[str]:
    """Every problem of a composed config node against its schema's rules, depth first. ``imports``: also
    the checks that import a ``_target_`` (torch for the optimiser's arguments: seconds)."""
    typed = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(typed):
        return
    fields = {f.name: f for f in dataclasses.fields(typed)}
    for name in node:
        key = join(path, name)
        if path == "" and name == "hydra":
            continue
        if name not in fields:
            close = difflib.get_close_matches(str(name), list(fields), n=1)
            yield f"unknown key '{key}': " + (f"did you mean {join(path, close[0])}?" if close else
                                               f"{typed.__name__} has no such key")
            continue
        child = node._get_node(name)
        if child._is_missing():
            yield f"{key} is missing: give it a value"
            continue
        try:
            value = node[name]
        except OmegaConfBaseException as e:  # a resolver's own UserError says what is wrong (equal_compute)
            found = user_error(e)
            yield str(found) if found is not None else f"{key}: {first_line(e)}"
            continue
        r = rule_of(fields[name])
        if isinstance(value, DictConfig) and not value._is_none():
            if r is not None and r.schema is not None:
                yield from entries(key, value, r, imports)
            elif r is not None and (r.keys or r.target_args):
                yield from untyped(key, value, r, imports)
            elif r is not None:
                yield from check_value(key, value, r, node, imports)
            else:
                yield from problems(value, key, imports)
        elif r is not None:
            yield from check_value(key, value, r, node, imports)


def all_problems(cfg: DictConfig) -> list[str]:
    """The config's problems; the checks that import a target run only when the quick ones found none, so
    a typo is reported without waiting for torch to import."""
    return list(problems(cfg, imports=False)) or list(problems(cfg, imports=True))


def validate(cfg: DictConfig, limit: int = 3) -> None:
    """A UserError naming the config's problems (the first ``limit`` of them, on one line)."""
    found = list(dict.fromkeys(all_problems(cfg)))  # a bad value read twice (a resolver's input) is said once
    if found:
        more = f"; and {len(found) - limit} more" if len(found) > limit else ""
        raise UserError("; ".join(found[:limit]) + more)


def needs_random_init(tiny: Any, siblings: DictConfig) -> Iterator[str]:
    """``tiny=true`` builds tiny configurations of the reward and evaluator classes: random weights only."""
    if tiny and not siblings.get("random_init"):
        yield "tiny=true needs random_init=true (tiny models have no real weights)"


def check_arg(name: str, value: Any, **kw) -> None:
    """A command-line argument against a rule: ``check_arg("--items", args.items, ge=1)``."""
    for problem in check_value(name, value, Rule(**kw)):
        raise UserError(problem)
