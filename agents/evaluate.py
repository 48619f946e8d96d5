"""Evaluate a training run (rl-zoo's ``enjoy``): ``splitgym evaluate RUN_DIR``.

Finds the run (the folder itself, or the latest finished run under it), re-simulates the exported
plan from its JSON alone, runs the exported exported actor on a fresh env of the run's scenario,
and compares both with the equal split and Offload on the same cost model. Every failure names the
path it looked at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.simulator import Simulator
from splitgym.envs.distredge import DistrEdgeEnv

from .export import exported_policy, reference_latencies, rollout

__all__ = ["find_run", "evaluate"]

_NEEDED = ("config.yaml", "export/plan.json", "export/actor.pt2")


def find_run(path: str | Path) -> Path:
    """``path`` if it is a finished run folder, else the most recent finished run below it."""
    p = Path(path)
    if not p.exists():
        raise SplitgymError(f"run: no such folder {str(p)!r}")
    if (p / "export" / "plan.json").exists():
        missing = [n for n in _NEEDED if not (p / n).exists()]
        if missing:
            raise SplitgymError(f"run {p}: incomplete, missing {', '.join(missing)}")
        return p
    runs = sorted((q.parent.parent for q in p.glob("**/export/plan.json")), key=lambda q: q.stat().st_mtime)
    if not runs:
        raise SplitgymError(f"run: no finished run (with export/plan.json) in {str(p)!r}")
    return find_run(runs[-1])


def evaluate(path: str | Path) -> dict[str, Any]:
    run = find_run(path)
    try:
        cfg = OmegaConf.load(run / "config.yaml")
    except Exception as exc:  # omegaconf raises yaml's and its own errors
        raise SplitgymError(f"run {run}: config.yaml is not readable ({type(exc).__name__})") from None
    from .train import scenario_from_config  # hydra app module: imported only when needed

    plan = load_plan(run / "export" / "plan.json")
    c, h, w = plan.model.input
    graph = ModelGraph.from_torchvision(plan.model.name, (h, w))
    plan.check(graph)
    simulated = Simulator(graph, plan.cluster()).simulate(plan)
    env = DistrEdgeEnv(scenario_from_config(cfg), reward=cfg.env.reward,
                       partition=[tuple(p) for p in plan.partition])
    try:
        actor = rollout(env, exported_policy(run / "export" / "actor.pt2"))
    except (RuntimeError, ValueError) as exc:
        raise SplitgymError(f"run {run}: export/actor.pt2 cannot be run ({str(exc).splitlines()[0]})") from None
    ref = reference_latencies(env)
    return {
        "run": str(run),
        "plan": {"method": plan.method, "latency_ms": simulated.latency * 1e3, "ips": simulated.ips},
        "actor": {"latency_ms": actor["latency"] * 1e3, "ips": actor["ips"], "cuts": actor["cuts"]},
        "equal": {"latency_ms": ref["equal"] * 1e3, "ips": 1 / ref["equal"]},
        "offload": {"latency_ms": ref["offload"] * 1e3, "ips": 1 / ref["offload"], "device": ref["offload_device"]},
        "per_device": simulated.per_device(),
    }
