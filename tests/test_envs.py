"""Environments: both env checkers over every registered id, the action mapping, episodes as plans."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from splitgym.agents.noise import EpsilonGaussianNoise
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.volumes.lcpss import LCPSS
from splitgym.envs import ENV_IDS, Scenario, get_scenario, list_scenarios
from splitgym.envs.distredge import DistrEdgeEnv, map_action

SMALL = "vgg11-DB-300-small"
HIDP_SMALL = {"models": ("resnet18",), "rates": (40.0,), "requests": 12}  # HiDP-v0 has no scenario


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_env_checkers(env_id: str, recwarn: pytest.WarningsRecorder):
    env = gym.make(env_id, **(HIDP_SMALL if "HiDP" in env_id else {"scenario": SMALL}))
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=True)
    unexpected = [w for w in recwarn if "splitgym" in str(w.filename)]
    assert not unexpected, [str(w.message) for w in unexpected]


def test_every_scenario_is_listed_and_builds_a_cluster():
    names = list_scenarios(Scenario)  # DistrEdge's (the registry also holds MS-MDI's)
    assert {
        "vgg16-DA-50",
        "vgg16-DB-300",
        "vgg16-DC-300",
        "vgg16-NA-nano",
        "vgg16-ND-xavier",
        "vgg16-LA",
        "vgg16-LD",
    } <= set(names)
    for name in names:
        s = get_scenario(name, Scenario)
        assert s.cluster().size == (16 if name[6:8] in ("LA", "LB", "LC", "LD") else 4)
    with pytest.raises(ConfigError, match="scenario"):
        get_scenario("nope")


def test_map_action_is_sorted_integer_cuts_with_empty_parts():
    cuts = map_action(np.array([0.5, -1.0, 1.0]), 56)
    assert cuts.tolist() == [0, 0, 42, 56, 56]
    rng = np.random.default_rng(0)
    for _ in range(100):
        c = map_action(rng.uniform(-3, 3, 3), 28)
        assert c[0] == 0 and c[-1] == 28 and (np.diff(c) >= 0).all()


def test_episode_matches_simulator_and_exports_a_plan():
    env = DistrEdgeEnv(SMALL)
    env.reset(seed=0)
    rewards, done, info = [], False, {}
    actions = [np.array([-0.5, 0.0, 0.5])] * env.L
    for a in actions:
        obs, r, done, trunc, info = env.step(a)
        rewards.append(r)
        assert env.observation_space.contains(obs)
    assert done and not trunc and all(r == 0 for r in rewards[:-1])
    assert rewards[-1] == pytest.approx(1 / info["latency"])
    plan = env.plan()
    plan.check(env.graph)
    assert env.sim.simulate(plan).latency == pytest.approx(info["latency"], rel=1e-12)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(actions[0])


def test_reward_variants_and_bad_input():
    for mode, check in [
        ("relative", lambda r, i: r == pytest.approx(i["equal_latency"] / i["latency"])),
        ("neg_ms", lambda r, i: r == pytest.approx(-i["latency"] * 1e3)),
    ]:
        env = DistrEdgeEnv(SMALL, reward=mode)
        env.reset()
        done = False
        while not done:
            _, r, done, _, info = env.step(np.zeros(env.N - 1))
        assert check(r, info)
    with pytest.raises(ValueError, match="reward"):
        DistrEdgeEnv(SMALL, reward="bogus")
    env = DistrEdgeEnv(SMALL)
    env.reset()
    with pytest.raises(ValueError, match="action"):
        env.step(np.array([np.nan, 0, 0]))


def test_equal_actions_reproduce_the_equal_split():
    env = DistrEdgeEnv(SMALL)
    env.reset()
    done, info = False, {}
    while not done:
        _, _, done, _, info = env.step(np.array([-0.5, 0.0, 0.5]))
    # every volume height here is divisible by 4, so these actions are the equal split
    assert info["latency"] == pytest.approx(env.T_equal, rel=1e-12)


def test_dynamic_network_changes_latency_over_time():
    env = DistrEdgeEnv("vgg16-dynamic-nano", time_per_episode=60.0, partition=[(0, 17)])
    trace = env.cluster.network.traces["nano-0"]
    lat, caps = [], []
    for _ in range(6):
        env.reset()
        caps.append(trace.at(env.clock))
        _, _, done, _, info = env.step(np.array([-0.5, 0.0, 0.5]))
        lat.append(info["latency"])
    # the same split, a minute apart: lower bandwidth, higher latency
    order = np.argsort(caps)
    assert len(set(caps)) > 1 and lat[order[0]] > lat[order[-1]]


def test_lcpss_extremes_on_vgg16(vgg16):
    # a = 1 weighs traffic only: no location beyond the initial {first, last} is worth adding
    assert LCPSS(vgg16, 4, alpha=1.0).search() == [0, 17]
    # a = 0 weighs operations only: every cut that removes halo recomputation is added; cuts in
    # front of a 2x2/stride-2 pool remove none (F = S), so 14 volumes, not the paper's 16
    zero = LCPSS(vgg16, 4, alpha=0.0).search()
    assert len(zero) == 14
    pools = [u.index for u in vgg16.units if u.kind == "maxpool"]
    assert not set(zero) & set(pools[:-1])
    counts = [len(LCPSS(vgg16, 4, alpha=a).search()) for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert counts == sorted(counts, reverse=True)  # smaller a -> more volumes (DE L262)


def test_epsilon_noise_schedule():
    noise = EpsilonGaussianNoise(3, variance=0.1, decay=1 / 250, seed=0)
    assert noise.epsilon == 1.0
    draws = np.array([noise() for _ in range(2000)])
    assert draws.std() == pytest.approx(np.sqrt(0.1), rel=0.1)
    noise.episode = 125
    assert noise.epsilon == pytest.approx(0.75)
    noise.episode = 250
    assert noise.epsilon == 0.0 and not np.any([noise() for _ in range(50)])
