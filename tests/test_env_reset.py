"""DistrEdge-v0's reset contract: a seeded reset is the whole initial state, the clock included;
``keep_clock`` keeps a dynamic network's clock; unknown options are refused."""

from __future__ import annotations

import numpy as np
import pytest

from splitgym.envs.distredge import DistrEdgeEnv

ACTION = np.array([-0.5, 0.0, 0.5])


def _episode(env: DistrEdgeEnv, **reset: object) -> tuple[np.ndarray, float, float]:
    obs, info = env.reset(**reset)
    done = False
    while not done:
        _, _, done, _, step = env.step(ACTION)
    return obs, info["clock"], step["latency"]


def test_a_seeded_reset_restores_the_clock_and_replays_the_same_episodes():
    env = DistrEdgeEnv("vgg16-dynamic-nano", time_per_episode=60.0, partition=[(0, 17)])
    first = [_episode(env, seed=3)] + [_episode(env) for _ in range(3)]
    assert [c for _, c, _ in first] == [0.0, 60.0, 120.0, 180.0]  # unseeded resets: the clock runs on
    again = [_episode(env, seed=3)] + [_episode(env) for _ in range(3)]
    for (o1, c1, l1), (o2, c2, l2) in zip(first, again):
        np.testing.assert_array_equal(o1, o2)
        assert (c1, l1) == (c2, l2)
    assert len({lat for _, _, lat in first}) > 1  # the network did change over the clock


def test_keep_clock_and_clock_options():
    env = DistrEdgeEnv("vgg16-dynamic-nano", time_per_episode=60.0, partition=[(0, 17)])
    _episode(env, seed=0)
    _, clock, _ = _episode(env, seed=1, options={"keep_clock": True})
    assert clock == 60.0
    assert env.reset(seed=1, options={"clock": 600.0})[1]["clock"] == 600.0
    with pytest.raises(ValueError, match=r"reset: unknown option\(s\) \['clok'\]"):
        env.reset(options={"clok": 1})
