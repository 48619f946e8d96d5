"""Training HiDP-v0's load-aware plan choice: ``splitgym train env=hidp`` (PPO: the action is an
index into the request's menu, ``Discrete``).

One plan per request does not fit the best-plan contract of the other tasks (a plan found once,
exported), so this task exports a *scheduler*: the final policy (``export/policy.zip``; the best
episode is merely the stream with the easiest arrivals) and ``summary.json`` with its episode
objective and HiDP's DP, DisNet, OmniBoost and the earliest-finish look-ahead on the same seeded
streams (:mod:`splitgym.agents.tasks.hidp_eval`). The env comes from ``cfg.env`` alone (models,
rates, a HiDP device group; or ``env.split=hidp-v0/train``: the split's models, rates, requests and
arrivals per reset): the model/devices/network groups of the training config are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig

from splitgym.agents.tasks import TrainTask, register_task
from splitgym.agents.tasks.hidp_eval import compare_policies, eval_seeds, rows_of
from splitgym.costmodels.atomic import atomic_write
from splitgym.costmodels.errors import ConfigError, SplitgymError
from splitgym.envs.hidp_env import HiDPEnv
from splitgym.envs.hidp_streams import template_menu

__all__ = ["HiDPTask", "hidp_kwargs", "menu_by_name", "MENUS"]

#: ``env.menu`` names (the planners' menu is imported when asked for: it loads HiDP's planners)
MENUS = ("planners", "templates")
KEYS = ("id", "models", "rates", "devices", "requests", "reward", "menu", "backlog_scale", "preview")
KEYS += ("normalize_reward", "eval_episodes", "split")
SPLIT_SETS = ("models", "rates", "requests")  # what a split's instances set (env.split: refused beside it)


def menu_by_name(name: Any) -> Any:
    if name == "templates":
        return template_menu
    if name == "planners":
        from splitgym.agents.planners.nodes.hidp_menu import planner_menu

        return planner_menu
    raise ConfigError(f"env.menu: must be one of {', '.join(MENUS)}, got {name!r}")


def _list(cfg: DictConfig, key: str) -> list[Any]:
    value = cfg.env.get(key)
    if not isinstance(value, ListConfig) or not value:
        raise ConfigError(f"env.{key}: expected a non-empty list, got {value!r}")
    return list(value)


def hidp_kwargs(cfg: DictConfig) -> dict[str, Any]:
    """HiDPEnv's arguments from ``cfg.env``; a key nothing reads is refused in one line."""
    unknown = [k for k in cfg.env if k not in KEYS]
    if unknown:
        raise ConfigError(f"env.{unknown[0]}: not a setting of {HiDPTask.env_id} (known: {', '.join(KEYS)})")
    rates = _list(cfg, "rates")
    if not all(isinstance(r, (int, float)) and not isinstance(r, bool) for r in rates):
        raise ConfigError(f"env.rates: expected requests/s per stream, got {rates!r}")
    preview = cfg.env.get("preview", False)
    if not isinstance(preview, bool):
        raise ConfigError(f"env.preview: expected true or false, got {preview!r}")
    return {
        "models": tuple(str(m) for m in _list(cfg, "models")),
        "rates": tuple(float(r) for r in rates),
        "devices": str(cfg.env.devices),
        "requests": int(cfg.env.requests),
        "reward": str(cfg.env.reward),
        "menu": menu_by_name(cfg.env.get("menu", "planners")),
        "backlog_scale": float(cfg.env.get("backlog_scale", 1.0)),
        "preview": preview,
        "split": None if cfg.env.get("split") is None else str(cfg.env.split),
    }


