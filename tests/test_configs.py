"""Every option of the part groups builds its part, as lightning-hydra-template's config test instantiates
what it composes: each model, reward, transfer and benchmark option composed and validated as the app does,
then instantiated offline (random weights; the big networks on the meta device, where a 12B-parameter model
costs seconds; the rewards at toy width). And one home for each default: the schema dataclass, which the
option files and the constructors do not repeat."""

from __future__ import annotations

import dataclasses
import inspect
from enum import Enum

import pytest
import torch
import yaml
from hydra.utils import get_class, instantiate
from omegaconf import ListConfig, OmegaConf

from reno_exp.config import benchmark, model, reward, transfer
from reno_exp.config.compose import CONF, app_config
from reno_exp.config.options import Configured
from reno_exp.cost.dryrun import cuda_config
from reno_exp.experiment.run import placed
from reno_exp.rewards.base import RewardSet
from reno_exp.weights.hub import random_init_on

GROUPS = {"model": model, "reward": reward, "transfer": transfer, "benchmark": benchmark}
# what a part is built with beside its options (the app's build arguments, and checkpoint files in tests)
BUILD_ARGS = {"self", "random_init", "tiny", "device", "generator", "checkpoint", "med_config", "clip_checkpoint",
              "options"}


def on_meta(overrides: list[str]):
    """The app's validated config, as a CUDA run builds it on the meta device (reno_exp.cost.dryrun)."""
    return cuda_config(app_config([*overrides, "random_init=true"]))


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def as_dict(node) -> dict:
    return OmegaConf.to_container(node, resolve=True, enum_to_str=True)


def same_options(part, node, skip: tuple[str, ...] = ()) -> bool:
    """The part holds exactly the composed config's values (dtype: as ``placed`` decided it)."""
    held = {f.name: getattr(part.cfg, f.name) for f in dataclasses.fields(part.cfg) if f.name not in skip}
    held = {k: v.value if isinstance(v, Enum) else list(v) if isinstance(v, ListConfig) else v for k, v in held.items()}
    return held == {k: v for k, v in as_dict(node).items() if k not in skip}


@pytest.mark.parametrize("name", options("model"))
def test_every_model_option_builds_on_the_meta_device(name):
    cfg = on_meta([f"model={name}"])
    with random_init_on("meta"):
        gen = instantiate(cfg.model, random_init=True, device="meta")
    assert type(gen) is get_class(cfg.model._target_) and same_options(gen, cfg.model)
    assert gen.dtype == getattr(torch, cfg.model.dtype)
    assert len(gen.latent_shape) in (2, 3) and gen.evaluations_per_call == 1
    params = list(gen.parameters())
    assert params and all(p.is_meta for p in params)  # nothing allocated


@pytest.mark.parametrize("name", options("reward"))
def test_every_reward_option_builds_tiny(name):
    cfg = placed(app_config([f"reward={name}", "random_init=true", "tiny=true", "device=cpu"]))
    rewards = RewardSet.from_config(cfg.reward, random_init=True, tiny=True, device="cpu")
    assert list(rewards.rewards) == list(cfg.reward)
    assert rewards.weights == {k: node.weight for k, node in cfg.reward.items()}
    for key, node in cfg.reward.items():
        part = rewards.rewards[key]  # built without its weight, which the set holds
        assert type(part) is get_class(node._target_) and same_options(part, node, skip=("weight",))


@pytest.mark.parametrize("name", options("transfer"))
def test_every_transfer_option_builds_on_the_meta_device(name):
    cfg = on_meta([f"transfer={name}"])
    with random_init_on("meta"):
        target = instantiate(cfg.transfer, random_init=True, device="meta", generator=None)
    if name == "none":
        assert target is None
        return
    assert type(target) is get_class(cfg.transfer._target_) and same_options(target, cfg.transfer)
    assert target.pipe is not None and len(target.latent_shape) in (2, 3)


# what an option needs from the user: a prompt file names its file (README's example)
NEEDS = {"prompts": [f"benchmark.path={CONF.parents[1] / 'docs' / 'examples' / 'prompts.txt'}"]}


@pytest.mark.parametrize("name", options("benchmark"))
def test_every_benchmark_option_builds_its_items(name):
    cfg = app_config([f"benchmark={name}", "seed=3", *NEEDS.get(name, [])])
    suite = instantiate(cfg.benchmark)
    assert type(suite) is get_class(cfg.benchmark._target_) and same_options(suite, cfg.benchmark)
    items = suite.items(cfg.seed)
    assert items and {i.seed for i in items} == {3 + s for s in cfg.benchmark.seeds}


# ------------------------------------------------------------------------------- one home for each default

