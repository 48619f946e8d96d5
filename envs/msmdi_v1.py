"""``splitgym/MSMDI-v1``: MS-MDI with the service decision learnable, observations that keep their
resolution at the paper's scale, and instances drawn per reset.

Why a new version: v0 divides queue lengths by 10 and clips at 1,000, so at the paper's scale
(10K + 30K images, queues of thousands) its observation saturates; it fixes the service rule; and
it is one instance. v1 changes all three, so trajectories differ from v0's (v0 is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from splitgym.costmodels.errors import ConfigError
from splitgym.envs.msmdi import MSMDIEnv, admission_decision
from splitgym.envs.msmdi_instances import InstanceDistribution
from splitgym.envs.msmdi_scenarios import MDIScenario
from splitgym.envs.split_kinds import Named, pick, split_items

__all__ = ["MSMDIEnvV1", "scaled_obs"]


def _squash(x: float) -> float:
    """x / (1 + x): a monotone map of [0, inf) into [0, 1) that never clips."""
    return x / (1.0 + x)


def scaled_obs(sim: Any, ref_s: float, total: int) -> np.ndarray:
    """MSMDI-v1's observation of a :class:`QueueSim`, every value in [0, 1] without clipping:
    queue lengths as ``log1p(q) / log1p(total images)`` (a queue holding every image is 1, one
    image keeps the same resolution at 300 images as at 40K up to that log factor); per worker
    busy, alive and ``d / (1 + d)`` of its delay d in reference image-times; per source its load
    ``a * ref_s`` squashed the same way (rates change per instance); the share admitted."""
    scale = 1.0 / math.log1p(total)
    q = [len(d) for d in sim.qlocal] + [len(d) for row in sim.qmdi for d in row] + [len(d) for d in sim.reservoir]
    obs = [math.log1p(v) * scale for v in q]
    obs += [float(b) for b in sim.busy] + [float(a) for a in sim.alive]
    obs += [_squash(sim.full[n] * sim.factor[n] / ref_s) for n in range(sim.N)]
    obs += [_squash(r * ref_s) for r in sim.sys.rates]
    obs.append(sim.n_admitted / total)
    return np.asarray(obs, dtype=np.float32)


class MSMDIEnvV1(MSMDIEnv):
    """
    ## Description
    As ``splitgym/MSMDI-v0`` (:class:`MSMDIEnv`), with three changes.

    ## Action Space
    ``learn_service=False``: ``MultiDiscrete([2] * S)``, the admission as in v0 (workers serve
    by ``service``). ``learn_service=True``: ``MultiDiscrete([2] * S + [S + 2] * N)``: the
    admission, then per worker 0 = serve its local queue, 1 + s = serve its MDI queue of source s,
    S + 1 = leave it to the ``service`` rule (what the references take). Steps then also happen at
    slots where only a worker is free to serve. A value naming an empty or absent queue (a helper
    has no local queue) falls back to the rule for that worker (``info["fallbacks"]`` counts them
    in the episode): the agent never idles a worker the rule would keep busy, so no action can
    deadlock the ring.

    ## Observation Space
    ``Box(0, 1, (2S + N*S + 3N + S + 1,))`` from :func:`scaled_obs`: nothing is clipped at any
    scale (v0 clips queues above 10,000 images).

    ## Instances
    ``instances`` (:mod:`splitgym.envs.msmdi_instances`): rates and worker count drawn from
    ``self.np_random`` at each reset; ``None`` is the scenario alone. The same seed gives the same
    instance and trajectory; the drawn instance is in ``info`` at reset (``rates``, ``workers``).
    Or ``split`` (``"msmdi-v1/train"``, ``splitgym list splits``): a uniform draw among the split's
    instances per reset, each with its own arrivals seed (so an instance is one trajectory for one
    policy); ``instance=i`` its i-th alone, ``reset(options={"instance": i})`` the i-th for one
    episode. ``scenario`` is then the split's (another one is refused).

    ## Rewards, Starting State, Episode End
    As v0: ``reward`` (backlog or makespan) is the same for training and for the evaluation at
    export (both run this env with the same arguments).

    ## Version History
    * v1: learnable service, scaled observation, instances per reset.
    """

    def __init__(
        self,
        scenario: str | MDIScenario | None = None,
        images: tuple[int, ...] | None = None,
        reward: str = "backlog",
        service: str = "ms-mdi",
        learn_service: bool = False,
        instances: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
        split: str | None = None,
        instance: int | None = None,
    ) -> None:
        self._items: tuple[Named, ...] = ()
        if split is not None:
            scenario = self._split_scenario(split, instance, scenario, instances)
        elif instance is not None:
            raise ConfigError(f"instance: {instance!r} needs a split to index")
        super().__init__(scenario or "ms-mdi-3-small", images, reward, service, render_mode)
        if not isinstance(learn_service, bool):
            raise ConfigError(f"learn_service: expected true or false, got {learn_service!r}")
        self._learn_service = learn_service
        if learn_service:  # an upper bound (one admission and at most N services per image, + slack):
            self.episode_steps = self.total * (self.N + 2)  # the trainer stops at its episode count
        self.base_system = self.system
        self.instances = InstanceDistribution.from_config(instances, self.system)
        S, N = self.S, self.N
        self.action_space = spaces.MultiDiscrete([2] * S + ([S + 2] * N if learn_service else []))
        self.observation_space = spaces.Box(0.0, 1.0, (2 * S + N * S + 3 * N + S + 1,), dtype=np.float32)

    def _split_scenario(
        self, split: str, instance: int | None, scenario: str | MDIScenario | None, instances: Any
    ) -> str:
        """The split's scenario (every instance of a split shares it: one observation size)."""
        if instances is not None:
            raise ConfigError(f"split: give split or instances, not both (split={split!r})")
        _, self._items = split_items(split, instance, "splitgym/MSMDI-v1")
        name = self._items[0].value.scenario
        given = getattr(scenario, "name", scenario)
        if given is not None and given != name:
            raise ConfigError(f"scenario: {split} is on {name!r}, got {given!r}")
        return name

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if not self._items and (options or {}).get("instance") is not None:
            raise ConfigError("options.instance: needs an env built on a split (split=...)")
        self._options = options
        obs, info = super().reset(seed=seed, options=options)
        info = info | {"rates": list(self.system.rates), "workers": int(sum(self.system.alive or []))}
        return obs, info | ({"instance": self._current.name} if self._items else {})

    def step(self, action: np.ndarray):
        obs, r, done, trunc, info = super().step(action)
        if done and self.sim is not None:
            info["fallbacks"] = self.sim.fallbacks
        return obs, r, done, trunc, info

    def reference_action(self, name: str) -> np.ndarray:
        """v0's reference admission; with ``learn_service``, every worker left to the rule (S + 1)."""
        a = super().reference_action(name)
        return np.concatenate([a, np.full(self.N, self.S + 1, dtype=np.int64)]) if self._learn_service else a

    def _draw_instance(self) -> None:
        if not self._items:
            self.system = self.instances.draw(self.np_random, self.base_system)
            return
        self._current = pick(self._items, self.np_random, getattr(self, "_options", None))
        inst = self._current.value
        point = {"rates": list(inst.rates), "workers": [inst.workers]}
        self.system = InstanceDistribution.from_config(point, self.base_system).draw(self.np_random, self.base_system)

    def _arrival_seed(self) -> int:
        return self._current.value.arrival_seed if self._items else super()._arrival_seed()

    def _decision(self, a: np.ndarray) -> list[int] | None:
        if not self._learn_service:
            return admission_decision(a, self.S)
        S, N = self.S, self.N
        if a.shape != (S + N,) or a.dtype.kind not in "biu":
            return None
        head = admission_decision(a[:S], S)
        tail = a[S:].tolist()
        if head is None or not all(0 <= v <= S + 1 for v in tail):
            return None
        return head + [int(v) for v in tail]

    def _action_text(self) -> str:
        if not self._learn_service:
            return super()._action_text()
        return f"{self.S} values in {{0, 1}} then {self.N} integers in 0..{self.S + 1}"

    def _obs(self) -> np.ndarray:
        assert self.sim is not None
        return scaled_obs(self.sim, self.ref_s, self.total)
