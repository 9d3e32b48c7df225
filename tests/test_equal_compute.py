"""experiment=equal_compute: the same generator evaluations for every method, its table and figure, and the
measured cost of a forward+backward pass."""

from __future__ import annotations

import pytest
import torch
from run_dirs import make_run_dir, paper_config
from test_reno import Quadratic, SigmoidGenerator

from reno_exp.config import optimizer as budget
from reno_exp.config.errors import UserError, causes
from reno_exp.cost import step
from reno_exp.experiment.run import run
from reno_exp.methods import Objective
from reno_exp.rewards.base import RewardSet
from reno_exp.store.records import read_records
from reno_exp.tables import cli
from reno_exp.tables import equal_compute as table
from reno_exp.tables.jobs import find_jobs

METHODS = ["reno", "best_of_n", "zero_order"]


def test_the_preset_sweeps_the_three_methods_and_saves_images_at_the_tables_budgets(compose):
    cfg = compose(["experiment=equal_compute", "optimizer.forward_backward_cost=2"], return_hydra_config=True)
    assert cfg.hydra.sweeper.params.optimizer.split(",") == METHODS
    assert cfg.hydra.runtime.choices.model == "sd_turbo" and set(cfg.reward) == {"hpsv2", "imagereward", "clip", "pickscore"}
    assert list(cfg.optimizer.save_at_evaluations) == list(table.BUDGETS)


@pytest.mark.parametrize("fb_cost", [1.0, 1.62, 2.0, 3.7])
def test_each_method_gets_the_iterates_that_fit_in_renos_budget(compose, fb_cost):
    budget_ = 1 + 49 * fb_cost  # ReNO: 50 forward passes, 49 of them with a backward pass
    spent = {}
    for method in METHODS:
        opt = compose(["experiment=equal_compute", f"optimizer={method}", f"optimizer.forward_backward_cost={fb_cost}"]).optimizer
        n = opt.n_iters
        spent[method] = budget.spent(opt, n - 1)  # what the run costs
        assert spent[method] <= budget_ + 1e-9 < budget.spent(opt, n)  # the most iterates that fit
    assert spent["reno"] == pytest.approx(budget_)
    assert budget_ - spent["best_of_n"] < 1 and budget_ - spent["zero_order"] < 4  # within one iterate's cost


def test_an_unmeasured_cost_or_lbfgs_is_a_one_line_error_before_anything_is_written(compose, tmp_path):
    for extra in [[], ["optimizer=lbfgs", "optimizer.forward_backward_cost=2"]]:
        cfg = compose(["experiment=equal_compute", "model=tiny", "reward=color", "benchmark=single", *extra])
        with pytest.raises(Exception) as info:
            run(cfg, tmp_path)
        error = next(c for c in causes(info.value) if isinstance(c, UserError))
        assert "forward_backward_cost is not set" in str(error) or "no equal-compute schedule" in str(error)
        assert not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, compose):
    """The three methods on the tiny model at ReNO's 3 iterates and a forward+backward cost of 2: 5
    evaluations each (ReNO 3 + 2 backward; best-of-N 5; zero-order 1 + 4)."""
    sweep = tmp_path_factory.mktemp("equal_compute")
    for i, method in enumerate(METHODS):
        run(compose(["experiment=equal_compute", "model=tiny", "reward=color", "benchmark=single", f"optimizer={method}",
                     "optimizer.forward_backward_cost=2", "optimizer.n_iters=${equal_compute:3}", "progress=false"]),
            sweep / str(i))
    return sweep


@pytest.mark.slow
def test_the_tiny_sweep_spends_the_same_evaluations_and_saves_the_budgets_images(tiny_sweep):
    for i, method in enumerate(METHODS):
        (r,) = read_records(tiny_sweep / str(i))
        spent = r["curves"]["evaluations"][-1] + r["curves"]["backwards"][-1] * (2 - 1)
        assert spent == 5, method
        assert r["evaluations"] == {"reno": 3, "best_of_n": 5, "zero_order": 5}[method]
        # the best image within 1 and 5 evaluations (the run's end: its best image)
        saved = sorted(int(p.rsplit("_", 1)[1][:3]) for p in r["iterates"])
        assert saved == sorted({0, r["best_iteration"]})


@pytest.mark.slow
def test_the_tiny_sweeps_table_and_figure(tiny_sweep, capsys):
    assert cli.main([str(tiny_sweep), "--tables", "equal_compute", "--no-wandb"]) == 0
    text = (tiny_sweep / "tables.md").read_text()
    assert "Equal compute" in text and (tiny_sweep / "equal_compute.png").stat().st_size > 10_000
    for label in ["ReNO", "best-of-N", "zero-order search"]:
        assert f"| reward total | {label} |" in text


# ---------------------------------------------------------------------------- the table, by hand

