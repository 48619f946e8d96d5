"""TensorBoard and CSV output by episodes: what ``runs/<run>/tb`` holds and when it is written.

SB3 dumps its logger every ``log_interval`` *episodes* for off-policy algorithms but every
``log_interval`` *rollouts* for on-policy ones (PPO with ``log_interval=20`` and 1000 episodes
wrote nothing). ``splitgym train`` therefore passes ``log_interval=None`` to SB3 and
:class:`EpisodeDump` dumps every ``log_interval`` episodes for every algorithm, with the episode
count as the x axis (TensorBoard's step), adding each time:

- the reference scalars the training task computed once at the start (``ref/``: the classical
  planners' latencies, drawn as flat lines next to the learning curve);
- the best plan as a Gantt chart (``best/plan``), only when the best plan changed since the last
  dump (a picture per episode would be most of the event file).

:func:`log_hparams` writes the run's config next to its final metrics through SB3's ``HParam``,
so the runs of a sweep line up in TensorBoard's HParams tab.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure, HParam, Logger

from splitgym.agents.callbacks import BestPlanCallback

__all__ = ["EpisodeDump", "log_hparams", "hparam_values"]

_ONLY_TB = ("stdout", "log", "json", "csv")


class EpisodeDump(BaseCallback):
    def __init__(
        self,
        best: BestPlanCallback,
        every: int,
        references: dict[str, float] | None = None,
        figure: Callable[[Any], Any] | None = None,
    ) -> None:
        super().__init__()
        self.best, self.every = best, max(1, int(every))
        self.references = dict(references or {})
        self.figure = figure
        self._dumped = 0
        self._pictured = -1
        self._t0, self._steps0 = time.perf_counter(), 0

    def _on_training_start(self) -> None:
        self._dumped = self.best.episodes
        self._t0, self._steps0 = time.perf_counter(), self.num_timesteps

    def _on_step(self) -> bool:
        if self.best.episodes - self._dumped >= self.every:
            self.dump()
        return True

    def _on_training_end(self) -> None:
        if self.best.episodes > self._dumped or self._pictured != self.best.best_episode:
            self.dump()

    def dump(self) -> None:
        self._dumped = self.best.episodes
        for key, value in self.references.items():
            self.logger.record(key, value)
        self.logger.record("time/total_timesteps", self.num_timesteps)
        elapsed = time.perf_counter() - self._t0
        if elapsed > 0:
            self.logger.record("time/fps", int((self.num_timesteps - self._steps0) / elapsed))
        if self.figure is not None and self.best.best_decision is not None and self._pictured != self.best.best_episode:
            fig = self.figure(self.best.best_decision)
            if fig is not None:
                self.logger.record("best/plan", Figure(fig, close=True), exclude=_ONLY_TB)
            self._pictured = self.best.best_episode
        self.logger.dump(self.best.episodes)


def hparam_values(cfg: DictConfig) -> dict[str, bool | str | float]:
    """The config's scalar leaves as ``group.key`` (lists and Hydra's own settings left out):
    what a sweep varies is among them whatever group it overrides."""
    data = OmegaConf.to_container(cfg, resolve=True)
    out: dict[str, bool | str | float] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, bool | str):
            out[prefix] = node
        elif isinstance(node, int | float):
            out[prefix] = float(node)
        elif node is None:
            out[prefix] = "null"

    walk("", {k: v for k, v in (data or {}).items() if k != "hydra"})  # type: ignore[union-attr]
    return out


def log_hparams(logger: Logger, cfg: DictConfig, metrics: dict[str, float], step: int) -> None:
    """HParams (config -> ``metrics``); the metrics are also written as scalars under their own
    tags, which is where the HParams tab reads their values."""
    for key, value in metrics.items():
        logger.record(key, float(value))
    logger.record("hparams", HParam(hparam_values(cfg), dict(metrics)), exclude=_ONLY_TB)
    logger.dump(step)
