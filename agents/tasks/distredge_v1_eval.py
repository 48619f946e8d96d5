"""``splitgym evaluate`` for a DistrEdge-v1 run: its exported policy, deterministic, per instance,
next to the equal split, Offload and every classical planner on the same simulator.

Which instances: ``--split NAME`` (a named split, e.g. ``distredge-v1/val``) or the run's own
source (its split, its one instance for a specialist, or its distribution); every instance of a
split, or ``--seeds N`` instances drawn with reset seeds ``10_000 .. 10_000 + N - 1`` (a
distribution's default: :data:`DEFAULT_SEEDS`). The policy sees the padding it was trained with,
so a split with more devices than the run's ``max_devices`` is refused in one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from splitgym.agents.bench_adapters import load_policy
from splitgym.agents.export import classical_latencies, reference_latencies
from splitgym.agents.tasks.distredge_v1_task import env_from_config
from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.envs.distredge_v1 import DistrEdgeV1Env
from splitgym.envs.splits import get_split

__all__ = ["evaluate_v1", "EVAL_BASE", "DEFAULT_SEEDS"]

EVAL_BASE = 10_000  # reset seeds of drawn instances (training draws from its own seed)
ENV_ID = "splitgym/DistrEdge-v1"
DEFAULT_SEEDS = 16  # drawn instances when the source is a distribution and --seeds is not given


def eval_env(run: Path, cfg: DictConfig, split: str | None) -> DistrEdgeV1Env:
    """The run's env (its source, reward, action, padding), on ``split`` instead where given."""
    own = env_from_config(cfg)
    if split is None:
        return own
    sp = get_split(split)
    if sp.env_id != ENV_ID:
        raise ConfigError(f"--split: {split} is a split of {sp.env_id}, this run trained {ENV_ID}")
    try:
        return DistrEdgeV1Env(split=split, max_devices=own.M, reward=own.reward_mode, action=own.action_mode)
    except EnvArgumentError:
        raise ConfigError(
            f"--split: {split} has instances of {sp.max_devices} devices, the policy of {run} was trained "
            f"with max_devices={own.M}"
        ) from None


def _instances(env: DistrEdgeV1Env, seeds: int | None) -> list[tuple[str, dict[str, Any]]]:
    """(label, reset kwargs) per instance to play: every one of a split, else seeded draws."""
    items = getattr(env.source, "scenarios", None)
    if seeds is None and items is not None:
        return [(f"#{i}", {"options": {"instance": i}}) for i in range(len(items))]
    n = DEFAULT_SEEDS if seeds is None else seeds
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--seeds: expected a positive number of instances, got {seeds!r}")
    return [(f"seed {EVAL_BASE + i}", {"seed": EVAL_BASE + i}) for i in range(n)]


def _row(env: DistrEdgeV1Env, label: str, learned: float) -> dict[str, Any]:
    inner = env.inner
    ref, classical = reference_latencies(inner), classical_latencies(inner)
    best = min(classical, key=classical.get)
    return {
        "instance": inner.scenario.name,
        "draw": label,
        "devices": inner.N,
        "learned_ms": learned * 1e3,
        "equal_ms": ref["equal"] * 1e3,
        "offload_ms": ref["offload"] * 1e3,
        "best_classical": best,
        "best_classical_ms": classical[best] * 1e3,
        "vs_best_classical": classical[best] / learned,
        "classical_ms": {k: v * 1e3 for k, v in classical.items()},
    }


def evaluate_v1(run: Path, cfg: DictConfig, split: str | None = None, seeds: int | None = None) -> dict[str, Any]:
    """The run's policy on each instance (deterministic), with the references beside it."""
    env = eval_env(run, cfg, split)
    act = load_policy(run, str(cfg.agent.algo))
    per = []
    for label, kwargs in _instances(env, seeds):
        obs, _ = env.reset(**kwargs)
        done, info = False, {}
        while not done:
            try:
                action = act(obs)
            except ValueError as exc:  # SB3: an observation of another shape
                raise ConfigError(f"run {run}: export/policy.zip cannot play {env.source_label} ({exc})") from None
            obs, _, done, _, info = env.step(action)
        per.append(_row(env, label, float(info["latency"])))
    keys = ("instance", "draw", "devices", "learned_ms", "equal_ms", "offload_ms", "best_classical")
    rows = [{k: r[k] for k in (*keys, "best_classical_ms", "vs_best_classical")} for r in per]
    ratios = [r["vs_best_classical"] for r in per]
    vs_equal = [r["equal_ms"] / r["learned_ms"] for r in per]
    return {
        "run": str(run),
        "source": env.source_label,
        "instances": per,
        "mean_vs_equal": float(np.mean(vs_equal)),
        "median_vs_best_classical": float(np.median(ratios)),
        "rows": rows,
        "title": (
            f"run {run} on {env.source_label} ({len(per)} instances, deterministic policy): "
            f"x{np.mean(vs_equal):.3f} over the equal split on average, x{np.median(ratios):.3f} "
            f"over the best classical planner (median)"
        ),
    }
