"""``python -m reno_exp.benchmarks.collect <sweep dir> <out dir>``: one official-layout folder per setting.

A sweep's jobs (and the shards of one setting) each write their own part of the official layouts; the
official scorers want one folder. This links (or copies, across file systems) every job's
``t2i_compbench/<set>/`` and ``geneval/<set>/`` into ``<out>/<model>/<reward>/t2i_compbench/<category>/<set>/``
and ``<out>/<model>/<reward>/geneval/<set>/``. Only jobs of one result config pool there (shards, or
GenEval's tags split over jobs: file names come from the items, so they never collide). Jobs whose
configs differ although they would share a folder (another method, other reward weights, another
resolution) are laid out apart, one sub-folder per config named by its method and what differs
(``<out>/<model>/<reward>/best_of_n,optimizer.n_iters=99/geneval/...``), never one job's image kept in
place of another's. A job whose results.jsonl holds records of another config is refused (its layout
images cannot be told apart from its own).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import defaultdict
from pathlib import Path

from reno_exp.config.errors import ArgumentParser, UserError, guarded

SUITES = ("t2i_compbench", "geneval")
LONGEST = 120  # characters of a sub-folder named by its keys; longer: named by the config's fingerprint


def place(src: Path, dst: Path) -> bool:
    if dst.exists():  # the same item of the same config (overlapping shards, a second collect): kept
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return True


def folders(jobs) -> dict[tuple, Path]:
    """(job dir, suite) -> where its images go: the job's model, reward and suite, then, where jobs of
    other configs share that folder, a sub-folder per config: its method and the departures from the
    paper's setting (reno_exp.config.labels) that not every config there shares."""
    from reno_exp.config import identity, labels

    shared: dict[Path, list] = defaultdict(list)
    for job in jobs:
        for suite in SUITES:
            if (job.dir / suite).is_dir():
                shared[Path(job.model) / job.reward].append((job, suite))
    out = {}
    for base, members in shared.items():
        configs = {}  # fingerprint (outside the columns) -> the job that shows it
        for job, _ in members:
            configs.setdefault(identity.fingerprint({k: v for k, v in identity.flatten(job.info.config).items()
                                                     if k not in labels.COLUMNS}), job)
        names = {}
        if len(configs) > 1:
            said = [dict(d.split("=", 1) if "=" in d else (d, "") for d in job.departures) for job in configs.values()]
            for (fp, job), differ in zip(configs.items(), labels.differing(said)):
                name = ",".join(filter(None, [job.optimizer, differ.replace(", ", ",")])).replace("/", "_")
                names[fp] = name if len(name) <= LONGEST else f"config-{fp}"
            print(f"{base}: {len(configs)} configurations, laid out apart ({'; '.join(names.values())})",
                  file=sys.stderr)
        for job, suite in members:
            fp = identity.fingerprint({k: v for k, v in identity.flatten(job.info.config).items()
                                       if k not in labels.COLUMNS})
            target = base / names[fp] / suite if names else base / suite
            if suite == "t2i_compbench":
                target = target / job.info.config["benchmark"]["category"]
            out[(job.dir, suite)] = target
    return out


def collect(sweep: Path, out: Path) -> int:
    from reno_exp.store.jobs import find_jobs

    placed = 0
    jobs = find_jobs(sweep)
    for (run, suite), target in folders(jobs).items():
        root = run / suite
        for path in sorted(root.rglob("*")):
            if path.is_file() and ".tmp" not in path.name:
                placed += place(path, out / target / path.relative_to(root))
    return placed


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reno_exp.benchmarks.collect", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    def body() -> int:
        check_inputs(args.sweep, args.out)
        print(f"{collect(args.sweep, args.out)} files placed under {args.out}")
        return 0

    return guarded(body)


def check_inputs(sweep: Path, out: Path) -> None:
    """One-line refusals before anything is linked: no runs, another program's directory, a damaged run
    record, records of another config in a run, an output that is a file."""
    from reno_exp.store.files import check_run, ours, runs_under, split_records
    from reno_exp.store.names import RESULTS

    for run in ours(runs_under(sweep, "sweep directory"), sweep):
        check_run(run)
        own, others = split_records(run)
        if others:
            raise UserError(f"{run / RESULTS}: {len(others)} of its {len(own) + len(others)} records are not this "
                            "run's (their fingerprint is not run.yaml's): its layout images cannot be told apart; "
                            "move those records out, or collect the other runs")
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file: give a directory to collect into")


if __name__ == "__main__":
    sys.exit(main())
