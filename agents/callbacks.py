"""SB3 callbacks for split-decision training: best-plan tracking, TensorBoard charts, checkpoints.

``BestPlanCallback`` is DistrEdge Alg. 2 lines 23-26: whenever an episode's end-to-end latency
beats the best so far, keep its decisions (``info["decision"]``: split rows, tiles, a schedule),
the actor and the critic. It also logs, per episode, the latency, IPS and best IPS (``charts/``)
and what the training task says of the best decision (``best/``, e.g. DistrEdge's per-device
breakdown). ``ResumableCheckpoint`` saves the model, its replay buffer and the callbacks' state
every few episodes so a killed run resumes where it was.
"""

from __future__ import annotations

import copy
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from splitgym.agents.checkpoint_set import write_set
from splitgym.agents.rng_state import capture

__all__ = ["BestPlanCallback", "ResumableCheckpoint", "latency_scalars", "best_latency_scalars"]


def latency_scalars(info: dict[str, Any]) -> dict[str, float]:
    """An episode's latency and IPS: the default tags (a plan's end-to-end latency in ``info``)."""
    lat = float(info["latency"])
    return {"charts/episode_latency_ms": lat * 1e3, "charts/ips": 1.0 / lat}


def best_latency_scalars(best_latency: float) -> dict[str, float]:
    return {"charts/best_ips": 1.0 / best_latency, "charts/best_latency_ms": best_latency * 1e3}


class BestPlanCallback(BaseCallback):
    """Keeps the best decision, actor and critic; records each episode's scalars (the training
    task's tags: ``scalars(info)``, averaged over a dump interval, and ``best_scalars(latency)``)."""

    def __init__(
        self,
        out_dir: str | Path,
        describe: Callable[[Any], dict[str, float]] | None = None,
        verbose: int = 0,
        scalars: Callable[[dict[str, Any]], dict[str, float]] = latency_scalars,
        best_scalars: Callable[[float], dict[str, float]] = best_latency_scalars,
    ) -> None:
        super().__init__(verbose)
        self.out_dir = Path(out_dir)
        self.describe = describe
        self.scalars, self.best_scalars = scalars, best_scalars
        self.best_latency = float("inf")
        self.best_decision: np.ndarray | None = None
        self.best_episode = -1
        self.best_policy_state: dict[str, Any] | None = None
        self.episodes = 0
        self.latencies: list[float] = []
        self._t0 = time.perf_counter()
        self.env_seconds = 0.0

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if not done or "latency" not in info:
                continue
            self.episodes += 1
            lat = float(info["latency"])
            self.latencies.append(lat)
            for key, value in self.scalars(info).items():
                self.logger.record_mean(key, value)
            self.logger.record("charts/episodes", self.episodes)
            if lat < self.best_latency:
                self._new_best(lat, np.asarray(info["decision"]))
            for key, value in self.best_scalars(self.best_latency).items():
                self.logger.record(key, value)
            self.logger.record("charts/best_episode", self.best_episode)
        return True

    def _new_best(self, latency: float, decision: np.ndarray) -> None:
        self.best_latency, self.best_decision, self.best_episode = latency, decision, self.episodes
        # Alg. 2 lines 23-26: keep Actor* and Critic* with the best plan (in memory; written at
        # checkpoints and at the end)
        self.best_policy_state = copy.deepcopy(self.model.policy.state_dict())
        if self.describe is not None:
            for key, value in self.describe(decision).items():
                self.logger.record(f"best/{key}", value)

    # -- persistence (used by checkpoints and export) -------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "best_latency": self.best_latency,
            "best_episode": self.best_episode,
            "episodes": self.episodes,
            "best_decision": None if self.best_decision is None else self.best_decision.tolist(),
            "latencies": self.latencies,
        }

    def load_state(self, state: dict[str, Any], policy_state: dict[str, Any] | None) -> None:
        self.best_latency = float(state["best_latency"])
        self.best_episode = int(state["best_episode"])
        self.episodes = int(state["episodes"])
        decision = state.get("best_decision", state.get("best_cuts"))  # best_cuts: before 2026-11
        self.best_decision = None if decision is None else np.asarray(decision)
        self.latencies = list(state.get("latencies", []))
        self.best_policy_state = policy_state

    def parts(self) -> dict[str, bytes]:
        """Its checkpoint files: ``best.json`` and, once there is one, ``best_policy.pt``."""
        out = {"best.json": json.dumps(self.state()).encode()}
        if self.best_policy_state is not None:
            buf = io.BytesIO()
            torch.save(self.best_policy_state, buf)
            out["best_policy.pt"] = buf.getvalue()
        return out


class ResumableCheckpoint(BaseCallback):
    """Every ``every_episodes`` episodes: model, replay buffer, noise and best-plan state."""

    def __init__(
        self, folder: str | Path, best: BestPlanCallback, fingerprint: dict[str, Any], every_episodes: int = 500
    ) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.best = best
        self.every = max(1, every_episodes)
        self._last = 0
        self._due = False

    def _on_step(self) -> bool:
        self._due = self._due or self.best.episodes - self._last >= self.every
        return True

    def _on_rollout_end(self) -> None:
        # after the rollout, not in on_step: SB3 stores a step's transition after on_step, so a
        # checkpoint written there would lack it (and a resumed run would differ)
        if self._due:
            self._due = False
            self.save()

    def save(self) -> None:
        self._last = self.best.episodes
        save_checkpoint(self.model, self.folder, self.best, self.fingerprint)


def save_checkpoint(model, folder: Path, best: BestPlanCallback, fingerprint: dict[str, Any]) -> None:
    """One consistent set (:mod:`~splitgym.agents.checkpoint_set`): model, replay buffer, best
    plan and progress, then the manifest naming them; a crash or a full disk mid-save leaves the
    previous set whole."""
    parts = {"model.zip": _saved(lambda f: model.save(f, exclude=["train"]))}  # "train": a timing wrapper
    if getattr(model, "replay_buffer", None) is not None:
        parts["replay_buffer.pkl"] = _saved(model.save_replay_buffer)
    parts.update(best.parts())
    noise = getattr(model, "action_noise", None)
    meta = {
        "num_timesteps": model.num_timesteps,
        "episodes": best.episodes,
        "noise_episode": getattr(noise, "episode", None),
    }
    parts["progress.json"] = json.dumps(meta).encode()
    parts["rng.json"] = capture(model)
    write_set(folder, parts, best.episodes, fingerprint)


def _saved(save: Callable[[io.BytesIO], None]) -> bytes:
    buf = io.BytesIO()
    save(buf)
    return buf.getvalue()
