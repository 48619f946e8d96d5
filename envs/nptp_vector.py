"""NPTP-v0 batched: ``B`` copies of one instance stepped in one call (a Gymnasium ``VectorEnv``).

Every NPTP-v0 episode has ``N - 1`` steps, so ``B`` copies stay in lock-step: they start together,
end together and are reset together (``autoreset_mode`` SAME_STEP: the step that ends the
episodes returns the first observations of the next ones and the final ones in
``infos["final_obs"]``). The cuts are decoded for the whole batch at once by
:func:`decode_batch` (the arithmetic of :func:`tile_layouts.fraction_cuts` on arrays) and the
layouts scored at once by :meth:`TileCostModel.score_batch`, so a step costs a few numpy calls for
all ``B`` copies. Same observations, rewards and layouts as ``B`` single :class:`NPTPEnv` fed the
same actions (tests/test_nptp_vector.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from splitgym.envs.nptp import INFEASIBLE_FACTOR, NPTPEnv

__all__ = ["NPTPVectorEnv", "decode_batch"]


def decode_batch(actions: np.ndarray, h: int, w: int) -> np.ndarray:
    """:func:`~splitgym.envs.nptp.decode` of ``B`` decisions of ``k`` actions each, ``(B, k, 3)``
    -> ``(B, k + 1, 4)`` rectangles ``(r0, r1, c0, c1)``: the same sizes as ``fraction_cuts`` (the
    reserve of one row or column per later device counts the ``k`` steps given)."""
    a = np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    B, k = a.shape[:2]
    rem = np.tile(np.array([0, h, 0, w], dtype=np.int64), (B, 1))
    out = np.zeros((B, k + 1, 4), dtype=np.int64)
    rows = np.arange(B)
    for j in range(k):
        n_left = k - j
        ext2 = np.stack([rem[:, 1] - rem[:, 0], rem[:, 3] - rem[:, 2]], 1)  # (B, [rows, cols])
        axis = (a[:, j, 0] >= 0).astype(np.int64)  # COLS = 1 when >= 0
        swap = (ext2[rows, axis] < 2) & (ext2[rows, 1 - axis] >= 2)
        axis = np.where(swap, 1 - axis, axis)
        ext = ext2[rows, axis]
        big = ext >= 2
        lo, hi = np.where(big, 1, 0), np.where(big, ext - 1, 0)
        if n_left > 1:
            hi = np.where(big, np.maximum(lo, ext - n_left), hi)
        frac = (a[:, j, 2] + 1.0) / 2.0
        size = np.minimum(hi, np.maximum(lo, np.round(frac * ext).astype(np.int64)))
        side = (a[:, j, 1] >= 0).astype(np.int64)
        start = 2 * axis  # index of the axis' low edge in (r0, r1, c0, c1)
        piece = rem.copy()
        low, high = rem[rows, start], rem[rows, start + 1]
        piece[rows, start] = np.where(side == 0, low, high - size)
        piece[rows, start + 1] = np.where(side == 0, low + size, high)
        rem[rows, start] = np.where(side == 0, low + size, low)
        rem[rows, start + 1] = np.where(side == 0, high, high - size)
        out[:, j] = piece
    out[:, k] = rem
    return out


class NPTPVectorEnv(VectorEnv):
    """``num_envs`` lock-step copies of :class:`NPTPEnv` (its keyword arguments) in one env."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"num_envs: must be an integer >= 1, got {num_envs!r}")
        self.env = NPTPEnv(**kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.actions = np.zeros((num_envs, 0, 3))

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_random_seed = seed if isinstance(seed, int) else seed[0]
        self.actions = np.zeros((self.num_envs, 0, 3))
        return self._obs(np.tile(np.array([0, self.env.H, 0, self.env.W]), (self.num_envs, 1))), {}

    def step(self, actions: np.ndarray):
        e = self.env
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, 3)
        if not np.all(np.isfinite(a)):
            raise ValueError("actions: expected finite values (axis, side, share) for every env")
        self.actions = np.concatenate([self.actions, np.clip(a, -1.0, 1.0)[:, None]], 1)
        pieces = decode_batch(self.actions, e.H, e.W)
        k = self.actions.shape[1]
        zeros = np.zeros(self.num_envs)
        if k < e.episode_steps:
            return self._obs(pieces[:, -1]), zeros, zeros.astype(bool), zeros.astype(bool), {}
        latency, over = e.model.score_batch(pieces)
        penalised = np.where(over > 0, INFEASIBLE_FACTOR * e.T_ref + latency, latency)
        reward = e.T_ref / penalised if e.reward_mode == "relative" else -penalised * 1e3
        final = self._obs(pieces[:, -1])
        infos = {"latency": penalised, "model_latency": latency, "feasible": over == 0, "final_obs": final}
        obs, _ = self.reset()
        done = np.ones(self.num_envs, dtype=bool)
        return obs, reward, done, ~done, infos

    def _obs(self, rem: np.ndarray) -> np.ndarray:
        e = self.env
        k = self.actions.shape[1]
        head = np.stack(
            [
                rem[:, 0] / e.H,
                rem[:, 1] / e.H,
                rem[:, 2] / e.W,
                rem[:, 3] / e.W,
                np.full(len(rem), k / e.episode_steps),
            ],
            1,
        )
        full = np.concatenate([head, np.broadcast_to(e._devices, (len(rem), len(e._devices)))], 1)
        return np.clip(full, 0.0, 1.0).astype(np.float32)
