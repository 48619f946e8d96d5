"""Training MS-MDI's admission decision (``splitgym/MSMDI-v0``; ``-v1`` optionally the service
decision too, over instances drawn per reset) and comparing the learned scheduler with MS-MDI's
back-pressure rule, AR-MDI and Local on the same arrival streams.

``env.id`` picks the version (``env=msmdi env.id=splitgym/MSMDI-v1``); ``env.learn_service``,
``env.instances`` and ``env.split`` (``msmdi-v1/train``: a named split's instances) are v1's and
refused on v0 when set. Training and the export's evaluation build the env from the same
arguments (scenario, images, reward, instances or split), so both run on the same scale and reward;
the evaluation's seeds draw the instances as training does.

The env comes from ``cfg.env`` alone (an MS-MDI scenario with its own model, devices and network;
the DistrEdge groups ``model``/``devices``/``network`` of the training config are not used).
Exploration is the policy's own sampling (PPO on a ``MultiDiscrete`` action), so no action noise.
The export holds the trained policy (``policy.zip``, SB3) and ``summary.json``: the mean total
processing time over ``cfg.env.eval_episodes`` seeded episodes of the deterministic learned
policy and of each reference (the same seeds, hence the same arrivals, for all).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from splitgym.agents.tasks import TrainTask, register_task
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.cluster import plain_config
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.run_folder import write_signed
from splitgym.envs.msmdi import REFERENCES, MSMDIEnv
from splitgym.envs.msmdi_scenarios import MDIScenario
from splitgym.envs.msmdi_v1 import MSMDIEnvV1

__all__ = ["MSMDITask", "MSMDIV1Task", "evaluate_policies", "eval_kwargs"]

V1_KEYS = ("learn_service", "instances", "split")


def _episode(env: MSMDIEnv, seed: int, act) -> dict[str, float]:
    obs, _ = env.reset(seed=seed)
    ret, done, info = 0.0, False, {}
    while not done:
        obs, r, done, _, info = env.step(act(obs))
        ret += r
    return {"total_time_s": float(info["latency"]), "return": ret, "mean_sojourn_s": float(info["mean_sojourn_s"])}


def evaluate_policies(cfg_env: dict[str, Any], model: Any | None, seeds: list[int]) -> dict[str, dict[str, float]]:
    """Mean total time, return and sojourn of the learned policy (if any) and of every reference,
    each reference with its own service rule, on the same seeds (v1 when ``cfg_env`` has v1's keys)."""
    out = {}
    runs: list[tuple[str, str]] = [(name, name) for name in REFERENCES]
    if model is not None:
        runs.insert(0, ("learned", str(cfg_env.get("service", "ms-mdi"))))
    cls = MSMDIEnvV1 if any(k in cfg_env for k in V1_KEYS) else MSMDIEnv
    for name, service in runs:
        env = cls(**{**cfg_env, "service": service})
        if name == "learned":
            act = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
        else:
            act = lambda obs, n=name, e=env: e.reference_action(n)  # noqa: E731
        eps = [_episode(env, s, act) for s in seeds]
        out[name] = {k: float(np.mean([e[k] for e in eps])) for k in eps[0]}
    return out


def env_kwargs(cfg: DictConfig, v1: bool = False) -> dict[str, Any]:
    """The env's arguments from ``cfg.env``; v1's keys only for v1 (set on v0: a one-line error)."""
    images = cfg.env.get("images")
    scenario = cfg.env.scenario
    kwargs: dict[str, Any] = {
        "scenario": MDIScenario.from_mapping(plain_config(scenario))
        if isinstance(scenario, DictConfig)
        else str(scenario),
        "reward": str(cfg.env.reward),
        "service": str(cfg.env.service),
        "images": None if images is None else tuple(int(i) for i in images),
    }
    learn, inst = cfg.env.get("learn_service", False), cfg.env.get("instances")
    if not v1:
        if learn or inst is not None:
            key = "learn_service" if learn else "instances"
            raise ConfigError(
                f"env.{key}: an option of splitgym/MSMDI-v1 (set env.id=splitgym/MSMDI-v1), "
                f"got {learn if learn else inst!r}"
            )
        return kwargs
    split = cfg.env.get("split")
    return kwargs | {
        "learn_service": learn,
        "instances": None if inst is None else plain_config(inst),
        "split": None if split is None else str(split),
    }


def eval_kwargs(env: MSMDIEnv) -> dict[str, Any]:
    """The arguments that rebuild ``env`` for evaluation: same scenario, scale, reward (and v1's)."""
    kwargs = {"scenario": env.scenario, "reward": env.reward_mode, "service": env.service_name}
    if isinstance(env, MSMDIEnvV1):
        split = getattr(env, "train_split", None)  # a split's instances, else the distribution's
        kwargs |= {"learn_service": env._learn_service}
        kwargs |= {"split": split} if split is not None else {"instances": vars(env.instances)}
    return kwargs


class MSMDITask(TrainTask):
    env_id = "splitgym/MSMDI-v0"

    def make_env(self, cfg: DictConfig) -> MSMDIEnv:
        env = MSMDIEnv(**env_kwargs(cfg))
        env.eval_episodes = int(cfg.env.get("eval_episodes", 5))  # type: ignore[attr-defined]
        return env

    def noise_dims(self, env: MSMDIEnv) -> int:
        return 0

    def episode_scalars(self, info: dict[str, Any]) -> dict[str, float]:
        return {"msmdi/total_time_s": float(info["latency"]), "msmdi/mean_sojourn_s": float(info["mean_sojourn_s"])}

    def best_scalars(self, best_latency: float) -> dict[str, float]:
        return {"msmdi/best_total_time_s": best_latency}

    def reference_scalars(self, env: MSMDIEnv) -> dict[str, float]:
        """Each reference scheduler's total time on one seeded episode."""
        res = evaluate_policies(eval_kwargs(env), None, [1000])
        return {f"ref/{name}_total_time_s": r["total_time_s"] for name, r in res.items()}

    def export(self, model: Any, env: MSMDIEnv, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        out.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        model.save(buf, exclude=["train"])  # "train" is wrapped by a timer
        write_signed(out / "policy.zip", buf.getvalue())  # a pickle inside: loaded only once its hash checks out
        seeds = list(range(1000, 1000 + int(getattr(env, "eval_episodes", 5))))
        res = evaluate_policies(eval_kwargs(env), model, seeds)
        best_ref = min(REFERENCES, key=lambda n: res[n]["total_time_s"])
        summary = {
            **{k: v for k, v in extra.items() if isinstance(v, (int, float, str, bool))},
            "scenario": env.scenario.to_dict() | {"events": [vars(e) for e in env.scenario.events]},
            "env_id": self.env_id,
            "env_v1": {k: v for k, v in eval_kwargs(env).items() if k in V1_KEYS},
            "eval_seeds": seeds,
            "results": res,
            "best_reference": best_ref,
            "learned_vs_best_reference": res[best_ref]["total_time_s"] / res["learned"]["total_time_s"],
            "objective": 1.0 / res["learned"]["total_time_s"],
        }
        atomic_write(out / "summary.json", json.dumps(summary, indent=1))
        return summary

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        print(f"run: {run_dir}")
        print(f"{'policy':<10}{'total_s':>10}{'sojourn_s':>11}{'return':>10}")
        for name, r in summary["results"].items():
            print(f"{name:<10}{r['total_time_s']:>10.2f}{r['mean_sojourn_s']:>11.2f}{r['return']:>10.3f}")
        print(
            f"learned / best reference ({summary['best_reference']}): "
            f"x{summary['learned_vs_best_reference']:.3f} faster; {summary.get('episodes', '?')} episodes"
        )


class MSMDIV1Task(MSMDITask):
    """``splitgym/MSMDI-v1``: the same task on v1 (learnable service, scaled obs, instances)."""

    env_id = "splitgym/MSMDI-v1"

    def make_env(self, cfg: DictConfig) -> MSMDIEnv:
        kwargs = env_kwargs(cfg, v1=True)
        env = MSMDIEnvV1(**kwargs)
        env.train_split = kwargs["split"]  # type: ignore[attr-defined]  (the export's evaluation env)
        env.eval_episodes = int(cfg.env.get("eval_episodes", 5))  # type: ignore[attr-defined]
        return env


register_task(MSMDITask())
register_task(MSMDIV1Task())
