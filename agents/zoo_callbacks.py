"""What rl-zoo3 cannot say in its YAML, as a callback it can import by name: the paper's DDPG.

DistrEdge's DDPG (DE Alg. 2, L246) explores with epsilon-Gaussian noise
(:class:`~splitgym.agents.noise.EpsilonGaussianNoise`) and trains the critic at ten times the
actor's learning rate. rl-zoo3's hyperparameter files know only ``noise_type: normal`` /
``ornstein-uhlenbeck`` and one ``learning_rate``, and its ``--algo ddpg`` is SB3's DDPG, not
:class:`~splitgym.agents.algos.DistrEdgeDDPG`. What a zoo file can name is a ``callback`` class
with keyword arguments (``rl_zoo3.utils.get_callback_list``), and a callback sees the model before
its first step: :class:`DistrEdgeDDPGSettings` installs the noise and the critic's rate there.

    callback:
      - splitgym.agents.zoo_callbacks.DistrEdgeDDPGSettings:
          critic_learning_rate: !!float 1e-3
          variance: 0.1
          decay: 0.004

(``experiments/zoo/ddpg.yml`` ships it for every env.)
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from splitgym.agents.noise import EpsilonGaussianNoise
from splitgym.costmodels.errors import ConfigError

__all__ = ["DistrEdgeDDPGSettings", "PinnedRate"]


class DistrEdgeDDPGSettings(BaseCallback):
    """Installs DistrEdge's exploration noise and the critic's own learning rate on an
    off-policy actor-critic model (DDPG, TD3) when training starts.

    Args:
        critic_learning_rate: the critic optimiser's rate (None: the model's ``learning_rate``).
        variance, decay, per_episode, anchor_every: :class:`EpsilonGaussianNoise`'s arguments
            (``variance=None``: leave the model's action noise as the file set it).
    """

    def __init__(
        self,
        critic_learning_rate: float | None = None,
        variance: float | None = 0.1,
        decay: float = 1 / 250,
        per_episode: bool = False,
        anchor_every: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if critic_learning_rate is not None and not critic_learning_rate > 0:
            raise ConfigError(f"critic_learning_rate: expected a rate > 0, got {critic_learning_rate!r}")
        self.critic_learning_rate = critic_learning_rate
        self.noise_args = dict(variance=variance, decay=decay, per_episode=per_episode, anchor_every=anchor_every)

    def _init_callback(self) -> None:
        model: Any = self.model
        if not hasattr(model, "critic") or not hasattr(model, "actor"):
            raise ConfigError(
                f"callback DistrEdgeDDPGSettings: needs an actor-critic (ddpg, td3), got {type(model).__name__}"
            )
        if self.noise_args["variance"] is not None:
            n_actions = int(model.action_space.shape[0])
            model.action_noise = EpsilonGaussianNoise(n_actions, seed=model.seed, **self.noise_args)
        if self.critic_learning_rate is not None:
            opt = model.critic.optimizer
            opt.param_groups = [PinnedRate(g, float(self.critic_learning_rate)) for g in opt.param_groups]

    def _on_step(self) -> bool:
        return True


class PinnedRate(dict):
    """An optimiser's parameter group whose ``lr`` stays at its own value. Why: SB3 writes the
    model's ``learning_rate`` into every group of the actor's and the critic's optimisers before
    each update (``_update_learning_rate``); the critic's groups ignore that write. A plain dict
    subclass and not a patched method, so that the model still pickles (the zoo saves it)."""

    def __init__(self, group: dict[str, Any], lr: float) -> None:
        super().__init__(group)
        dict.__setitem__(self, "lr", lr)

    def __setitem__(self, key: str, value: Any) -> None:
        if key != "lr":
            super().__setitem__(key, value)
