"""Baseline policies over ``splitgym/HiDP-v0`` and the loop that runs any policy for an episode.

* :class:`FixedPolicy`: always the named menu entry, e.g. ``hidp`` (HiDP's DP re-planned for the
  nodes available at each arrival, blind to the load), ``disnet``, ``omniboost``;
* :class:`EarliestFinishPolicy`: the entry whose request would finish first on the current
  timelines (:meth:`HiDPEnv.preview`): a one-step look-ahead that sees the load, the scheduler a
  learnt policy should at least match;
* :class:`RandomPolicy`: a uniform entry (seeded).

A policy maps ``(env, obs, info)`` to an action; an SB3 model is wrapped by :class:`ModelPolicy`.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from splitgym.agents.planners.nodes.hidp_menu import menu_names
from splitgym.costmodels.errors import ConfigError

__all__ = ["Policy", "FixedPolicy", "EarliestFinishPolicy", "RandomPolicy", "ModelPolicy", "run_episode"]


class Policy(Protocol):
    name: str

    def act(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> int: ...


class FixedPolicy:
    """Always the menu entry ``entry`` (a name of :func:`menu_names`)."""

    def __init__(self, entry: str) -> None:
        self.name = entry

    def act(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> int:
        names = menu_names(env.unwrapped.nodes)  # type: ignore[attr-defined]
        if self.name not in names:
            raise ConfigError(f"policy: no menu entry {self.name!r} (entries: {', '.join(names)})")
        return names.index(self.name)


class EarliestFinishPolicy:
    """The entry whose request ends first given the work already placed (ties: the lower index)."""

    name = "earliest-finish"

    def act(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> int:
        base = env.unwrapped
        ends = [base.preview(a).end for a in range(base.action_space.n)]  # type: ignore[attr-defined]
        return int(np.argmin(ends))


class RandomPolicy:
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> int:
        return int(self.rng.integers(env.action_space.n))  # type: ignore[attr-defined]


class ModelPolicy:
    """A trained SB3 model, deterministic."""

    def __init__(self, model: Any, name: str = "ppo") -> None:
        self.model, self.name = model, name

    def act(self, env: gym.Env, obs: np.ndarray, info: dict[str, Any]) -> int:
        action, _ = self.model.predict(obs, deterministic=True)
        return int(action)


def run_episode(env: gym.Env, policy: Policy, seed: int) -> dict[str, Any]:
    """One episode of ``policy`` from ``reset(seed=seed)``: return, mean latency, throughput and
    how often each menu entry was picked."""
    obs, info = env.reset(seed=seed)
    total, picks = 0.0, {}
    while True:
        action = policy.act(env, obs, info)
        obs, reward, term, trunc, info = env.step(action)
        total += reward
        picks[info["method"]] = picks.get(info["method"], 0) + 1
        if term or trunc:
            return {
                "policy": policy.name,
                "seed": seed,
                "return": total,
                "mean_latency_ms": info["latency"] * 1e3,
                "throughput_rps": info["throughput"],
                "picks": picks,
            }
