"""python -m reno_exp.bench: timing with spread and "within noise", batch sizes, the cost model's
tables (--memory, --flops, --plan), progress as it goes, bad arguments as one line with exit code 2,
and the gpu-check table on the CPU (--dry)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reno_exp.bench.__main__ import main
from reno_exp.bench.commands import batch_table
from reno_exp.bench.timing import Samples, interleave, ratio

FAST = ["model=tiny", "optimizer.n_iters=2"]


@pytest.fixture
def torch_threads():
    """The bench sets torch's threads for its process: given back after each test that runs it."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def fake_clock(durations):
    """A clock whose successive intervals are ``durations`` (start/stop pairs)."""
    ticks, now = [], 0.0
    for d in durations:
        ticks += [now, now + d]
        now += d + 1
    return iter(ticks).__next__


def test_interleave_warms_up_then_alternates_and_reports_each_run():
    calls, lines = [], []
    clock = fake_clock([9, 9, 1.0, 2.0, 1.2, 2.1, 1.1, 2.4])
    samples = interleave({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3,
                         warmup=1, report=lines.append, clock=clock)
    assert calls == ["a", "b"] * 4
    assert samples["a"].seconds == pytest.approx([1.0, 1.2, 1.1]) and samples["b"].seconds == pytest.approx([2.0, 2.1, 2.4])
    assert lines[0].startswith("warm-up 1/1: a") and lines[-1] == "repeat 3/3: b 2.400 s"
    assert samples["a"].best == 1.0 and samples["b"].spread == pytest.approx(0.2)


def test_a_ratio_inside_its_spread_is_within_noise():
    fast, slow = Samples("app", [1.00, 1.02, 1.01]), Samples("bare", [0.80, 0.81, 0.80])
    r = ratio(fast, slow)
    assert r.value == pytest.approx(1.25) and r.spread == pytest.approx(1.25 * (0.02 + 0.0125))
    assert not r.within_noise and "within noise" not in str(r)
    noisy = ratio(Samples("app", [1.0, 1.6]), Samples("bare", [0.8, 1.1]))  # 1.25, spread 1.25 * 0.975
    assert noisy.within_noise and str(noisy).endswith("(within noise)")


def test_batch_table_items_per_hour_and_ratio_to_batch_1():
    samples = {"batch 1": Samples("batch 1", [8.0, 8.4]), "batch 4": Samples("batch 4", [2.0, 2.1])}
    lines = batch_table(samples, items=8).splitlines()
    assert lines[0] == "| batch size | best s | spread | items/hour | vs batch 1 |"
    one, four = (line.split(" | ") for line in lines[2:])
    assert one[3] == "3,600" and four[3] == "14,400"  # 8 items in 8 s and in 2 s
    assert four[4].startswith("4.000 ± 0.400") and "noise" not in four[4]  # 4 x (5 % + 5 %)
    assert one[4].startswith("1.000 ± 0.100 (within noise")


@pytest.mark.slow
def test_batch_sizes_on_tiny(capsys, torch_threads):
    main([*FAST, "--batch-sizes", "1,2", "--items", "2", "--repeats", "1", "--warmup", "0"])
    out = capsys.readouterr().out
    assert "config: model=TinyGenerator" in out
    assert "repeat 1/1: batch 1" in out and "repeat 1/1: batch 2" in out  # reported as it goes
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| batch size") and [r.split(" | ")[0] for r in rows[1:]] == ["| 1", "| 2"]
    for r in rows[1:]:
        assert float(r.split(" | ")[3].replace(",", "")) > 0


def test_overhead_on_tiny(capsys, torch_threads):
    assert main(["model=tiny", "--items", "1", "optimizer.n_iters=2", "--repeats", "2", "--warmup", "0"]) == 0
    out = capsys.readouterr().out
    assert "repeat 2/2: app" in out and "bare loop:" in out and "app / bare: " in out and "±" in out
    assert "device=cpu threads=1\n" in out  # on a CPU, one thread unless --threads says otherwise


def test_threads_one_on_a_cpu_unless_asked(torch_threads):
    import torch

    from reno_exp.bench.commands import threads

    torch.set_num_threads(2)
    assert threads("cuda", None) == 2  # left as torch has it: the CPU only feeds the GPU
    assert threads("cpu", None) == 1 == torch.get_num_threads()
    assert threads("cpu", 2) == 2 == torch.get_num_threads()


def test_memory_and_flops_tables(capsys):
    assert main(["model=tiny", "reward=all", "tiny=true", "random_init=true", "--memory", "--flops", "--gpu-gib", "1"]) == 0
    out = capsys.readouterr().out
    assert "| part | params GiB | kept GiB/item (off) | kept GiB/item (on) |" in out
    for part in ("denoiser", "vae", "hpsv2", "imagereward", "clip", "pickscore"):
        assert f"| {part} |" in out
    assert "largest batch on 1 GiB:" in out and "checkpointing on:" in out
    assert "| total |" in out and "| generator (denoiser + vae) |" in out


def test_plan_counts_the_sweep_from_the_prompt_files(capsys):
    main(["--plan", "experiment=table3", "--items-per-hour", "100"])
    out = capsys.readouterr().out
    assert "| total | 4 jobs | 8848 | 442400 |" in out  # 553 GeneVal prompts x 4 seeds x 4 models
    assert "device-hours at 100 items/hour: 88.5" in out
    assert "device-hours at the authors' speed (20-50 s per 50-iterate image on an A100): 49-123" in out


def test_plan_of_a_command_line_sweep(capsys):
    main(["--plan", "model=tiny", "reward.color.channel=red,green", "benchmark.seeds=[0,1,2]",
          "optimizer.n_iters=4"])
    out = capsys.readouterr().out
    assert "| 0 | reward.color.channel=red | 3 | 12 |" in out and "| total | 2 jobs | 6 | 24 |" in out


@pytest.mark.parametrize("args, message", [
    (["--items", "0"], "--items: must be at least 1, got 0"),
    (["--batch-sizes", "0,2"], "each size must be at least 1"),
    (["--batch-sizes", "a"], "comma-separated integers"),
    (["--repeats", "x"], "not a number"),
    (["--plan", "--peak-share", "2"], "a share of peak in (0, 1]"),
    (["--plan", "--peak-share", "0.3", "--gpu", "Z80"], "no known peak rate"),
    (["model=nonexistent", "--memory"], "nonexistent"),
    (["optimizer.n_iter=2"], "n_iter"),
    (["--frobnicate"], "unrecognized arguments"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, args, message):
    try:
        code = main(args)
    except SystemExit as e:  # argparse's refusals leave as the process would
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


def test_the_entry_point_exits_2_without_traceback():
    p = subprocess.run([sys.executable, "-m", "reno_exp.bench", "--items", "0"], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2 and p.stderr.strip().splitlines() == [
        "error: argument --items: must be at least 1, got 0 (see python -m reno_exp.bench --help)"]


@pytest.mark.slow
def test_gpu_check_table_on_the_cpu(capsys):
    from reno_exp.bench.gpu_check import HEADER
    from reno_exp.bench.gpu_check import main as gpu_check

    gpu_check(["--dry"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    table = rows[rows.index("| " + " | ".join(HEADER) + " |"):]
    assert [r.split(" | ")[:3] for r in table[1:]] == [["| tiny", "1", "no"], ["| tiny", "2", "no"]]
    for r in table[1:]:
        cells = r.strip("| ").split(" | ")
        assert float(cells[3]) > 0 and float(cells[4].replace(",", "")) > 0 and cells[6] == "—"
