"""DistrEdge-v0 as a Gymnasium ``VectorEnv`` of B instances stepped in one batched simulator call.

Gymnasium's conventions, as ``SyncVectorEnv`` keeps them: ``reset(seed=s)`` seeds instance i with
``s + i`` (a list gives one seed per instance); infos are dicts of arrays with a ``_key`` mask;
``metadata["autoreset_mode"]`` says how an ended episode restarts:

* ``NEXT_STEP`` (the default): the step after the last one resets every instance, ignores its
  actions and returns the first observation, reward 0 and the reset infos;
* ``SAME_STEP``: the last step returns the next episode's first observation, with the last one in
  ``infos["final_obs"]`` and that step's infos in ``infos["final_info"]``;
* ``DISABLED``: the caller resets; since the instances run in lockstep
  (:mod:`~splitgym.envs.batched_distredge`), ``options={"reset_mask": m}`` must reset all or none.

Infos carry ``volume`` and ``rows`` ((B, N+1) cut points of the step's volume); at the end also
``latency``, ``ips``, ``decision`` ((B, L, N+1)), ``equal_latency`` and ``clock``: the single
env's keys but for ``cuts`` (``decision`` as nested lists).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.envs.batched_distredge import BatchStep, DistrEdgeBatch
from splitgym.envs.distredge import DistrEdgeEnv

__all__ = ["DistrEdgeVectorEnv"]


def _masked(values: dict[str, np.ndarray]) -> dict[str, Any]:
    """A vector info dict: every key with its all-true ``_key`` mask (every instance has it)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[key], out[f"_{key}"] = value, np.ones(len(value), dtype=np.bool_)
    return out


class DistrEdgeVectorEnv(VectorEnv):
    """B DistrEdge-v0 instances behind Gymnasium's ``VectorEnv`` API (see the module docstring).

    Args:
        num_envs: B.
        env: the template DistrEdgeEnv (None: built from ``env_kwargs``, DistrEdgeEnv's arguments).
        autoreset_mode: an :class:`AutoresetMode` or its value (``"NextStep"``, ``"SameStep"``,
            ``"Disabled"``).
    """

    def __init__(
        self,
        num_envs: int,
        env: DistrEdgeEnv | None = None,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        **env_kwargs: Any,
    ) -> None:
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            known = ", ".join(m.value for m in AutoresetMode)
            raise EnvArgumentError(f"autoreset_mode: must be one of {known}, got {autoreset_mode!r}") from None
        self.batch = DistrEdgeBatch(num_envs, env, **env_kwargs)
        self.env = self.batch.env
        self.num_envs = self.batch.B
        self.metadata = {"autoreset_mode": self.autoreset_mode, "render_modes": []}
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._ended = False  # every instance ended its episode at the last step
        self._obs = self.batch.reset()

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if isinstance(seed, int):
            super().reset(seed=seed)
            seeds: list[int | None] | None = [seed + i for i in range(self.num_envs)]
        else:
            seeds = seed
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is not None:
            mask = np.asarray(mask, dtype=np.bool_)
            if mask.shape != (self.num_envs,) or (mask.any() and not mask.all()):
                raise ValueError(f"reset_mask: the instances run in lockstep; reset all or none, got {mask.tolist()}")
            if not mask.any():
                return self._obs.copy(), {}
        obs = self.batch.reset(seeds, options.pop("clock", None))
        self._obs, self._ended = obs, False
        return obs.copy(), self._reset_infos()

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        B = self.num_envs
        no = np.zeros(B, dtype=np.bool_)
        if self._ended:
            if self.autoreset_mode == AutoresetMode.DISABLED:
                raise RuntimeError("step: the episodes have ended; with autoreset DISABLED call reset() first")
            obs, info = self.reset()  # NEXT_STEP: this step's actions are ignored
            return obs, np.zeros(B), no, no.copy(), info
        st = self.batch.step(actions)
        infos = _masked({"volume": np.full(B, st.volume), "rows": st.rows.copy()})
        if not st.done:
            self._obs = st.obs
            return st.obs.copy(), st.reward, no, no.copy(), infos
        infos.update(self._final_infos(st))
        done = np.ones(B, dtype=np.bool_)
        if self.autoreset_mode != AutoresetMode.SAME_STEP:
            self._obs, self._ended = st.obs, True
            return st.obs.copy(), st.reward, done, no, infos
        final_obs = np.empty(B, dtype=object)
        final_obs[:] = list(st.obs.copy())
        obs, reset_info = self.reset()
        out = {"final_obs": final_obs, "_final_obs": done.copy(), "final_info": infos, "_final_info": done.copy()}
        return obs, st.reward, done, no, {**out, **reset_info}

    def _final_infos(self, st: BatchStep) -> dict[str, Any]:
        assert st.latency is not None
        B = self.num_envs
        return _masked(
            {
                "latency": st.latency.copy(),
                "ips": 1.0 / st.latency,
                "decision": self.batch.cuts.copy(),
                "equal_latency": np.full(B, self.env.T_equal),
                "clock": self.batch.clock.copy(),
            }
        )

    def _reset_infos(self) -> dict[str, Any]:
        return _masked({"volume": np.zeros(self.num_envs, dtype=np.int64), "clock": self.batch.clock.copy()})
