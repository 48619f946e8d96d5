"""DistrEdge's exploration as an SB3 action noise.

With probability eps = 1 - (episode * De)^2 the actor's output gets N(0, s^2) added (DE Alg. 2,
lines 10-14; De = 1/250, s^2 = 0.1 for 4 devices, 1 for 16). So exploration stops after
1/De = 250 episodes (PAPERS-AUDIT B.1 item 7). SB3 adds the noise to the actor's output and
stores that raw (unsorted, clipped to [-1, 1]) action in the replay buffer; the env sorts and maps
it, which is the paper's "we still utilize the original output action vector".

``per_episode=True`` (ours) draws the noise (and the eps coin) once per episode and adds the same
vector at every volume. With the share action (costmodels/volumes/share_actions.py) a fresh draw per volume
moves rows between devices from one volume to the next, and the re-distribution that costs
swamps the effect being explored (four Nanos: +10-80 ms around a 66 ms start at s^2 = 0.02); one
draw per episode explores "the same ratio, perturbed", which is what the share prior varies.

``anchor_every=K`` (ours) makes the 1st, (K+1)-th, (2K+1)-th, ... episode played noise-free
(counted by episodes in which the noise is asked for, since SB3 also resets it once before the
first): the deterministic actor's own
decision is then played, recorded by the best-plan tracking (Alg. 2's Actor*) and stored in the
replay buffer like any other. Why: with the share action's integer rows the latency is piecewise
constant and the noise-free start matters (on 16 devices a = +-0.002 moves it by 3%), yet with
eps = 1 for the first episodes the actor's own decision is never played until the noise ends.
"""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.noise import ActionNoise

__all__ = ["EpsilonGaussianNoise"]


class EpsilonGaussianNoise(ActionNoise):
    def __init__(
        self,
        size: int,
        variance: float = 0.1,
        decay: float = 1 / 250,
        seed: int | None = None,
        per_episode: bool = False,
        anchor_every: int = 0,
    ) -> None:
        super().__init__()
        if variance < 0 or decay < 0:
            raise ValueError(f"variance/decay: must be >= 0, got {variance}/{decay}")
        if anchor_every < 0:
            raise ValueError(f"anchor_every: must be >= 0, got {anchor_every}")
        self.anchor_every = anchor_every
        self.played = 0  # episodes in which the noise was asked for (SB3 also resets before the first)
        self._in_episode = False
        self._anchor = False
        self.size = size
        self.std = float(np.sqrt(variance))
        self.decay = decay
        self.episode = 0
        self.rng = np.random.default_rng(seed)
        self.per_episode = per_episode
        self._drawn: np.ndarray | None = None

    @property
    def epsilon(self) -> float:
        return max(0.0, 1.0 - (self.episode * self.decay) ** 2)

    @property
    def anchored(self) -> bool:
        """This episode plays the actor without noise (the 1st, the (K+1)-th, ... played)."""
        return self._anchor

    def _start_episode(self) -> None:
        if not self._in_episode:
            self._in_episode = True
            self._anchor = self.anchor_every > 0 and self.played % self.anchor_every == 0
            self.played += 1

    def _draw(self) -> np.ndarray:
        if self.anchored:
            return np.zeros(self.size, dtype=np.float32)
        if self.rng.random() < self.epsilon:
            return self.rng.normal(0.0, self.std, self.size).astype(np.float32)
        return np.zeros(self.size, dtype=np.float32)

    def __call__(self) -> np.ndarray:
        self._start_episode()
        if not self.per_episode:
            return self._draw()
        if self._drawn is None:
            self._drawn = self._draw()
        return self._drawn.copy()

    def reset(self) -> None:
        """Called by SB3 at the end of every episode."""
        self.episode += 1
        self._drawn = None
        self._in_episode = False

    def __repr__(self) -> str:
        return f"EpsilonGaussianNoise(std={self.std:.3f}, decay={self.decay}, episode={self.episode})"
