"""splitgym train env=hidp: every key of conf/env/hidp.yaml takes effect or is refused in one line;
the export compares the policy with HiDP's planners on shared streams; evaluate re-plays it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig
from stable_baselines3.common.vec_env import VecNormalize

from splitgym.agents.config_check import check_config
from splitgym.agents.evaluate import evaluate
from splitgym.agents.tasks import get_task
from splitgym.agents.tasks.hidp_eval import baseline_env
from splitgym.costmodels.errors import SplitgymError
from splitgym.envs.hidp_env import HiDPEnv

SMALL = ["env=hidp", "agent=ppo", "env.models=[resnet18]", "env.rates=[40]", "env.requests=12"]


def _cfg(*overrides: str) -> DictConfig:
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=[*SMALL, *overrides])
    check_config(cfg)
    return cfg


def _env(*overrides: str) -> HiDPEnv:
    """The env of the config; the template menu unless one is named (HiDP's DP takes seconds to plan)."""
    menu = [] if any(o.startswith("env.menu=") for o in overrides) else ["env.menu=templates"]
    cfg = _cfg(*menu, *overrides)
    return get_task(str(cfg.env.id)).make_env(cfg)


def test_every_key_of_the_env_config_takes_effect():
    base = _env()  # the template menu (see _env)
    assert isinstance(base, HiDPEnv) and base.models == ["resnet18"] and base.rates == [40.0]
    assert (base.requests, base.reward_mode, base.scale, base.nodes.name) == (12, "latency", 1.0, "hidp-dynamic")
    assert base.K == base.N + 1  # templates: each node, and a data-mode split
    assert _env("env.models=[resnet18,resnet18]", "env.rates=[40,5]").models == ["resnet18", "resnet18"]
    assert _env("env.rates=[7]").rates == [7.0]
    assert _env("env.devices=hidp-5").nodes.name == "hidp-5"
    assert _env("env.requests=5").episode_steps == 5
    assert _env("env.reward=throughput").reward_mode == "throughput"
    assert _env("env.menu=planners").K == 3 + base.N  # HiDP, DisNet, OmniBoost, HiDP on each node
    assert _env("env.backlog_scale=2.5").scale == 2.5
    assert _env("env.preview=true").observation_space.shape[0] == base.observation_space.shape[0] + base.K
    assert _env("env.eval_episodes=3").eval_episodes == 3
    task = get_task("splitgym/HiDP-v0")
    assert task.training_env(_cfg(), base).__class__ is VecNormalize  # normalize_reward: true (the default)
    assert task.training_env(_cfg("env.normalize_reward=false"), base) is base


@pytest.mark.parametrize(
    ("override", "line"),
    [
        ("env.rates=[1,2]", "rates: need one rate per model (1 models), got [1.0, 2.0]"),
        ("env.rates=[]", "env.rates: expected a non-empty list, got []"),
        ("env.models=resnet18", "env.models: expected a non-empty list, got 'resnet18'"),
        ("env.menu=best", "env.menu: must be one of planners, templates, got 'best'"),
        ("env.reward=fast", "env.reward: must be one of latency, throughput, got 'fast'"),
        ("env.preview=1", "env.preview: expected true or false, got 1"),
        ("env.eval_episodes=0", "env.eval_episodes: expected a positive integer, got 0"),
        ("env.requests=0", "requests: an episode needs at least one request, got 0"),
        ("+env.horizon=5", "env.horizon: not a setting of splitgym/HiDP-v0 (known: id, models, rates, "),
        ("agent=td3", "agent=td3: splitgym/HiDP-v0 has discrete actions, which only agent=ppo takes"),
    ],
)
def test_bad_values_are_one_line(override: str, line: str):
    with pytest.raises(SplitgymError) as info:
        _env(override)
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def test_bad_normalize_reward_is_one_line():
    with pytest.raises(SplitgymError, match=r"^env.normalize_reward: expected true or false, got 'yes'$"):
        get_task("splitgym/HiDP-v0").training_env(_cfg("env.normalize_reward=yes"), _env())


def test_the_baselines_twin_plays_the_same_streams_with_the_planners_menu():
    env = _env("env.menu=templates")
    twin = baseline_env(env, env.run_kwargs)
    assert twin is not env and twin.K == 3 + env.N
    assert baseline_env(twin, {}) is twin  # the planners' menu already: the env itself
    for seed in (10_000, 10_001):
        env.reset(seed=seed)
        twin.reset(seed=seed)
        assert env.arrivals == twin.arrivals


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hidp") / "run"
    cli = str(Path(sys.executable).parent / "splitgym")
    args = [*SMALL, "episodes=6", "agent.kwargs.n_steps=24", "agent.kwargs.batch_size=12", "eval.every=0"]
    subprocess.run(
        [cli, "train", *args, "env.menu=templates", "env.eval_episodes=2", f"hydra.run.dir={out}"],
        check=True, capture_output=True, env=os.environ.copy(),
    )  # fmt: skip
    return out


@pytest.mark.slow
def test_train_exports_a_scheduler_and_evaluate_replays_it(run: Path):
    summary = json.loads((run / "export" / "summary.json").read_text())
    res = summary["results"]
    assert list(res) == ["learned", "hidp", "disnet", "omniboost", "earliest-finish"]
    assert summary["objective"] == res["learned"]["return"] and summary["eval_seeds"] == [10_000, 10_001]
    assert sum(res["learned"]["picks"].values()) == 2 * 12  # 2 streams of 12 requests
    assert set(res["hidp"]["picks"]) == {"hidp"}  # a baseline: its own entry, every time
    again = evaluate(run)  # env.eval_episodes seeds: the export's numbers, from the files alone
    assert {r["policy"]: r["return"] for r in again["rows"]} == {k: v["return"] for k, v in res.items()}
    three = evaluate(run, seeds=3)
    assert three["results"]["hidp"]["return"] != res["hidp"]["return"]  # a third stream moves the mean
    assert np.isclose(three["rows"][0]["latency_vs_learned"], 1.0)
    with pytest.raises(SplitgymError, match=r"^--split: not an option for a splitgym/HiDP-v0 run"):
        evaluate(run, split="distredge-v1/val")
    cli = str(Path(sys.executable).parent / "splitgym")
    bad = subprocess.run([cli, "train", *SMALL, "devices=DA", f"hydra.run.dir={run}-x"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "devices=DA: not used by splitgym/HiDP-v0 (set env.models, env.devices)" in bad.stderr
