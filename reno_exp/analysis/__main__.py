"""``python -m reno_exp.analysis <run or sweep dir> [--max-figures N] [--wandb [--wandb-mode offline]]``."""

from __future__ import annotations

import logging
import sys

from reno_exp.analysis.analyse import analyse
from reno_exp.config.errors import ArgumentParser, UserError, guarded
from reno_exp.config.rules import check_arg
from reno_exp.store.files import check_run, runs_under, warn_missing


def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog="python -m reno_exp.analysis", description=__doc__)
    p.add_argument("path", help="a run directory (with results.jsonl) or a sweep directory of them")
    p.add_argument("--max-figures", type=int, default=16, help="per-prompt figures and iterate rows per run")
    p.add_argument("--n-random", type=int, default=256, help="pairs of random noises for the random-noise row")
    p.add_argument("--wandb", action="store_true",
                   help="also send the pictures and table to W&B, for runs made with logger=wandb")
    p.add_argument("--wandb-mode", choices=["online", "offline", "disabled"], default=None,
                   help="override the run's W&B mode")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    def body() -> int:
        check_arg("--max-figures", args.max_figures, ge=0)
        check_arg("--n-random", args.n_random, ge=1)
        for run in runs_under(args.path):  # foreign or damaged files: one line naming the file, nothing written
            warn_missing(run, check_run(run, noises=True), "those items are left out of the noise analysis")
        try:
            outputs = analyse(args.path, max_figures=args.max_figures, n_random=args.n_random, wandb=args.wandb,
                              wandb_mode=args.wandb_mode)
        except FileNotFoundError as e:
            raise UserError(str(e)) from None
        for o in outputs:
            print(f"{o.run_dir}: {len(o.files)} files in {o.out_dir}")
            print((o.out_dir / "distances.md").read_text())
        return 0

    return guarded(body)


if __name__ == "__main__":
    sys.exit(main())
