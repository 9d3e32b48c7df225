"""Magnitude-squared coherence between the initial and the optimised noise, as a function of frequency.

Each row of each channel is a 1-D signal; ``scipy.signal.coherence`` (Welch's estimate) gives its
coherence with the same row of the other noise; an item's curve is the mean over channels and rows.
Welch's estimate needs several segments per row: with one segment it is identically 1. So the segment
length is a fraction of the row (16 samples for SD's 64-wide latents), and two *independent* noises
do not reach 0 but a floor set by the number of segments, which :func:`independent_floor` measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.signal import coherence as msc


def segment_length(width: int) -> int:
    """Welch segment length: a quarter of the row (at least 4 samples, at most half the row)."""
    return max(2, min(max(width // 4, 4), width // 2))


@dataclass
class Coherence:
    freqs: np.ndarray  # cycles per latent pixel, 0 .. 0.5
    per_item: np.ndarray  # (items, freqs): mean over channels and rows
    floor: np.ndarray  # (freqs,): the same estimate for two independent N(0, I) noises
    nperseg: int

    @property
    def mean(self) -> np.ndarray:
        return self.per_item.mean(0)

    def band(self, lo: float = 25, hi: float = 75) -> tuple[np.ndarray, np.ndarray]:
        """Percentiles over items, per frequency (the interquartile range by default)."""
        return np.percentile(self.per_item, lo, axis=0), np.percentile(self.per_item, hi, axis=0)


def row_coherence(a: torch.Tensor, b: torch.Tensor, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) x (C, H, W) -> (freqs, coherence averaged over channels and rows)."""
    x, y = a.double().cpu().numpy(), b.double().cpu().numpy()
    nperseg = nperseg or segment_length(x.shape[-1])
    f, c = msc(x, y, fs=1.0, nperseg=nperseg, axis=-1)
    return f, c.reshape(-1, len(f)).mean(0)


def independent_floor(shape: tuple[int, int, int], nperseg: int, pairs: int = 8, seed: int = 0) -> np.ndarray:
    g = torch.Generator().manual_seed(seed)
    curves = [row_coherence(torch.randn(shape, generator=g), torch.randn(shape, generator=g), nperseg)[1]
              for _ in range(pairs)]
    return np.mean(curves, axis=0)


def coherence(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], nperseg: int | None = None) -> Coherence:
    """Coherence of each (initial, optimised) pair of (C, H, W) noises, all of one shape; ``pairs`` is
    consumed once, so it may be a generator that loads one item at a time."""
    curves, shape, f = [], None, None
    for a, b in pairs:
        if shape is None:
            shape = tuple(a.shape)
            nperseg = nperseg or segment_length(shape[-1])
        f, c = row_coherence(a, b, nperseg)
        curves.append(c)
    if not curves:
        raise ValueError("no (initial, optimised) noise pairs to analyse")
    return Coherence(f, np.stack(curves), independent_floor(shape, nperseg), nperseg)


def band_means(c: Coherence, split: float = 0.25) -> tuple[float, float]:
    """Mean coherence (over items) below and from ``split`` cycles per pixel up."""
    low = c.freqs < split
    return float(c.mean[low].mean()), float(c.mean[~low].mean())
