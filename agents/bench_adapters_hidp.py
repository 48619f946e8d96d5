"""``splitgym benchmark`` on HiDP-v0 splits (the planners' menu). The "latency" of an instance is
the env's own episode objective under ``reward="latency"``: the **mean latency of the episode's
requests** (arrival to finish, ``info["latency"]`` at truncation), in seconds, on the instance's
frozen arrivals. A planner is a baseline policy of ``agents/planners/nodes/hidp_policies.py``:
a fixed menu entry (``hidp``: HiDP's DP, ``disnet``, ``omniboost``, ``hidp-on-<node>``) or
``earliest-finish`` (the one-step look-ahead)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from splitgym.agents.bench_adapters_nptp import split_index
from splitgym.agents.planners.nodes.hidp_menu import menu_names, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy, Policy
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.envs.splits import Split

__all__ = ["HiDPAdapter", "hidp_planners"]


def hidp_planners(env: HiDPEnv) -> list[str]:
    return [*menu_names(env.nodes), "earliest-finish"]


class _ActPolicy:
    name = "act"

    def __init__(self, act: Callable[[np.ndarray], Any]) -> None:
        self.fn = act

    def act(self, env: Any, obs: np.ndarray, info: dict[str, Any]) -> int:
        return int(np.asarray(self.fn(obs)).reshape(-1)[0])


class HiDPAdapter:
    """HiDP-v0 on a split (see the module)."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.env = HiDPEnv(split=split.name, menu=planner_menu)
        self.index = split_index(split)

    def instance_names(self) -> list[str]:
        return [i.name for i in self.split.instances]

    def _episode(self, j: int, policy: Policy) -> float:
        obs, info = self.env.reset(options={"instance": self.index[j]})
        while True:
            try:
                obs, _, _, trunc, info = self.env.step(policy.act(self.env, obs, info))
            except ConfigError as exc:
                raise SplitgymError(f"policy: its action does not fit HiDP-v0 ({exc})") from None
            if trunc:
                return float(info["latency"])

    def planner_latency(self, index: int, planner: str) -> float:
        known = hidp_planners(self.env)
        if planner not in known:
            raise ConfigError(f"target: {planner!r} is not a HiDP-v0 policy (known: {', '.join(known)})")
        policy = EarliestFinishPolicy() if planner == "earliest-finish" else FixedPolicy(planner)
        return self._episode(index, policy)

    def policy_latency(self, index: int, act: Callable[[np.ndarray], Any]) -> float:
        return self._episode(index, _ActPolicy(act))

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform menu picks."""
        rng = np.random.default_rng(seed)
        k = int(self.env.action_space.n)
        return min(self.policy_latency(index, lambda _o: rng.integers(k)) for _ in range(evaluations))
