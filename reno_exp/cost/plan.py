"""The size of a sweep before it is queued: its jobs (Hydra's own expansion of the sweeper's params and
the command line), the items and iterates of each job (counted from its prompt suite, the real prompt
files), and device-hours at a given speed.

The authors report 20-50 s per image (50 iterates) on one A100; the FLOP count of each job's config
(``reno_exp.cost.estimate``) turns a share of a GPU's peak into seconds per item as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import instantiate
from omegaconf import DictConfig

from reno_exp.config.compose import check_options
from reno_exp.config.rules import validate

AUTHORS_SECONDS_PER_ITEM = (20.0, 50.0)  # per 50-iterate image on one A100, as the paper reports


@dataclass
class Job:
    overrides: list[str]  # what this job adds to the command line's fixed overrides
    cfg: DictConfig
    items: int

    @property
    def iterates(self) -> int:
        return self.items * self.cfg.optimizer.n_iters


@dataclass
class Plan:
    jobs: list[Job]

    @property
    def items(self) -> int:
        return sum(j.items for j in self.jobs)

    @property
    def iterates(self) -> int:
        return sum(j.iterates for j in self.jobs)

    def hours(self, seconds_per_item: float) -> float:
        return self.items * seconds_per_item / 3600


def compose_config(config_dir: str, overrides: list[str], hydra_config: bool = False) -> DictConfig:
    from reno_exp.config.schema import register

    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=hydra_config)


def sweep_jobs(config_dir: str, overrides: list[str]) -> list[list[str]]:
    """Each job's overrides, as ``python -m reno_exp -m <overrides>`` would launch them (BasicSweeper)."""
    check_options(overrides)  # Hydra would plan the defaults for an unknown experiment (an optional group)
    parser = OverridesParser.create()
    fixed = [o.input_line for o in parser.parse_overrides(overrides) if not o.is_sweep_override()]
    params = compose_config(config_dir, fixed, hydra_config=True).hydra.sweeper.get("params") or {}
    arguments = parser.parse_overrides([*(f"{k}={v}" for k, v in params.items()), *overrides])
    return BasicSweeper.split_arguments(arguments, None)[0]


def plan(config_dir: str, overrides: list[str]) -> Plan:
    jobs = []
    for job in sweep_jobs(config_dir, overrides):
        cfg = compose_config(config_dir, job)
        validate(cfg)  # a job the app would refuse is not planned
        suite = instantiate(cfg.benchmark)
        swept = [o for o in job if o not in overrides]
        jobs.append(Job(swept, cfg, len(suite.items(cfg.seed))))
    return Plan(jobs)
