"""Radially averaged 2-D power spectra: where in frequency the change (optimised - initial noise) lives.

Power is ``|FFT2|^2 / (H W)`` per channel, so N(0, I) noise has a flat spectrum of 1 (white); it is
averaged over channels and over rings of equal radius in cycles per latent pixel (0 .. 0.5, Nyquist;
the corners beyond 0.5 are left out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

LOW = 0.25  # "low frequency": radius below a quarter cycle per pixel, half the Nyquist radius


def radius_grid(h: int, w: int) -> np.ndarray:
    fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
    return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def power(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) -> (H, W) power spectrum, mean over channels."""
    a = x.double().cpu().numpy()
    return (np.abs(np.fft.fft2(a, axes=(-2, -1))) ** 2 / (a.shape[-2] * a.shape[-1])).mean(0)


def radial(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) power -> (ring radii, mean power per ring), rings one frequency step wide."""
    h, w = p.shape
    r = radius_grid(h, w)
    step = 1.0 / max(h, w)
    idx = np.rint(r / step).astype(int)
    n = int(round(0.5 / step)) + 1
    keep = idx < n
    sums = np.bincount(idx[keep], weights=p[keep], minlength=n)
    counts = np.bincount(idx[keep], minlength=n)
    return np.arange(n) * step, sums / np.maximum(counts, 1)


def low_share(p: np.ndarray, cutoff: float = LOW) -> tuple[float, float]:
    """(share of the power below ``cutoff``, the share a white spectrum would have): the first well
    above the second means the power sits at low frequencies."""
    r = radius_grid(*p.shape)
    low = r < cutoff
    total = p.sum()
    return (float(p[low].sum() / total) if total > 0 else float("nan")), float(low.mean())


@dataclass
class Spectra:
    radii: np.ndarray
    change: np.ndarray  # (items, rings): power of best - initial
    initial: np.ndarray  # (items, rings): power of the initial noise (flat about 1)
    low_share: np.ndarray  # (items,): share of each change's power below LOW
    white_share: float  # that share for a white spectrum


def spectra(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> Spectra:
    """Spectra of each (initial, optimised) pair of (C, H, W) noises, ``pairs`` consumed once."""
    change, initial, shares, white = [], [], [], float("nan")
    radii = None
    for a, b in pairs:
        pc = power(b - a)
        radii, rc = radial(pc)
        change.append(rc)
        initial.append(radial(power(a))[1])
        s, white = low_share(pc)
        shares.append(s)
    if not change:
        raise ValueError("no (initial, optimised) noise pairs to analyse")
    return Spectra(radii, np.stack(change), np.stack(initial), np.array(shares), white)
