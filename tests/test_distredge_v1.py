"""DistrEdge-v1: instances drawn per reset (seeded), padding + mask, splits, the env checker."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import splitgym.envs  # noqa: F401  (registers the ids)
from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.envs.distredge_v1 import DistrEdgeV1Env
from splitgym.envs.distributions import DistrEdgeDistribution, load_distribution
from splitgym.envs.splits import get_split, instances_hash, list_splits, load_references

SMALL = {
    "name": "small",
    "models": [{"model": "vgg11", "input": 64}],
    "boards": ["nano", "xavier", "tx2"],
    "devices": [2, 4],
    "bandwidth_mbps": [50, 300],
    "max_devices": 5,
}


def _trajectory(env: gym.Env, seed: int, episodes: int = 4) -> list:
    env.action_space.seed(seed)
    out = []
    obs, info = env.reset(seed=seed)
    for _ in range(episodes):
        out.append((info["instance"], obs.tolist()))
        done = False
        while not done:
            obs, r, done, _, info = env.step(env.action_space.sample())
            out.append((obs.tolist(), r))
        obs, info = env.reset()
    return out


def test_same_seed_same_trajectory_other_seed_other_instances():
    a, b = DistrEdgeV1Env(distribution=SMALL), DistrEdgeV1Env(distribution=SMALL)
    assert _trajectory(a, 3) == _trajectory(b, 3)
    names = {n for seed in range(6) for n in [DistrEdgeV1Env(distribution=SMALL).reset(seed=seed)[1]["instance"]]}
    assert len(names) >= 4  # six seeds: (almost) six different clusters


def test_distribution_draws_cover_its_ranges():
    dist = DistrEdgeDistribution.from_mapping(SMALL)
    rng = np.random.default_rng(0)
    draws = [dist.sample(rng) for _ in range(200)]
    counts = {len(sc.devices["devices"]) for sc in draws}
    caps = [m for sc in draws for m in sc.network["per_device_mbps"]]
    assert counts == {2, 3, 4}
    assert 50 <= min(caps) < 70 and 250 < max(caps) <= 300


def test_padding_and_mask_follow_the_device_count():
    env = DistrEdgeV1Env(distribution=SMALL)
    M = env.M
    assert env.observation_space.shape == (2 * M + 4,) and env.action_space.shape == (M - 1,)
    seen = set()
    for seed in range(12):
        obs, info = env.reset(seed=seed)
        n = info["n_devices"]
        seen.add(n)
        assert obs[M + 4 :].tolist() == [1.0] * n + [0.0] * (M - n)
        obs, *_ = env.step(np.full(M - 1, 0.3, dtype=np.float32))
        assert np.all(obs[n:M] == 0) and (n == 1 or obs[:n].any())
    assert len(seen) >= 2


def test_padded_action_entries_are_ignored():
    env = DistrEdgeV1Env(split="distredge-v1/train", instance=4)  # 2 devices: one cut used
    env.reset(seed=0)
    assert env.inner.N == 2
    lat = []
    for tail in (-1.0, 0.7):
        env.reset()
        done = False
        while not done:
            a = np.array([0.2, tail, tail, tail], dtype=np.float32)
            _, _, done, _, info = env.step(a)
        lat.append(info["latency"])
    assert lat[0] == lat[1]


def test_env_checker_passes_and_make_by_id():
    check_env(DistrEdgeV1Env(distribution=SMALL), skip_render_check=True)
    env = gym.make("splitgym/DistrEdge-v1", split="distredge-v1/val")
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs) and info["instance"]


def test_fixed_scenario_is_a_one_point_distribution():
    env = DistrEdgeV1Env(scenario="vgg11-DB-300-small")
    names = {env.reset(seed=s)[1]["instance"] for s in range(3)}
    assert names == {"vgg11-DB-300-small"} and env.M == 4


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(EnvArgumentError, match="give one of"):
        DistrEdgeV1Env(distribution=SMALL, split="distredge-v1/test")
    with pytest.raises(EnvArgumentError, match="instance"):
        DistrEdgeV1Env(split="distredge-v1/test", instance=99)
    with pytest.raises(EnvArgumentError, match="unknown key 'boardz'"):
        load_distribution({**SMALL, "boardz": ["nano"]})
    with pytest.raises(EnvArgumentError, match="max_devices"):
        load_distribution(SMALL, max_devices=3)
    with pytest.raises(ConfigError, match="unknown split"):
        get_split("distredge-v1/nope")


def test_splits_are_listed_versioned_and_held_out():
    assert {"distredge-v1/train", "distredge-v1/val", "distredge-v1/test"} <= set(list_splits())
    train, test = get_split("distredge-v1/train"), get_split("distredge-v1/test")
    assert train.version == 1 and train.env_id == "splitgym/DistrEdge-v1"
    assert not {sc.name for sc in train.instances} & {sc.name for sc in test.instances}
    train_models = {sc.model for sc in train.instances}
    for sc, tags in zip(test.instances, test.held_out):
        if "model" in tags:
            assert sc.model not in train_models
        if "bandwidth" in tags:
            assert max(sc.network["per_device_mbps"]) < min(
                m for t in train.instances for m in t.network["per_device_mbps"]
            )
        if "cluster" in tags:
            assert len(sc.devices["devices"]) > max(len(t.devices["devices"]) for t in train.instances)
    refs = load_references("distredge-v1/test")
    assert set(refs) >= {sc.name for sc in test.instances} and "aofl" in refs[test.instances[0].name]


def test_an_edited_split_is_refused(tmp_path):
    from splitgym.envs.splits import SPLITS_DIR

    doc = json.loads((SPLITS_DIR / "distredge-v1" / "test.json").read_text())
    assert doc["sha256"] == instances_hash(doc["instances"])
    doc["instances"][0]["scenario"]["alpha"] = 0.5
    path = tmp_path / "test.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="sha256"):
        get_split("distredge-v1/test", path=path)


def test_train_config_builds_the_env_and_refuses_two_sources():
    from hydra import compose, initialize_config_module

    from splitgym.agents.tasks import get_task

    def cfg(*overrides: str):
        with initialize_config_module(version_base="1.3", config_module="splitgym.conf"):
            return compose(config_name="train", overrides=["env=distredge_v1", *overrides])

    task = get_task("splitgym/DistrEdge-v1")
    env = task.make_env(cfg("env.split=distredge-v1/val", "env.instance=1", "env.max_devices=6"))
    assert env.source_label == "distredge-v1/val[1]" and env.M == 6
    env = task.make_env(cfg("env.split=null", "env.distribution=distredge-mixed"))
    assert env.source_label == "distredge-mixed"
    with pytest.raises(EnvArgumentError, match="give one of distribution, split or scenario"):
        task.make_env(cfg("env.distribution=distredge-mixed"))


def test_a_warm_cache_keeps_the_trajectory_and_matches_a_fresh_v0_env(monkeypatch: pytest.MonkeyPatch):
    """Profiles and LC-PSS partitions reused across instances change nothing an agent sees."""
    from splitgym.envs import distredge_v1
    from splitgym.envs.distredge import DistrEdgeEnv

    warm = DistrEdgeV1Env(distribution=SMALL)
    for seed in range(8):  # fills the LRU with this distribution's boards and device counts
        warm.reset(seed=100 + seed)
    assert warm._profiles  # something was cached to be reused
    assert _trajectory(warm, 3) == _trajectory(DistrEdgeV1Env(distribution=SMALL), 3)
    sc = warm.inner.scenario
    fresh = DistrEdgeEnv(sc, reward="relative")
    assert warm.inner.partition == fresh.partition and warm.inner.T_equal == fresh.T_equal
    monkeypatch.setattr(distredge_v1, "PROFILE_CACHE", 3)
    small = DistrEdgeV1Env(distribution=SMALL)
    for seed in range(6):
        small.reset(seed=seed)
        assert len(small._profiles) <= 3  # bounded
    assert _trajectory(small, 3) == _trajectory(DistrEdgeV1Env(distribution=SMALL), 3)
