"""splitgym/NPTP-v1: drawn instances, seeding, the graded penalty, the Markov observation, the env
checkers and the training knob (env.id)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hydra import compose, initialize_config_module
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.agents.tasks import get_task
from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.costmodels.tiles.tile_layouts import strips
from splitgym.envs.nptp import NPTPEnv
from splitgym.envs.nptp_v1 import NPTPv1Env, penalised_latency

SMALL = {"models": ["vgg11"], "inputs": [64]}
FIXED3 = {**SMALL, "devices": "nptp3", "n_devices": [3, 3], "bandwidth_mbps": [4.0, 4.0], "latency_ms": 0.0}


@pytest.fixture(scope="module")
def env() -> NPTPv1Env:
    return gym.make("splitgym/NPTP-v1", instances=SMALL).unwrapped


def rollout(env: NPTPv1Env, seed: int, actions: np.ndarray) -> list:
    obs, info = env.reset(seed=seed)
    out, done, k = [obs, info["instance"]], False, 0
    while not done:
        obs, r, done, _, info = env.step(actions[k])
        out += [obs, r]
        k += 1
    return out + [info["tiles"], info["latency"]]


def test_env_checkers_pass(env, recwarn):
    check_env(env)
    sb3_check_env(env, warn=True)
    assert not [w for w in recwarn if "splitgym" in str(w.filename)]


def test_same_seed_same_trajectory_different_seeds_different_instances(env):
    actions = np.random.default_rng(0).uniform(-1, 1, (8, 4))
    a, b = rollout(env, 7, actions), rollout(env, 7, actions)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y
    seen = [env.reset(seed=s)[1]["instance"] for s in range(30)]
    keys = {(len(i["devices"]), tuple(i["devices"]), i["bandwidth_mbps"]) for i in seen}
    assert len(keys) == 30  # thirty seeds, thirty instances
    assert {len(i["devices"]) for i in seen} == {3, 4, 5}


def test_one_point_distribution_is_v0s_instance_and_cost():
    """A fixed scenario is a one-point space; with the scatter off its latencies are v0's."""
    v1 = NPTPv1Env(instances=FIXED3, scatter=False)
    v0 = NPTPEnv(model="vgg11", input=64, devices="nptp3", bandwidth_mbps=4.0)
    rng = np.random.default_rng(1)
    for s in range(6):
        v1.reset(seed=s)
        assert sorted(v1.cluster.names) == sorted(v0.cluster.names)  # the same devices, drawn in any order
        done = False
        while not done:
            _, _, done, _, info = v1.step(rng.uniform(-1, 1, 4))
        tiles = dict(zip(v1.cluster.names, info["tiles"]))
        want = v0.model.score([tiles[n] for n in v0.cluster.names])
        assert info["model_latency"] == pytest.approx(want.latency, rel=1e-12)
        assert info["feasible"] == want.feasible and info["overflow_bytes"] == want.overflow


