"""Every registered ``splitgym/`` id against its seeding contract (issue #18 item 1): the v1 ids
and HiDP-v0 draw different instances for different seeds and replay the same trajectory for the
same seed; the v0 ids are one-point distributions by design (the same instance every seed), and
each has a v1 id for variety. The ids come from gymnasium's registry, so a new one cannot be
missed: it fails here until it is given a row of ``SPEC``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import splitgym.envs  # noqa: F401  (registers the ids)

Key = Callable[[Any], Any]

#: id -> (contract, make kwargs, what the instance of the last reset is)
SPEC: dict[str, tuple[str, dict[str, Any], Key]] = {
    "splitgym/DistrEdge-v0": ("one-point", {}, lambda e: e.scenario.name),
    "splitgym/DistrEdge-v1": ("draws", {"split": "distredge-v1/train"}, lambda e: e.inner.scenario.name),
    "splitgym/NPTP-v0": ("one-point", {}, lambda e: (tuple(e.cluster.names), e.graph.name, e.H)),
    "splitgym/NPTP-v1": ("draws", {"split": "nptp-v1/train"}, lambda e: repr(e.instance)),
    "splitgym/MSMDI-v0": ("one-point", {}, lambda e: (tuple(e.system.rates), tuple(e.system.alive or ()))),
    "splitgym/MSMDI-v1": (
        "draws",
        {"split": "msmdi-v1/train"},
        lambda e: (tuple(e.system.rates), tuple(e.system.alive or ()), e.episode_seed),
    ),
    "splitgym/HiDP-v0": ("draws", {"requests": 8}, lambda e: (tuple(e.models), tuple(e.arrivals))),
}
IDS = sorted(k for k in gym.registry if k.startswith("splitgym/"))
SEEDS = range(4)
#: ids whose instances take seconds each to build (tile cost tables: ~5 s for the test)
SLOW = {"splitgym/NPTP-v1"}


def test_every_registered_id_has_a_seeding_contract():
    missing = [i for i in IDS if i not in SPEC]
    assert not missing, f"add a SPEC row (contract, kwargs, instance key) for {missing}"


def _trajectory(env: gym.Env, seed: int, steps: int = 12) -> list[Any]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out: list[Any] = [obs]
    for _ in range(steps):
        obs, reward, term, trunc, _ = env.step(env.action_space.sample())
        out += [obs, reward]
        if term or trunc:
            break
    return out


@pytest.mark.parametrize("env_id", [pytest.param(i, marks=pytest.mark.slow) if i in SLOW else i for i in IDS])
def test_seeds_draw_instances_and_replay_trajectories(env_id):
    contract, kwargs, key = SPEC[env_id]
    env = gym.make(env_id, **kwargs)
    keys = []
    for s in SEEDS:
        env.reset(seed=s)
        keys.append(key(env.unwrapped))
    if contract == "draws":
        assert len(set(keys)) >= len(keys) - 1, f"{env_id}: seeds {list(SEEDS)} drew only {len(set(keys))} instances"
    else:  # a fixed scenario: the one-point distribution, with a v1 id to draw from instead
        assert len(set(keys)) == 1, f"{env_id}: a v0 id must give its one instance every seed"
        assert env_id.replace("-v0", "-v1") in gym.registry
    first, again = _trajectory(env, 3), _trajectory(env, 3)
    assert len(first) == len(again) > 2
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
