"""DistrEdge-v0 as an SB3 ``VecEnv`` of B instances stepped in one batched simulator call.

SB3's conventions, as ``DummyVecEnv`` keeps them: ``reset()`` returns the observations only (the
infos in ``reset_infos``), seeds and options set by ``seed()``/``set_options()`` are used by the
next ``reset()`` and then forgotten; at an episode's end ``step_wait`` resets at once, returns the
new episode's first observation and puts the last one in ``info["terminal_observation"]``, with
``info["TimeLimit.truncated"]`` (always False: DistrEdge-v0 never truncates). Rewards are float32
and infos deep copies, as ``DummyVecEnv`` returns them. The instances run in lockstep
(:mod:`~splitgym.envs.batched_distredge`), so every instance is done at the same step.

Per-step infos carry ``volume``; at the end also ``rows`` (the last volume's cut points),
``latency``, ``ips``, ``decision`` (the episode's (L, N+1) cuts, what
:class:`~splitgym.agents.callbacks.BestPlanCallback` keeps), ``equal_latency`` and ``clock``:
the single env's keys but for ``cuts`` (the same as ``decision``, as nested lists) and ``rows``
before the last step (one small array per instance and step was a fifth of the step's time at
B = 1,024; the batch's ``cuts`` array holds them, and ``decision`` at the end).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from splitgym.envs.batched_distredge import BatchStep, DistrEdgeBatch
from splitgym.envs.distredge import DistrEdgeEnv

__all__ = ["DistrEdgeVecEnv"]

#: attributes that differ between instances (every other attribute is the shared template's)
PER_INSTANCE = ("np_random", "clock")


class DistrEdgeVecEnv(VecEnv):
    """B DistrEdge-v0 instances behind SB3's ``VecEnv`` API (see the module docstring).

    Args:
        num_envs: B.
        env: the template DistrEdgeEnv (None: built from ``env_kwargs``, DistrEdgeEnv's arguments).

    ``get_attr``/``env_method`` read the shared template env (scenario, simulator, partition,
    ``T_equal``) but for :data:`PER_INSTANCE` attributes; ``set_attr`` is refused, since a value
    set on one instance would be set on all.
    """

    def __init__(self, num_envs: int, env: DistrEdgeEnv | None = None, **env_kwargs: Any) -> None:
        self.batch = DistrEdgeBatch(num_envs, env, **env_kwargs)
        self.env = self.batch.env
        super().__init__(self.batch.B, self.env.observation_space, self.env.action_space)
        self._actions: np.ndarray | None = None
        self._obs = self.batch.reset()

    # -- episodes -------------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        clocks = {o["clock"] for o in self._options if "clock" in o}
        if len(clocks) > 1:
            raise ValueError(f"options: one clock for every instance (they share a network), got {sorted(clocks)}")
        self._obs = self.batch.reset(list(self._seeds), clocks.pop() if clocks else None)
        self.reset_infos = [{"volume": 0, "clock": float(c)} for c in self.batch.clock]
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait: call step_async(actions) first")
        st = self.batch.step(self._actions)
        self._actions = None
        dones = np.full(self.num_envs, st.done)
        if not st.done:
            base = {"volume": st.volume, "TimeLimit.truncated": False}
            infos = [base.copy() for _ in range(self.num_envs)]
            self._obs = st.obs
            return st.obs.copy(), st.reward.astype(np.float32), dones, infos
        infos = self._final_infos(st)
        self._obs = self.batch.reset()
        self.reset_infos = [{"volume": 0, "clock": float(c)} for c in self.batch.clock]
        return self._obs.copy(), st.reward.astype(np.float32), dones, infos

    def _final_infos(self, st: BatchStep) -> list[dict[str, Any]]:
        """The infos of an episode's last step, one per instance, with its terminal observation."""
        assert st.latency is not None
        rows, decision, obs = st.rows.copy(), self.batch.cuts.copy(), st.obs.copy()
        latency, clock, equal = st.latency.tolist(), self.batch.clock.tolist(), self.env.T_equal
        return [
            {
                "volume": st.volume,
                "rows": rows[i],
                "latency": latency[i],
                "ips": 1.0 / latency[i],
                "decision": decision[i],
                "equal_latency": equal,
                "clock": clock[i],
                "TimeLimit.truncated": False,
                "terminal_observation": obs[i],
            }
            for i in range(self.num_envs)
        ]

    def close(self) -> None:
        """Nothing to release (no processes, no files)."""

    # -- attributes -----------------------------------------------------------------------------
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        idx = self._indices(indices)
        if attr_name == "np_random":
            return [self.batch.np_randoms[i] for i in idx]
        if attr_name == "clock":
            return [float(self.batch.clock[i]) for i in idx]
        value = getattr(self.env, attr_name)
        return [value for _ in idx]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        raise AttributeError(
            f"set_attr: {attr_name!r} cannot be set per instance; the {self.num_envs} instances share one DistrEdgeEnv "
            "(build a new DistrEdgeVecEnv instead)"
        )

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **kwargs: Any
    ) -> list[Any]:
        """The shared template's method, once per index (its episode state is not the instances')."""
        method = getattr(self.env, method_name)
        return [method(*method_args, **kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]

    def _indices(self, indices: VecEnvIndices) -> Iterable[int]:
        idx = self._get_indices(indices)
        return list(idx)
