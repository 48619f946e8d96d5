"""``splitgym benchmark`` on NPTP-v1 splits: the tile planners, random search and trained policies,
every latency the env's own (:meth:`NPTPv1Env.penalised` of the layout's score: the end-to-end
tile latency, plus the env's penalty when a layout is over a memory cap), in seconds."""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.agents.bench_split_env import SplitEnvAdapter
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.nptp_v1 import NPTPv1Env
from splitgym.envs.splits import Split

__all__ = ["NPTPAdapter", "NPTP_PLANNERS"]

#: planner -> its options. ``equal-strips`` is the env's own reference (``T_strips``); the grids
#: and MPA's budget are kept small so a split's references take minutes on two cores;
#: ``nptp-exact`` (grid 4) is refused past 1,000 candidates: 3 devices (252) pass, 4 (5,016) do not
NPTP_PLANNERS: dict[str, dict[str, Any]] = {
    "equal-strips": {},
    "coedge-lp": {},
    "coedge-strips": {"grid": 8},
    "grid": {"grid": 8},
    "nptp-mpa": {"iterations": 100},
    "nptp-exact": {"grid": 4, "max_candidates": 1_000},
}


class NPTPAdapter(SplitEnvAdapter):
    """NPTP-v1 on a split (see the module)."""

    def __init__(self, split: Split) -> None:
        super().__init__(split, NPTPv1Env(split=split.name))

    def planner_latency(self, index: int, planner: str) -> float:
        from splitgym.agents.planners import run_planner
        from splitgym.costmodels.tiles.tile_cost import plan_rects

        if planner not in NPTP_PLANNERS:
            raise ConfigError(f"target: planner {planner!r} is not an NPTP planner (known: {', '.join(NPTP_PLANNERS)})")
        self._reset(index)
        env = self.env
        if planner == "equal-strips":
            return float(env.T_ref)
        profiles = {d.board: p for d, p in zip(env.cluster.devices, env.model.profiles)}
        plan = run_planner(
            planner, env.graph, env.cluster, scatter=env.scatter, profiles=profiles, **NPTP_PLANNERS[planner]
        )
        return float(env.penalised(env.model.score(plan_rects(plan))))

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform actions in the env's box."""
        rng = np.random.default_rng(seed)
        return min(self.policy_latency(index, lambda _o: rng.uniform(-1.0, 1.0, 4)) for _ in range(evaluations))
