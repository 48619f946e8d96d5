"""splitgym/MSMDI-v1: env checkers, seeded instances, the learnable service, the scaled observation,
and its selection from the training config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from omegaconf import OmegaConf
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.agents.tasks.msmdi_task import env_kwargs
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_policies import get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs import ENV_IDS
from splitgym.envs.msmdi import MSMDIEnv
from splitgym.envs.msmdi_v1 import MSMDIEnvV1

SMALL = {"scenario": "ms-mdi-3-small", "images": (20, 40)}
DIST = {"rates": [[1.0, 6.0], [2.0, 12.0]], "workers": [2, 3]}


def rollout(env: MSMDIEnv, seed: int, act=None) -> tuple[list[np.ndarray], list[float], dict, dict]:
    obs, info0 = env.reset(seed=seed)
    seen, rewards, done, info = [obs], [], False, {}
    while not done:
        obs, r, done, _, info = env.step(env.reference_action("ms-mdi") if act is None else act(env))
        seen.append(obs)
        rewards.append(r)
    return seen, rewards, info0, info


@pytest.mark.parametrize("kw", [{}, {"learn_service": True, "instances": DIST}])
def test_registered_and_both_checkers_pass(kw: dict, recwarn: pytest.WarningsRecorder):
    assert "splitgym/MSMDI-v1" in ENV_IDS
    env = gym.make("splitgym/MSMDI-v1", **SMALL, **kw).unwrapped
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)
    assert not [w for w in recwarn if "splitgym" in str(w.filename)]


def test_same_seed_same_trajectory_different_seeds_different_instances():
    a, b = MSMDIEnvV1(**SMALL, instances=DIST), MSMDIEnvV1(**SMALL, instances=DIST)
    obs_a, rew_a, inst_a, _ = rollout(a, 7)
    obs_b, rew_b, inst_b, _ = rollout(b, 7)
    assert inst_a == inst_b and rew_a == rew_b and all(np.array_equal(x, y) for x, y in zip(obs_a, obs_b))
    drawn = {(tuple(np.round(a.reset(seed=s)[1]["rates"], 9)), a.reset(seed=s)[1]["workers"]) for s in range(8)}
    assert len(drawn) == 8 and {w for _, w in drawn} == {2, 3}
    for rates, _ in drawn:
        assert 1.0 <= rates[0] <= 6.0 and 2.0 <= rates[1] <= 12.0


def test_absent_workers_own_no_stage_and_serve_nothing():
    env = MSMDIEnvV1(**SMALL, instances={"workers": [2]})
    env.reset(seed=0)
    assert env.system.alive == [True, True, False]
    assert all(n != 2 for chain in env.sim.stages for n, _, _ in chain)
    rollout(env, 0)
    assert env.sim.busy_s[2] == 0.0


def test_one_point_distribution_defers_to_the_rule_like_the_simulator():
    """Fixed instance, every worker left to the rule (S + 1): the same run as the simulator's."""
    env = MSMDIEnvV1(**SMALL, learn_service=True)
    _, _, inst, info = rollout(env, 3)
    assert inst["rates"] == [5.0, 10.0] and inst["workers"] == 3
    direct = QueueSim(env.system, seed=env.episode_seed).run(get_scheduler("ms-mdi"))
    assert info["latency"] == pytest.approx(direct.makespan_s) and info["fallbacks"] == 0


def test_the_learned_service_takes_effect_and_bad_actions_fail():
    env = MSMDIEnvV1(**SMALL, learn_service=True)
    S, N = env.S, env.N
    rule = rollout(env, 1)[3]["latency"]
    # every worker serves MDI queue of source 0 when it can (else the rule): a different schedule
    forced = rollout(env, 1, lambda e: np.array([0] * S + [1] * N))[3]
    assert forced["latency"] != rule and forced["fallbacks"] > 0
    env.reset(seed=0)
    for bad in ([0] * S + [S + 2] * N, [2] + [0] * (S - 1 + N), [0] * S):
        with pytest.raises(ValueError, match="action: expected 2 values in {0, 1} then 3 integers in 0..3"):
            env.step(np.array(bad))


