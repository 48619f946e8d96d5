"""The HiDP-v0 export's and ``splitgym evaluate``'s comparison: a trained policy and HiDP's own
planners over the same seeded request streams.

Why per episode and not a plan: HiDP-v0 decides one plan per request, so the best single plan of
training means nothing for another stream; what a run produces is a scheduler, scored by its
episode objective (the env's return: minus the summed slowdown, or minus the makespan in
reference units) on held-out seeds. The baselines always pick their planner's menu entry (HiDP's
DP, DisNet, OmniBoost) and the one-step earliest-finish look-ahead picks the entry that ends first;
they play a twin of the run's env with the planners' menu (same arrivals for a seed: the arrivals
and the start time come from the reset seed alone), so a run on the template menu is compared
with HiDP's planners too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.agents.planners.nodes.hidp_menu import BASELINES, planner_menu
from splitgym.agents.planners.nodes.hidp_policies import EarliestFinishPolicy, FixedPolicy, ModelPolicy, run_episode
from splitgym.envs.hidp_env import HiDPEnv

__all__ = ["EVAL_BASE", "eval_seeds", "compare_policies", "baseline_env", "rows_of"]

EVAL_BASE = 10_000  # reset seeds of the evaluation episodes (training resets from its own seed)
METRICS = ("return", "mean_latency_ms", "throughput_rps")


def eval_seeds(n: int) -> list[int]:
    return [EVAL_BASE + i for i in range(int(n))]


def baseline_env(env: HiDPEnv, kwargs: dict[str, Any]) -> HiDPEnv:
    """``env`` where it already offers the planners' menu, else a twin of it that does."""
    return env if env.menu is planner_menu else HiDPEnv(**{**kwargs, "menu": planner_menu})


def _mean(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {m: float(np.mean([e[m] for e in episodes])) for m in METRICS}
    picks: dict[str, int] = {}
    for e in episodes:
        for k, v in e["picks"].items():
            picks[k] = picks.get(k, 0) + v
    return out | {"picks": dict(sorted(picks.items()))}


def compare_policies(env: HiDPEnv, kwargs: dict[str, Any], model: Any, seeds: list[int]) -> dict[str, dict[str, Any]]:
    """Per policy (``learned`` first), the mean return, latency (ms) and throughput over ``seeds``."""
    out = {"learned": _mean([run_episode(env, ModelPolicy(model, "learned"), s) for s in seeds])}
    twin = baseline_env(env, kwargs)
    for policy in (*(FixedPolicy(b) for b in BASELINES), EarliestFinishPolicy()):
        out[policy.name] = _mean([run_episode(twin, policy, s) for s in seeds])
    return out


def rows_of(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The table a person reads: one row per policy, the learned one's ratio to each."""
    learned = results["learned"]["mean_latency_ms"]
    return [
        {
            "policy": name,
            "return": r["return"],
            "mean_latency_ms": r["mean_latency_ms"],
            "throughput_rps": r["throughput_rps"],
            "latency_vs_learned": r["mean_latency_ms"] / learned,
        }
        for name, r in results.items()
    ]
