"""Known answers of the noise analysis: distances, coherence, spectra, latent layout."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from run_dirs import paper_config
from scipy.ndimage import gaussian_filter

from reno_exp.analysis import distances as dist
from reno_exp.analysis.coherence import band_means, coherence, row_coherence
from reno_exp.analysis.layout import spatial
from reno_exp.analysis.runs import Run
from reno_exp.analysis.spectra import LOW, low_share, power, radial, spectra
from reno_exp.store.records import Record, RunRecords
from reno_exp.store.rundir import RunInfo


def test_two_random_sd_noises_are_sqrt_2d_apart():
    d = dist.random_noise_distances((4, 64, 64), 64)
    assert d.shape == (64,)
    assert d.mean().item() == pytest.approx(math.sqrt(2 * 4 * 64 * 64), abs=0.5)  # 181.02; the seed: 180.77


def write_run(tmp, items, *options: str):
    """A run of ``options`` (the config they compose on CUDA) holding ``items``' noises."""
    info = RunInfo.of(paper_config(*options))
    rec = RunRecords(tmp)
    info.save(tmp)
    for i, t in enumerate(items):
        key = f"{i:05d}_00"
        rel = rec.save_tensors(t, f"noise/{key}.safetensors")
        rec.append(Record.from_json({"key": key, "index": i, "k": 0, "prompt": f"p{i}", "seed": 0, "noise": rel,
                    "fingerprint": info.fingerprint}))
    return Run.load(tmp)


def test_distances_of_known_noises_and_latents(tmp_path):
    g = torch.Generator().manual_seed(0)
    shape = (1, 4, 16, 16)
    d = math.prod(shape)
    items = []
    for step in (2.0, 4.0):
        z = torch.randn(shape, generator=g)
        u = torch.randn(shape, generator=g)
        items.append({"initial_noise": z, "best_noise": z + step * u / u.norm(),
                      "initial_latent": z + 3.0, "best_latent": torch.full(shape, 5.0)})
    table = dist.distances(write_run(tmp_path, items), n_random=512)
    rows = {r.name: r for r in table.rows}
    assert rows["initial_vs_optimised_noise"].mean == pytest.approx(3.0, abs=1e-5)
    assert rows["initial_vs_optimised_noise"].n == 2
    assert rows["initial_noise_vs_latent"].mean == pytest.approx(3.0 * math.sqrt(d), rel=1e-5)
    expected_best = np.mean([(it["best_noise"] - 5.0).norm().item() for it in items])
    assert rows["optimised_noise_vs_latent"].mean == pytest.approx(expected_best, rel=1e-5)
    assert rows["random_vs_random_noise"].mean == pytest.approx(math.sqrt(2 * d), rel=0.03)
    # a fresh N(0, I) noise against z + 3: E||n - z - 3||^2 = 2d + 9d
    assert rows["random_noise_vs_random_latent"].mean == pytest.approx(math.sqrt(11 * d), rel=0.05)
    assert table.shape == shape[1:]
    assert all(r.presentation is None for r in table.rows) and "not comparable" in table.note
    md = dist.markdown(table)
    assert "| initial vs optimised noise | 3.0000 |" in md and "n/c" in md


def test_seed_values_are_shown_only_for_sd_turbo_on_parti(tmp_path):
    items = [{k: torch.zeros(1, 4, 8, 8) for k in ("initial_noise", "best_noise", "initial_latent", "best_latent")}]
    same = write_run(tmp_path / "a", items, "model=sd_turbo", "reward=all", "benchmark=parti_prompts")
    rows = dist.distances(same, n_random=4).rows
    assert [r.presentation for r in rows] == [27.0122, 180.7667, 123.3377, 142.3693, 159.0550]
    for n, options in enumerate([("random_init=true", "benchmark=parti_prompts"), ("benchmark=single",),
                                 ("benchmark=parti_prompts", "optimizer.n_iters=2")]):  # the last: not the paper's
        other = write_run(tmp_path / str(n), items, "model=sd_turbo", "reward=all", *options)
        table = dist.distances(other, n_random=4)
        assert all(r.presentation is None for r in table.rows), options
        assert table.note.startswith("not comparable")
    assert "not the paper's setting (optimizer.n_iters=2)" in table.note


