"""A part's options are its schema's fields: the one home of their defaults and ranges.

A generator, reward, transfer target or prompt suite names its config dataclass (``reno_exp.config.model``,
``reward``, ``transfer``, ``benchmark``) as ``schema`` and reads its settings from an instance of it, so
the YAML options, ``hydra.utils.instantiate`` and a direct call (``SDTurbo(resolution=64)``) all get the
same defaults, and no constructor repeats them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar


class Configured:
    schema: ClassVar[type]  # the config dataclass whose ``_target_`` is this class

    @classmethod
    def options(cls, given: Mapping[str, Any]) -> Any:
        """``schema`` filled from keyword options or a config node (its ``_target_`` is not an option):
        the schema's default for what is not given; a name the schema lacks is a TypeError."""
        given = {k: v for k, v in given.items() if k != "_target_"}
        known = {f.name for f in fields(cls.schema)}
        for name in given:
            if name not in known:  # Python's own words for a keyword the signature lacks, and where the options are
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r} "
                                f"(its options are the fields of {cls.schema.__module__}.{cls.schema.__name__})")
        return cls.schema(**given)
