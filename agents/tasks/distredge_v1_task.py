"""Training on DistrEdge-v1 (instances drawn per reset): ``splitgym train env=distredge_v1``.

A run on a split (``env.split``) or a distribution (``env.distribution``) learns one policy for
many instances; ``env.instance=i`` trains on the i-th instance of the split alone (a specialist,
DistrEdge's own protocol). The export is the SB3 policy (``export/policy.zip``) that
``splitgym benchmark`` plays on any split. Which weights: a specialist exports the policy of its
best episode (DE Alg. 2's Actor*); a generalist its final policy, since its best episode is
merely its easiest instance (the checkpoint written just before the export holds it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from splitgym.agents.callbacks import latency_scalars
from splitgym.agents.tasks import TrainTask, register_task
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError
from splitgym.envs.distredge_v1 import DistrEdgeV1Env

__all__ = ["DistrEdgeV1Task", "env_from_config"]

DRAWS = 16  # instances the summary scores a distribution-trained policy on


def _opt(cfg: DictConfig, key: str) -> Any:
    value = cfg.env.get(key)
    return None if value in (None, "null") else value


def env_from_config(cfg: DictConfig) -> DistrEdgeV1Env:
    """The env of a run's ``cfg.env`` (training, and ``splitgym evaluate`` from its config.yaml)."""
    return DistrEdgeV1Env(
        distribution=_opt(cfg, "distribution"),
        split=_opt(cfg, "split"),
        instance=_opt(cfg, "instance"),
        max_devices=_opt(cfg, "max_devices"),
        reward=str(cfg.env.reward),
        action=str(cfg.env.get("action", "cuts")),
    )


class DistrEdgeV1Task(TrainTask):
    env_id = "splitgym/DistrEdge-v1"

    def make_env(self, cfg: DictConfig) -> DistrEdgeV1Env:
        if HydraConfig.initialized():  # the instances carry model, devices and network
            for override in HydraConfig.get().overrides.task:
                if override.split("=")[0].lstrip("+~") in ("model", "devices", "network"):
                    raise ConfigError(f"{override}: not used by {self.env_id} (set env.split or env.distribution)")
        return env_from_config(cfg)

    def episode_steps(self, env: DistrEdgeV1Env) -> int:
        return int(env.episode_steps)

    def episode_scalars(self, info: dict[str, Any]) -> dict[str, float]:
        """Latency and IPS, and the ratio to the instance's equal split (comparable across instances)."""
        return {**latency_scalars(info), "charts/vs_equal": float(info["equal_latency"]) / float(info["latency"])}

    def export(self, model: Any, env: DistrEdgeV1Env, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        out.mkdir(parents=True, exist_ok=True)
        scenarios = getattr(env.source, "scenarios", None)
        if scenarios is None or len(scenarios) > 1:  # a generalist: its final weights (see the module)
            model.set_parameters(str(out.parent / "checkpoints" / "model.zip"), exact_match=False, device="cpu")
        model.save(out / "policy.zip", exclude=["train"])  # "train" is wrapped by a timer (agents/train.py)
        if scenarios is None:
            rng = np.random.default_rng(0)
            scenarios = tuple(env.source.sample(rng) for _ in range(DRAWS))
        per = {}
        for sc in scenarios:
            obs, _ = env.reset(options={"scenario": sc})
            done, info = False, {}
            while not done:
                obs, _, done, _, info = env.step(model.predict(obs, deterministic=True)[0])
            per[sc.name] = {"latency_ms": info["latency"] * 1e3, "vs_equal": info["equal_latency"] / info["latency"]}
        ratios = [v["vs_equal"] for v in per.values()]
        summary = {
            "source": env.source_label,
            "policy": "best episode's" if len(scenarios) == 1 else "final",
            "instances": per,
            "mean_vs_equal": float(np.mean(ratios)),
            "best_latency_ms": None if best.best_decision is None else best.best_latency * 1e3,
            "objective": float(np.mean(ratios)),  # what a sweep maximises: the mean speed-up over equal
            **extra,
        }
        atomic_write((out / "summary.json"), json.dumps(summary, indent=1))
        return summary

    eval_options = ("split", "seeds")  # splitgym evaluate RUN --split NAME --seeds N

    def evaluate(
        self, run: Path, cfg: DictConfig, split: str | None = None, seeds: int | None = None
    ) -> dict[str, Any]:
        """The exported policy per instance of the run's source (or ``split``) next to the
        classical planners (:mod:`splitgym.agents.tasks.distredge_v1_eval`)."""
        from splitgym.agents.tasks.distredge_v1_eval import evaluate_v1

        return evaluate_v1(run, cfg, split=split, seeds=seeds)

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        print(f"run: {run_dir} ({summary['source']}, {summary['policy']} policy)")
        print(f"{'instance':<64}{'latency_ms':>12}{'vs_equal':>10}")
        for name, v in summary["instances"].items():
            print(f"{name:<64}{v['latency_ms']:>12.2f}{v['vs_equal']:>10.3f}")
        print(
            f"mean speed-up over the equal split x{summary['mean_vs_equal']:.3f}; {summary['episodes']} episodes "
            f"in {summary['wall_s']:.1f} s; benchmark it: splitgym benchmark {run_dir} --split <split>"
        )


register_task(DistrEdgeV1Task())