def job(sweep, name, method, records, scores=(), fb_cost=3.0):
    config = paper_config("model=tiny", "reward=color", f"optimizer={method}", f"optimizer.forward_backward_cost={fb_cost}")
    choices = {"model": "tiny", "reward": "color", "benchmark": "single", "experiment": "equal_compute",
               "optimizer": method}
    return make_run_dir(sweep / name, config, choices, [f"optimizer={method}"], records, scores)


def record(key, history, evaluations, backwards, color=None, best=None):
    best = max(range(len(history)), key=lambda k: history[k]) if best is None else best
    return {"key": key, "seed": 0, "prompt": key, "history": history, "best_iteration": best,
            "initial": {"color": history[0], "total": history[0]}, "best": {"color": history[best], "total": history[best]},
            "curves": {"color": color or history, "evaluations": evaluations, "backwards": backwards},
            "evaluations": evaluations[-1]}


def score(key, image_set, value):
    return {"key": key, "image_set": image_set, "metric": "geneval", "score": value}


@pytest.fixture
def hand_sweep(tmp_path):
    # ReNO at forward+backward = 3: iterate k costs 1 + 3k (1, 4, 7)
    job(tmp_path, "0", "reno", [record("a", [1.0, 2.0, 4.0], [1, 2, 3], [0, 1, 2]),
                                record("b", [2.0, 1.0, 3.0], [1, 2, 3], [0, 1, 2])],
        [score("a", "initial", 0.1), score("a", "iter_001", 0.2), score("a", "best", 0.4),
         score("b", "initial", 0.3), score("b", "best", 0.5)])
    old = {k: v for k, v in record("c", [9.0], [1], [0]).items() if k != "curves"}  # no per-iterate counts
    job(tmp_path, "1", "best_of_n", [record("a", [1.0, 0.0, 3.0, 2.0, 5.0, 1.0, 1.0], list(range(1, 8)), [0] * 7),
                                     record("b", [0.0, 6.0, 1.0, 1.0, 1.0, 1.0, 1.0], list(range(1, 8)), [0] * 7), old])
    job(tmp_path, "2", "zero_order", [record("a", [0.5, 0.7, 2.5, 2.0], [1, 3, 5, 7], [0] * 4),
                                      record("b", [0.5, 0.4, 0.6, 0.9], [1, 3, 5, 7], [0] * 4)])
    return tmp_path


def cells(rows, method, metric):
    return {r["budget"]: (r["mean"], r["n_images"]) for r in rows if r["method"] == method and r["metric"] == metric}


def test_the_table_reads_the_best_iterate_within_each_budget_from_records_and_scores(hand_sweep):
    rows = table.build(find_jobs(hand_sweep))
    reno = cells(rows, "reno", "reward total")
    assert reno["1"] == (1.5, 2)  # iterate 0 of both
    assert reno["5"] == (2.0, 2)  # a: iterate 1 (cost 4); b: iterate 0 is still its best
    assert reno["run"] == (3.5, 2)
    assert reno["10"] == (None, 0)  # the runs spent 7: what they would reach at 10 is unknown, not their end
    # evaluator scores of those iterates' images: initial, iter_001, best
    geneval = cells(rows, "reno", "geneval (evaluator)")
    assert geneval["1"] == (pytest.approx(0.2), 2) and geneval["5"] == (pytest.approx(0.25), 2)
    assert geneval["run"] == (pytest.approx(0.45), 2)
    best_of_n = cells(rows, "best_of_n", "reward total")
    assert best_of_n["1"] == (0.5, 2) and best_of_n["5"] == (5.5, 2) and best_of_n["run"] == (5.5, 2)
    assert best_of_n["10"] == (None, 0)
    assert cells(rows, "best_of_n", "geneval (evaluator)")["5"] == (None, 0)  # no scores: missing, not zero
    zero = cells(rows, "zero_order", "reward total")
    assert zero["1"] == (0.5, 2) and zero["5"] == (pytest.approx(1.55), 2) and zero["run"] == (pytest.approx(1.7), 2)
    assert cells(rows, "reno", "color (reward)")["5"] == (2.0, 2)
    # what each method spent on average, and the record that could not be placed
    spent = {r["method"]: (r["evaluations"], r["skipped"]) for r in rows}
    assert spent == {"reno": (7.0, 0), "best_of_n": (7.0, 1), "zero_order": (7.0, 0)}


def test_the_tables_command_prints_the_family_and_draws_the_figure(hand_sweep, capsys):
    assert cli.main([str(hand_sweep), "--no-wandb"]) == 0  # chosen from the jobs' experiment
    out = capsys.readouterr().out
    assert "Equal compute" in out
    assert "| reward total | ReNO | 1.5000 | 2.0000 | — | — | — | 3.5000 | 7.0 |" in out
    assert "best-of-N (1 records without per-iterate costs)" in out
    assert (hand_sweep / "equal_compute.png").is_file()
    csv = (hand_sweep / "equal_compute.csv").read_text().splitlines()
    assert csv[0] == ",".join(table.FIELDS) and len(csv) == 1 + 3 * 3 * 6  # methods x metrics x budgets