@pytest.mark.parametrize("group", GROUPS)
def test_each_schema_names_the_class_that_reads_it(group):
    for schema in GROUPS[group].SCHEMAS.values():
        assert get_class(schema._target_).schema is schema


@pytest.mark.parametrize("group", GROUPS)
def test_no_constructor_repeats_an_option(group):
    """A part's __init__ takes its build arguments and ``**options``: a parameter named like a schema field
    would hold a second default for it."""
    for schema in GROUPS[group].SCHEMAS.values():
        cls = get_class(schema._target_)
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and issubclass(klass, Configured):
                params = set(inspect.signature(klass.__init__).parameters)
                assert params <= BUILD_ARGS, f"{klass.__name__}.__init__ repeats {params - BUILD_ARGS}"


@pytest.mark.parametrize("group", GROUPS)
def test_an_option_file_sets_no_default_of_its_schema_again(group):
    """An option of one part (its defaults list names one schema) sets only what differs from that schema;
    a preset that combines parts (reward=all, the loo_* options) sets its own values (the paper's weights)."""
    for name in options(group):
        data = yaml.safe_load((CONF / group / f"{name}.yaml").read_text()) or {}
        schemas = [d for d in data.get("defaults", []) if isinstance(d, str) and d.startswith("/schema/")]
        if len(schemas) != 1 or len(data.get("defaults", [])) != 2:
            continue
        schema = GROUPS[group].SCHEMAS[schemas[0].split("/")[3].split("@")[0]]
        values = data.get(name, {}) if group == "reward" else {k: v for k, v in data.items() if k != "defaults"}
        defaults = as_dict(OmegaConf.structured(schema))
        assert not {k: v for k, v in values.items() if defaults.get(k) == v}, f"conf/{group}/{name}.yaml"


def test_a_direct_build_takes_the_schemas_defaults():
    from reno_exp.benchmarks.geneval import GenEval
    from reno_exp.generators.tiny import TinyGenerator
    from reno_exp.rewards.color import ColorReward
    from reno_exp.transfer.sd import TinySDTransfer

    assert TinyGenerator().cfg == model.TinyGeneratorConfig()
    assert ColorReward().cfg == reward.ColorRewardConfig()
    assert TinySDTransfer(steps=1).cfg == transfer.TinyTransferConfig(steps=1)
    assert GenEval().seeds == [0, 1, 2, 3]  # the protocol's, as benchmark=geneval
    with pytest.raises(TypeError, match="TinyGenerator.. got an unexpected keyword argument 'hub_id'"):
        TinyGenerator(hub_id="stabilityai/sd-turbo")


def test_dtype_auto_is_decided_by_the_device():
    """The schemas' dtype=auto, in a direct build as in a run: the model's CUDA dtype on CUDA (and on meta,
    which stands in for it), float32 on a CPU."""
    from reno_exp.generators.flux_schnell import FluxSchnell
    from reno_exp.transfer.sd import TinySDTransfer

    assert FluxSchnell.options({}).dtype == "auto"
    with random_init_on("meta"):
        small = {"num_layers": 1, "num_single_layers": 1, "text_encoder_layers": 1}
        assert FluxSchnell(random_init=True, device="meta", **small).dtype == torch.bfloat16
    assert TinySDTransfer(dtype="auto", steps=1).dtype == torch.float32


def test_the_reward_weights_are_one_unless_a_preset_sets_them(compose):
    assert {k: v.weight for k, v in compose(["reward=[hpsv2,imagereward,clip,pickscore,aesthetic]"]).reward.items()} \
        == dict.fromkeys(["hpsv2", "imagereward", "clip", "pickscore", "aesthetic"], 1.0)
    paper = {"hpsv2": 5.0, "imagereward": 1.0, "clip": 0.01, "pickscore": 0.05}
    assert {k: v.weight for k, v in compose(["reward=all"]).reward.items()} == paper
    assert {k: v.weight for k, v in compose(["reward=loo_clip"]).reward.items()} == {**paper, "clip": 0.0}


def test_a_reward_added_whole_without_a_weight_gets_the_schemas():
    """Validation fills a reward added whole from its schema; the build must use the same weight."""
    cfg = app_config(["+reward.green={_target_:reno_exp.rewards.color.ColorReward,channel:green}"])
    assert "weight" not in cfg.reward.green
    assert RewardSet.from_config(cfg.reward, random_init=True, tiny=True).weights == {"color": 1.0, "green": 1.0}


def test_sana_sprints_defaults_are_still_its_pipelines():
    from reno_exp.generators.sana_sprint import PIPELINE_DEFAULTS

    defaults = model.SanaSprintConfig()
    for key in ("guidance_scale", "max_timesteps", "max_sequence_length"):
        assert getattr(defaults, key) == PIPELINE_DEFAULTS[key], key
