"""What the NPTP-v1, MSMDI-v1 and HiDP-v0 benchmark adapters share: an env built on the whole
named split, the benchmark's instance index (maybe of a subset) mapped to the split's, and one
policy episode on an instance with the env's own end-of-episode objective."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from splitgym.costmodels.errors import SplitgymError
from splitgym.envs.splits import Split, get_split

__all__ = ["SplitEnvAdapter", "split_index"]


def split_index(split: Split) -> list[int]:
    """Per instance of ``split`` (maybe a subset), its index in the named split's file: what
    ``reset(options={"instance": i})`` of an env built on the whole split takes."""
    full = [i.name for i in get_split(split.name).instances]
    return [full.index(i.name) for i in split.instances]


class SplitEnvAdapter:
    """Base of the adapters: ``objective`` is the ``info`` key of the episode's latency."""

    objective = "latency"

    def __init__(self, split: Split, env: gym.Env) -> None:
        self.split, self.env = split, env
        self.index = split_index(split)

    def instance_names(self) -> list[str]:
        return [i.name for i in self.split.instances]

    def _reset(self, j: int) -> tuple[np.ndarray, dict[str, Any]]:
        return self.env.reset(options={"instance": self.index[j]})

    def policy_latency(self, index: int, act: Callable[[np.ndarray], Any]) -> float:
        """One episode of ``act`` on the instance: the env's objective at its end (seconds)."""
        obs, _ = self._reset(index)
        done, info = False, {}
        while not done:
            try:
                obs, _, term, trunc, info = self.env.step(act(obs))
            except ValueError as exc:  # EnvArgumentError included
                raise SplitgymError(
                    f"policy: its action does not fit {self.env.spec or type(self.env).__name__} ({exc})"
                ) from None
            done = term or trunc
        return float(info[self.objective])
