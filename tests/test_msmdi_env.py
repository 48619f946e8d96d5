"""splitgym/MSMDI-v0: both env checkers, the reference policies, the reward, training through Hydra."""

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
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.agents.tasks.msmdi_task import evaluate_policies
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_policies import SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs import ENV_IDS
from splitgym.envs.msmdi import MSMDIEnv

SMALL = {"scenario": "ms-mdi-3-small", "images": (20, 40)}


def test_registered_and_both_checkers_pass(recwarn: pytest.WarningsRecorder):
    assert "splitgym/MSMDI-v0" in ENV_IDS
    env = gym.make("splitgym/MSMDI-v0", **SMALL)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    assert not [w for w in recwarn if "splitgym" in str(w.filename)]


def run_episode(env: MSMDIEnv, seed: int, policy: str):
    obs, _ = env.reset(seed=seed)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, r, done, trunc, info = env.step(env.reference_action(policy))
        assert env.observation_space.contains(obs) and not trunc and r <= 0
        total += r
        steps += 1
    return total, steps, info


@pytest.mark.parametrize("policy", sorted(SCHEDULERS))
def test_reference_policies_in_the_env_equal_the_simulator(policy: str):
    """With the policy's own service rule, an episode driven by its admission equals a direct run
    of the simulator on the same arrivals (the env adds nothing but the interface)."""
    env = MSMDIEnv(**SMALL, service=policy)
    ret, steps, info = run_episode(env, 3, policy)
    sim = QueueSim(env.system, seed=env.episode_seed)  # the same arrivals
    direct = sim.run(get_scheduler(policy))
    assert info["latency"] == pytest.approx(direct.makespan_s)
    # the return is minus the mean time in system, in reference image-times (Little's law)
    soj = np.mean(direct.done - direct.arrive)
    assert ret == pytest.approx(-soj / env.ref_s, rel=1e-6)
    assert steps <= env.total
    frac = info["decision"]
    assert frac == ([1.0, 1.0] if policy == "local" else [0.0, 0.0] if policy == "ar-mdi" else frac)


def test_actions_change_the_outcome_and_bad_actions_fail():
    env = MSMDIEnv(**SMALL)
    a = run_episode(env, 0, "local")[2]["latency"]
    b = run_episode(env, 0, "ar-mdi")[2]["latency"]
    assert a != b
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([2, 0]))
    with pytest.raises(ConfigError, match="reward"):
        MSMDIEnv(reward="ips")
    with pytest.raises(ConfigError, match="scenario"):
        MSMDIEnv(scenario="nope")


def test_makespan_reward_is_sparse():
    env = MSMDIEnv(**SMALL, reward="makespan")
    env.reset(seed=1)
    rewards, done = [], False
    while not done:
        _, r, done, _, info = env.step(env.reference_action("ms-mdi"))
        rewards.append(r)
    assert all(r == 0 for r in rewards[:-1]) and rewards[-1] == pytest.approx(
        -info["latency"] * env.N / (env.total * env.ref_s)
    )


def test_evaluate_policies_uses_the_same_seeds():
    res = evaluate_policies(dict(SMALL), None, [0, 1])
    assert set(res) == set(SCHEDULERS)
    again = evaluate_policies(dict(SMALL), None, [0, 1])
    assert res == again


def test_train_smoke_ppo(tmp_path: Path):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "splitgym.agents.train",
        "env=msmdi",
        "agent=ppo",
        "episodes=3",
        "env.images=[10,20]",
        "env.eval_episodes=1",
        "agent.kwargs.n_steps=32",
        "agent.kwargs.batch_size=16",
        f"hydra.run.dir={run}",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((run / "export" / "summary.json").read_text())
    assert set(summary["results"]) == {"learned", *SCHEDULERS}
    assert summary["objective"] == pytest.approx(1 / summary["results"]["learned"]["total_time_s"])
    assert (run / "export" / "policy.zip").exists() and "learned" in res.stdout
