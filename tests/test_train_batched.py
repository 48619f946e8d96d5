"""``splitgym train env.n_envs=...``: PPO on the batched DistrEdge-v0 VecEnv, or a one-line refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from splitgym.agents.config_check import check_config
from splitgym.costmodels.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env.n_envs=0"], "env.n_envs: must be an integer >= 1, got 0"),
        (["env.n_envs=abc"], "env.n_envs: must be an integer >= 1, got 'abc'"),
        (["env.n_envs=8"], "env.n_envs: 8 instances are trained by agent=ppo only, got agent.algo='ddpg'"),
        (["env=nptp", "agent=ppo", "+env.n_envs=8"], "env.n_envs: 8 instances need a batched env"),
    ],
)
def test_n_envs_is_refused_in_one_line(overrides: list[str], message: str) -> None:
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(config_name="train", overrides=overrides)
    with pytest.raises(ConfigError, match=message):
        check_config(cfg)


def test_n_envs_one_and_ppo_with_many_pass_the_check() -> None:
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        for overrides in (["agent=ppo", "env.n_envs=64"], []):
            check_config(compose(config_name="train", overrides=overrides))


@pytest.mark.slow
def test_train_ppo_on_the_batched_vecenv(tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "splitgym.agents.train",
            "experiment=smoke",
            "agent=ppo",
            "env.n_envs=16",
            "agent.kwargs.n_steps=4",
            "agent.kwargs.batch_size=32",
            "eval.every=0",
            f"hydra.run.dir={run}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((run / "export" / "summary.json").read_text())
    # 40 episodes asked; 16 instances end their episodes together, so the budget stops at 48
    assert summary["episodes"] == 48
    assert (run / "export" / "plan.json").exists() and "learned_plan" in res.stdout
