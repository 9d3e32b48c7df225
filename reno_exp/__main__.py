"""``python -m reno_exp [overrides]``: one ReNO experiment; ``-m`` sweeps (SLURM with hydra/launcher=slurm).

Bad input ends in one line on stderr and exit code 2, before anything is written: Hydra's composition
errors (an unknown option or key, a wrong type; reno_exp.config.compose says which and the nearest name), the
value checks of the preflight callback (reno_exp.config.preflight) and every UserError of the run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from reno_exp.config.errors import EXIT_INTERRUPTED, command_name, fail, one_line_errors, user_error, version
from reno_exp.config.preflight import unmake_dir
from reno_exp.config.schema import register
from reno_exp.config.searchpath import CONF

register()
log = logging.getLogger("reno_exp")


@hydra.main(config_path=str(CONF), config_name="config", version_base="1.3")  # absolute: also when imported
def main(cfg: DictConfig) -> None:
    from reno_exp.config.placement import check_device
    from reno_exp.experiment.run import run  # heavy imports (torch, diffusers) after the config is validated

    hc = HydraConfig.get()
    group = hc.sweep.dir.rstrip("/").rsplit("/", 1)[-1] if hc.mode == RunMode.MULTIRUN else None
    try:
        check_device(cfg.device)  # here: on a SLURM job's node, not on the login node that launched it
        records = run(cfg, hc.runtime.output_dir, group)
    except KeyboardInterrupt:
        multirun = hc.mode == RunMode.MULTIRUN
        sys.exit(interrupted(hc.runtime.output_dir, "hydra.sweep.dir" if multirun else "hydra.run.dir",
                             hc.sweep.dir if multirun else hc.run.dir))
    except Exception as e:
        found = user_error(e)
        if found is None:
            raise
        # bad input: one line, no traceback; printed, not logged, so a refused launch writes no log file
        # into a run directory it must leave untouched
        unmake_dir(hc.runtime.output_dir)
        sys.exit(fail(found))
    from reno_exp.store import summary
    from reno_exp.store.records import read_records

    print(summary.text(read_records(records.path), str(records.path)))


def interrupted(run_dir: str, key: str, value: str) -> int:
    """Ctrl-C: what is safe on disk and how to go on, in one line (records are whole or absent)."""
    from reno_exp.store.records import read_records

    n = len(read_records(run_dir)) if os.path.isdir(run_dir) else 0
    print(f"interrupted; {n} items recorded in {run_dir}; run the same command with {key}={value} to resume",
          file=sys.stderr)
    return EXIT_INTERRUPTED


def flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """The options that ``args`` holds, written back as ``--name`` / ``--name=value``."""
    out = []
    for action in parser._actions:
        value = getattr(args, action.dest, None) if action.option_strings else None
        if value is None or value is False or value == action.default:
            continue
        name = max(action.option_strings, key=len)
        out.append(name if value is True and action.nargs == 0 else f"{name}={value}")
    return out


def cli(argv: list[str] | None = None) -> int:
    """The command line: Hydra's app, with what Hydra raises for bad input turned into one line."""
    from hydra._internal.utils import get_args_parser

    from reno_exp.config.compose import explain

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--version" in argv:  # Hydra's own --version prints Hydra's
        print(version())
        return 0
    parser = one_line_errors(get_args_parser())
    parser.prog = command_name("python -m reno_exp")
    args = parser.parse_intermixed_args(argv)  # a bad flag: one line, exit 2
    overrides = args.overrides
    saved_argv, saved_env = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    # Hydra parses sys.argv again with a plain parse, which refuses an override after a flag's value
    # (model=tiny --cfg job reward=color): its flags first, then every override
    sys.argv = [saved_argv[0] if saved_argv else "reno_exp", *flags(parser, args), *overrides]
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing its own report
    # a hydra.searchpath folder that is not there: the preflight refuses it in one line, Hydra only warns
    warnings.filterwarnings("ignore", message=r"provider=.* is not available", category=UserWarning)
    try:
        main()
    except KeyboardInterrupt:  # before a run started: nothing of it is on disk
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as e:  # a refusal of the preflight callback (already printed), --help, ...
        return e.code if isinstance(e.code, int) else 0 if e.code is None else fail(e.code)
    except Exception as e:
        found = user_error(e)
        message = str(found) if found is not None else explain(e, overrides, args.config_dir)
        if message is None:
            raise
        return fail(message)
    finally:
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()  # else a later composition in this process would read this --config-dir
        sys.argv = saved_argv
        if saved_env is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_env
    return 0


if __name__ == "__main__":
    sys.exit(cli())
