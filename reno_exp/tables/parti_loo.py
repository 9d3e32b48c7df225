"""Leave one reward out on Parti-Prompts (``experiment=parti_loo``): does ReNO raise a reward it does not optimise?

One row per job (by its held-out reward: the one its own config, ``run.yaml``, weighs 0; never its job
number), Parti category (and all prompts) and reward scored, held out or optimised: the mean initial and
best score, the mean gain and the share of prompts improved.

"Improved" is the authors' improvement percentage (ExplainableML/ReNO, ``main.py``, task
``parti-prompts`` with ``--benchmark_reward`` set to the held-out reward): a prompt counts when the
reward's value at the best iterate (chosen on the optimised rewards' total) beats its value at the initial
noise strictly. They compare losses (``offset - score``) with ``best_reward < initial_reward``, which is
``best score > initial score`` here; a tie (the initial iterate stayed the best) is not an improvement.
They divide by every prompt of the dataset; here the share, like each mean, is over the prompts whose
initial and best scores are both finite, and the others are counted in their own column (upstream a NaN
would have made every mean NaN). Their printed means are of losses, ours of scores: their "mean reward
diff" is minus our gain. A prompt recorded twice (repeats, overlapping shards) counts once.
"""

from __future__ import annotations

from collections import defaultdict

from reno_exp.store.summary import means
from reno_exp.tables.jobs import Job, records
from reno_exp.tables.numbers import fmt

NAME = "parti_loo"
SUITE = "parti_prompts"
PAPER = ["hpsv2", "imagereward", "clip", "pickscore"]  # reward=all, in the paper's order
NAMES = {"hpsv2": "HPSv2", "imagereward": "ImageReward", "clip": "CLIPScore", "pickscore": "PickScore"}
ALL = "all prompts"
FIELDS = ["model", "held_out", "reward_option", "variant", "category", "reward", "role", "prompts", "not_finite",
          "initial", "best", "gain", "improved"]


def choose(jobs: list[Job]) -> list[str]:
    """This table by default when the sweep is the leave-one-out experiment."""
    return [NAME] if any(j.experiment == NAME for j in jobs) else []


def held_out(job: Job) -> list[str]:
    """The rewards the job scored at weight 0: they steered nothing."""
    rewards = job.info.config.get("reward") or {}
    return sorted((n for n, r in rewards.items() if float(r.get("weight", 1.0)) == 0), key=order)


def order(reward: str) -> tuple:
    return (PAPER.index(reward) if reward in PAPER else len(PAPER), reward)


def build(jobs: list[Job]) -> list[dict]:
    groups: dict[tuple, dict[tuple, dict]] = defaultdict(dict)
    for job in jobs:
        if job.suite != SUITE:
            continue
        row = (job.model, tuple(held_out(job)), job.reward, job.variant)
        for r in records(job):
            groups[row].setdefault((r["key"], r["seed"], r["prompt"]), r)  # shards and repeats: once
    out = []
    for (model, out_of, option, variant), recs in sorted(groups.items(), key=lambda kv: group_order(kv[0])):
        by_category = defaultdict(list)
        for r in recs.values():
            by_category[(r.get("meta") or {}).get("category") or "—"].append(r)
        for category, rs in [(ALL, list(recs.values())), *sorted(by_category.items())]:
            for reward, m in sorted(means(rs).items(), key=lambda kv: (kv[0] not in out_of, order(kv[0]))):
                if reward == "total":
                    continue  # the optimised rewards' weighted total: the runs table has it
                out.append({"model": model, "held_out": "+".join(out_of) or "none", "reward_option": option,
                            "variant": variant, "category": category, "reward": reward,
                            "role": "held out" if reward in out_of else "optimised", "prompts": m.n + m.non_finite,
                            "not_finite": m.non_finite, "initial": m.initial, "best": m.best, "gain": m.gain,
                            "improved": m.improved})
    return out


def group_order(row: tuple) -> tuple:
    model, out_of, option, variant = row
    return (model, [order(r) for r in out_of] or [order("~none")], option, variant)


def label(r: dict) -> str:
    text = " + ".join(NAMES.get(n, n) for n in r["held_out"].split("+")) if r["held_out"] != "none" else "none"
    if r["reward_option"] != f"loo_{r['held_out']}":
        text += f" (reward={r['reward_option']})"
    return text + (f" [{r['variant']}]" if r["variant"] else "")


def markdown(rows: list[dict]) -> str:
    if not rows:
        return f"### Leave one reward out (Parti-Prompts)\n\nNo {SUITE} runs in this sweep.\n"
    head = ["| held out | model | category | reward | role | prompts | not finite | initial | best | gain | improved |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    text = ["### Leave one reward out (Parti-Prompts): each reward's initial and best score",
            "",
            "Means over the prompts with finite scores; improved: share of them whose best-iterate score beats "
            "the initial one (the authors' improvement percentage). The held-out reward steered nothing.", ""]
    for title, part in (("All prompts", [r for r in rows if r["category"] == ALL]),
                        ("By Parti category", [r for r in rows if r["category"] != ALL])):
        text += [f"#### {title}", "", *head]
        for r in part:
            improved = "—" if r["improved"] is None else f"{100 * r['improved']:.1f}%"
            gain = "—" if r["gain"] is None else f"{r['gain']:+.4f}"
            text.append(f"| {label(r)} | {r['model']} | {r['category']} | {NAMES.get(r['reward'], r['reward'])} | "
                        f"{r['role']} | {r['prompts']} | {r['not_finite']} | {fmt(r['initial'], 4)} | "
                        f"{fmt(r['best'], 4)} | {gain} | {improved} |")
        text.append("")
    return "\n".join(text)


def wandb_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    return FIELDS, [[r[f] for f in FIELDS] for r in rows]
