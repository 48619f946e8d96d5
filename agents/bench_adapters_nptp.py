"""``splitgym benchmark`` on NPTP-v1 splits: the tile planners, random search and trained policies,
every latency the env's own (:meth:`NPTPv1Env.penalised` of the layout's score: the end-to-end
tile latency, plus the env's penalty when a layout is over a memory cap), in seconds. The
planners plan with the instance's memory caps (as NPTP's MPA does)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from splitgym.agents.bench_split_env import SplitEnvAdapter
from splitgym.costmodels.atomic import atomic_write
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
        self._tmp = tempfile.TemporaryDirectory(prefix="splitgym-nptp-caps-")

    def policy_env(self, act: Any) -> NPTPv1Env:
        """A trained run (``splitgym train env=nptp env.id=splitgym/NPTP-v1 env.split=nptp-v1/train``)
        plays the split's env; one trained on Eq. 9 alone (``env.scatter=false``) is refused: the
        split's references and this env score the end-to-end latency."""
        env = super().policy_env(act)
        if OmegaConf.select(getattr(act, "cfg", None) or OmegaConf.create({}), "env.scatter") is False:
            raise ConfigError(f"run {act.run}: env.scatter=false, the split {self.split.name} scores with the scatter")
        return env

    def planner_latency(self, index: int, planner: str) -> float:
        from splitgym.agents.planners import run_planner
        from splitgym.costmodels.tiles.tile_cost import plan_rects
        from splitgym.costmodels.tiles.tile_layouts import equal_strips

        if planner not in NPTP_PLANNERS:
            raise ConfigError(f"target: planner {planner!r} is not an NPTP planner (known: {', '.join(NPTP_PLANNERS)})")
        self._reset(index)
        env = self.env
        if planner == "equal-strips":  # the env's T_strips layout, scored as any layout (penalty included)
            return float(env.penalised(env.model.score(equal_strips(env.H, env.W, env.N))))
        profiles = {d.board: p for d, p in zip(env.cluster.devices, env.model.profiles)}
        opts = {**NPTP_PLANNERS[planner], "caps": self._caps_file(index)}
        plan = run_planner(planner, env.graph, env.cluster, scatter=env.scatter, profiles=profiles, **opts)
        return float(env.penalised(env.model.score(plan_rects(plan))))

    def _caps_file(self, index: int) -> str:
        """The instance's devices as a device-group file: the planners read their memory caps
        from one (``caps=<path>``); the cluster an instance builds carries none, so without it
        they would plan as if uncapped and the env would penalise their layouts."""
        import yaml

        path = Path(self._tmp.name) / f"caps-{self.index[index]}.yaml"
        if not path.exists():
            devices = [dict(d) for d in self.split.instances[index].value.devices]
            atomic_write(path, yaml.safe_dump({"name": "nptp-v1-instance", "devices": devices}))
        return str(path)

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform actions in the env's box."""
        rng = np.random.default_rng(seed)
        return min(self.policy_latency(index, lambda _o: rng.uniform(-1.0, 1.0, 4)) for _ in range(evaluations))
