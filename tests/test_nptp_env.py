"""splitgym/NPTP-v0: both env checkers, decoding, episodes as tile plans, rewards."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.costmodels.tiles.tile_cost import score_tiles
from splitgym.costmodels.tiles.tile_layouts import is_partition
from splitgym.envs.nptp import NPTPEnv, decode


@pytest.fixture(scope="module")
def env() -> NPTPEnv:
    return NPTPEnv(model="vgg11", input=64, devices="nptp3", bandwidth_mbps=4.0)


def test_env_checkers_on_nptp3(env, recwarn):
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True)
    assert not [w for w in recwarn if "splitgym" in str(w.filename)]


def test_registered_and_built_from_a_scenario():
    e = gym.make("splitgym/NPTP-v0", scenario="vgg11-DB-300-small")
    assert e.unwrapped.N == 4 and e.unwrapped.episode_steps == 3


def test_decode_gives_one_nonempty_tile_per_device():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 6))
        rects = decode(rng.uniform(-1, 1, (n - 1, 3)), 17, 23)
        assert len(rects) == n and is_partition(17, 23, rects)
        assert all(not r.empty for r in rects)
    # a T: device 0 gets the top third (rows), device 1 the left half of the rest
    assert decode(np.array([[-1, -1, -1 / 3], [1, -1, 0.0]]), 60, 60) == [
        (0, 20, 0, 60),
        (20, 60, 0, 30),
        (20, 60, 30, 60),
    ]


def test_episode_scores_like_the_cost_model_and_exports_a_plan(env):
    env.reset(seed=0)
    obs, r, done, trunc, info = env.step(np.array([-1.0, -1.0, -0.2]))
    assert not done and r == 0.0 and env.observation_space.contains(obs)
    assert obs[0] > 0  # the remainder starts below the first piece
    obs, r, done, trunc, info = env.step(np.array([1.0, -1.0, 0.0]))
    assert done and not trunc
    plan = env.plan()
    s = score_tiles(env.graph, rects=plan)
    assert plan.problems(env.graph) == []
    assert info["model_latency"] == pytest.approx(s.latency)
    assert info["feasible"] == s.feasible
    assert r == pytest.approx(env.T_ref / info["latency"])
    with pytest.raises(RuntimeError, match="episode has ended"):
        env.step(np.zeros(3))


def test_infeasible_layouts_are_penalised(env):
    env.reset()
    env.step(np.array([-1.0, -1.0, 0.96]))  # device 0 (share cap 0.5) takes ~98% of the rows
    _, r, _, _, info = env.step(np.array([-1.0, -1.0, 0.0]))
    assert not info["feasible"]
    assert info["latency"] > 10 * env.T_ref and r < 0.1


def test_bad_arguments(env):
    env.reset()
    with pytest.raises(ValueError, match="action: expected 3 finite values"):
        env.step(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="reward: must be one of"):
        NPTPEnv(model="vgg11", input=64, reward="x")
