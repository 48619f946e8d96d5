"""Algorithm table (rl-zoo's ALGOS): config name -> SB3 class, and the paper's DDPG.

DistrEdge trains its actor and critic with different learning rates (1e-4 / 1e-3, DE L246); SB3's
DDPG has one schedule for both, so :class:`DistrEdgeDDPG` keeps a second one for the critic.
"""

from __future__ import annotations

from typing import Any

import torch as th
from stable_baselines3 import DDPG, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.utils import update_learning_rate

__all__ = ["ALGOS", "DistrEdgeDDPG"]


class DistrEdgeDDPG(DDPG):
    """DDPG whose critic has its own learning rate (``critic_learning_rate``)."""

    def __init__(self, *args: Any, critic_learning_rate: float | None = None, **kwargs: Any) -> None:
        self.critic_learning_rate = critic_learning_rate
        super().__init__(*args, **kwargs)

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
