"""What ``splitgym train`` trains on: one :class:`TrainTask` per environment id.

The Hydra app (:mod:`splitgym.agents.train`) is the same for every environment (config, algorithm,
callbacks, checkpoints, resume, Ctrl-C); what differs per environment is how its env is built
from the config, how long an episode is, what the best decision found means (a split plan, a tile
plan, a schedule) and how it is exported and reported. ``cfg.env.id`` picks the task from
:data:`TASKS`, so a new environment joins training by adding one module here and one
``conf/env/<name>.yaml`` whose ``id`` names it.

The contract with the env: at the end of every episode its ``info`` carries ``latency`` (seconds,
or any cost where lower is better) and ``decision`` (what :meth:`TrainTask.export` needs to rebuild
the best plan, e.g. DistrEdge's cut points). :class:`~splitgym.agents.callbacks.BestPlanCallback`
keeps the best one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
from omegaconf import DictConfig

from splitgym.agents.callbacks import best_latency_scalars, latency_scalars
from splitgym.costmodels.errors import ConfigError

__all__ = ["TrainTask", "TASKS", "get_task", "register_task"]


class TrainTask(ABC):
    """How one environment is trained, exported and reported (see the module docstring)."""

    env_id: ClassVar[str]

    @abstractmethod
    def make_env(self, cfg: DictConfig) -> gym.Env:
        """The env of the run's config (``cfg.env``, ``cfg.model``, ``cfg.devices``, ...)."""

    def training_env(self, cfg: DictConfig, env: gym.Env) -> Any:
        """What the algorithm learns on: ``env`` itself, or a vector env of instances like it
        (``cfg.env.n_envs``, where the task has a batched env). ``env`` stays the one that
        callbacks, the export and the report read."""
        return env

    def episode_steps(self, env: gym.Env) -> int:
        """Steps per episode: ``cfg.episodes`` times this is the training budget in steps."""
        return int(env.unwrapped.episode_steps)  # type: ignore[attr-defined]

    def noise_dims(self, env: gym.Env) -> int:
        """Action dimensions that exploration noise applies to (0: no action noise)."""
        space = env.action_space
        return int(space.shape[0]) if isinstance(space, gym.spaces.Box) and space.shape else 0

    def describe(self, env: gym.Env) -> Callable[[Any], dict[str, float]] | None:
        """Scalars to log under ``best/`` whenever a new best decision is found (or None)."""
        return None

    # -- what TensorBoard shows for this env (splitgym.agents.tb_logging) -------------------------
    def episode_scalars(self, info: dict[str, Any]) -> dict[str, float]:
        """Scalars of one finished episode, under tags that mean something for this env."""
        return latency_scalars(info)

    def best_scalars(self, best_latency: float) -> dict[str, float]:
        """Scalars of the best episode so far (its ``latency``)."""
        return best_latency_scalars(best_latency)

    def reference_scalars(self, env: gym.Env) -> dict[str, float]:
        """The classical methods on the same env (``ref/`` tags), computed once at the start."""
        return {}

    def plan_figure(self, env: gym.Env, decision: Any) -> Any | None:
        """A matplotlib figure of a decision (the best plan's Gantt chart), or None."""
        return None

    @abstractmethod
    def export(self, model: Any, env: gym.Env, best: Any, out: Path, extra: dict[str, Any]) -> dict[str, Any]:
        """Write the run's ``export/`` folder (best plan, policy, ``summary.json``) and return the
        summary. It must hold ``objective``: the number a Hydra sweep maximises."""

    @abstractmethod
    def report(self, summary: dict[str, Any], run_dir: Path) -> None:
        """Print the run's result for a person (a table against the reference methods)."""

    def evaluate(self, run: Path, cfg: DictConfig) -> dict[str, Any]:
        """Re-check a finished run from its files alone (``splitgym evaluate``)."""
        raise ConfigError(f"env.id: {self.env_id!r} has no evaluator yet (run: {run})")


TASKS: dict[str, TrainTask] = {}


def register_task(task: TrainTask) -> TrainTask:
    TASKS[task.env_id] = task
    return task


def get_task(env_id: str) -> TrainTask:
    try:
        return TASKS[env_id]
    except KeyError:
        raise ConfigError(f"env.id: no training task for {env_id!r} (known: {', '.join(sorted(TASKS))})") from None


# The tasks, one module each (imported last: they subclass TrainTask and call register_task).
from splitgym.agents.tasks import (  # noqa: E402,F401
    distredge_task,
    distredge_v1_task,
    hidp_task,
    msmdi_task,
    nptp_task,
    nptp_v1_task,
)
