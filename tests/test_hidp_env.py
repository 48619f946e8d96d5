"""splitgym/HiDP-v0: both env checkers, seeding, load, availability, rewards and the baselines."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.agents.planners.nodes.hidp_menu import BASELINES, menu_names, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy, run_episode
from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.envs.hidp_env import HiDPEnv

SMALL = {"models": ("resnet18",), "rates": (40.0,), "requests": 12}


@pytest.fixture(scope="module")
def planned() -> HiDPEnv:
    return HiDPEnv(menu=planner_menu, **SMALL)


def test_registered_env_passes_both_checkers():
    env = gym.make("splitgym/HiDP-v0", **SMALL)
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped)
    assert env.action_space.n == env.unwrapped.nodes.size + 1  # template menu: a node each + data mode


def test_planner_menu_env_passes_both_checkers(planned):
    gym_check_env(planned, skip_render_check=True)
    sb3_check_env(planned)
    assert planned.action_space.n == len(menu_names(planned.nodes))


def _rollout(env: HiDPEnv, seed: int) -> tuple[list[float], list[float], np.ndarray]:
    obs, info = env.reset(seed=seed)
    times, rewards, done, k = [info["t_s"]], [], False, 0
    while not done:
        obs, r, term, trunc, info = env.step(k % env.K)
        rewards.append(r)
        done, k = term or trunc, k + 1
        times.append(info.get("t_s", -1.0))
    return times, rewards, obs


def test_same_seed_same_trajectory_other_seed_other_arrivals():
    env = HiDPEnv(**SMALL)
    t1, r1, o1 = _rollout(env, 3)
    t2, r2, o2 = _rollout(env, 3)
    t3, _, _ = _rollout(env, 4)
    assert t1 == t2 and r1 == r2 and np.array_equal(o1, o2)
    assert t1 != t3


def test_queueing_a_request_behind_another_costs_latency():
    env = HiDPEnv(models=("resnet18",), rates=(1.0,), trace=[[0.0, 0], [0.0, 0], [5.0, 0]], start=0.0)
    env.reset(seed=0)
    lat = [env.step(0)[4]["latency_s"] for _ in range(3)]
    assert lat[1] > lat[0] * 1.5  # the second waits for the first on the same processors
    assert lat[2] == pytest.approx(lat[0])  # 5 s later the cluster is idle again


def test_backlog_shows_in_the_observation():
    env = HiDPEnv(models=("resnet18",), rates=(1.0,), trace=[[0.0, 0], [0.0, 0]], start=0.0)
    obs0, _ = env.reset(seed=0)
    obs1 = env.step(0)[0]
    n_back = env.N * env.P
    assert obs0[:n_back].max() == 0.0 and obs1[:n_back].max() > 0.0
    assert env.observation_space.contains(obs1)


def test_throughput_reward_sums_to_minus_the_makespan():
    trace = [[0.0, 0], [0.001, 0], [0.002, 0]]
    env = HiDPEnv(models=("resnet18",), rates=(1.0,), trace=trace, start=0.0, reward="throughput")
    env.reset(seed=0)
    total = sum(env.step(1)[1] for _ in range(3))
    last_end = max(r.end for _, r in env.results)
    assert total == pytest.approx(-last_end / env.ref["resnet18"])


def test_nodes_away_get_no_rows_and_their_entries_are_masked(planned):
    planned.start = 25.0  # hidp-dynamic: the TX2 is away from 20 s to 60 s
    try:
        _, info = planned.reset(seed=0)
        names = menu_names(planned.nodes)
        tx2 = planned.nodes.names.index("tx2")
        assert not info["action_mask"][names.index("hidp-on-tx2")] and info["action_mask"][0]
        hidp_plan = planned.plans(planned.models[0], planned.mask(info["t_s"]))[0]
        assert all(v.rows[tx2 + 1] == v.rows[tx2] for v in hidp_plan.volumes)
    finally:
        planned.start = None


@pytest.mark.parametrize("name", BASELINES)
def test_a_baseline_policy_runs_its_own_plan(planned, name):
    out = run_episode(planned, FixedPolicy(name), seed=1)
    assert out["picks"] == {name: SMALL["requests"]}
    assert out["mean_latency_ms"] > 0 and np.isfinite(out["return"])


def test_earliest_finish_picks_the_entry_that_ends_first(planned):
    planned.reset(seed=2)
    for _ in range(4):
        pol = EarliestFinishPolicy()
        a = pol.act(planned, None, {})
        ends = [planned.preview(k).end for k in range(planned.K)]
        assert ends[a] == min(ends)
        info = planned.step(a)[4]
        assert info["latency_s"] + planned.results[-1][1].start == pytest.approx(ends[a])


def test_unknown_baseline_is_refused_in_one_line(planned):
    planned.reset(seed=0)
    with pytest.raises(ConfigError, match="policy: no menu entry 'nope'"):
        FixedPolicy("nope").act(planned, None, {})


@pytest.mark.parametrize(
    "kwargs, err, field",
    [
        ({"reward": "speed"}, EnvArgumentError, "reward"),
        ({"rates": (1.0, 2.0)}, ConfigError, "rates"),
        ({"rates": (-1.0,)}, ConfigError, "rates"),
        ({"requests": 0}, ConfigError, "requests"),
        ({"trace": [[0.0, 3]]}, ConfigError, "trace.0"),
        ({"backlog_scale": 0.0}, ConfigError, "backlog_scale"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(kwargs, err, field):
    with pytest.raises(err, match=f"^{field}:") as exc:
        HiDPEnv(**{**SMALL, **kwargs})
    assert "\n" not in str(exc.value)


def test_bad_action_is_refused():
    env = HiDPEnv(**SMALL)
    env.reset(seed=0)
    with pytest.raises(EnvArgumentError, match="^action:"):
        env.step(env.K)


def test_preview_features_rank_the_entries_as_earliest_finish_does():
    env = HiDPEnv(**SMALL, preview=True)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env)
    plain = HiDPEnv(**SMALL).observation_space.shape[0]
    assert env.observation_space.shape == (plain + env.K,)
    obs, _ = env.reset(seed=5)
    for _ in range(6):
        ahead = obs[plain:]
        a = EarliestFinishPolicy().act(env, obs, {})
        assert ahead[a] == ahead.min() and ahead.max() > 0
        obs = env.step(a)[0]
