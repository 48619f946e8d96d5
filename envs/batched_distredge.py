"""B instances of DistrEdge-v0 advanced together: one call of the batched simulator per step.

Why: a single ``DistrEdgeEnv.step`` costs a few microseconds of arithmetic wrapped in tens of
microseconds of Python (dispatch, checks, one decision through the simulator), and
``SyncVectorEnv``/``DummyVecEnv`` pay that B times per vector step. Here every instance's volume
goes through :meth:`Simulator.advance <splitgym.costmodels.volumes.volume_simulator.Simulator.advance>`
as one (B, N+1) batch, so the per-step cost is paid once per batch, not once per instance.

Instances of DistrEdge-v0 run in lockstep: every episode lasts exactly L steps (one per volume,
no truncation) and a fixed scenario gives every instance the same partition, so after a common
reset all B instances are at the same volume and end their episodes at the same step. The
adapters (:mod:`~splitgym.envs.distredge_sb3_vec`, :mod:`~splitgym.envs.distredge_gym_vec`) rely
on it: autoreset resets the whole batch. The numbers are those of B single envs given the same
actions: the same decode (Eq. 9 or the share action), the same simulator arithmetic (its
single-plan path equals its batched path, ``tests/test_single_plan.py``), the same observation
and reward formulas (``tests/test_batched_distredge.py`` checks the trajectories).

The dynamics are deterministic given the actions (DistrEdge-v0 draws nothing at random), so a
seed only sets each instance's ``np_random``, as ``DistrEdgeEnv.reset(seed=...)`` does.
Time-varying networks are refused: their bandwidths are sampled at each instance's own clock,
which differs between instances, while the batch shares one bandwidth matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.utils import seeding

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.costmodels.volumes.share_actions import SHARE_RANGE, share_cuts
from splitgym.envs.distredge import OBS_HIGH, DistrEdgeEnv

__all__ = ["DistrEdgeBatch", "BatchStep", "make_template"]


@dataclass
class BatchStep:
    """What one batched step returns (arrays over the B instances)."""

    obs: np.ndarray  # (B, N+4) float32: the next volume's state, or the final state at the end
    reward: np.ndarray  # (B,) float64
    done: bool  # every instance ended its episode at this step (lockstep)
    volume: int  # the volume this step decided
    rows: np.ndarray  # (B, N+1) cut points of this volume
    latency: np.ndarray | None  # (B,) end-to-end seconds, at the episode's end only


def make_template(env: DistrEdgeEnv | None, env_kwargs: Mapping[str, Any]) -> DistrEdgeEnv:
    """The one DistrEdge env whose scenario, simulator and partition every instance shares."""
    if env is not None and env_kwargs:
        raise EnvArgumentError(f"env_kwargs: give an env or its arguments, not both (got {sorted(env_kwargs)})")
    if env_kwargs.get("render_mode") is not None:
        raise EnvArgumentError(f"render_mode: the batched env does not render, got {env_kwargs['render_mode']!r}")
    template = env if env is not None else DistrEdgeEnv(**env_kwargs)
    if not isinstance(template, DistrEdgeEnv):
        raise EnvArgumentError(f"env: expected a DistrEdgeEnv, got {type(template).__name__}")
    if template._dynamic:
        raise EnvArgumentError(
            f"network: the batched env needs a static network (one bandwidth matrix for every instance), "
            f"got a time-varying one in scenario {template.scenario.name!r}"
        )
    return template


class DistrEdgeBatch:
    """The state of B lockstep DistrEdge-v0 instances and their step (see the module docstring).

    Args:
        num_envs: B, the number of instances.
        env: the template env (None: ``DistrEdgeEnv(**env_kwargs)``).
    """

    def __init__(self, num_envs: int, env: DistrEdgeEnv | None = None, **env_kwargs: Any) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise EnvArgumentError(f"num_envs: must be an integer >= 1, got {num_envs!r}")
        self.env = make_template(env, env_kwargs)
        self.B, self.N, self.L = int(num_envs), self.env.N, self.env.L
        self.sim = self.env.sim
        self.n_act = int(self.env.action_space.shape[0])
        self._heights = [int(u.height) for u in self.env._last]
        self.np_randoms: list[np.random.Generator | None] = [None] * self.B
        self.clock = np.zeros(self.B)
        self._reset_state()

    # -- episodes -------------------------------------------------------------------------------
    def reset(self, seeds: Sequence[int | None] | None = None, clock: float | None = None) -> np.ndarray:
        """Start a new episode in every instance; (B, N+4) observations. ``seeds[i]`` (not None)
        re-seeds instance i's ``np_random``; ``clock`` sets every instance's clock (as the single
        env's ``options={"clock": ...}``)."""
        if seeds is not None:
            if len(seeds) != self.B:
                raise EnvArgumentError(f"seed: expected {self.B} seeds, one per instance, got {len(seeds)}")
            for i, s in enumerate(seeds):
                if s is not None:
                    self.np_randoms[i], _ = seeding.np_random(int(s))
        if clock is not None:
            self.clock[:] = float(clock)
        self._reset_state()
        return self._obs(self.env._conf[0])

    def step(self, actions: np.ndarray) -> BatchStep:
        """Decide the current volume of every instance: ``actions`` is (B, n_act)."""
        if self.l >= self.L:
            raise RuntimeError("step: the episodes have ended; call reset() first")
        a = np.asarray(actions, dtype=np.float64)
        if a.ndim == 1 and self.n_act == 1:
            a = a[:, None]
        if a.shape != (self.B, self.n_act) or not np.all(np.isfinite(a)):
            raise ValueError(f"actions: expected ({self.B}, {self.n_act}) finite values, got shape {np.shape(actions)}")
        v = self.l
        first, last = self.env.partition[v]
        cuts = self.decode(a, v)
        self.T = self.sim.advance(first, last, cuts, self.T, self.prev).T
        self.prev = cuts
        self.cuts[:, v] = cuts
        self.l += 1
        if self.l < self.L:
            return BatchStep(self._obs(self.env._conf[self.l]), np.zeros(self.B), False, v, cuts, None)
        latency, _ = self.sim.finish(cuts, self.T)
        per_episode = self.env.time_per_episode
        self.clock += latency if per_episode is None else per_episode
        return BatchStep(self._obs(self.env._conf[self.L - 1]), self._reward(latency), True, v, cuts, latency)

    def decode(self, actions: np.ndarray, volume: int) -> np.ndarray:
        """(B, N+1) cut points of a batch of actions for one volume (DistrEdgeEnv.decode, batched)."""
        height = self._heights[volume]
        if self.env.action_mode == "shares":
            prior = self.env.prior[volume] if self.env.prior.ndim == 2 else self.env.prior
            return share_cuts(actions, prior, [height], SHARE_RANGE)[:, 0]
        x = np.sort(np.clip(actions, -1.0, 1.0), axis=1)
        rows = np.round(height * (x + 1.0) / 2.0).astype(np.int64)
        edges = np.empty((self.B, self.N + 1), dtype=np.int64)
        edges[:, 0], edges[:, -1], edges[:, 1:-1] = 0, height, rows
        return edges

    # -- internals ------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.l = 0
        self.T = np.zeros((self.B, self.N))
        self.prev: np.ndarray | None = None
        self.cuts = np.zeros((self.B, self.L, self.N + 1), dtype=np.int64)

    def _obs(self, conf: np.ndarray) -> np.ndarray:
        """DistrEdgeEnv._obs of every instance: clipped in float64, then cast (the same floats)."""
        obs = np.empty((self.B, self.N + 4), dtype=np.float32)
        obs[:, : self.N] = np.clip(self.T / self.env.T_scale, 0.0, OBS_HIGH)
        obs[:, self.N :] = np.clip(conf, 0.0, OBS_HIGH)
        return obs

    def _reward(self, latency: np.ndarray) -> np.ndarray:
        mode = self.env.reward_mode
        if mode == "paper":
            return 1.0 / latency
        if mode == "relative":
            return self.env.T_equal / latency
        return -latency * 1e3
