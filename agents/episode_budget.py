"""Train for a number of *episodes*, whatever the algorithm, with a progress bar over them.

``splitgym train episodes=N`` used to become ``N x steps_per_episode`` timesteps handed to SB3;
an on-policy algorithm then rounds up to whole rollouts (PPO ``n_steps=256`` on a 2-volume
partition: 50 episodes are 100 steps, one rollout is 128 episodes). This callback stops learning
at the end of the N-th episode instead, which every SB3 algorithm honours (``on_step`` returning
False ends ``collect_rollouts`` and ``learn``), and shows the episodes and the best latency so far
on a tqdm bar.
"""

from __future__ import annotations

from stable_baselines3.common.callbacks import BaseCallback
from tqdm.auto import tqdm

from splitgym.agents.callbacks import BestPlanCallback

__all__ = ["EpisodeBudget"]


class EpisodeBudget(BaseCallback):
    """Stop after ``episodes`` episodes (counted by ``best``, so a resumed run counts on)."""

    def __init__(self, best: BestPlanCallback, episodes: int, progress: bool = False) -> None:
        super().__init__()
        self.best, self.episodes, self.progress = best, int(episodes), progress
        self._bar: tqdm | None = None
        self._seen = 0

    def _on_training_start(self) -> None:
        self._seen = self.best.episodes
        if self.progress:
            self._bar = tqdm(total=self.episodes, initial=self._seen, desc="train", unit="ep", dynamic_ncols=True)

    def _on_step(self) -> bool:
        if self._bar is not None and self.best.episodes != self._seen:
            self._bar.update(self.best.episodes - self._seen)
            if self.best.best_latency < float("inf"):
                self._bar.set_postfix(best_ms=f"{self.best.best_latency * 1e3:.2f}", refresh=False)
        self._seen = self.best.episodes
        return self.best.episodes < self.episodes

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
