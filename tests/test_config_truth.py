"""Config is the truth: every override of the resolved groups takes effect, user config folders add
groups, a run's config.yaml re-runs it to the same plan, and bad values are one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from splitgym.agents.config_check import check_config
from splitgym.agents.tasks import get_task
from splitgym.costmodels.errors import SplitgymError

SMALL = ["model=vgg11", "model.input=64", "env.partition=stages"]
LEARN = ["episodes=12", "agent.kwargs.learning_starts=16"]  # ~60 steps, ~44 updates: learning is re-run too
CLI = [sys.executable, "-m", "splitgym.experiments.cli", "train"]


def _cfg(*overrides: str, small: list[str] = SMALL):
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        return compose(config_name="train", overrides=[*small, *overrides])


def _equal_ms(*overrides: str) -> float:
    cfg = _cfg(*overrides)
    check_config(cfg)
    return get_task(cfg.env.id).make_env(cfg).T_equal * 1e3


def test_bandwidth_latency_and_board_overrides_move_the_latency():
    base = _equal_ms()
    slow_net = _equal_ms("network.bandwidth_mbps=10", "network.latency_ms=5")
    pi = _equal_ms("devices.devices.0.board=pi4")  # DB's first device is a Xavier
    assert slow_net > 2 * base  # 300 -> 10 Mbps: the transfers dominate
    assert pi > base
    assert _equal_ms("network.latency_ms=5") > base  # a nested key alone also takes effect


def test_nptp_takes_its_network_group_and_its_overrides():
    def ref(*o: str) -> float:
        cfg = _cfg("env=nptp", *o, small=SMALL[:2])
        return get_task(cfg.env.id).make_env(cfg).T_ref

    assert ref("network.bandwidth_mbps=1") > ref()
    assert ref("devices=DB") != ref()


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("episodes=abc", "episodes: must be an integer >= 1, got 'abc'"),
        ("env.reward=foo", "env.reward: must be one of paper, relative, neg_ms, got 'foo'"),
        ("network.bandwidth_mbps=abc", "network.bandwidth_mbps: expected a number, got 'abc'"),
        ("agent.kwargs.batch_size=x", "agent.kwargs.batch_size: expected an integer, got 'x'"),
        ("seed=-1", "seed: must be an integer >= 0, got -1"),
        ("model.name=nope.py:build", "model: no such file 'nope.py'"),
    ],
)
def test_bad_values_are_one_line_naming_key_and_value(override: str, line: str):
    with pytest.raises(SplitgymError) as info:
        check_config(_cfg(override))
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def _train(tmp: Path, run: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args, f"hydra.run.dir={run}"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp,
        env=os.environ.copy(),
    )


def test_cli_bad_value_exits_2_with_one_line(tmp_path: Path):
    res = _train(tmp_path, tmp_path / "r", *SMALL, "episodes=abc")
    assert res.returncode == 2
    assert res.stderr.strip() == "splitgym train: error: episodes: must be an integer >= 1, got 'abc'"


def test_user_config_folder_adds_groups_and_config_yaml_reruns_the_same_plan(tmp_path: Path):
    conf = tmp_path / "my" / "conf"
    (conf / "devices").mkdir(parents=True)
    (conf / "network").mkdir()
    (conf / "devices" / "mylab.yaml").write_text(
        "name: mylab\ndevices:\n  - {name: a, board: pi4}\n  - {name: b, board: tx2}\n  - {name: c, board: nano}\n"
    )
    (conf / "network" / "slow.yaml").write_text("name: slow\nbandwidth_mbps: 20.0\n")
    first = tmp_path / "first"
    res = _train(tmp_path, first, "--config-dir", "my/conf", "devices=mylab", "network=slow", *SMALL, *LEARN)
    assert res.returncode == 0, res.stderr[-2000:]
    plan = json.loads((first / "export" / "plan.json").read_text())
    assert [d["name"] for d in plan["devices"]] == ["a", "b", "c"]
    assert {d["bandwidth_mbps"] for d in plan["devices"]} == {20.0}
    again = tmp_path / "again"  # the recorded config alone, from the run folder (relative path)
    res = _train(tmp_path, again, "--config-path", "first", "--config-name", "config")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads((again / "export" / "plan.json").read_text()) == plan


def test_user_config_folder_adds_an_msmdi_scenario(tmp_path: Path):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "mymdi.yaml").write_text(
        "defaults:\n  - msmdi\n  - _self_\n"
        "scenario:\n  name: lab\n  model: vgg11\n  input: 64\n  network: bw100\n  images: [5, 5]\n  image_s: 0.2\n"
        "  devices: {name: lab, devices: [{name: w0, board: tx2}, {name: w1, board: nano}, {name: w2, board: tx2}]}\n"
    )
    cfg = _cfg(f"hydra.searchpath=[file://{tmp_path}]", "env=mymdi", "agent=ppo", small=[])
    check_config(cfg)
    env = get_task(cfg.env.id).make_env(cfg)
    assert env.scenario.name == "lab" and env.N == 3 and env.total == 10
    assert list(env.system.images) == [5, 5]
    bad = _cfg(f"hydra.searchpath=[file://{tmp_path}]", "env=mymdi", "+env.scenario.speed=2", small=[])
    with pytest.raises(SplitgymError, match=r"^env.scenario.speed: not a scenario field"):
        get_task(bad.env.id).make_env(bad)


def test_every_shipped_config_combination_passes_the_check():
    from splitgym.costmodels.cluster import list_conf

    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        for env in list_conf("env"):
            for agent in list_conf("agent"):
                cfg = compose(config_name="train", overrides=[f"env={env}", f"agent={agent}"])
                if env in ("msmdi", "hidp") and agent != "ppo":  # discrete actions: one line, not an SB3 assert
                    with pytest.raises(SplitgymError, match=rf"^agent=\w+: {cfg.env.id} has discrete actions"):
                        check_config(cfg)
                    continue
                check_config(cfg)
        for group in ("devices", "network", "model", "experiment"):
            for name in list_conf(group):
                if name != "file":  # devices=file needs devices.path
                    check_config(compose(config_name="train", overrides=[f"{group}={name}"]))
