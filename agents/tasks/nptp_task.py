"""Training NPTP's tile-partitioning env (``splitgym/NPTP-v0``): the env from the config, and an
export of the best tile plan found, next to MPA, the best strips (CoEdge) and equal strips on the
same tile cost model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from splitgym.agents.plan_gantt import tile_gantt
from splitgym.agents.planners import run_planner
from splitgym.agents.tasks import TrainTask, register_task
from splitgym.agents.tasks.config_groups import devices_group, group_mapping, model_input, model_spec
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.tiles.tile_cost import score_tiles
from splitgym.costmodels.tiles.tile_layouts import equal_strips
from splitgym.envs.nptp import NPTPEnv

__all__ = ["NPTPTask"]


def _env(cfg: DictConfig) -> NPTPEnv:
    """The env of the run's resolved groups; ``env.devices`` / ``env.bandwidth_mbps``, when set,
    replace the devices / network group (a name or path, a number of Mbps)."""
    e = cfg.env
    for key in ("instances", "scatter"):
        if e.get(key) is not None:
            raise ConfigError(
                f"env.{key}: only splitgym/NPTP-v1 takes it (set env.id=splitgym/NPTP-v1), got {e.get(key)}"
            )
    devices: Any = str(e.devices) if e.get("devices") else devices_group(cfg)
    bw = e.get("bandwidth_mbps")
    return NPTPEnv(
        model=model_spec(cfg.model),
        input=model_input(cfg.model),
        devices=devices,
        bandwidth_mbps=None if bw is None else float(bw),
        network=None if bw is not None else group_mapping(cfg, "network"),
        caps=str(e.get("caps", "auto")),
        reward=str(e.get("reward", "relative")),
    )


class NPTPTask(TrainTask):
    env_id = "splitgym/NPTP-v0"

    def make_env(self, cfg: DictConfig) -> NPTPEnv:
        self._cfg = cfg
        return _env(cfg)

    def episode_steps(self, env: NPTPEnv) -> int:
        return env.episode_steps

    def reference_scalars(self, env: NPTPEnv) -> dict[str, float]:
        """Equal strips on the same tile cost model (ms); MPA and the strip grid come at export."""
        return {"ref/equal-strips_ms": env.penalised(env.model.score(equal_strips(env.H, env.W, env.N))) * 1e3}

    def plan_figure(self, env: NPTPEnv, decision: Any) -> Any:
        return tile_gantt(score_tiles(env.graph, rects=env.plan(np.asarray(decision)), model=env.model))

    def export(self, model: Any, env: NPTPEnv, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """The best tile plan (the best episode, or the greedy policy if better) and a summary."""
        out.mkdir(parents=True, exist_ok=True)
        obs, _ = env.reset()
        done, info = False, {}
        while not done:  # the deterministic policy's layout
            action, _ = model.predict(obs, deterministic=True)
            obs, _, done, _, info = env.step(action)
        greedy = (float(info["latency"]), np.asarray(info["decision"]))
        found = best.best_decision is not None and best.best_latency <= greedy[0]
        latency, decision = (best.best_latency, np.asarray(best.best_decision)) if found else greedy
        plan = env.plan(decision, method=f"nptp-{extra['algo']}")
        plan.save(out / "plan.json")
        cfg = getattr(self, "_cfg", None)
        iters = int(cfg.env.get("mpa_iterations", 250)) if cfg is not None else 250
        grid = int(cfg.env.get("strips_grid", 32)) if cfg is not None else 32
        caps = "none" if not env.caps else "auto"
        refs = {
            "nptp-mpa": run_planner("nptp-mpa", env.graph, env.cluster, iterations=iters, caps=caps),
            "coedge-strips": run_planner("coedge-strips", env.graph, env.cluster, grid=grid, caps=caps),
        }
        ref_ms = {k: env.penalised(score_tiles(env.graph, rects=p)) * 1e3 for k, p in refs.items()}
        ref_ms["equal-strips"] = env.penalised(env.model.score(equal_strips(env.H, env.W, env.N))) * 1e3
        summary = {
            **extra,
            "objective": 1.0 / latency,
            "latency_ms": latency * 1e3,
            "greedy_latency_ms": greedy[0] * 1e3,
            "feasible": bool(plan.meta["feasible"]),
            "tiles": [t.model_dump() for t in plan.tiles or []],
            "reference_latency_ms": ref_ms,
            "speedup_vs_coedge_strips": ref_ms["coedge-strips"] / (latency * 1e3),
            "speedup_vs_mpa": ref_ms["nptp-mpa"] / (latency * 1e3),
        }
        atomic_write(out / "summary.json", json.dumps(summary, indent=1, default=str))
        return summary

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        print(f"run: {run_dir}")
        print(f"{'plan':<18}{'latency_ms':>12}")
        print(f"{'learned':<18}{summary['latency_ms']:>12.2f}")
        print(f"{'greedy policy':<18}{summary['greedy_latency_ms']:>12.2f}")
        for k, v in summary["reference_latency_ms"].items():
            print(f"{k:<18}{v:>12.2f}")
        print(
            f"learned vs best strips (CoEdge) x{summary['speedup_vs_coedge_strips']:.2f}, vs MPA "
            f"x{summary['speedup_vs_mpa']:.2f}; {summary['episodes']} episodes in {summary['wall_s']:.1f} s"
        )

    def evaluate(self, run: Path, cfg: DictConfig) -> dict[str, Any]:
        """Re-score the exported tile plan from its JSON alone."""
        path = run / "export" / "plan.json"
        if not path.exists():
            raise SplitgymError(f"run {run}: incomplete, missing export/plan.json")
        plan = load_plan(path)
        env = _env(cfg)
        s = score_tiles(env.graph, rects=plan)
        return {
            "run": str(run),
            "plan": {"method": plan.method, "latency_ms": s.latency * 1e3, "ips": 1 / s.latency},
            "feasible": s.feasible,
            "per_device": s.to_json()["per_device"],
            "rows": [{"plan": plan.method, "latency_ms": s.latency * 1e3, "IPS": 1 / s.latency}],
            "title": f"run {run} ({plan.method})",
        }


register_task(NPTPTask())
