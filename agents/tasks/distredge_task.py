"""Training DistrEdge's split-decision MDP (``splitgym/DistrEdge-v0``): the env from the
scenario groups of the config, and an export of the best split plan with the exported actor
(Alg. 2's Actor*), compared with the equal split, Offload and every classical planner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from splitgym.agents.export import (
    checkpoint_policy,
    eager_policy,
    export_actor,
    exported_policy,
    reference_latencies,
    rollout,
    write_summary,
)
from splitgym.agents.plan_gantt import plan_gantt
from splitgym.agents.planners import run_planner
from splitgym.agents.tasks import TrainTask, register_task
from splitgym.agents.tasks.config_groups import devices_group, group_label, group_mapping, model_input, model_spec
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import SplitgymError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import load_plan
from splitgym.costmodels.volumes.volume_simulator import Simulator
from splitgym.envs.distredge import DistrEdgeEnv
from splitgym.envs.distredge_sb3_vec import DistrEdgeVecEnv
from splitgym.envs.scenarios import Scenario

__all__ = ["DistrEdgeTask", "scenario_from_config"]


def scenario_from_config(cfg: DictConfig) -> Scenario:
    """The run's scenario from its resolved groups (every override and user group takes effect)."""
    devices, network = devices_group(cfg), group_mapping(cfg, "network")
    return Scenario(
        name=f"{cfg.model.name}-{group_label(devices)}-{group_label(network)}",
        model=model_spec(cfg.model),
        input=model_input(cfg.model),
        devices=devices,
        network=network,
        partition=str(cfg.env.partition),
        alpha=float(cfg.env.alpha),
        **lcpss_settings(cfg.env),
    )


def lcpss_settings(env: DictConfig) -> dict[str, Any]:
    """``env.lcpss.{samples,seed}`` and ``env.pilot.{samples,spread,seed}`` as the scenario's
    fields (absent in an older run's config: the defaults); the scenario checks them in one line."""
    out: dict[str, Any] = {}
    for group, keys in (("lcpss", ("samples", "seed")), ("pilot", ("samples", "spread", "seed"))):
        values = env.get(group)
        if values is None:
            continue
        if not isinstance(values, DictConfig):
            raise SplitgymError(f"env.{group}: expected a mapping of {', '.join(keys)}, got {values!r}")
        unknown = [k for k in values if k not in keys]
        if unknown:
            raise SplitgymError(f"env.{group}.{unknown[0]}: unknown setting (known: {', '.join(keys)})")
        out.update({f"{group}_{k}": values[k] for k in keys if values.get(k) is not None})
    return out


