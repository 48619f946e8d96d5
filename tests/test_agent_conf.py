"""The agent configs reach SB3: every algorithm's optimiser is torch's fused Adam, as configured."""

from __future__ import annotations

import gymnasium as gym
import pytest

import splitgym.envs  # noqa: F401  (registers the envs)
from splitgym.agents.algos import ALGOS
from splitgym.costmodels.cluster import load_conf


@pytest.mark.parametrize("name", ["ddpg", "td3", "sac", "ppo"])
def test_agent_config_builds_fused_adam(name):
    cfg = load_conf("agent", name)
    env = gym.make("splitgym/DistrEdge-v0")
    model = ALGOS[cfg["algo"]](cfg["policy"], env, seed=0, device="cpu", **cfg["kwargs"])
    opts = [model.policy.optimizer] if name == "ppo" else [model.actor.optimizer, model.critic.optimizer]
    for opt in opts:
        assert opt.defaults["fused"] is True
    if name == "ppo":  # SB3's PPO default eps is kept when optimizer_kwargs is given
        assert opts[0].defaults["eps"] == pytest.approx(1e-5)
