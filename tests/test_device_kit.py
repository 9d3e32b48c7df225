"""Ready for a lent GPU: gpu-check without a GPU (one line, exit 2), its dry run through the CUDA seam with
each row written as it is measured, its order and time budget, and the device kit (scripts/device_kit.py):
the command that fits the device tool, the kit and the image holding every import of gpu-check, the kit's
pins inside pyproject.toml's ranges."""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import os
import shlex
import subprocess
import sys
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from helpers import ROOT, script

from reno_exp.bench import gpu_check, gpu_plan
from reno_exp.bench.gpu_check import run
from reno_exp.bench.gpu_plan import HEADER, Step, order, plan, plan_table
from reno_exp.cost.estimate import Estimate, Linear, MemoryPrediction, PartMemory

PROBE = str(ROOT / "tests" / "device_probe.py")
GiB = 2**30


@pytest.fixture(scope="module")
def kit():
    return script("device_kit")


def without_gpu() -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": path}


def probe(what: str, out: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, dict]:
    p = subprocess.Popen([sys.executable, PROBE, what, str(out), *args], cwd=ROOT, env=without_gpu(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = p.communicate(timeout=timeout)
    seen = json.loads((out / "probe.json").read_text()) if (out / "probe.json").exists() else {}
    return subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), seen


def estimate(params_gib: float, per_item_gib: float, tflop: float) -> Estimate:
    memory = MemoryPrediction({"denoiser": PartMemory(int(params_gib * GiB), Linear(0, 0), Linear(0, 0))},
                              Linear(0, int(per_item_gib * GiB)), None)
    return Estimate(memory, {"denoiser": int(tflop * 1e12)})


# --- gpu-check ------------------------------------------------------------------------------------------

def test_without_a_gpu_it_says_so_in_one_line_and_exits_2():
    p = subprocess.run([sys.executable, "-m", "reno_exp.bench.gpu_check"], cwd=ROOT, env=without_gpu(),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [f"error: {gpu_check.NO_GPU}"]
    assert "--dry" in gpu_check.NO_GPU and "make device-rehearsal" in gpu_check.NO_GPU


def test_steps_come_in_the_order_that_matters_most():
    steps = order(gpu_plan.MODELS, [1, "auto"], [False, True])
    assert steps[:2] == [Step("sd_turbo", False, 1), Step("sd_turbo", False, "auto")]
    eager = [s for s in steps if not s.compiled]
    assert steps[: len(eager)] == eager and [s.model for s in eager[::2]] == list(gpu_plan.MODELS)
    assert steps[len(eager)] == Step("sd_turbo", True, "auto")  # the batch a sweep runs, compiled first
    assert len(steps) == 4 * len(gpu_plan.MODELS)


def test_the_plan_sizes_batches_by_the_cost_model_and_counts_a_build_once():
    steps = order(["a", "b", "c"], [1, "auto"], [False])
    ests = {"a": estimate(10, 5, 1.0), "b": estimate(40, 30, 1.0), "c": estimate(90, 1, 1.0)}
    planned = plan(steps, dict.fromkeys(ests), ests, 80 * GiB, 1000.0, 3, None)
    by = {(p.step.model, p.step.batch): p for p in planned}
    assert by["a", "auto"].batch == int((80 * 0.9 - 10) // 5)  # max_batch's headroom
    assert by["b", 1].batch == 1 and by["b", "auto"].batch is None and "same as" in by["b", "auto"].note
    assert by["c", 1].batch is None and "does not fit" in by["c", 1].note
    # the FLOPs at the assumed share of the peak, a warm-up and a timed run; a build when the model changes
    flops_s = 2 * 3 * 1e12 / (gpu_plan.ASSUMED_SHARE * 1000e12)
    assert by["a", 1].seconds == pytest.approx(2 * gpu_plan.RUN_S + flops_s)
    assert by["a", 1].cost(None) == pytest.approx(gpu_plan.BUILD_S + by["a", 1].seconds)
    assert by["a", "auto"].cost(("a", False)) == pytest.approx(2 * gpu_plan.RUN_S + by["a", "auto"].batch * flops_s)
    capped = plan(steps, dict.fromkeys(ests), ests, 80 * GiB, 1000.0, 3, 4)
    assert capped[1].batch == 4
    # a step over the budget is passed over; the next is counted with the build the skipped one would have done
    slow = {**ests, "a": estimate(10, 5, 100.0)}  # its largest batch then costs more than b's build and batch 1
    planned = plan(steps, dict.fromkeys(ests), slow, 80 * GiB, 1000.0, 3, None)
    by = {(p.step.model, p.step.batch): p for p in planned}
    assert by["a", "auto"].cost(("a", False)) > by["b", 1].cost(None) + 1
    lines = plan_table(planned, budget_s=gpu_plan.START_S + by["a", 1].cost(None) + by["b", 1].cost(None) + 0.5
                       ).split("\n")
    assert [line.split(" | ")[-1] for line in lines[2:5]] == [
        "planned |", "over the budget: skipped unless time is left |", "planned |"]
    assert lines[-1].startswith(f"estimated: {gpu_plan.START_S + by['a', 1].cost(None) + by['b', 1].cost(None):.0f} s")


def test_the_budget_skips_a_step_its_estimate_does_not_fit(monkeypatch, tmp_path):
    from omegaconf import OmegaConf

    from reno_exp.bench import cuda

    measured = []

    def measure(cfg, batch, *a):
        measured.append(batch)
        logging.getLogger("reno_exp.assemble.compiling").warning("torch.compile failed for model.unet (E: x); it runs eagerly")
        return cuda.Measurement(1.0, None, 0.5, ["out of memory at batch 2"])

    monkeypatch.setattr(cuda, "measure", measure)
    monkeypatch.setattr("reno_exp.assemble.parts.build", lambda *a, **k: ("generator", "rewards"))
    cfg = OmegaConf.create({"compile": False, "device": "cpu"})
    planned = plan(order(["a"], [1, "auto"], [False]), {"a": cfg}, {"a": estimate(1, 1, 0.1)}, 80 * GiB,
                   1000.0, 3, None)
    planned[1].seconds = 1e9
    budget = gpu_check.Budget(3600, start=gpu_check.time.monotonic())
    out = gpu_check.Table(str(tmp_path))
    notes = run(planned, cuda.StandIn(80), budget, out, 3, None)
    assert measured == [1] and len(out.rows) == 1
    assert out.rows[0][-1] == "out of memory at batch 2; torch.compile failed for model.unet (E: x); it runs eagerly"
    assert len(notes) == 1 and notes[0].startswith("a eager batch auto: skipped, estimated 1000000000 s and ")
    assert (tmp_path / gpu_check.OUT_MD).read_text().splitlines()[2].startswith("| a | 1 | no | 1.000 |")


@pytest.mark.slow
def test_dry_run_measures_through_the_seam_writes_each_row_as_it_goes_and_imports_only_the_kit_and_image(
        tmp_path, kit):
    p, seen = probe("dry", tmp_path, "--dry", "reward=color", "--out", str(tmp_path))
    assert p.returncode == 0 and seen["rc"] == 0, p.stderr[-3000:]
    rows = (tmp_path / gpu_check.OUT_MD).read_text().splitlines()
    assert rows[0] == "| " + " | ".join(HEADER) + " |"
    assert [r.split(" | ")[:3] for r in rows[2:4]] == [["| tiny", "1", "no"], ["| tiny", "2", "no"]]
    assert rows[4] == "" and rows[5].startswith("done: 2 rows")
    # two synchronizes a measurement (after the warm-up and the timed run): the first row is in the file
    # before the second step's
    assert seen["rows_at_sync"] == [0, 0, 1, 1]
    numbers = [json.loads(line) for line in (tmp_path / gpu_check.OUT_JSONL).read_text().splitlines()]
    assert [(n["model"], n["batch"]) for n in numbers] == [("tiny", 1), ("tiny", 2)]
    assert all(n["seconds_per_iterate"] > 0 and n["measured_bytes"] is None for n in numbers)
    assert not [a for a in seen["attempts"] if (a[0] or "").startswith("reno_exp")], seen["attempts"]

    # every import statement of every reno_exp module the run and the real models' classes load: a package
    # on the image or in the kit; W&B and the others only inside functions the run never calls (above)
    distributions = packages_distributions()
    held = kit.IMAGE | {kit.canonical(n) for n in kit.KIT}
    never = {"wandb", "spacy", "submitit", "pooch"}
    unheld, eager_never = set(), set()
    assert "reno_exp.generators.flux_schnell" in seen["loaded"] and "reno_exp.rewards.hpsv2" in seen["loaded"]
    for name in seen["loaded"]:
        source = importlib.util.find_spec(name).origin
        tree = ast.parse(Path(source).read_text())
        top_level = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "reno_exp":
                    continue
                if top in never:
                    if id(node) in top_level:
                        eager_never.add(f"{name}: {top}")
                    continue
                dists = {kit.canonical(d) for d in distributions.get(top, [top])}
                if not dists & held:
                    unheld.add(f"{name}: {top} ({', '.join(sorted(dists))})")
    assert not unheld and not eager_never


@pytest.mark.slow
def test_the_budget_ends_a_step_that_overruns_cleanly_keeping_the_rows(tmp_path):
    p, seen = probe("hang", tmp_path, "--dry", "reward=color", "--budget-s", "15", "--out", str(tmp_path))
    lines = p.stdout.strip().splitlines()
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-3000:]
    assert lines[-1].startswith("stopped: --budget-s 15 ran out during ")
    saved = (tmp_path / gpu_check.OUT_MD).read_text()
    assert saved.rstrip().endswith(lines[-1])
    # whatever was measured before the stop is in the file, whole
    printed = [line for line in lines if line.startswith("| tiny |") and line.count(" | ") == len(HEADER) - 1]
    assert printed and all(line in saved.splitlines() for line in printed)
    if "during tiny eager batch auto" in lines[-1]:
        assert "| tiny | 1 | no | 0.500 |" in saved


# --- the kit ------------------------------------------------------------------------------------------

def test_the_device_command_fits_the_device_tool_and_gpu_check_takes_its_options(kit):
    line = kit.device_command()
    assert len(line) <= kit.COMMAND_LIMIT
    assert line.startswith("python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
                           "--target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD ")
    check = line.split("-m reno_exp.bench.gpu_check ", 1)[1].split(" 2>&1")[0]
    args = gpu_check.parse(shlex.split(check))
    assert args.budget_s == kit.BUDGET_S and args.out == "$OUT" and args.estimates == kit.ESTIMATES
    assert args.estimates.startswith(kit.KIT_DIR + "/") and kit.CARRY == [kit.KIT_DIR]
    # the budget ends gpu-check inside the run's timeout, and both inside 8 minutes
    assert kit.BUDGET_S + 30 <= kit.TIMEOUT_S <= 8 * 60
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_kit.py"), "command"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.stdout.splitlines()[0] == line and f"{len(line)} characters" in p.stderr
    assert f"\n{line}\n" in (ROOT / "README.md").read_text()  # the one documented there


def test_the_kit_is_only_what_the_image_lacks_at_pins_inside_pyproject(kit):
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement

    deps = [Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]]
    pins = {**{kit.canonical(n): v for n, v in kit.KIT.items()}, **kit.REHEARSAL}
    for dep in deps:
        name = kit.canonical(dep.name)
        if name in pins:
            assert dep.specifier.contains(pins[name]), f"{name} {pins[name]} is outside pyproject's {dep}"
    wanted = {kit.canonical(d.name) for d in deps}
    kit_names = {kit.canonical(n) for n in kit.KIT}
    assert not kit_names & kit.IMAGE  # the image's own are never carried
    assert not kit_names & set(kit.NEVER_IN_KIT)
    # each dependency is on the image, in the kit, or work gpu-check does not need
    assert wanted <= kit.IMAGE | kit_names | set(kit.NEVER_IN_KIT), wanted - kit.IMAGE - kit_names
    assert set(kit.REHEARSAL) <= kit.IMAGE


def fake_wheel(tmp_path: Path, name: str, requires: list[str]) -> Path:
    wheel = tmp_path / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(f"{name}-1.0.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: x\n" + "".join(f"Requires-Dist: {r}\n" for r in requires))
    return wheel


def test_a_requirement_neither_the_image_nor_the_kit_meets_is_named(kit, tmp_path):
    ok = fake_wheel(tmp_path, "ok", ["numpy", "ftfy>=6", "tomli; python_version < '3.11'", "pytest; extra == 'dev'",
                                     "huggingface-hub>=1.32,<3"])
    assert kit.unmet([ok]) == []
    bad = fake_wheel(tmp_path, "bad", ["wandb>=0.18", "huggingface-hub>=2.0", "ftfy<6"])
    problems = kit.unmet([bad])
    assert len(problems) == 3
    assert "neither the image nor the kit holds wandb" in problems[0]
    assert "the device would have huggingface-hub 1.33.0" in problems[1] and "ftfy 6.3.1" in problems[2]
