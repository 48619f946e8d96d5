"""Training on ``splitgym/NPTP-v1`` (``splitgym train env=nptp env.id=splitgym/NPTP-v1``): the env
from ``env.instances`` (models and inputs default to the model group's), and an export that runs
the trained policy on held seeds' instances next to CoEdge's LP rule and equal strips. ``env.split``
(``nptp-v1/train``) trains on a named split's instances instead of ``env.instances``."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from splitgym.agents.planners import run_planner
from splitgym.agents.tasks import TrainTask, register_task
from splitgym.agents.tasks.config_groups import model_input, model_spec
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import plain_config
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import write_signed
from splitgym.costmodels.tiles.tile_cost import plan_rects
from splitgym.envs.nptp_v1 import NPTPv1Env

__all__ = ["NPTPv1Task", "EVAL_SEEDS"]

EVAL_SEEDS = tuple(range(10_000, 10_010))  # instances the export evaluates on (not training seeds)


def v1_env(cfg: DictConfig) -> NPTPv1Env:
    """The v1 env of a run's config; v0's knobs that v1 does not read are refused in one line."""
    e = cfg.env
    for key in ("devices", "bandwidth_mbps"):
        if e.get(key) is not None:
            raise ConfigError(f"env.{key}: NPTP-v1 draws it per reset; set env.instances.{key} instead")
    if cfg.devices.get("name") != "nptp3" or cfg.network.get("name") != "nptp4":
        raise ConfigError(
            f"devices/network: NPTP-v1 draws them per reset from env.instances (devices, bandwidth_mbps), "
            f"got devices={cfg.devices.get('name')} network={cfg.network.get('name')}"
        )
    if str(e.get("caps", "auto")) != "auto":
        raise ConfigError(f"env.caps: NPTP-v1 reads the caps of the drawn devices, got {e.get('caps')!r}")
    scatter = e.get("scatter")
    kwargs = {"reward": str(e.get("reward", "relative")), "scatter": True if scatter is None else scatter}
    if e.get("split") is not None:  # the split's instances (models and inputs its own)
        if e.get("instances") is not None:
            raise ConfigError(f"env.instances: give env.split or env.instances, not both (env.split={e.split})")
        return NPTPv1Env(split=str(e.split), **kwargs)
    inst = plain_config(e.instances) if e.get("instances") is not None else {}
    inst.setdefault("models", [model_spec(cfg.model)])
    inst.setdefault("inputs", [model_input(cfg.model) or 224])
    return NPTPv1Env(instances=inst, **kwargs)


class NPTPv1Task(TrainTask):
    env_id = "splitgym/NPTP-v1"

    def make_env(self, cfg: DictConfig) -> NPTPv1Env:
        return v1_env(cfg)

    def episode_steps(self, env: Any) -> int:
        """The mean episode length over the distribution's device counts (N - 1 steps each)."""
        lo, hi = env.unwrapped.space.n_devices
        return max(1, round((lo + hi) / 2) - 1)

    def export(self, model: Any, env: Any, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """The policy (``policy.zip``, signed: ``splitgym benchmark RUN`` loads it) and the greedy
        policy on :data:`EVAL_SEEDS`' instances against CoEdge's LP rule and equal strips."""
        out.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        model.save(buf, exclude=["train"])  # "train" is wrapped by a timer (agents/train.py)
        write_signed(out / "policy.zip", buf.getvalue())  # a pickle inside: loaded once its hash checks out
        env = env.unwrapped
        rows = []
        for seed in EVAL_SEEDS:
            obs, _ = env.reset(seed=seed)
            done, info = False, {}
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, _, done, _, info = env.step(action)
            lp = run_planner("coedge-lp", env.graph, env.cluster, scatter=env.scatter)
            lp_ms = env.penalised(env.model.score(plan_rects(lp))) * 1e3
            rows.append(
                {
                    "seed": seed,
                    **info["instance"],
                    "learned_ms": info["latency"] * 1e3,
                    "feasible": info["feasible"],
                    "equal_strips_ms": env.T_ref * 1e3,
                    "coedge_lp_ms": lp_ms,
                }
            )
        ratio = [r["coedge_lp_ms"] / r["learned_ms"] for r in rows]
        summary = {
            **extra,
            "objective": float(np.mean([r["equal_strips_ms"] / r["learned_ms"] for r in rows])),
            "latency_ms": float(np.median([r["learned_ms"] for r in rows])),
            "speedup_vs_coedge_lp_median": float(np.median(ratio)),
            "feasible_share": float(np.mean([r["feasible"] for r in rows])),
            "instances": rows,
        }
        atomic_write((out / "summary.json"), json.dumps(summary, indent=1, default=str))
        return summary

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        print(f"run: {run_dir}")
        print(f"{'seed':>6} {'devices':>3} {'Mbps':>7} {'learned_ms':>11} {'coedge_lp_ms':>13} {'strips_ms':>10}")
        for r in summary["instances"]:
            print(
                f"{r['seed']:>6} {len(r['devices']):>3} {r['bandwidth_mbps']:>7.2f} {r['learned_ms']:>11.1f} "
                f"{r['coedge_lp_ms']:>13.1f} {r['equal_strips_ms']:>10.1f}"
            )
        print(
            f"learned vs CoEdge LP x{summary['speedup_vs_coedge_lp_median']:.2f} "
            f"(median of {len(summary['instances'])} held-out instances), "
            f"feasible {summary['feasible_share']:.0%}; {summary['episodes']} episodes"
        )


register_task(NPTPv1Task())
