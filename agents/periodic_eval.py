"""A periodic deterministic evaluation during training (``eval.every`` episodes).

The training curve mixes exploration noise with what the policy knows; a researcher wants the
deterministic policy's number as it learns. Every ``every`` episodes this runs ``episodes``
deterministic episodes on a separate env of the same config (so the training env's state, clock
and noise are untouched) and records the mean of the task's own episode scalars under ``eval/``
(e.g. ``eval/episode_latency_ms`` for DistrEdge, ``eval/total_time_s`` for MS-MDI).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from splitgym.agents.callbacks import BestPlanCallback

__all__ = ["PeriodicEval", "eval_tag"]


def eval_tag(tag: str) -> str:
    """``charts/episode_latency_ms`` -> ``eval/episode_latency_ms``."""
    return "eval/" + tag.rsplit("/", 1)[-1]


class PeriodicEval(BaseCallback):
    def __init__(
        self,
        best: BestPlanCallback,
        env: gym.Env,
        scalars: Callable[[dict[str, Any]], dict[str, float]],
        every: int,
        episodes: int = 1,
        seed: int = 10_000,
    ) -> None:
        super().__init__()
        self.best, self.env, self.scalars = best, env, scalars
        self.every, self.n, self.seed = max(1, int(every)), max(1, int(episodes)), seed
        self._last = 0
        self.last: dict[str, float] = {}

    def _on_training_start(self) -> None:
        self._last = self.best.episodes - self.best.episodes % self.every

    def _on_step(self) -> bool:
        if self.best.episodes - self._last >= self.every:
            self._last = self.best.episodes - self.best.episodes % self.every
            self.evaluate()
        return True

    def evaluate(self) -> dict[str, float]:
        """Run the deterministic episodes now and record their mean scalars."""
        runs = []
        for i in range(self.n):
            obs, _ = self.env.reset(seed=self.seed + i)
            done, ret, info = False, 0.0, {}
            while not done:
                action, _ = self.model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, info = self.env.step(action)
                ret += float(reward)
                done = terminated or truncated
            runs.append({**{eval_tag(k): v for k, v in self.scalars(info).items()}, "eval/return": ret})
        self.last = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        for key, value in self.last.items():
            self.logger.record(key, value)
        self.logger.record("eval/at_episode", self.best.episodes)
        return self.last
