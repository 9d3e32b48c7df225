"""Hand-written run directories, as the app leaves them: run.yaml, a launch's config, records, scores."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from reno_exp.store.names import LAUNCHES
from reno_exp.store.rundir import RunInfo


def make_run_dir(run: Path, config: dict, choices: dict | None = None, overrides: list[str] | None = None,
                 records: list[dict] = (), scores: list[dict] = ()) -> Path:
    """``config``: the run's full config (its result-affecting part goes to run.yaml, all of it to the
    launch's config.yaml, as the app writes them)."""
    run.mkdir(parents=True, exist_ok=True)
    info = RunInfo.of(config, choices, overrides)
    info.save(run)
    (run / LAUNCHES / "000").mkdir(parents=True, exist_ok=True)
    (run / LAUNCHES / "000" / "config.yaml").write_text(yaml.safe_dump(config))
    records = [{"fingerprint": info.fingerprint, **r} for r in records]  # the app stamps each record
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if scores:
        (run / "evaluation.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scores))
    return run


def paper_config(*overrides: str, device: str = "cuda") -> dict:
    """The result config the app records for these overrides (on CUDA by default: the paper's dtypes)."""
    from reno_exp.config.compose import app_config
    from reno_exp.config.identity import result_config
    from reno_exp.config.placement import placed

    return result_config(placed(app_config([*overrides, f"device={device}"])))
