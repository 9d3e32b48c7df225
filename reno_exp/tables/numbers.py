"""How the tables average and print numbers: a mean over what exists, and a dash for nothing."""

from __future__ import annotations


def mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
