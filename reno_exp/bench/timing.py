"""Timing that says when it cannot tell: a warm-up, interleaved repeats (a change in the machine's load
hits every variant alike), the fastest repeat of each variant (the one least disturbed by other work),
and the spread of the repeats. A ratio whose distance from 1 is within its spread is "within noise".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Samples:
    name: str
    seconds: list[float]

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def spread(self) -> float:
        """(slowest - fastest) / fastest: how much the repeats disagree."""
        return (max(self.seconds) - self.best) / self.best


@dataclass
class Ratio:
    value: float
    spread: float  # first order: the two variants' relative spreads added, on the ratio's scale

    @property
    def within_noise(self) -> bool:
        return abs(self.value - 1) <= self.spread

    def __str__(self) -> str:
        return f"{self.value:.3f} ± {self.spread:.3f}" + (" (within noise)" if self.within_noise else "")


def ratio(a: Samples, b: Samples) -> Ratio:
    """a / b of the fastest repeats."""
    value = a.best / b.best
    return Ratio(value, value * (a.spread + b.spread))


def interleave(variants: dict[str, Callable[[], None]], repeats: int, warmup: int = 1,
               report: Callable[[str], None] = print, clock: Callable[[], float] = time.perf_counter
               ) -> dict[str, Samples]:
    """Run every variant ``warmup`` times untimed, then ``repeats`` rounds of each in turn, reporting each time."""
    for w in range(warmup):
        for name, fn in variants.items():
            start = clock()
            fn()
            report(f"warm-up {w + 1}/{warmup}: {name} {clock() - start:.3f} s")
    samples = {name: Samples(name, []) for name in variants}
    for r in range(repeats):
        for name, fn in variants.items():
            start = clock()
            fn()
            samples[name].seconds.append(clock() - start)
            report(f"repeat {r + 1}/{repeats}: {name} {samples[name].seconds[-1]:.3f} s")
    return samples
