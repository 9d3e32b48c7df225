"""Bad input, at every entry point: exit code 2, at most three lines, no traceback, nothing changed.

The table runs each entry point's ``main(argv)`` in this process (one subprocess per input would cost
seconds of imports each); a few inputs go through real subprocesses too (slow). Every case also checks
that an existing run directory, made once by the app, is byte-identical afterwards, as is the
directory the input points to.
"""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from helpers import ROOT, python

from reno_exp.config.compose import CONF

FAST = ["optimizer.n_iters=2", "benchmark.seeds=[0,1]", "progress=false"]


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file's bytes and every folder (None) under root: byte-identical means equal snapshots."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def made(tmp_path_factory, compose_module):
    """A run directory as the app leaves it, and damaged or foreign copies of it."""
    from reno_exp.experiment.run import run

    base = tmp_path_factory.mktemp("bad_inputs")
    good = base / "run"
    run(compose_module(FAST), good)
    dirs = {"run": good, "base": base}

    def copy(name: str) -> Path:
        shutil.copytree(good, base / name)
        dirs[name] = base / name
        return base / name

    trunc = copy("truncated_noise")
    with open(trunc / "noise" / "00000_01.safetensors", "r+b") as f:
        f.truncate(f.seek(0, 2) // 2)
    png = copy("truncated_png")
    with open(png / "images" / "00000_00_best.png", "r+b") as f:
        f.truncate(200)
    (copy("bad_run_yaml") / "run.yaml").write_text("{{{ not yaml\n")
    edited = yaml.safe_load((good / "run.yaml").read_text())
    edited["config"]["optimizer"]["n_iters"] = 40  # edited by hand, its fingerprint kept
    (copy("edited_run_yaml") / "run.yaml").write_text(yaml.safe_dump(edited, sort_keys=False))
    lines = (good / "run.yaml").read_text().splitlines(keepends=True)  # cut at a line: still YAML, not whole
    (copy("truncated_run_yaml") / "run.yaml").write_text("".join(lines[: len(lines) // 2]))
    lines = (good / "results.jsonl").read_text().splitlines()
    other = {**json.loads(lines[0]), "key": "00009_00", "fingerprint": "0123456789ab"}  # another config's record
    (copy("foreign_records") / "results.jsonl").write_text("\n".join([*lines, json.dumps(other)]) + "\n")
    foreign = base / "foreign"  # another project's Hydra directory: its own results.jsonl, no run.yaml
    (foreign / ".hydra").mkdir(parents=True)
    (foreign / ".hydra" / "config.yaml").write_text("lr: 0.1\n")
    (foreign / "results.jsonl").write_text('{"epoch": 1, "loss": 0.5}\n')
    dirs["foreign"] = foreign
    keyless = copy("keyless")  # a line of another program, or edited by hand, among the records
    with (keyless / "results.jsonl").open("a") as f:
        f.write('{"prompt": "x", "seed": 3}\n')
    (base / "empty").mkdir()
    dirs["empty"] = base / "empty"
    (base / "a_file").write_text("not a directory\n")
    dirs["a_file"] = base / "a_file"
    return dirs


@pytest.fixture(scope="module")
def compose_module():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from reno_exp.config.schema import register

    register()

    def _compose(overrides=()):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return hydra_compose("config", overrides=list(overrides))

    return _compose


def entry_point(name: str, module: str, function: str = "main"):
    """An entry point's ``main(argv)``, imported when called (the app's heavy imports wait for a case)."""

    def call(argv):
        return getattr(importlib.import_module(module), function)(argv)

    call.__name__ = name
    return call


app = entry_point("app", "reno_exp.__main__", "cli")
evaluate = entry_point("evaluate", "reno_exp.evaluate.scoring")
analysis = entry_point("analysis", "reno_exp.analysis.__main__")
tables = entry_point("tables", "reno_exp.tables.cli")
prefetch = entry_point("prefetch", "reno_exp.prefetch")
collect = entry_point("collect", "reno_exp.benchmarks.collect")
bench = entry_point("bench", "reno_exp.bench.__main__")
cost_step = entry_point("cost_step", "reno_exp.cost.step")


RUN = "{run}"  # replaced by the existing run directory


def fill(arg: str, made: dict[str, Path]) -> str:
    """``{name}`` -> the path of one of the fixture's directories (other braces are Hydra's)."""
    for name, path in made.items():
        arg = arg.replace("{" + name + "}", str(path))
    return arg

CASES = [
    # the main app: value ranges (field metadata, one validator)
    (app, ["optimizer.n_iters=0"], "optimizer.n_iters must be between 1 and 10000, got 0"),
    (app, ["optimizer.grad_clip=-1"], "optimizer.grad_clip must be > 0"),
    (app, ["optimizer.reg_weight=nan"], "optimizer.reg_weight must be a finite number >= 0"),
    (app, ["optimizer.optim.lr=0"], "optimizer.optim.lr must be a finite number > 0"),
    (app, ["optimizer.optim.momentum=1"], "optimizer.optim.momentum must be in [0, 1)"),
    (app, ["optimizer.save_every=-1"], "optimizer.save_every must be >= 0"),
    (app, ["optimizer=adam", "+optimizer.optim.betas=[0.9,1.5]"], "optimizer.optim.betas[1] must be in [0, 1)"),
    (app, ["reward.color.weight=nan"], "reward.color.weight must be a finite number, got nan"),
    (app, ["reward.color.weight=-inf"], "reward.color.weight must be a finite number, got -inf"),
    (app, ["benchmark.seeds=[]"], "benchmark.seeds is empty"),
    (app, ["benchmark.seeds=[0,0]"], "benchmark.seeds repeats 0"),
    (app, ["benchmark.limit=0"], "benchmark.limit must be >= 1"),
    (app, ["benchmark.num_shards=0"], "benchmark.num_shards must be >= 1"),
    (app, ["benchmark.num_shards=2", "benchmark.shard_index=2"], "benchmark.shard_index must be in [0, num_shards (2))"),
    (app, ["benchmark.prompt="], "benchmark.prompt is empty"),
    (app, ["batch_size=0"], 'batch_size must be an integer >= 1 or "auto", got 0'),
    (app, ["batch_size=many"], 'batch_size must be an integer >= 1 or "auto"'),
    (app, ["batch_size=true"], 'batch_size must be an integer >= 1 or "auto", got True'),
    (app, ["model.resolution=60"], "model.resolution must be a multiple of 8"),
    (app, ["model=flux_schnell", "model.resolution=520"], "model.resolution must be a multiple of 16 between 64 and 2048"),
    (app, ["model=sd_turbo", "model.resolution=8192"], "model.resolution must be a multiple of 8 between 64 and 2048"),
    (app, ["model.dtype=fp16"], "model.dtype must be one of auto, float32, float16, bfloat16, got 'fp16'"),
    (app, ["model.num_inference_steps=0"], "model.num_inference_steps must be between 1 and 1000"),
    (app, ["transfer=tiny", "transfer.steps=0"], "transfer.steps must be between 1 and 1000"),
    (app, ["seed=-1"], "seed must be >= 0"),
    # typos, and keys that + added where no schema has them
    (app, ["+optimizer.n_iter=2"], "unknown key 'optimizer.n_iter': did you mean optimizer.n_iters?"),
    (app, ["optimizer.n_iter=2"], "unknown key 'optimizer.n_iter': did you mean optimizer.n_iters?"),
    (app, ["save_every=2"], "unknown key 'save_every': did you mean optimizer.save_every?"),
    (app, ["model.hub_idd=x"], "unknown key 'model.hub_idd'"),
    (app, ["+optimizer.optim.lrr=1"], "optimizer.optim.lrr is not a parameter of torch.optim.SGD (did you mean lr?)"),
    (app, ["+reward.color.chanel=red"], "unknown key 'reward.color.chanel': did you mean reward.color.channel?"),
    (app, ["+reward.hpsv3.weight=2"], "reward.hpsv3 is not in this config"),
    (app, ["+reward=aesthetic"], "reward already has its option; +reward=... cannot add another: list them all"),
    (app, ["+reward.mine={_target_:my.Reward,weight:1}"], "reward.mine._target_=my.Reward is not a known Reward class"),
    (app, ["model=sdxl_trubo"], "unknown model option 'sdxl_trubo': did you mean sdxl_turbo?"),
    (app, ["experiment=tabel2"], "unknown experiment option 'tabel2': did you mean table2?"),
    (app, ["benchmark=t2i_compbench", "benchmark.category=colour"], "got 'colour' (did you mean color?)"),
    (app, ["benchmark=geneval", "benchmark.tags=[countng]"], "got 'countng' (did you mean counting?)"),
    (app, ["logger=wandb", "logger.mode=onlin"], "got 'onlin' (did you mean online?)"),
    (app, ["reward.color.channel=purple"], "expected one of [red, green, blue]"),
    (app, ["optimizer.n_iters=abc"], "optimizer.n_iters=abc: Value 'abc' of type 'str' could not be converted to Integer"),
    (app, ["optimizer.n_iters==3"], "cannot read the override optimizer.n_iters==3"),
    (app, ["optimizer.n_iters=${oops}"], "optimizer.n_iters: Interpolation key 'oops' not found"),
    (app, ["+seed=3"], "seed is already in the config: set it without the +"),
    (app, ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (app, ["-m", "hydra/launcher=slrum"], "unknown hydra/launcher option 'slrum': did you mean slurm?"),
    (app, ["hydra.run.dir={a_file}"], "a_file is a file, not a directory"),
    (app, ["hydra.run.dir="], "hydra.run.dir is empty: give a directory"),
    (app, ["-m", "optimizer.n_iters=2", "hydra.sweep.dir="], "hydra.sweep.dir is empty: give a directory"),
    (app, [*FAST, "hydra.run.dir={keyless}"], "results.jsonl:3: a record without key: not a reno_exp results file"),
    (app, ["hydra.run.dir={foreign}"], "results.jsonl:1: a record without key, prompt, seed"),
    # missing weights: every checkpoint named, nothing written (no new run directory under base)
    (app, ["model=sd_turbo", "hydra.run.dir={base}/new_run"], "weights for 'stabilityai/sd-turbo' are not available"),
    (app, ["-m", "optimizer.n_iters=2", "hydra.sweep.dir={a_file}/sweep"], "hydra.sweep.dir="),
    # devices
    (app, ["device=gpu"], "device=gpu: not a device; use cpu, cuda or cuda:N"),
    (app, ["device=cuda:9"], "device=cuda:9"),
    # every job of a sweep is checked before the first one starts
    (app, ["-m", "optimizer.n_iters=2,0"], "optimizer.n_iters must be between 1 and 10000, got 0 (in job 1: optimizer.n_iters=0)"),
    (app, ["-m", "experiment=table1,tabel2"], "unknown experiment option 'tabel2'"),
    # evaluate's own settings, and the directories it reads
    (evaluate, [RUN, "metrics=[genevl]"], "got 'genevl' (did you mean geneval?)"),
    (evaluate, [RUN, "metricz=[geneval]"], "unknown key 'metricz': did you mean metrics?"),
    (evaluate, [RUN, "geneval.threshold=2"], "geneval.threshold must be between 0 and 1, got 2"),
    (evaluate, [RUN, "image_sets=[]"], "image_sets is empty"),
    (evaluate, [RUN, "metrics=geneval"], "metrics takes a list: metrics=[geneval]"),
    (evaluate, [], "give a run or sweep directory"),
    (evaluate, [RUN, "device=gpu"], "device=gpu: not a device"),
    (evaluate, [RUN, "random_init"], "'random_init' is not a key=value setting"),
    (evaluate, ["metrics=[geneval]"], "the first argument is the directory"),
    (evaluate, ["{foreign}"], "results.jsonl:1: a record without key, prompt, seed: not a reno_exp results file"),
    (evaluate, ["{truncated_png}", "random_init=true", "tiny=true", "metrics=[aesthetic]"],
     "00000_00_best.png is damaged or truncated"),
    # analysis
    (analysis, ["{foreign}"], "not a reno_exp results file"),
    (analysis, ["{keyless}"], "results.jsonl:3: a record without key"),
    (tables, ["{keyless}"], "results.jsonl:3: a record without key"),
    (evaluate, ["{keyless}"], "results.jsonl:3: a record without key"),
    (analysis, ["{truncated_noise}"], "00000_01.safetensors is truncated"),
    (analysis, ["{bad_run_yaml}"], "run.yaml is not a reno_exp run record"),
    (analysis, ["{empty}"], "no run under"),
    (analysis, [RUN, "--max-figures", "-1"], "--max-figures must be >= 0, got -1"),
    (analysis, [RUN, "--max-figures", "many"], "argument --max-figures: invalid int value: 'many'"),
    # tables
    (tables, ["{foreign}"], "no reno_exp run under"),
    (tables, ["{bad_run_yaml}"], "run.yaml is not a reno_exp run record"),
    (tables, ["{a_file}"], "is not a directory"),
    (tables, [RUN, "--out", "{a_file}"], "is a file, not a directory"),
    (tables, [RUN, "--tables", "4"], "argument --tables: invalid choice: '4'"),
    # prefetch takes the app's overrides: the same checks
    (prefetch, ["--list", "model=sdxl_trubo"], "did you mean sdxl_turbo?"),
    (prefetch, ["--list", "optimizer.n_iters=0"], "optimizer.n_iters must be between 1 and 10000"),
    (prefetch, ["--list", "+optimizer.n_iter=2"], "did you mean optimizer.n_iters?"),
    (prefetch, ["--list", "model=sd_turbo,sdxl_turbo"], "is a sweep"),
    # collect
    (collect, ["{foreign}", "{base}/collected"], "no reno_exp run under"),
    (collect, ["{empty}", "{base}/collected"], "no run under"),
    (collect, [RUN, "{a_file}"], "is a file: give a directory"),
    # bench and cost.step: their arguments, and overrides checked as the app checks them
    (bench, ["--items", "0"], "argument --items: must be at least 1, got 0"),
    (bench, ["model=tiny", "optimizer.n_iters=0"], "optimizer.n_iters must be between 1 and 10000"),
    (bench, ["--plan", "experiment=table9"], "unknown experiment option 'table9': did you mean table3?"),
    (bench, ["--plan", "experiment=table2", "optimizer.n_iters=0"], "optimizer.n_iters must be between 1 and 10000"),
    (bench, ["--memory", "model=sd_trubo"], "did you mean sd_turbo?"),
    (cost_step, ["model=sd_trubo"], "did you mean sd_turbo?"),
    # issue 20. One method setting: a method over another option's settings, a loop of one's own
    (app, ["optimizer.method=zero_order"], "optimizer.method=zero_order needs the search's settings (candidates, "
     "similarity): choose the method with optimizer=zero_order"),
    (app, ["optimizer.method=best_of_n"], "optimizer.method=best_of_n uses no gradient, but optimizer.optim is set"),
    (app, ["optimizer.method=lbfgs"], "optimizer.method=lbfgs runs torch.optim.LBFGS, but optimizer.optim is "
     "torch.optim.SGD"),
    (app, ["optimizer=zero_order", "optimizer.method=reno"], "optimizer=zero_order runs zero-order search, not "
     "optimizer.method=reno"),
    (app, ["optimizer=lbfgs", "optimizer.method=reno"], "torch.optim.LBFGS runs only as optimizer.method=lbfgs"),
    (app, ["optimizer=best_of_n", "optimizer.method=reno"], "optimizer.method=reno steps a torch optimiser, and "
     "optimizer.optim is null"),
    (app, ["optimizer.optim=null"], "optimizer.optim is null"),
    # the method is the one setting: no loop to set beside it
    (app, ["optimizer.loop=os"], "unknown key 'optimizer.loop' (keys there: method, n_iters"),
    (app, ["optimizer=best_of_n", "optimizer.loop=reno_exp.methods.zero_order"], "unknown key 'optimizer.loop'"),
    (app, ["-m", "optimizer.method=reno,zero_order"], "needs the search's settings (candidates, similarity): choose "
     "the method with optimizer=zero_order (in job 1: optimizer.method=zero_order)"),
    (prefetch, ["--list", "optimizer.method=zero_order"], "choose the method with optimizer=zero_order"),
    # budgets in closed form, bounded: a mistyped cost, a bound on iterates per item
    (app, ["experiment=equal_compute", "optimizer.forward_backward_cost=1e5"],
     "optimizer.forward_backward_cost must be a finite number between 1 and 10, got 100000.0"),
    (app, ["experiment=equal_compute", "optimizer.forward_backward_cost=1e12"], "between 1 and 10, got 1000000000000.0"),
    (app, ["optimizer=zero_order", "optimizer.candidates=1", "optimizer.forward_backward_cost=10",
           "optimizer.n_iters=${equal_compute:2000}"], "${equal_compute:2000} gives 19991 iterates per item at "
     "optimizer.forward_backward_cost=10, over the bound of 10000"),
    (app, ["optimizer=best_of_n", "optimizer.forward_backward_cost=2", "optimizer.n_iters=${equal_compute:abc}"],
     "${equal_compute:abc}: the argument is ReNO's iterates, a whole number between 1 and 10000"),
    (app, ["optimizer=best_of_n", "optimizer.forward_backward_cost=2", "optimizer.n_iters=${equal_compute:0}"],
     "${equal_compute:0}: the argument is ReNO's iterates"),
    (app, ["optimizer.n_iters=20000"], "optimizer.n_iters must be between 1 and 10000, got 20000"),
    (app, ["optimizer.n_iters=${seed}"], "optimizer.n_iters must be between 1 and 10000, got 0"),
    (bench, ["--plan", "experiment=equal_compute", "optimizer.forward_backward_cost=1e12"],
     "optimizer.forward_backward_cost must be a finite number between 1 and 10"),
    # values nothing checked: null where a number goes, backends, group options, non-ASCII values
    (app, ["batch_size=null"], 'batch_size must be an integer >= 1 or "auto", got null'),
    (app, ["compile=true", "compile_backend=inductr"], "compile_backend=inductr is not one of"),
    (app, ["model=null"], "model=null: it needs an option of the model group (flux_schnell, hyper_sdxl"),
    (app, ["logger=null"], "logger=null: it needs an option of the logger group (none, wandb)"),
    (app, ["experiment=null"], "experiment=null: leave it out to run without one, or give an option of the "
     "experiment group (equal_compute, figure3"),
    (app, ["experiment=[table1,table3]"], "experiment takes one option (a list merges them, the last one's settings "
     "over the others'); to run each, sweep them: -m experiment=table1,table3"),
    (app, ["optimizer=[reno,best_of_n]"], "optimizer takes one option"),
    (app, ["reward=[hpsv2,imagerewrd]"], "unknown reward option 'imagerewrd': did you mean imagereward?"),
    (app, ["benchmark.prompt=café"], "cannot read the override benchmark.prompt=café: Hydra reads é (not ASCII) only "
     "inside quotes; write it as 'benchmark.prompt=\"café\"'"),
    (app, ["benchmark.prompt=一只猫"], "write it as 'benchmark.prompt=\"一只猫\"'"),
    (app, ["benchmark.prompt=a (red) dog"], "write it as 'benchmark.prompt=\"a (red) dog\"'"),
    (bench, ["--plan", "model=null"], "model=null: it needs an option of the model group"),
    # the presets' lists: checked with the config, so a sweep is refused before its directory is made
    (app, ["-m", "experiment=figure3", "model=tiny", "benchmark.categories=[Animalz]"],
     "benchmark.categories[0] must be one of Abstract, Animals,"),
    (app, ["experiment=figure3", "model=tiny", "benchmark.challenges=[Counting]"], "got 'Counting'"),
    # the tools' flags
    (cost_step, ["--repeats", "0"], "--repeats must be >= 1, got 0"),
    (cost_step, ["--threads", "0"], "--threads must be >= 1, got 0"),
    (cost_step, ["--iterates", "0"], "--iterates must be between 1 and 10000, got 0"),
    (cost_step, ["--iterates", "100000"], "--iterates must be between 1 and 10000, got 100000"),
    (bench, ["--plan", "--memory"], "--plan and --memory are separate commands: run one at a time"),
    (bench, ["--plan", "--items", "3"], "--items does not apply to --plan"),
    (bench, ["--gpu-gib", "40"], "--gpu-gib does not apply to the timing"),
    (bench, ["--memory", "--repeats", "2"], "--repeats does not apply to --memory"),
    (bench, ["--plan", "--gpu", "A100"], "--gpu applies with --peak-share"),
    (bench, ["--batch-sizes", "1,4", "--items", "2"], "--items 2 is fewer than the largest batch size (4)"),
    (bench, ["--memory", "--gpu-gib", "inf"], "argument --gpu-gib: must be a finite number of at least 0.001, got inf"),
    # run.yaml verified on every read; a run holding another config's records is not collected
    (tables, ["{edited_run_yaml}"], "run.yaml was changed after the run was made: its config gives fingerprint"),
    (analysis, ["{edited_run_yaml}"], "run.yaml was changed after the run was made"),
    (evaluate, ["{edited_run_yaml}"], "run.yaml was changed after the run was made"),
    (collect, ["{edited_run_yaml}", "{base}/collected"], "run.yaml was changed after the run was made"),
    (app, [*FAST, "hydra.run.dir={edited_run_yaml}"], "run.yaml was changed after the run was made"),
    (tables, ["{truncated_run_yaml}"], "run.yaml is not whole: no fingerprint"),
    (app, [*FAST, "hydra.run.dir={truncated_run_yaml}"], "run.yaml is not whole: no fingerprint"),
    (collect, ["{foreign_records}", "{base}/collected"], "results.jsonl: 1 of its 3 records are not this run's"),
]


@pytest.mark.parametrize("argv", [["optimizer.method=zero_order"], ["optimizer.loop=os"], ["batch_size=null"],
                                  ["experiment=equal_compute", "optimizer.forward_backward_cost=1e5"],
                                  ["benchmark.prompt=café"], ["model=null"], ["experiment=[table1,table3]"]])
def test_a_refused_launch_makes_no_directory(argv, tmp_path, capsys, monkeypatch):
    """These failed after the run directory had recorded the launch (or ran the wrong method): now refused
    before Hydra makes the directory."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert app([*argv, f"hydra.run.dir={tmp_path / 'new'}"]) == 2
    assert not (tmp_path / "new").exists() and capsys.readouterr().err.startswith("error: ")


def case_id(case) -> str:
    entry, argv, _ = case
    return f"{entry.__name__}:{' '.join(argv)}"


@pytest.mark.parametrize("entry, argv, message", CASES, ids=[case_id(c) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(entry, argv, message, made, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = [fill(a, made) for a in argv]
    if entry is app:  # the existing run directory is the target of every launch
        argv += [f"hydra.run.dir={made['run']}" * ("hydra.run.dir" not in " ".join(argv)),
                 f"hydra.sweep.dir={made['base']}/sweep" * ("hydra.sweep.dir" not in " ".join(argv))]
        argv = [a for a in argv if a]
    before = {name: snapshot(d) for name, d in made.items() if d.is_dir()}
    capsys.readouterr()
    try:
        code = entry(argv)
    except SystemExit as e:  # argparse's errors leave as the process would: SystemExit(2)
        code = e.code
    out = capsys.readouterr()
    lines = [x for x in out.err.splitlines() if x.strip()]
    assert code == 2, (code, out.err, out.out)
    assert 1 <= len(lines) <= 3 and "Traceback" not in out.err + out.out, out.err
    assert message in out.err, out.err
    assert {name: snapshot(d) for name, d in made.items() if d.is_dir()} == before
    assert not (made["base"] / "sweep").exists() and not (made["base"] / "collected").exists()


def test_a_foreign_directory_gets_the_right_error_and_no_wrong_warning_first(made, capsys):
    """Another program's records have no keys: the error says so, without a 'duplicate record (None)'
    warning ahead of it (Hydra's log handler writes to stdout)."""
    code = app([f"hydra.run.dir={made['foreign']}", *FAST])
    said = capsys.readouterr()
    assert code == 2 and "a record without key, prompt, seed" in said.err
    assert "duplicate" not in said.out + said.err and len(said.err.strip().splitlines()) == 1, said


def test_half_precision_on_a_cpu_is_said_before_the_work(tmp_path, capsys):
    """float16 on a CPU is 50-100x slower than float32 there: a run that asks for it hears so once."""
    code = app(["model.dtype=float16", "optimizer.n_iters=1", "progress=false", "device=cpu",
                f"hydra.run.dir={tmp_path}"])
    said = [x for x in capsys.readouterr().out.splitlines() if "half precision" in x]  # Hydra logs to stdout
    assert code == 0 and len(said) == 1 and "model.dtype=float16 on the CPU" in said[0], said
    assert app(["optimizer.n_iters=1", "progress=false", "device=cpu", f"hydra.run.dir={tmp_path}/auto"]) == 0
    assert "half precision" not in capsys.readouterr().out


def test_the_table_has_forty_distinct_inputs_over_every_entry_point():
    assert len({case_id(c) for c in CASES}) == len(CASES) >= 40
    assert {c[0] for c in CASES} == {app, evaluate, analysis, tables, prefetch, collect, bench, cost_step}


def test_every_numeric_field_of_every_schema_has_a_range():
    """A numeric option without a rule would accept any value silently: each has one, or is listed here
    with the reason it takes any value."""
    import dataclasses

    from reno_exp.config import benchmark as benchmarks
    from reno_exp.config import model as generators
    from reno_exp.config import optimizer, transfer
    from reno_exp.config import reward as rewards
    from reno_exp.config import schema as app_schema
    from reno_exp.evaluate.geneval import GenEvalConfig
    from reno_exp.evaluate.scoring import EvaluateConfig
    from reno_exp.evaluate.t2i_compbench import T2ICompBenchConfig

    schemas = [app_schema.Config, optimizer.OptimizerConfig, optimizer.ZeroOrderConfig, EvaluateConfig, GenEvalConfig, T2ICompBenchConfig,
               *benchmarks.SCHEMAS.values(), *generators.SCHEMAS.values(), *rewards.SCHEMAS.values(),
               *transfer.SCHEMAS.values()]
    unchecked = []
    for schema in schemas:
        for f in dataclasses.fields(schema):
            numeric = any(t in str(f.type) for t in ("int", "float")) or f.name == "batch_size"
            if numeric and "check" not in f.metadata:
                unchecked.append(f"{schema.__name__}.{f.name}")
    assert unchecked == []


def test_the_schema_lists_match_the_suites():
    from reno_exp.benchmarks.geneval import TAGS
    from reno_exp.benchmarks.parti_prompts import PartiPrompts
    from reno_exp.benchmarks.t2i_compbench import CATEGORIES
    from reno_exp.config import benchmark as configs

    assert configs.CATEGORIES == CATEGORIES and configs.GENEVAL_TAGS == TAGS
    rows = PartiPrompts().rows()
    assert set(configs.PARTI_CATEGORIES) == {r["Category"] for r in rows}
    assert set(configs.PARTI_CHALLENGES) == {r["Challenge"] for r in rows}


def test_a_whole_reward_added_with_plus_is_checked_against_its_schema(compose_module):
    from reno_exp.config.errors import UserError
    from reno_exp.config.rules import validate

    add = "+reward.aesthetic={_target_:reno_exp.rewards.aesthetic.AestheticReward,weight:0.5}"
    validate(compose_module([add]))  # a known reward class, added whole: accepted
    with pytest.raises(UserError, match="Key 'foo' not in 'AestheticConfig'"):
        validate(compose_module([add[:-1] + ",foo:1}"]))
    with pytest.raises(UserError, match=r"reward.aesthetic.weight must be a finite number, got nan"):
        validate(compose_module([add.replace("0.5", "nan")]))


OPTIONS = [f"{group}={p.stem}" for group in ("model", "reward", "optimizer", "benchmark", "logger", "transfer",
                                              "experiment") for p in sorted((CONF / group).glob("*.yaml"))]
def test_the_readmes_additions_pass_the_checks(compose_module):
    """Options in a list, a torch optimiser argument that + adds, the README's examples."""
    from reno_exp.config.rules import validate

    for overrides in (["reward=[all,aesthetic]"], ["+optimizer.optim.weight_decay=0.01"], ["optimizer.optim.lr=10"],
                      ["model=sd_turbo", "random_init=true", "model.resolution=128", "batch_size=4"],
                      ["benchmark.num_shards=4", "benchmark.shard_index=3"], ["batch_size=auto", "device=cpu"]):
        validate(compose_module(overrides))


def test_a_cuda_device_must_exist_here(monkeypatch):
    import torch

    from reno_exp.config.errors import UserError
    from reno_exp.config.placement import check_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for fine in ("cuda", "cuda:1", "cpu", None):
        check_device(fine)
    with pytest.raises(UserError, match=r"device=cuda:9: this machine has 2 CUDA device\(s\), cuda:0..cuda:1"):
        check_device("cuda:9")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(UserError, match="device=cuda: no CUDA device here"):
        check_device("cuda")
    with pytest.raises(UserError, match="device=GPU0 \\(did you mean cuda\\?\\): not a device"):
        check_device("GPU0")


# what an option needs from the user before it runs: equal_compute's budgets follow from a cost measured
# on the machine that runs it (refused without it: test_equal_compute); a prompt file names its file
NEEDS = {"experiment=equal_compute": ["optimizer.forward_backward_cost=3"],
         "benchmark=prompts": [f"benchmark.path={ROOT / 'docs' / 'examples' / 'prompts.txt'}"]}


@pytest.mark.parametrize("option", OPTIONS)
def test_every_option_of_every_group_passes_the_checks(compose_module, option):
    from reno_exp.config.rules import validate

    validate(compose_module([option, *NEEDS.get(option, [])]))


def fake_slurm(bin_dir: Path, *commands: str) -> str:
    """A PATH holding only these SLURM commands, each failing as sbatch does without a cluster: the same
    on a machine with SLURM installed as on one without."""
    bin_dir.mkdir()
    for name in commands:
        (bin_dir / name).write_text(f"#!/bin/sh\necho '{name}: fatal: Could not establish a configuration source' >&2\n"
                                    "exit 1\n")
        (bin_dir / name).chmod(0o755)
    return str(bin_dir)


def test_slurm_off_a_cluster_names_the_launcher_and_the_alternative(made, capsys, monkeypatch, tmp_path):
    """No sbatch, or an sbatch without srun (submitit refuses to start without it): refused before anything;
    an sbatch that cannot reach a cluster: its own words, one line."""
    for case, commands, missing in [("a", (), "sbatch and srun are"), ("b", ("sbatch",), "srun is"),
                                    ("c", ("srun",), "sbatch is")]:
        monkeypatch.setenv("PATH", fake_slurm(tmp_path / f"bin_{case}", *commands))
        code = app(["-m", "hydra/launcher=slurm", *FAST, f"hydra.sweep.dir={tmp_path / case}"])
        err = capsys.readouterr().err
        assert code == 2 and f"hydra/launcher=slurm: SLURM's {missing} not on this machine" in err, (case, err)
        assert "hydra/launcher=submitit_local" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / case).exists()

    monkeypatch.setenv("PATH", fake_slurm(tmp_path / "bin", "sbatch", "srun"))
    code = app(["-m", "hydra/launcher=slurm", *FAST, f"hydra.sweep.dir={tmp_path / 'd'}"])
    err = capsys.readouterr().err
    ours = [x for x in err.strip().splitlines() if not x.startswith("sbatch: ")]  # submitit prints sbatch's words
    assert code == 2 and len(ours) == 1 and "Traceback" not in err, err
    assert ours[0].startswith("error: hydra/launcher=slurm could not submit the jobs (sbatch: fatal: Could not "
                              "establish a configuration source); without a SLURM cluster") and "submitit_local" in ours[0]


def test_a_submitit_failure_of_any_type_is_one_line():
    """submitit raises builtin errors too (RuntimeError 'Could not detect "srun"' when it starts): one line."""
    from submitit.slurm.slurm import SlurmExecutor

    from reno_exp.config.compose import explain

    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("submitit.slurm.slurm.shutil.which", lambda name: None)
            SlurmExecutor(folder="/nonexistent")
    except RuntimeError as e:
        said = explain(e, [])
    assert said.startswith('hydra/launcher=slurm could not submit the jobs (Could not detect "srun"'), said
    assert explain(RuntimeError("elsewhere"), []) is None  # a bug elsewhere keeps its traceback


def test_an_unreachable_wandb_server_is_said_bounded_then_offline(tmp_path, caplog, monkeypatch):
    """A key and no server: it says where it connects and for how long at most, then goes offline."""
    import logging

    from reno_exp.experiment import loggers

    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.delenv("WANDB_MODE", raising=False)
    logger = loggers.WandbLogger(mode="online")
    with caplog.at_level(logging.INFO, logger="reno_exp.experiment.loggers"):
        logger.start({"a": 1}, tmp_path, None, "tiny/color")
    try:
        text = caplog.text
        assert "W&B: connecting to http://127.0.0.1:9 (at most" in text
        assert text.count("W&B unreachable") == 1 and "logging offline" in text
        assert logger.run.settings.mode == "offline"
    finally:
        logger.finish({}, {})


def test_the_wandb_probe_gives_up_on_a_server_that_never_answers(monkeypatch):
    """A name lookup or connection that hangs (a socket timeout does not cover DNS) ends at the bound."""
    import threading
    import urllib.request

    from reno_exp.experiment.loggers import unreachable

    never = threading.Event()
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: never.wait())
    try:
        assert unreachable("https://w.example", timeout=0.2) == "https://w.example did not answer within 0.2 s"
    finally:
        never.set()


def cli(module: str, *args: str, cwd: Path = ROOT):
    return python("-m", module, *args, cwd=cwd)


@pytest.mark.slow
@pytest.mark.parametrize("module, args, message", [
    ("reno_exp", ["optimizer.n_iters=0"], "optimizer.n_iters must be between 1 and 10000"),
    ("reno_exp", ["model=sdxl_trubo"], "did you mean sdxl_turbo?"),
    ("reno_exp", ["+optimizer.n_iter=2"], "did you mean optimizer.n_iters?"),
    ("reno_exp.prefetch", ["--list", "model=sdxl_trubo"], "did you mean sdxl_turbo?"),
    ("reno_exp.analysis", ["{foreign}"], "not a reno_exp results file"),
])
def test_real_command_lines_print_one_line_and_exit_2(module, args, message, made):
    args = [fill(a, made) for a in args]
    if module == "reno_exp":
        args.append(f"hydra.run.dir={made['run']}")
    before = snapshot(made["run"])
    p = cli(module, *args)
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 2, p.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    assert snapshot(made["run"]) == before
