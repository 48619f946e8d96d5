"""What the NPTP-v1, MSMDI-v1 and HiDP-v0 benchmark adapters share: an env built on the whole
named split, the benchmark's instance index (maybe of a subset) mapped to the split's, and one
policy episode on an instance with the env's own end-of-episode objective."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from omegaconf import OmegaConf

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

    def _reset(self, j: int, env: gym.Env | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        return (env or self.env).reset(options={"instance": self.index[j]})

    def policy_env(self, act: Callable[[np.ndarray], Any]) -> gym.Env:
        """The env ``act`` plays: the adapter's; a trained run (:class:`RunPolicy`, with its config)
        of another env id is refused in one line. An adapter whose runs may change the
        observation or the action's meaning (HiDP's menu) builds the run's env here."""
        env_id = OmegaConf.select(getattr(act, "cfg", None) or OmegaConf.create({}), "env.id")
        if env_id is not None and env_id != self.split.env_id:
            raise SplitgymError(
                f"run {act.run}: trained on env.id={env_id}, the split {self.split.name} is of {self.split.env_id}"
            )  # type: ignore[attr-defined]
        return self.env

    def policy_latency(self, index: int, act: Callable[[np.ndarray], Any]) -> float:
        """One episode of ``act`` on the instance: the env's objective at its end (seconds)."""
        env = self.policy_env(act)
        obs, _ = self._reset(index, env)
        done, info = False, {}
        while not done:
            try:
                obs, _, term, trunc, info = env.step(act(obs))
            except ValueError as exc:  # EnvArgumentError included
                raise SplitgymError(
                    f"policy: its action does not fit {env.spec or type(env).__name__} ({exc})"
                ) from None
            done = term or trunc
        return float(info[self.objective])
