"""``splitgym benchmark`` on HiDP-v0 splits (the planners' menu). The "latency" of an instance is
the env's own episode objective under ``reward="latency"``: the **mean latency of the episode's
requests** (arrival to finish, ``info["latency"]`` at truncation), in seconds, on the instance's
frozen arrivals. A planner is a baseline policy of ``agents/planners/nodes/hidp_policies.py``:
a fixed menu entry (``hidp``: HiDP's DP, ``disnet``, ``omniboost``, ``hidp-on-<node>``) or
``earliest-finish`` (the one-step look-ahead). A trained policy maps the observation to a menu
index: a run of ``splitgym train env=hidp env.split=hidp-v0/train`` plays on this split's env
rebuilt with its own menu, backlog scale and preview (what its observation and action mean); a
run on other devices than the split's is refused (its references are on those). The task's
``VecNormalize`` scales rewards only (``norm_obs=False``), so the policy reads raw observations."""

from __future__ import annotations

from typing import Any

import numpy as np
from omegaconf import OmegaConf

from splitgym.agents.bench_split_env import SplitEnvAdapter
from splitgym.agents.planners.nodes.hidp_menu import menu_names, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy
from splitgym.agents.tasks.hidp_task import menu_by_name
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.envs.splits import Split

__all__ = ["HiDPAdapter", "hidp_planners"]

#: a run's env keys that change what its policy observes or picks (with the task's defaults)
RUN_KEYS = {"menu": "planners", "backlog_scale": 1.0, "preview": False}


def hidp_planners(env: HiDPEnv) -> list[str]:
    """The baseline policies by name: every menu entry, then the one-step look-ahead."""
    return [*menu_names(env.nodes), "earliest-finish"]


class HiDPAdapter(SplitEnvAdapter):
    """HiDP-v0 on a split (see the module)."""

    def __init__(self, split: Split) -> None:
        super().__init__(split, HiDPEnv(split=split.name, menu=planner_menu))
        self._run_envs: dict[tuple[str, ...], HiDPEnv] = {}  # per run setting: its env on the split

    def policy_env(self, act: Any) -> HiDPEnv:
        cfg = getattr(act, "cfg", None)
        env = super().policy_env(act)
        if cfg is None or OmegaConf.select(cfg, "env.id") is None:
            return env
        devices = str(OmegaConf.select(cfg, "env.devices"))
        if devices != self.env.nodes.name:
            raise ConfigError(
                f"run {act.run}: env.devices={devices}, the split {self.split.name} is on {self.env.nodes.name}"
            )
        key = tuple(str(OmegaConf.select(cfg, f"env.{k}", default=d)) for k, d in RUN_KEYS.items())
        if key not in self._run_envs:
            menu, scale, preview = (
                OmegaConf.select(cfg, "env.menu", default="planners"),
                float(key[1]),
                key[2] == "True",
            )
            self._run_envs[key] = HiDPEnv(
                split=self.split.name, devices=devices, menu=menu_by_name(menu), backlog_scale=scale, preview=preview
            )
        return self._run_envs[key]

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
