"""``python -m reno_exp.prefetch [overrides]``: download every checkpoint a config needs into the HF cache.

Run it with the overrides of the experiment (``model=sd_turbo reward=all ...``) on a machine with hub
access; the experiment then runs with ``HF_HUB_OFFLINE=1`` (cluster nodes without internet).
``--list`` prints what would be fetched without downloading; ``--evaluate`` adds the evaluators'
checkpoints. What a config needs: reno_exp.weights.needs.
"""

from __future__ import annotations

import logging
import sys

from reno_exp.config.compose import app_config
from reno_exp.config.errors import ArgumentParser, UserError, first_line
from reno_exp.weights.checkpoints import HubRepo, offline
from reno_exp.weights.needs import hub_reachable, merge_repos, needed

log = logging.getLogger("reno_exp.prefetch")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m reno_exp.prefetch", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="print the checkpoints; download nothing")
    parser.add_argument("--evaluate", action="store_true",
                        help="also the evaluators' checkpoints (every metric's)")
    parser.add_argument("overrides", nargs="*", help="the experiment's Hydra overrides")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        cfg = app_config(args.overrides, command="prefetch")
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    todo = needed(cfg)
    if args.evaluate:
        from reno_exp.evaluate.scoring import checkpoints

        todo = merge_repos(list(dict.fromkeys([*todo, *checkpoints()])))
    if not todo:
        print("nothing to fetch: " + ("random_init=true loads no weights" if cfg.get("random_init") else "no checkpoints"))
        return 0
    if args.list:
        for c in todo:
            print(c.name + (f"  [{', '.join((*c.allow_patterns, *c.one_of[:1]))}]" if isinstance(c, HubRepo) else ""))
        return 0
    if offline():
        print(f"error: HF_HUB_OFFLINE is set, so nothing can be downloaded; unset it on a machine with hub "
              f"access to fetch: {', '.join(c.name for c in todo)}", file=sys.stderr)
        return 1
    why = hub_reachable()
    if why is not None:
        print(f"error: {why}; run prefetch on a machine with internet access to fetch: "
              f"{', '.join(c.name for c in todo)}", file=sys.stderr)
        return 1
    failed = []
    for c in todo:
        log.info("fetching %s", c.name)
        try:
            log.info("  -> %s", c.fetch())
        except Exception as e:  # every failure is reported, then the next checkpoint is tried
            failed.append(c.name)
            log.error("  failed: %s: %s", type(e).__name__, first_line(e, 300) if str(e) else "")
    if failed:
        print(f"error: could not fetch {len(failed)} of {len(todo)} checkpoints: {', '.join(failed)} "
              "(no network or no access? gated repositories need `hf auth login`)", file=sys.stderr)
        return 1
    print(f"fetched {len(todo)} checkpoints into the Hugging Face cache; run with HF_HUB_OFFLINE=1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
