"""The batched NPTP-v0 (envs/nptp_vector.py): the same observations, rewards and layouts as B
single envs fed the same actions; decode_batch equals decode."""

from __future__ import annotations

import numpy as np
import pytest

from splitgym.envs.nptp import NPTPEnv, decode
from splitgym.envs.nptp_vector import NPTPVectorEnv, decode_batch

KW = {"model": "vgg11", "input": 64}


def test_decode_batch_equals_decode_on_random_actions():
    rng = np.random.default_rng(0)
    for n, (h, w) in [(2, (64, 64)), (3, (5, 3)), (4, (37, 29)), (5, (7, 64))]:
        for k in range(1, n):
            acts = rng.uniform(-1.2, 1.2, (200, k, 3))
            acts[::7, :, 2] = rng.choice([-1.0, 1.0, 0.0], (len(acts[::7]), k))  # the extremes too
            got = decode_batch(acts, h, w)
            for a, g in zip(acts, got):
                assert [tuple(r) for r in g] == [tuple(r) for r in decode(a, h, w)]


@pytest.mark.parametrize("reward", ["relative", "neg_ms"])
def test_same_trajectories_as_single_envs(reward):
    B = 16
    vec = NPTPVectorEnv(B, reward=reward, **KW)
    singles = [NPTPEnv(reward=reward, **KW) for _ in range(B)]
    rng = np.random.default_rng(1)
    obs, _ = vec.reset(seed=0)
    assert np.array_equal(obs, np.stack([e.reset(seed=0)[0] for e in singles]))
    seen_infeasible = False
    for _ in range(3 * vec.env.episode_steps):
        a = rng.uniform(-1, 1, (B, 3))
        obs, r, term, trunc, infos = vec.step(a)
        outs = [e.step(x) for e, x in zip(singles, a)]
        assert np.array_equal(term, [o[2] for o in outs]) and not trunc.any()
        np.testing.assert_allclose(r, [o[1] for o in outs], rtol=1e-12)
        if term.all():
            assert np.array_equal(infos["final_obs"], np.stack([o[0] for o in outs]))
            np.testing.assert_allclose(infos["latency"], [o[4]["latency"] for o in outs], rtol=1e-12)
            seen_infeasible |= not infos["feasible"].all()
            assert np.array_equal(obs, np.stack([e.reset()[0] for e in singles]))
        else:
            assert np.array_equal(obs, np.stack([o[0] for o in outs]))
    assert seen_infeasible  # the penalty path was compared too


def test_bad_num_envs_is_one_line():
    with pytest.raises(ValueError, match="num_envs: must be an integer >= 1, got 0"):
        NPTPVectorEnv(0, **KW)