# ------------------------------------------------------------------------------------- the cost ratio

class Linear(SigmoidGenerator):
    """image = sigmoid(W z): a forward pass is one matmul; the backward pass to the noise (W frozen) one more."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Linear(48, 48, bias=False).requires_grad_(False)

    def forward(self, noise, cond):
        return super().forward(self.w(noise.flatten(1)).reshape(noise.shape), cond)


def test_the_cost_of_a_forward_backward_pass_is_measured_in_forward_passes():
    rewards = RewardSet({"q": Quadratic(torch.full((1, 3, 4, 4), 0.5))}, {"q": 1.0})
    z = torch.randn(1, 3, 4, 4).requires_grad_()
    fns = step.passes(Objective(Linear(), rewards, None, rewards.prepare("p"), 0.0), [z])
    ff, fb = step.flops(fns["forward"]), step.flops(fns["forward_backward"])
    assert ff == 2 * 48 * 48 and fb == 2 * ff  # the gradient to the noise only: no weight gradients
    assert z.grad is not None and z.grad.abs().sum() > 0
    seconds = step.times(fns, "cpu", repeats=3)
    assert set(seconds) == {"forward", "forward_backward"} and min(seconds.values()) > 0


@pytest.mark.slow
def test_the_dry_runs_flops_are_the_real_builds(compose):
    """The meta-device dry run counts what the real tiny model and rewards compute, pass by pass."""
    from reno_exp.assemble.parts import build
    from reno_exp.config.placement import placed

    cfg = compose(["reward=all", "random_init=true", "tiny=true"])
    dry = step.dry_flops(cfg)
    cfg = placed(cfg)
    generator, rewards = build(cfg, "cpu")
    prompt = "a photo of a cat on a red sofa"  # the dry run's first prompt
    objective = Objective(generator, rewards, generator.collate([generator.encode_prompt(prompt)]),
                          rewards.collate([rewards.prepare(prompt)]), cfg.optimizer.reg_weight)
    fns = step.passes(objective, [generator.sample_noise(0).requires_grad_()])
    real = {name: step.flops(fn) for name, fn in fns.items()}
    # attention runs CUDA's fused kernels in the dry run and the CPU's here: totals agree to a few percent,
    # the ratio (what equal compute uses) closer
    assert real == pytest.approx(dry, rel=0.1)
    ratio = dry["forward_backward"] / dry["forward"]
    assert real["forward_backward"] / real["forward"] == pytest.approx(ratio, rel=0.02)
    assert 1.5 < ratio < 3


def count_one_at_a_time(opt, budget_) -> int:
    """The most iterates that fit, counted as the resolver once did (what the closed form must equal)."""
    n = 1
    while budget.spent(opt, n) <= budget_ + budget.EPS:
        n += 1
    return n


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("fb_cost", [1.0, 1.5, 2.07, 3.7, 10.0])
@pytest.mark.parametrize("reno_iterates", [1, 2, 50, 137])
def test_the_budget_in_closed_form_is_the_count_one_at_a_time(compose, method, fb_cost, reno_iterates):
    opt = compose([f"optimizer={method}", f"optimizer.forward_backward_cost={fb_cost}",
                   f"optimizer.n_iters=${{equal_compute:{reno_iterates}}}"]).optimizer
    budget_ = 1 + (reno_iterates - 1) * fb_cost
    assert opt.n_iters == count_one_at_a_time(opt, budget_)


def test_a_budget_past_the_bound_on_iterates_is_refused_naming_both(compose):
    """The bound is what keeps a mistyped cost (or R) from becoming millions of iterates per item: refused in
    one line with the count and the bound, before anything is built."""
    opt = compose(["optimizer=zero_order", "optimizer.candidates=1", "optimizer.forward_backward_cost=10"]).optimizer
    assert budget.equal_compute(1000, _parent_=opt) == 1 + 999 * 10  # one evaluation per iterate: within the bound
    with pytest.raises(UserError, match=r"\$\{equal_compute:1001\} gives 10001 iterates per item at "
                                        r"optimizer.forward_backward_cost=10, over the bound of 10000"):
        budget.equal_compute(1001, _parent_=opt)


def test_an_equal_compute_budget_typed_on_the_command_line_runs(tmp_path, capsys):
    """cost.step prints 'optimizer.n_iters=${equal_compute:N}' for N other than 50: Hydra's record of the
    command line resolves it too, where it is not an optimizer's n_iters (it used to end the run there)."""
    from reno_exp.__main__ import cli
    from reno_exp.store.rundir import read_info

    assert cli(["optimizer=best_of_n", "optimizer.forward_backward_cost=2", "optimizer.n_iters=${equal_compute:3}",
                "progress=false", f"hydra.run.dir={tmp_path}"]) == 0
    info = read_info(tmp_path)
    assert info.config["optimizer"]["n_iters"] == 5  # 1 + 2 x 2 evaluations, one per iterate
    assert "optimizer.n_iters=${equal_compute:3}" in info.overrides  # as typed
