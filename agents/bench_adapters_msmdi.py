"""``splitgym benchmark`` on MSMDI-v1 splits. The "latency" of an instance is the env's own
objective under its default ``reward="backlog"``: the **mean time an image spends in the system**
(arrival to return at its source, ``info["mean_sojourn_s"]`` at the episode's end), in seconds,
on the instance's frozen arrivals. A planner is a scheduler of the queueing simulator
(``ms-mdi``, ``ar-mdi``, ``local``, ``ms-mdi-mw``) run for both admission and service, as the
env's references; a policy or random search admits, the workers serving by the env's
``ms-mdi`` rule."""

from __future__ import annotations

import numpy as np

from splitgym.agents.bench_split_env import SplitEnvAdapter
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.stages.queue_policies import SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim
from splitgym.envs.msmdi_v1 import MSMDIEnvV1
from splitgym.envs.splits import Split

__all__ = ["MSMDIAdapter"]


class MSMDIAdapter(SplitEnvAdapter):
    """MSMDI-v1 on a split (see the module)."""

    objective = "mean_sojourn_s"

    def __init__(self, split: Split) -> None:
        super().__init__(split, MSMDIEnvV1(split=split.name))

    def planner_latency(self, index: int, planner: str) -> float:
        if planner not in SCHEDULERS:
            raise ConfigError(f"target: {planner!r} is not an MS-MDI scheduler (known: {', '.join(SCHEDULERS)})")
        self._reset(index)
        res = QueueSim(self.env.system, seed=self.env.episode_seed).run(get_scheduler(planner))
        return float(np.mean(res.done - res.arrive))

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform admissions."""
        rng = np.random.default_rng(seed)
        nvec = self.env.action_space.nvec
        return min(self.policy_latency(index, lambda _o: rng.integers(nvec)) for _ in range(evaluations))