def test_identical_noises_have_coherence_one_at_every_frequency():
    x = torch.randn(4, 64, 64, generator=torch.Generator().manual_seed(1))
    f, c = row_coherence(x, x.clone())
    assert f[0] == 0 and f[-1] == pytest.approx(0.5) and len(f) == 9  # 16-sample segments on 64-wide rows
    np.testing.assert_allclose(c, 1.0, atol=1e-9)


def test_independent_noises_have_low_coherence():
    # a one-segment Welch estimate is identically 1: the segment length must give several segments
    g = torch.Generator().manual_seed(2)
    c = coherence([(torch.randn(4, 64, 64, generator=g), torch.randn(4, 64, 64, generator=g))])
    assert c.mean.max() < 0.3
    np.testing.assert_allclose(c.mean, c.floor, atol=0.05)


def perturbed(kind: str, amplitude: float = 1.0, seed: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 64, 64, generator=g)
    e = torch.randn(4, 64, 64, generator=g).numpy()
    low = gaussian_filter(e, sigma=(0, 3, 3))
    # high: a second difference along rows, |H|^2 = 16 sin^4(pi f), zero at 0
    high = np.diff(e, n=2, axis=-1, append=e[..., :2])
    p = low if kind == "low" else high
    p = torch.from_numpy(p).float()
    return x, x + amplitude * p / p.std()


def test_low_pass_change_lowers_coherence_only_at_low_frequencies():
    pairs = [perturbed("low", seed=s) for s in range(3)]
    c = coherence(pairs)
    lo, hi = band_means(c)
    assert lo < 0.8 and hi > 0.99
    assert (c.mean[:2] < 0.6).all()  # the slowest components are largely replaced
    assert (c.mean[c.freqs >= 0.25] > 0.98).all()
    # and the reverse: a high-pass change lowers it at high frequencies most
    h = coherence([perturbed("high", seed=s) for s in range(3)])
    lo_h, hi_h = band_means(h)
    assert (h.mean[:3] > 0.85).all() and h.mean[-1] < 0.5 and lo_h > hi_h + 0.2


def test_low_pass_change_has_its_power_at_low_radius():
    s = spectra([perturbed("low", seed=s) for s in range(2)])
    assert s.white_share == pytest.approx(math.pi * LOW**2, rel=0.05)
    assert s.low_share.min() > 0.95
    assert s.change[:, s.radii >= LOW].mean() < 0.01 * s.change[:, s.radii < LOW].mean()
    sh = spectra([perturbed("high", seed=s) for s in range(2)])
    assert sh.low_share.max() < s.white_share


def test_white_noise_has_a_flat_radial_spectrum_of_one():
    x = torch.randn(16, 64, 64, generator=torch.Generator().manual_seed(4))
    r, p = radial(power(x))
    assert r[0] == 0 and r[-1] == pytest.approx(0.5)
    assert p[1:].mean() == pytest.approx(1.0, rel=0.05) and p[2:].min() > 0.6 and p[2:].max() < 1.5
    share, white = low_share(power(x))
    assert share == pytest.approx(white, abs=0.03)


def test_packed_flux_latent_unpacks_to_its_grid():
    lat = torch.randn(1, 16, 8, 6 * 2)[:, :, :, :8]  # (1, C, H, W) = (1, 16, 8, 8)
    # diffusers' packing: 2x2 patches -> tokens (h, w), features (c, dy, dx)
    packed = lat.view(1, 16, 4, 2, 4, 2).permute(0, 2, 4, 1, 3, 5).reshape(1, 16, 64)
    img, note = spatial(packed)
    assert torch.equal(img, lat[0]) and "unpacked" in note
    plain, none = spatial(lat)
    assert torch.equal(plain, lat[0]) and none is None
    odd, why = spatial(torch.zeros(1, 10, 64))
    assert odd is None and "skipped" in why
