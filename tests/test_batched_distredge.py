"""The batched DistrEdge-v0 vector envs (SB3 VecEnv and Gymnasium VectorEnv) against B single envs."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.distredge_gym_vec import DistrEdgeVectorEnv
from splitgym.envs.distredge_sb3_vec import DistrEdgeVecEnv

# (env kwargs, B): Eq. 9 cuts on the default 3 volumes, every layer its own volume (18 steps),
# the share action, and another cluster with another reward
CASES = [
    ({}, 4),
    ({"partition": "layers"}, 5),
    ({"action": "shares", "reward": "relative"}, 8),
    ({"devices": "DC", "reward": "neg_ms", "partition": "layers"}, 6),
]
EPISODES = 4


def _actions(kwargs: dict, B: int, seed: int) -> np.ndarray:
    """Random actions for EPISODES episodes of B instances (a few outside [-1, 1]: both clip)."""
    env = DistrEdgeEnv(**kwargs)
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.1, 1.1, (EPISODES * env.L, B, env.action_space.shape[0])).astype(np.float32)


@pytest.mark.parametrize(("kwargs", "B"), CASES)
def test_sb3_vecenv_matches_dummy_vec_env(kwargs: dict, B: int) -> None:
    ref = DummyVecEnv([lambda: DistrEdgeEnv(**kwargs) for _ in range(B)])
    vec = DistrEdgeVecEnv(B, **kwargs)
    ref.seed(3)
    vec.seed(3)
    np.testing.assert_array_equal(vec.reset(), ref.reset())
    ends = 0
    for a in _actions(kwargs, B, seed=B):
        o1, r1, d1, i1 = ref.step(a)
        o2, r2, d2, i2 = vec.step(a)
        np.testing.assert_allclose(o2, o1, rtol=1e-6, atol=0)
        np.testing.assert_allclose(r2, r1, rtol=1e-6, atol=0)
        np.testing.assert_array_equal(d2, d1)
        for x, y in zip(i1, i2):
            assert y["TimeLimit.truncated"] == x["TimeLimit.truncated"] and y["volume"] == x["volume"]
            if x.get("latency") is not None:
                np.testing.assert_array_equal(y["rows"], x["rows"])
                np.testing.assert_allclose(y["latency"], x["latency"], rtol=1e-12)
                np.testing.assert_array_equal(y["decision"], x["decision"])
                np.testing.assert_allclose(y["terminal_observation"], x["terminal_observation"], rtol=1e-6)
                assert y["equal_latency"] == pytest.approx(x["equal_latency"], rel=1e-12)
        ends += int(d1.all())
    assert ends == EPISODES


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize(("kwargs", "B"), CASES[1:3])
def test_gym_vector_env_matches_sync_vector_env(kwargs: dict, B: int, mode: AutoresetMode) -> None:
    ref = SyncVectorEnv([lambda: DistrEdgeEnv(**kwargs) for _ in range(B)], autoreset_mode=mode)
    vec = DistrEdgeVectorEnv(B, autoreset_mode=mode, **kwargs)
    o1, i1 = ref.reset(seed=7)
    o2, i2 = vec.reset(seed=7)
    np.testing.assert_array_equal(o2, o1)
    np.testing.assert_array_equal(i2["volume"], i1["volume"])
    for a in _actions(kwargs, B, seed=11):
        o1, r1, t1, u1, i1 = ref.step(a)
        o2, r2, t2, u2, i2 = vec.step(a)
        np.testing.assert_allclose(o2, o1, rtol=1e-6, atol=0)
        np.testing.assert_allclose(r2, r1, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(t2, t1)
        np.testing.assert_array_equal(u2, u1)
        assert set(i1) - {"cuts", "_cuts"} == set(i2) - {"cuts", "_cuts"}
        final1, final2 = i1.get("final_info", i1), i2.get("final_info", i2)
        if "latency" in final1:
            np.testing.assert_allclose(final2["latency"], final1["latency"], rtol=1e-12)
            np.testing.assert_array_equal(final2["decision"], final1["decision"])
        if "final_obs" in i1:
            np.testing.assert_allclose(np.stack(i2["final_obs"]), np.stack(i1["final_obs"]), rtol=1e-6)


def test_single_env_passes_sb3_check_env() -> None:
    sb3_check_env(DistrEdgeEnv(partition="layers"), warn=True)


def test_vecenv_shapes_autoreset_and_seeding() -> None:
    B = 16
    vec = DistrEdgeVecEnv(B, partition="layers")
    L, n_obs = vec.batch.L, vec.observation_space.shape[0]
    assert vec.seed(5) == [5 + i for i in range(B)]
    obs = vec.reset()
    assert obs.shape == (B, n_obs) and obs.dtype == np.float32
    assert vec.reset_infos[0] == {"volume": 0, "clock": 0.0}
    first = vec.get_attr("np_random")[1].random()
    vec.seed(5)
    vec.reset()
    assert vec.get_attr("np_random")[1].random() == first  # same seed, same generator
    a = np.zeros((B, vec.action_space.shape[0]), dtype=np.float32)
    for step in range(L):
        obs, rew, done, infos = vec.step(a)
        assert rew.shape == (B,) and rew.dtype == np.float32 and done.shape == (B,)
        assert done.all() == (step == L - 1)
    # autoreset: the first observation of the next episode, the last one kept in the info
    np.testing.assert_array_equal(obs, vec.reset())
    assert not np.array_equal(infos[0]["terminal_observation"], obs[0])
    assert all(c > 0 for c in vec.get_attr("clock"))


def test_vec_monitor_records_the_episodes() -> None:
    vec = VecMonitor(DistrEdgeVecEnv(3, reward="relative"))
    vec.reset()
    for _ in range(vec.unwrapped.batch.L):
        _, rew, done, infos = vec.step(np.zeros((3, vec.action_space.shape[0]), dtype=np.float32))
    assert done.all() and [i["episode"]["l"] for i in infos] == [vec.unwrapped.batch.L] * 3
    assert [i["episode"]["r"] for i in infos] == pytest.approx(rew.tolist(), rel=1e-6)


def test_refused_arguments_name_field_and_value() -> None:
    with pytest.raises(EnvArgumentError, match="num_envs: must be an integer >= 1, got 0"):
        DistrEdgeVecEnv(0)
    with pytest.raises(EnvArgumentError, match="network: the batched env needs a static network"):
        DistrEdgeVecEnv(2, scenario="vgg16-dynamic-nano")
    with pytest.raises(EnvArgumentError, match="render_mode: the batched env does not render, got 'ansi'"):
        DistrEdgeVectorEnv(2, render_mode="ansi")
    with pytest.raises(EnvArgumentError, match="autoreset_mode: must be one of"):
        DistrEdgeVectorEnv(2, autoreset_mode="later")
    vec = DistrEdgeVecEnv(2)
    with pytest.raises(ValueError, match=r"actions: expected \(2, 3\) finite values"):
        vec.step(np.zeros((2, 2)))
    with pytest.raises(AttributeError, match="set_attr: 'reward_mode' cannot be set per instance"):
        vec.set_attr("reward_mode", "relative")
    gym_vec = DistrEdgeVectorEnv(2, autoreset_mode="Disabled")
    with pytest.raises(ValueError, match="reset_mask: the instances run in lockstep"):
        gym_vec.reset(options={"reset_mask": np.array([True, False])})


def test_disabled_autoreset_needs_reset() -> None:
    vec = DistrEdgeVectorEnv(3, autoreset_mode=AutoresetMode.DISABLED)
    vec.reset(seed=0)
    for _ in range(vec.batch.L):
        *_, infos = vec.step(vec.action_space.sample())
    assert infos["_latency"].all()
    with pytest.raises(RuntimeError, match="call reset"):
        vec.step(vec.action_space.sample())
    obs, _ = vec.reset(options={"reset_mask": np.ones(3, dtype=bool)})
    assert obs.shape == (3, vec.single_observation_space.shape[0])


def test_ppo_learns_on_the_batched_vecenv() -> None:
    vec = DistrEdgeVecEnv(32, reward="relative")
    model = PPO("MlpPolicy", vec, n_steps=6, batch_size=64, n_epochs=2, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=384)
    assert model.num_timesteps == 384
    assert any(not np.array_equal(b.numpy(), p.detach().numpy()) for b, p in zip(before, model.policy.parameters()))
