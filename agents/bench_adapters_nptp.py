"""``splitgym benchmark`` on NPTP-v1 splits: the tile planners, random search and trained policies,
every latency the env's own (:meth:`NPTPv1Env.penalised` of the layout's score: the end-to-end
tile latency, plus the env's penalty when a layout is over a memory cap), in seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.envs.nptp_v1 import NPTPv1Env
from splitgym.envs.splits import Split, get_split

__all__ = ["NPTPAdapter", "NPTP_PLANNERS", "split_index"]

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


def split_index(split: Split) -> list[int]:
    """Per instance of ``split`` (maybe a subset), its index in the named split's file: what
    ``reset(options={"instance": i})`` of an env built on the whole split takes."""
    full = [i.name for i in get_split(split.name).instances]
    return [full.index(i.name) for i in split.instances]


class NPTPAdapter:
    """NPTP-v1 on a split (see the module)."""

    def __init__(self, split: Split) -> None:
        self.split = split
        self.env = NPTPv1Env(split=split.name)
        self.index = split_index(split)

    def instance_names(self) -> list[str]:
        return [i.name for i in self.split.instances]

    def _reset(self, j: int) -> np.ndarray:
        return self.env.reset(options={"instance": self.index[j]})[0]

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

    def policy_latency(self, index: int, act: Callable[[np.ndarray], Any]) -> float:
        obs = self._reset(index)
        if obs.shape != self.env.observation_space.shape:
            raise SplitgymError(f"policy: observation {obs.shape} does not fit")
        done, info = False, {}
        while not done:
            try:
                obs, _, done, _, info = self.env.step(act(obs))
            except ValueError as exc:
                raise SplitgymError(f"policy: its action does not fit NPTP-v1 ({exc})") from None
        return float(info["latency"])

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform actions in the env's box."""
        rng = np.random.default_rng(seed)
        return min(self.policy_latency(index, lambda _o: rng.uniform(-1.0, 1.0, 4)) for _ in range(evaluations))
