"""``splitgym train ... env.split=<family>/train``: the training env draws the split's instances
(NPTP-v1, MSMDI-v1, HiDP-v0); a split of another family, or on an env without splits, is refused
in one line."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from splitgym.agents.config_check import check_config
from splitgym.agents.tasks import get_task
from splitgym.agents.tasks.msmdi_task import eval_kwargs
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.msmdi_v1 import MSMDIEnvV1
from splitgym.envs.splits import get_split


def _cfg(*overrides: str) -> DictConfig:
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=["agent=ppo", *overrides])
    check_config(cfg)
    return cfg


def _env(*overrides: str):
    cfg = _cfg(*overrides)
    return get_task(str(cfg.env.id)).make_env(cfg).unwrapped


V1 = "env.id=splitgym/NPTP-v1"


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (["env=nptp", "env.split=nptp-v1/train"], "is a split of splitgym/NPTP-v1, not of splitgym/NPTP-v0"),
        (["env=msmdi", "env.split=msmdi-v1/train"], "is a split of splitgym/MSMDI-v1, not of splitgym/MSMDI-v0"),
        (["env=hidp", "env.split=nptp-v1/test"], "is a split of splitgym/NPTP-v1, not of splitgym/HiDP-v0"),
        (["env=nptp", V1, "env.split=hidp-v0/train"], "is a split of splitgym/HiDP-v0, not of splitgym/NPTP-v1"),
        (["env=hidp", "env.split=hidp-v0/nope"], "unknown split 'hidp-v0/nope' (known: "),
    ],
)  # fmt: skip
def test_a_split_of_another_env_is_refused_in_one_line(overrides: list[str], line: str):
    with pytest.raises(ConfigError) as err:
        _cfg(*overrides)
    assert str(err.value).startswith("env.split: ") and line in str(err.value) and "\n" not in str(err.value)


def test_nptp_v1_refuses_split_and_instances_together():
    cfg = _cfg("env=nptp", "env.id=splitgym/NPTP-v1", "env.split=nptp-v1/train", "+env.instances.n_devices=[4,4]")
    with pytest.raises(ConfigError, match=r"^env.instances: give env.split or env.instances, not both"):
        get_task("splitgym/NPTP-v1").make_env(cfg)


@pytest.mark.slow
def test_hidp_training_env_draws_the_split_instances():
    env = _env("env=hidp", "env.split=hidp-v0/train", "env.menu=templates")
    split = {i.name: i.value for i in get_split("hidp-v0/train").instances}
    drawn = set()
    for seed in range(6):
        env.reset(seed=seed)
        match = [n for n, v in split.items() if list(v.models) == env.models and list(v.rates) == env.rates]
        assert len(match) == 1 and len(env.arrivals) == split[match[0]].requests
        drawn.add(match[0])
    assert len(drawn) > 1  # not the config's streams (one resnet/vgg pair at fixed rates) every time


def test_msmdi_v1_training_env_draws_the_split_instances():
    env = _env("env=msmdi", "env.id=splitgym/MSMDI-v1", "env.split=msmdi-v1/train")
    names = {i.name for i in get_split("msmdi-v1/train").instances}
    drawn = {env.reset(seed=seed)[1]["instance"] for seed in range(6)}
    assert drawn <= names and len(drawn) > 1
    twin = MSMDIEnvV1(**eval_kwargs(env))  # the export's evaluation env: the same split, same draws
    assert [twin.reset(seed=s)[1]["instance"] for s in range(6)] == [env.reset(seed=s)[1]["instance"] for s in range(6)]


@pytest.mark.slow
def test_nptp_v1_training_env_draws_the_split_instances():
    env = _env("env=nptp", "env.id=splitgym/NPTP-v1", "env.split=nptp-v1/train")
    values = [i.value for i in get_split("nptp-v1/train").instances]
    assert list(env.space.items) == list(get_split("nptp-v1/train").instances)
    assert env.instance in values  # the constructor's draw; a reset costs a cost model (~3 s here)


def test_hidp_refuses_streams_set_beside_a_split_on_the_command_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    cli = str(Path(sys.executable).parent / "splitgym")
    args = ["env=hidp", "agent=ppo", "env.split=hidp-v0/train", "env.models=[resnet18]", f"hydra.run.dir={tmp_path}"]
    bad = subprocess.run([cli, "train", *args], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "env.models=[resnet18]: env.split=hidp-v0/train sets it per instance; drop one" in bad.stderr