class HiDPTask(TrainTask):
    env_id = "splitgym/HiDP-v0"
    eval_options = ("seeds",)  # splitgym evaluate RUN --seeds N

    def make_env(self, cfg: DictConfig) -> HiDPEnv:
        if HydraConfig.initialized():  # the streams carry their models; env.devices the cluster
            for override in HydraConfig.get().overrides.task:
                if override.split("=")[0].split(".")[0].lstrip("+~") in ("model", "devices", "network"):
                    raise ConfigError(f"{override}: not used by {self.env_id} (set env.models, env.devices)")
                key = override.split("=")[0].lstrip("+~")
                if cfg.env.get("split") is not None and key in (f"env.{k}" for k in SPLIT_SETS):
                    raise ConfigError(f"{override}: env.split={cfg.env.split} sets it per instance; drop one")
        kwargs = hidp_kwargs(cfg)
        env = HiDPEnv(**kwargs)
        env.run_kwargs = kwargs  # type: ignore[attr-defined]  (the export's baseline twin)
        episodes = cfg.env.get("eval_episodes", 5)
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise ConfigError(f"env.eval_episodes: expected a positive integer, got {episodes!r}")
        env.eval_episodes = episodes  # type: ignore[attr-defined]
        return env

    def training_env(self, cfg: DictConfig, env: HiDPEnv) -> Any:
        """``env.normalize_reward``: SB3's ``VecNormalize`` running reward scale (a request's
        slowdown ranges over 1-30, as in experiments/hidp_env_ppo.py), else ``env`` itself."""
        norm = cfg.env.get("normalize_reward", False)
        if not isinstance(norm, bool):
            raise ConfigError(f"env.normalize_reward: expected true or false, got {norm!r}")
        if not norm:
            return env
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        return VecNormalize(DummyVecEnv([lambda: Monitor(env)]), norm_obs=False, norm_reward=True)

    def noise_dims(self, env: HiDPEnv) -> int:
        return 0

    def episode_scalars(self, info: dict[str, Any]) -> dict[str, float]:
        return {"hidp/mean_latency_ms": float(info["latency"]) * 1e3, "hidp/throughput_rps": float(info["throughput"])}

    def best_scalars(self, best_latency: float) -> dict[str, float]:
        return {"hidp/best_mean_latency_ms": best_latency * 1e3}

    def export(self, model: Any, env: HiDPEnv, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """The final policy and the comparison on ``env.eval_episodes`` held-out seeds."""
        out.mkdir(parents=True, exist_ok=True)
        model.set_parameters(str(out.parent / "checkpoints" / "model.zip"), exact_match=False, device="cpu")
        model.save(out / "policy.zip", exclude=["train"])  # "train" is wrapped by a timer (agents/train.py)
        seeds = eval_seeds(env.eval_episodes)  # type: ignore[attr-defined]
        res = compare_policies(env, env.run_kwargs, model, seeds)  # type: ignore[attr-defined]
        summary = {
            **{k: v for k, v in extra.items() if isinstance(v, (int, float, str, bool))},
            "env_id": self.env_id,
            "eval_seeds": seeds,
            "results": res,
            "objective": res["learned"]["return"],  # the env's own episode objective (higher is better)
        }
        atomic_write(out / "summary.json", json.dumps(summary, indent=1))
        return summary

    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        print(f"run: {run_dir} ({len(summary['eval_seeds'])} held-out streams)")
        print(f"{'policy':<18}{'return':>10}{'latency_ms':>12}{'req/s':>9}")
        for r in rows_of(summary["results"]):
            print(f"{r['policy']:<18}{r['return']:>10.2f}{r['mean_latency_ms']:>12.2f}{r['throughput_rps']:>9.2f}")
        print(f"{summary.get('episodes', '?')} episodes; evaluate again: splitgym evaluate {run_dir} --seeds N")

    def evaluate(self, run: Path, cfg: DictConfig, seeds: int | None = None) -> dict[str, Any]:
        """The exported policy and the baselines on ``seeds`` (default ``env.eval_episodes``) streams."""
        from stable_baselines3 import PPO

        path = run / "export" / "policy.zip"
        if not path.exists():
            raise SplitgymError(f"run {run}: incomplete, missing export/policy.zip")
        env = self.make_env(cfg)
        n = env.eval_episodes if seeds is None else seeds  # type: ignore[attr-defined]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"--seeds: expected a positive number of episodes, got {seeds!r}")
        model = PPO.load(path, device="cpu")
        if model.observation_space != env.observation_space:
            raise SplitgymError(
                f"run {run}: export/policy.zip observes {model.observation_space.shape}, "
                f"the run's env {env.observation_space.shape} (config.yaml edited?)"
            )
        res = compare_policies(env, env.run_kwargs, model, eval_seeds(n))  # type: ignore[attr-defined]
        title = f"run {run}: {n} seeded streams ({', '.join(env.models)} on {env.nodes.name}), mean per episode"
        return {"run": str(run), "results": res, "rows": rows_of(res), "title": title}


register_task(HiDPTask())