class DistrEdgeTask(TrainTask):
    env_id = "splitgym/DistrEdge-v0"

    def make_env(self, cfg: DictConfig) -> DistrEdgeEnv:
        return DistrEdgeEnv(
            scenario_from_config(cfg),
            reward=cfg.env.reward,
            time_per_episode=cfg.env.time_per_episode,
            action=cfg.env.get("action", "cuts"),
        )

    def training_env(self, cfg: DictConfig, env: DistrEdgeEnv) -> DistrEdgeEnv | DistrEdgeVecEnv:
        """``env.n_envs`` > 1: that many instances of ``env``'s scenario in one batched VecEnv."""
        n_envs = int(cfg.env.get("n_envs") or 1)
        return env if n_envs == 1 else DistrEdgeVecEnv(n_envs, env=env)

    def episode_steps(self, env: DistrEdgeEnv) -> int:
        return env.L

    def noise_dims(self, env: DistrEdgeEnv) -> int:
        return int(env.action_space.shape[0])

    def describe(self, env: DistrEdgeEnv) -> Callable[[Any], dict[str, float]]:
        def per_device(cuts: Any) -> dict[str, float]:
            out = {}
            for row in env.breakdown(np.asarray(cuts)).per_device():
                out[f"{row['device']}_finish_ms"] = row["finish_s"] * 1e3
                out[f"{row['device']}_compute_ms"] = row["compute_s"] * 1e3
            return out

        return per_device

    def reference_scalars(self, env: DistrEdgeEnv) -> dict[str, float]:
        """Equal split, Offload and AOFL on the env's cost model (ms)."""
        ref = reference_latencies(env)
        aofl = env.sim.simulate(run_planner("aofl", env.graph, env.cluster)).latency
        return {"ref/equal_ms": ref["equal"] * 1e3, "ref/offload_ms": ref["offload"] * 1e3, "ref/aofl_ms": aofl * 1e3}

    def plan_figure(self, env: DistrEdgeEnv, decision: Any) -> Any:
        return plan_gantt(env.breakdown(np.asarray(decision)))

    def export(self, model: Any, env: DistrEdgeEnv, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """Best plan, exported actor (the best policy, Alg. 2's Actor*; unless ``export_actor`` is
        false), summary. The deterministic actor is rolled out on the policy in memory, which the
        exported program computes equally (tests/test_export_option.py), not re-loaded from it."""
        out.mkdir(parents=True, exist_ok=True)
        if extra.get("export_actor", True):
            export_actor(model.policy, env, out / "actor.pt2")
        actor = rollout(env, eager_policy(model.policy, env))
        found = best.best_decision is not None
        learned = best.best_latency if found else actor["latency"]
        cuts = np.asarray(best.best_decision) if found else np.asarray(actor["cuts"])
        if actor["latency"] < learned:  # the greedy actor found better than any noisy episode
            learned, cuts = actor["latency"], np.asarray(actor["cuts"])
        env.plan(cuts, method=f"distredge-{extra['algo']}").save(out / "plan.json")
        atomic_write(
            out / "obs_scale.json",
            json.dumps({"scale": env.obs_scale.tolist(), "state": ["T_prev_s"] * env.N + ["H", "C", "F", "S"]}),
        )
        return write_summary(
            out / "summary.json", env, learned, actor["latency"], {**extra, "objective": 1.0 / learned}
        )  # the learned plan's IPS

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        lat, ips = summary["latency_ms"], summary["ips"]
        print(f"run: {run_dir}")
        print(f"{'plan':<22}{'latency_ms':>12}{'IPS':>10}")
        for k in ("learned_plan", "actor_deterministic", "equal", "offload"):
            if lat.get(k) is not None:
                print(f"{k:<22}{lat[k]:>12.2f}{ips[k]:>10.2f}")
        print(
            f"best classical plan: {summary['best_classical']} "
            f"{summary['classical_latency_ms'][summary['best_classical']]:.2f} ms "
            f"(learned x{summary['speedup_vs_best_classical']:.2f})"
        )
        print(
            f"speed-up vs equal x{summary['speedup_vs_equal']:.2f}, vs offload ({summary['offload_device']}) "
            f"x{summary['speedup_vs_offload']:.2f}; {summary['episodes']} episodes in {summary['wall_s']:.1f} s "
            f"(env {summary['env_s']:.1f} s, updates {summary['update_s']:.1f} s)"
        )
        print(f"tensorboard --logdir {run_dir / 'tb'}")

    def evaluate(self, run: Path, cfg: DictConfig) -> dict[str, Any]:
        """Re-simulate the exported plan from its JSON alone and run the exported actor on a
        fresh env of the run's scenario (a run trained with ``export.actor=false``: its checkpoint's
        best policy); both next to the equal split and Offload."""
        exported = OmegaConf.select(cfg, "export.actor", default=True)
        for name in ("export/plan.json", "export/actor.pt2")[: 2 if exported else 1]:
            if not (run / name).exists():
                raise SplitgymError(f"run {run}: incomplete, missing {name}")
        plan = load_plan(run / "export" / "plan.json")
        c, h, w = plan.model.input
        graph = ModelGraph.from_torchvision(plan.model.name, (h, w))
        plan.check(graph)
        simulated = Simulator(graph, plan.cluster()).simulate(plan)
        env = DistrEdgeEnv(
            scenario_from_config(cfg),
            reward=cfg.env.reward,
            partition=[tuple(p) for p in plan.partition],
            action=cfg.env.get("action", "cuts"),
        )
        source = "export/actor.pt2" if exported else "checkpoints/ (export.actor=false)"
        try:
            act = exported_policy(run / "export" / "actor.pt2") if exported else checkpoint_policy(run, cfg, env)
            actor = rollout(env, act)
        except (RuntimeError, ValueError) as exc:
            raise SplitgymError(f"run {run}: {source} cannot be run ({str(exc).splitlines()[0]})") from None
        ref = reference_latencies(env)
        res = {
            "run": str(run),
            "plan": {"method": plan.method, "latency_ms": simulated.latency * 1e3, "ips": simulated.ips},
            "actor": {"latency_ms": actor["latency"] * 1e3, "ips": actor["ips"], "cuts": actor["cuts"], "from": source},
            "equal": {"latency_ms": ref["equal"] * 1e3, "ips": 1 / ref["equal"]},
            "offload": {"latency_ms": ref["offload"] * 1e3, "ips": 1 / ref["offload"], "device": ref["offload_device"]},
            "per_device": simulated.per_device(),
        }
        res["rows"] = [
            {"plan": k, "latency_ms": res[k]["latency_ms"], "IPS": res[k]["ips"]}
            for k in ("plan", "actor", "equal", "offload")
        ]
        res["title"] = f"run {run} ({plan.method}); offload device: {ref['offload_device']}"
        return res


register_task(DistrEdgeTask())
