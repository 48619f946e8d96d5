"""What ``splitgym benchmark`` needs from an env, one adapter per env id.

The benchmark itself (:mod:`splitgym.agents.benchmark`) only sees instances by index and asks an
adapter for a latency: of a planner, of a trained policy's deterministic episode, or of a random
search of a given number of evaluations. Another env joins by writing an adapter with these four
methods and registering it for its env id (:func:`register_adapter`); its splits say which id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from omegaconf import OmegaConf

from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.distredge_v1 import DistrEdgeV1Env
from splitgym.envs.splits import Split

__all__ = [
    "BenchAdapter",
    "DistrEdgeAdapter",
    "ADAPTERS",
    "exact_latency",
    "register_adapter",
    "adapter_for",
    "load_policy",
    "RunPolicy",
]

EXACT_LIMIT = 2_000_000  # candidates: ~5 s of exact search here
Act = Callable[[np.ndarray], np.ndarray]


class BenchAdapter(Protocol):
    def instance_names(self) -> list[str]: ...

    def planner_latency(self, index: int, planner: str) -> float: ...

    def policy_latency(self, index: int, act: Act) -> float: ...

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float: ...


class DistrEdgeAdapter:
    """DistrEdge-v1 on a split: latencies in seconds, from the simulator the env scores with."""

    def __init__(self, split: Split) -> None:
        self.env = DistrEdgeV1Env(split=split.name)
        self.split = split

    def instance_names(self) -> list[str]:
        return [sc.name for sc in self.split.instances]

    def _inner(self, index: int):
        return self.env.instance_env(self.split.instances[index])

    def planner_latency(self, index: int, planner: str) -> float:
        from splitgym.agents.planners import PLANNERS, VOLUME_PLANNERS, run_planner

        if planner not in (*VOLUME_PLANNERS, "exact"):
            known = ", ".join((*VOLUME_PLANNERS, "exact"))
            why = "not a volume planner" if planner in PLANNERS else "unknown"
            raise ConfigError(f"target: planner {planner!r} is {why} (DistrEdge plans: {known}; or a run folder)")
        env = self._inner(index)
        if planner == "exact":
            latency = exact_latency(env)
            if latency is None:
                raise ConfigError(f"target: exact search on {env.scenario.name} exceeds {EXACT_LIMIT:,} candidates")
            return latency
        return float(env.sim.simulate(run_planner(planner, env.graph, env.cluster)).latency)

    def policy_latency(self, index: int, act: Act) -> float:
        obs, _ = self.env.reset(options={"scenario": self.split.instances[index]})
        done, info = False, {}
        while not done:
            obs, _, done, _, info = self.env.step(act(obs))
        return float(info["latency"])

    def random_search_latency(self, index: int, evaluations: int, seed: int) -> float:
        """The best of ``evaluations`` episodes of uniform actions (the env's action box)."""
        rng = np.random.default_rng(seed)
        shape = self.env.action_space.shape
        best = np.inf
        for _ in range(evaluations):
            best = min(best, self.policy_latency(index, lambda _obs: rng.uniform(-1.0, 1.0, shape)))
        return float(best)


def exact_latency(env: DistrEdgeEnv) -> float | None:
    """Exact search on the env's own partition at grid 8, else grid 4, under ``EXACT_LIMIT``
    candidates (None past it): the strongest reference where it is tractable."""
    from splitgym.agents.planners import run_planner

    starts = ",".join(str(first) for first, _ in env.partition)
    for grid in (8, 4):
        try:
            plan = run_planner("exact", env.graph, env.cluster, partition=starts, grid=grid, max_candidates=EXACT_LIMIT)
        except ConfigError:
            continue
        return float(env.sim.simulate(plan).latency)
    return None


def _lazy(module: str, name: str) -> Callable[[Split], BenchAdapter]:
    """An adapter class imported when first used (the HiDP one pulls in every node planner)."""

    def make(split: Split) -> BenchAdapter:
        import importlib

        return getattr(importlib.import_module(f"splitgym.agents.{module}"), name)(split)

    return make


#: env id -> adapter class (built from a split); the other envs' adapters live in their own modules
ADAPTERS: dict[str, Callable[[Split], BenchAdapter]] = {
    "splitgym/DistrEdge-v1": DistrEdgeAdapter,
    "splitgym/NPTP-v1": _lazy("bench_adapters_nptp", "NPTPAdapter"),
    "splitgym/MSMDI-v1": _lazy("bench_adapters_msmdi", "MSMDIAdapter"),
    "splitgym/HiDP-v0": _lazy("bench_adapters_hidp", "HiDPAdapter"),
}


def register_adapter(env_id: str, make: Callable[[Split], BenchAdapter]) -> None:
    ADAPTERS[env_id] = make


def adapter_for(split: Split) -> BenchAdapter:
    make = ADAPTERS.get(split.env_id)
    if make is None:
        raise ConfigError(f"split {split.name}: no benchmark adapter for {split.env_id} (known: {', '.join(ADAPTERS)})")
    return make(split)


class RunPolicy:
    """A run's exported policy as ``act(obs) -> action`` (deterministic), with the run's config:
    an adapter whose env has settings a run can change (HiDP's menu, NPTP's objective) reads it to
    play the policy on the env it was trained for, or to refuse the run in one line."""

    def __init__(self, run: Path, model: Any, cfg: Any) -> None:
        self.run, self.model, self.cfg = run, model, cfg

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        want = self.model.observation_space.shape
        if np.shape(obs) != want:
            raise SplitgymError(
                f"run {self.run}: its policy observes shape {want}, the split's env gives {np.shape(obs)} "
                f"(trained on env.id={OmegaConf.select(self.cfg, 'env.id')})"
            )
        return self.model.predict(obs, deterministic=True)[0]


def load_policy(run: Path, algo: str) -> RunPolicy:
    """A run's exported SB3 policy (``export/policy.zip``; the signed bytes where the run signed
    them) as a :class:`RunPolicy` (deterministic)."""
    from splitgym.agents.algos import ALGOS

    path = run / "export" / "policy.zip"
    if not path.exists():
        raise SplitgymError(f"run {run}: no export/policy.zip (DistrEdge-v1, NPTP-v1, MSMDI and HiDP runs export one)")
    if algo not in ALGOS:
        raise SplitgymError(f"run {run}: unknown agent.algo {algo!r}")
    if path.with_name("policy.zip.sig.json").exists():  # a signed export: load the checked bytes
        import io

        from splitgym.costmodels.run_folder import read_signed

        model = ALGOS[algo].load(io.BytesIO(read_signed(path)), device="cpu")
    else:
        model = ALGOS[algo].load(path, device="cpu")
    cfg_path = run / "config.yaml"
    return RunPolicy(run, model, OmegaConf.load(cfg_path) if cfg_path.exists() else OmegaConf.create({}))
