"""DistrEdge-v1: DistrEdge's split MDP over a distribution of instances, padded so one policy
faces clusters of different sizes."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.envs.distredge import OBS_HIGH, DistrEdgeEnv, check_modes
from splitgym.envs.distributions import InstanceSource, ScenarioList, load_distribution
from splitgym.envs.plan_render import NOTHING, PlanRender
from splitgym.envs.scenarios import Scenario, cached_graph
from splitgym.envs.splits import get_split

__all__ = ["DistrEdgeV1Env", "make_source"]

CACHE = 64  # built instances kept per env (a split's instances are built once)
PROFILE_CACHE = 256  # device profiles and LC-PSS partitions kept per env (keyed by what they depend on)


def make_source(
    distribution: str | Mapping[str, Any] | None,
    split: str | None,
    instance: int | None,
    scenario: str | Scenario | None,
    max_devices: int | None,
) -> tuple[InstanceSource, str]:
    """The env's instance source from exactly one of ``distribution``, ``split`` (optionally one
    ``instance`` of it) or ``scenario``; with a label of it."""
    given = [k for k, v in (("distribution", distribution), ("split", split), ("scenario", scenario)) if v is not None]
    if len(given) > 1:
        raise EnvArgumentError(f"{given[1]}: give one of distribution, split or scenario, got {' and '.join(given)}")
    if instance is not None and split is None:
        raise EnvArgumentError(f"instance: {instance!r} needs a split to index")
    if split is not None:
        sp = get_split(split)
        items = sp.instances
        if instance is not None:
            if isinstance(instance, bool) or not isinstance(instance, int) or not 0 <= instance < len(items):
                raise EnvArgumentError(f"instance: expected an index in [0, {len(items)}) of {split}, got {instance!r}")
            items = (items[instance],)
        label = split if instance is None else f"{split}[{instance}]"
        return ScenarioList(items, max_devices or sp.max_devices), label
    if scenario is not None:
        return ScenarioList.point(scenario, max_devices), str(getattr(scenario, "name", scenario))
    dist = load_distribution(distribution or "distredge-mixed", max_devices=max_devices)
    return dist, dist.name


class DistrEdgeV1Env(PlanRender, gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description
    DistrEdge-v0's MDP (one volume's cut per step, the latency at the end) on an instance drawn
    at every ``reset`` from a seeded source: a distribution (``conf/distribution``), a named split
    (``split="distredge-v1/train"``) or one fixed scenario (a one-point distribution). The same
    seed gives the same instances and, for the same actions, the same trajectory.

    ## Padding (M = ``max_devices``, the source's bound; 5 for the distredge-v1 splits)
    Observation ``Box(0, 1000, (2M + 4,))``: the N devices' accumulated latencies (as v0, divided
    by the instance's equal-split latency) then zeros up to M; the current volume's H, C, F, S
    (as v0); then the device mask, 1 for the N present devices and 0 for the padding.
    Action ``Box(-1, 1, (M - 1,))`` (``action="cuts"``) or ``(M,)`` (``"shares"``): the first
    N - 1 (or N) entries are used as v0 uses them; the rest are ignored, so one actor fits every N.

    ## Rewards
    As v0; the default is ``"relative"`` (T_equal / T): across instances 1/T ranges over 30x,
    the ratio to the instance's own equal split does not.

    ## Episode End
    After the instance's last volume (its LC-PSS partition: 2 or 3 volumes on the shipped splits).

    ## Arguments
    ``distribution`` (a name, YAML path or mapping), ``split`` (a name from ``splitgym list
    splits``) with ``instance`` (one index of it), or ``scenario``; ``max_devices`` (padding,
    default the source's); ``reward``, ``action`` and ``render_mode`` (the current instance's plan)
    as v0. ``reset(options={"instance": i})``
    plays the i-th instance of a finite source (a split) instead of a random one,
    ``reset(options={"scenario": sc})`` that Scenario (or its mapping), padded to M.

    ## Version History
    * v1: instances drawn per reset, padded observation with a device mask.
    """

    def __init__(
        self,
        distribution: str | Mapping[str, Any] | None = None,
        split: str | None = None,
        instance: int | None = None,
        scenario: str | Scenario | None = None,
        max_devices: int | None = None,
        reward: str = "relative",
        action: str = "cuts",
        render_mode: str | None = None,
    ) -> None:
        check_modes(reward, action)
        self._set_render_mode(render_mode)
        if max_devices is not None and (isinstance(max_devices, bool) or not isinstance(max_devices, int)):
            raise EnvArgumentError(f"max_devices: expected a positive int, got {max_devices!r}")
        self.source, self.source_label = make_source(distribution, split, instance, scenario, max_devices)
        self.M = int(self.source.max_devices)
        self.reward_mode, self.action_mode = reward, action
        n_act = self.M if action == "shares" else self.M - 1
        self.action_space = spaces.Box(-1.0, 1.0, (max(1, n_act),), dtype=np.float32)
        self.observation_space = spaces.Box(0.0, OBS_HIGH, (2 * self.M + 4,), dtype=np.float32)
        self._built: OrderedDict[str, DistrEdgeEnv] = OrderedDict()
        self._profiles: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.inner: DistrEdgeEnv | None = None

    @cached_property
    def episode_steps(self) -> int:
        """A bound on steps per episode (LC-PSS volumes <= units): what sizes the training budget in
        steps (the episode count stops it). Lazy: it traces every model the source can draw."""
        return max(cached_graph(m, s).num_units for m, s in self.source.models())

    def instance_env(self, scenario: Scenario) -> DistrEdgeEnv:
        """The v0 env of one instance (built once per instance, up to ``CACHE`` kept). Why the
        profile cache too: a distribution's draws rarely repeat (one link cap per device), but
        their (model, board) pairs do, and deriving a board's profile was ~73 % of building an
        instance (cProfile of stepping on distredge-mixed: 2.2 of 3.0 s; README "Instance cache")."""
        key = json.dumps(scenario.to_dict(), sort_keys=True, default=str)
        env = self._built.get(key)
        if env is None:
            env = self._build(scenario)
            self._built[key] = env
            if len(self._built) > CACHE:
                self._built.popitem(last=False)
        self._built.move_to_end(key)
        return env

    def _build(self, scenario: Scenario) -> DistrEdgeEnv:
        """A fresh v0 env of ``scenario``, its device profiles and LC-PSS partition from (and
        into) the LRU (LC-PSS sees the model and the device count alone, not the links)."""
        graph, cluster = scenario.graph(), scenario.cluster()
        keys = [(graph.name, graph.input_shape, d.spec.key(), d.spec.sha256) for d in cluster.devices]
        known = {k[2]: self._profiles[k] for k in keys if k in self._profiles}
        part_key = (graph.name, graph.input_shape, cluster.size, scenario.alpha, scenario.lcpss_samples)
        part_key += (scenario.lcpss_seed,)
        if scenario.partition == "lcpss" and part_key not in self._profiles:
            self._profiles[part_key] = [tuple(p) for p in scenario.volumes(graph, cluster.size)]
        part = self._profiles.get(part_key) if scenario.partition == "lcpss" else None
        env = DistrEdgeEnv(scenario, reward=self.reward_mode, action=self.action_mode, partition=part, profiles=known)
        for k, item in [*zip(keys, env.sim.profiles), (part_key, part)]:
            if item is not None:
                self._profiles[k] = item
                self._profiles.move_to_end(k)
        while len(self._profiles) > PROFILE_CACHE:
            self._profiles.popitem(last=False)
        return env

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = (options or {}).get("instance")
        given = (options or {}).get("scenario")
        if given is not None:  # one named instance (the benchmark plays a split's this way)
            scenario = given if isinstance(given, Scenario) else Scenario(**given)
        elif index is not None:
            items = getattr(self.source, "scenarios", None)
            if items is None or not isinstance(index, int) or not 0 <= index < len(items):
                raise EnvArgumentError(f"options.instance: expected an index of the split, got {index!r}")
            scenario = items[index]
        else:
            scenario = self.source.sample(self.np_random)
        inner = self.instance_env(scenario)
        if inner.N > self.M:
            raise EnvArgumentError(f"options.scenario: {inner.N} devices exceed max_devices={self.M}")
        self.inner = inner
        obs, info = inner.reset()
        return self._pad(obs), {**info, "instance": scenario.name, "n_devices": self.inner.N}

    def step(self, action: np.ndarray):
        if self.inner is None:
            raise RuntimeError("step: call reset() first")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != self.action_space.shape or not np.all(np.isfinite(action)):
            raise ValueError(f"action: expected {self.action_space.shape[0]} finite values, got {action.tolist()}")
        n = self.inner.action_space.shape[0]
        obs, reward, terminated, truncated, info = self.inner.step(action[:n])
        info["instance"] = self.inner.scenario.name
        return self._pad(obs), reward, terminated, truncated, info

    @property
    def cluster(self):
        """The current instance's cluster (None before the first reset)."""
        return None if self.inner is None else self.inner.cluster

    def render_text(self) -> str:
        if self.inner is None:
            return f"{self.source_label}: no instance drawn yet (call reset())"
        return f"{self.inner.scenario.name}\n{self.inner.render_text()}"

    def render_grid(self) -> np.ndarray:
        return self.inner.render_grid() if self.inner is not None else np.full((8, 256), NOTHING, dtype=np.int64)

    def mask(self) -> np.ndarray:
        """1 for the present devices of the current instance, 0 for the padding."""
        n = 0 if self.inner is None else self.inner.N
        return (np.arange(self.M) < n).astype(np.float32)

    def _pad(self, obs: np.ndarray) -> np.ndarray:
        n = self.inner.N  # type: ignore[union-attr]
        out = np.zeros(2 * self.M + 4, dtype=np.float32)
        out[:n] = obs[:n]
        out[self.M : self.M + 4] = obs[n:]
        out[self.M + 4 :] = self.mask()
        return out
