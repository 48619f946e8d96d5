"""``splitgym benchmark`` on HiDP-v0 splits (the planners' menu). The "latency" of an instance is
the env's own episode objective under ``reward="latency"``: the **mean latency of the episode's
requests** (arrival to finish, ``info["latency"]`` at truncation), in seconds, on the instance's
frozen arrivals. A planner is a baseline policy of ``agents/planners/nodes/hidp_policies.py``:
a fixed menu entry (``hidp``: HiDP's DP, ``disnet``, ``omniboost``, ``hidp-on-<node>``) or
``earliest-finish`` (the one-step look-ahead). A trained policy maps the observation to a menu
index (``experiments/hidp_env_ppo.py`` trains one but saves no run folder yet)."""

from __future__ import annotations

import numpy as np

from splitgym.agents.bench_split_env import SplitEnvAdapter
from splitgym.agents.planners.nodes.hidp_menu import menu_names, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.envs.splits import Split

__all__ = ["HiDPAdapter", "hidp_planners"]


def hidp_planners(env: HiDPEnv) -> list[str]:
    """The baseline policies by name: every menu entry, then the one-step look-ahead."""
    return [*menu_names(env.nodes), "earliest-finish"]


class HiDPAdapter(SplitEnvAdapter):
    """HiDP-v0 on a split (see the module)."""

    def __init__(self, split: Split) -> None:
        super().__init__(split, HiDPEnv(split=split.name, menu=planner_menu))

    def planner_latency(self, index: int, planner: str) -> float:
        known = hidp_planners(self.env)
        if planner not in known:
            raise ConfigError(f"target: {planner!r} is not a HiDP-v0 policy (known: {', '.join(known)})")
        policy = EarliestFinishPolicy() if planner == "earliest-finish" else FixedPolicy(planner)
        return self.policy_latency(index, lambda obs: policy.act(self.env, obs, {}))

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform menu picks."""
        rng = np.random.default_rng(seed)
        k = int(self.env.action_space.n)
        return min(self.policy_latency(index, lambda _o: rng.integers(k)) for _ in range(evaluations))