@pytest.mark.slow
def test_no_observation_reaches_the_bound_at_the_papers_scale():
    """ms-mdi-2 at the paper's rates and 10K + 30K images, the rule-based policy: v1's raw
    observation stays below its bound of 1 (queues: log1p(q) / log1p(40K)); v0's, on the same
    queues, reaches its clip of 1,000 (queues of > 10,000 images)."""
    from splitgym.envs.msmdi import OBS_HIGH, QUEUE_SCALE

    env = MSMDIEnvV1("ms-mdi-2")
    obs, _ = env.reset(seed=0)
    peak, v0_peak, done = obs.copy(), 0, False
    while not done:
        obs, _, done, _, _ = env.step(env.reference_action("ms-mdi"))
        peak = np.maximum(peak, obs)
        v0_peak = max(v0_peak, max(len(q) for q in env.sim.qlocal + env.sim.reservoir) / QUEUE_SCALE)
    S, N = env.S, env.N
    q = 2 * S + N * S  # queues; then busy, alive (flags), delays and loads (squashed)
    scaled = np.concatenate([peak[:q], peak[q + 2 * N : -1]])
    assert peak[-1] == 1.0  # the share admitted ends at 1 (its natural end, not a clip)
    assert 0.5 < scaled.max() < 1.0 and env.observation_space.contains(obs)
    assert v0_peak > OBS_HIGH


def test_bad_distributions_are_one_line_errors():
    for inst, key in (
        ({"workers": [1]}, "instances.workers"),
        ({"rates": [[3, 1], [1, 2]]}, "instances.rates.0"),
        ({"rates": [[1, 2]]}, "instances.rates"),
        ({"speed": 2}, "instances.speed"),
    ):
        with pytest.raises(ConfigError, match=key):
            MSMDIEnvV1(**SMALL, instances=inst)
    with pytest.raises(ConfigError, match="learn_service"):
        MSMDIEnvV1(**SMALL, learn_service="yes")


def test_v1_keys_are_refused_on_v0_and_used_on_v1():
    base = {"scenario": "ms-mdi-3-small", "reward": "backlog", "service": "ms-mdi", "images": None}
    cfg = OmegaConf.create({"env": {**base, "learn_service": True, "instances": None}})
    with pytest.raises(ConfigError, match="env.learn_service: an option of splitgym/MSMDI-v1"):
        env_kwargs(cfg)
    assert env_kwargs(cfg, v1=True)["learn_service"] is True
    cfg = OmegaConf.create({"env": {**base, "learn_service": False, "instances": {"workers": [2]}}})
    with pytest.raises(ConfigError, match="env.instances"):
        env_kwargs(cfg)
    assert env_kwargs(cfg, v1=True)["instances"] == {"workers": [2]}


@pytest.mark.slow
def test_train_selects_v1_from_the_config(tmp_path: Path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "splitgym.agents.train", "env=msmdi", "env.id=splitgym/MSMDI-v1"]
    cmd += ["env.learn_service=true", "env.instances={workers:[2,3]}", "agent=ppo", "episodes=3"]
    cmd += ["env.images=[10,20]", "env.eval_episodes=1", "agent.kwargs.n_steps=32", "agent.kwargs.batch_size=16"]
    res = subprocess.run([*cmd, f"hydra.run.dir={run}"], capture_output=True, text=True, timeout=300, env=os.environ)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert summary["env_id"] == "splitgym/MSMDI-v1" and summary["env_v1"]["learn_service"] is True
    assert summary["episodes"] == 3  # the step budget covers the longer episodes of a learned service
    from stable_baselines3 import PPO

    model = PPO.load(run / "export" / "policy.zip", device="cpu")
    assert model.action_space.nvec.tolist() == [2, 2, 4, 4, 4]