def test_penalty_grows_with_the_overflow():
    ref, full = 1.0, 1e6
    overs = np.linspace(0, 5e6, 50)
    pen = [penalised_latency(0.5, o, ref, full, 10.0) for o in overs]
    assert pen[0] == 0.5 and all(b > a for a, b in zip(pen, pen[1:]))
    # on the env: strips giving the nano ever more rows go ever further over its cap
    v1 = NPTPv1Env(instances=FIXED3)
    v1.reset(seed=0)
    nano = v1.cluster.names.index("nano-0")
    rewards, overs = [], []
    for rows in (30, 36, 42, 48, 54, 60):
        rest = 64 - rows
        sizes = [rest // 2, rest - rest // 2]
        layout = strips(64, 64, [rows, *sizes])
        order = [nano] + [d for d in range(3) if d != nano]
        s = v1.model.score([layout[order.index(d)] for d in range(3)])
        overs.append(s.overflow)
        rewards.append(v1.T_ref / v1.penalised(s))
    assert all(o > 0 for o in overs) and all(b > a for a, b in zip(overs, overs[1:]))
    assert all(b < a for a, b in zip(rewards, rewards[1:]))  # strictly decreasing in the overflow


def test_random_actions_no_longer_get_a_flat_reward(env):
    rng = np.random.default_rng(3)
    rs, overs = [], []
    for ep in range(60):
        env.reset(seed=ep)
        done = False
        while not done:
            _, r, done, _, info = env.step(rng.uniform(-1, 1, 4))
        if not info["feasible"]:
            rs.append(r)
            overs.append(info["overflow_bytes"])
    assert len(rs) > 20
    assert np.std(rs) > 0.05 and np.corrcoef(rs, overs)[0, 1] < -0.3


def test_observation_is_markov_for_four_devices():
    """Two histories leaving the same remainder with different tiles: v1 tells them apart."""
    v1 = NPTPv1Env(instances={**FIXED3, "devices": "nptp6", "n_devices": [4, 4]})
    obs = []
    for pick in (-1.0, 0.0):  # the first piece to the first or to the second remaining device
        v1.reset(seed=0)
        v1.step(np.array([-1.0, -1.0, -0.5, pick]))
        o, *_ = v1.step(np.array([-1.0, -1.0, -0.34, -1.0]))
        obs.append((o, v1.remainder))
    assert obs[0][1] == obs[1][1]  # same remainder
    assert not np.array_equal(obs[0][0], obs[1][0])  # different observations (v0's would be equal)


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"instances": {"n_devices": [1, 3]}}, "instances.n_devices: must lie in 2..6 (the pool's size), got [1, 3]"),
        ({"instances": {"bandwidth_mbps": [8, 1]}}, "instances.bandwidth_mbps: expected 0 < min <= max, got [8, 1]"),
        ({"instances": {"gpus": 3}}, "instances.gpus: unknown key"),
        ({"reward": "x"}, "reward: must be one of ('relative', 'neg_ms'), got 'x'"),
        ({"overflow_weight": 0}, "overflow_weight: must be a number > 0, got 0"),
    ],
)
def test_bad_arguments_are_one_line(kwargs, line):
    with pytest.raises(EnvArgumentError) as info:
        NPTPv1Env(**kwargs)
    assert str(info.value).startswith(line) and "\n" not in str(info.value)


def test_train_config_picks_v1_and_refuses_what_it_ignores():
    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(
            config_name="train",
            overrides=[
                "env=nptp",
                "env.id=splitgym/NPTP-v1",
                "model=vgg11",
                "model.input=64",
                "+env.instances.n_devices=[4,4]",
            ],
        )
        env = get_task(cfg.env.id).make_env(cfg)
        assert isinstance(env, NPTPv1Env) and env.space.n_devices == (4, 4) and env.space.models == ("vgg11",)
        bad = compose(config_name="train", overrides=["env=nptp", "env.id=splitgym/NPTP-v1", "env.bandwidth_mbps=2"])
        with pytest.raises(ConfigError, match="env.bandwidth_mbps: NPTP-v1 draws it per reset"):
            get_task(bad.env.id).make_env(bad)
        v0 = compose(config_name="train", overrides=["env=nptp", "+env.instances.n_devices=[4,4]"])
        with pytest.raises(ConfigError, match="env.instances: only splitgym/NPTP-v1 takes it"):
            get_task(v0.env.id).make_env(v0)


@pytest.mark.slow
def test_train_ppo_on_nptp_v1_exports_held_out_instances(tmp_path):
    """``splitgym train env=nptp env.id=splitgym/NPTP-v1``: the export runs the greedy policy on
    the held-out seeds' instances, next to CoEdge's LP rule and equal strips."""
    from splitgym.agents.tasks.nptp_v1_task import EVAL_SEEDS
    from splitgym.agents.train import train

    with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
        cfg = compose(
            config_name="train",
            overrides=["env=nptp", "env.id=splitgym/NPTP-v1", "agent=ppo", "episodes=30", "agent.kwargs.n_steps=32"]
            + ["model=vgg11", "model.input=64"],
        )
    summary = train(cfg, tmp_path / "run")
    rows = summary["instances"]
    assert [r["seed"] for r in rows] == list(EVAL_SEEDS) and summary["episodes"] >= 30
    fresh = NPTPv1Env(instances=SMALL)
    for r in rows[:3]:  # the instance each row names is the one its seed draws
        assert fresh.reset(seed=r["seed"])[1]["instance"]["devices"] == r["devices"]
        assert r["learned_ms"] > 0 and r["coedge_lp_ms"] > 0
    assert summary["speedup_vs_coedge_lp_median"] > 0 and 0.0 <= summary["feasible_share"] <= 1.0
