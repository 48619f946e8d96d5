"""Algorithm table (rl-zoo's ALGOS): config name -> SB3 class, and the paper's DDPG.

DistrEdge trains its actor and critic with different learning rates (1e-4 / 1e-3, DE L246); SB3's
DDPG has one schedule for both, so :class:`DistrEdgeDDPG` keeps a second one for the critic.
It also chooses how the warm-up steps before ``learning_starts`` act (``warmup``): SB3 samples them
uniformly from the action box; ``"actor"`` (ours) takes the actor's output plus the exploration
noise instead, so that with an action whose centre means something (the share action) and an
actor started there (``actor_init_scale``) the critic's first data lie around that start rather
than all over the box.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import DDPG, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import ActionNoise
from stable_baselines3.common.utils import update_learning_rate

from splitgym.costmodels.errors import ConfigError

__all__ = ["ALGOS", "DistrEdgeDDPG"]


class DistrEdgeDDPG(DDPG):
    """DDPG whose critic has its own learning rate (``critic_learning_rate``) and whose warm-up
    acts uniformly (SB3) or with the noisy actor (``warmup="actor"``)."""

    def __init__(
        self, *args: Any, critic_learning_rate: float | None = None, warmup: str = "uniform", **kwargs: Any
    ) -> None:
        if warmup not in ("uniform", "actor"):
            raise ConfigError(f"agent.kwargs.warmup: must be 'uniform' or 'actor', got {warmup!r}")
        self.critic_learning_rate = critic_learning_rate
        self.warmup = warmup
        super().__init__(*args, **kwargs)

    def _sample_action(
        self, learning_starts: int, action_noise: ActionNoise | None = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        return super()._sample_action(0 if self.warmup == "actor" else learning_starts, action_noise, n_envs)

    def _update_learning_rate(self, optimizers: list[th.optim.Optimizer] | th.optim.Optimizer) -> None:
        super()._update_learning_rate(optimizers)
        if self.critic_learning_rate is not None:
            update_learning_rate(self.critic.optimizer, self.critic_learning_rate)
            self.logger.record("train/critic_learning_rate", self.critic_learning_rate)


ALGOS: dict[str, type[BaseAlgorithm]] = {
    "ddpg": DistrEdgeDDPG,
    "td3": TD3,
    "sac": SAC,
    "ppo": PPO,
}
