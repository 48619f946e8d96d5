"""NPTP's tile partitioning as a benchmark env (``splitgym/NPTP-v1``): drawn instances, a graded
penalty, the device order in the action and a Markov observation."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.errors import EnvArgumentError
from splitgym.costmodels.models import resolve_model_spec
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import TileCostModel, TileScore, memory_caps, tile_plan
from splitgym.costmodels.tiles.tile_layouts import COLS, ROWS, equal_strips, fraction_cuts
from splitgym.envs.nptp import REWARDS
from splitgym.envs.nptp_instances import Instance, InstanceSpace, SplitSpace
from splitgym.envs.plan_render import NOTHING, PlanRender, text_table
from splitgym.envs.scenarios import cached_graph
from splitgym.envs.split_kinds import pick

__all__ = ["NPTPv1Env", "penalised_latency", "PER_DEVICE", "CACHE_SIZE"]

PER_DEVICE = 11  # observation entries per device slot
CACHE_SIZE = 32  # cost models kept (an instance's is reused when it is drawn again)
#: Each drawn instance's cost model scores about two layouts (equal strips, the episode's), so the
#: tile cost model's loop is used: building its numpy tables costs more than the loop's two scores
#: (experiments/bench_nptp_env.py; the two agree to rounding, tests/test_tile_batch.py).
SCORE_PATH = "python"


def penalised_latency(latency: float, overflow: float, ref: float, full_bytes: float, weight: float) -> float:
    """A layout over a memory cap: its latency, plus one reference latency, plus ``weight``
    reference latencies per whole-image activation's worth of bytes over the caps. Strictly
    increasing in the overflow, so a less infeasible layout always scores better."""
    if overflow <= 0:
        return latency
    return latency + ref * (1.0 + weight * overflow / full_bytes)


def _squash(x: float, lo: float, hi: float) -> float:
    """``x`` on a log10 scale from ``lo`` to ``hi`` (decades) to [0, 1], clipped."""
    return float(min(1.0, max(0.0, (math.log10(max(x, 1e-30)) - lo) / (hi - lo))))


class NPTPv1Env(PlanRender, gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description
    NPTP-v0's problem (cut one tile per device off the remainder of the image, as MPA does;
    :class:`~splitgym.envs.nptp.NPTPEnv`) as a benchmark: at every ``reset`` an instance (model,
    image size, 3-5 devices in random order, bandwidth) is drawn from a seeded distribution
    (:mod:`splitgym.envs.nptp_instances`); the step also picks *which* remaining device gets the
    piece; a layout over a memory cap is penalised by how far over it is; the tile cost model
    includes the input scatter and a per-message latency (the end-to-end objective).

    ## Action Space
    ``Box(-1, 1, (4,))``: axis, side and share as in v0, and ``a[3]``: the device that receives
    this piece, as a position among the devices not yet given a tile (in slot order):
    ``floor((a[3] + 1) / 2 * remaining)``. After ``N - 1`` steps the last device gets the remainder.

    ## Observation Space
    ``Box(0, 1, (5 + 11 n_max + M + 1,))``, ``n_max`` device slots (padding: zeros, mask 0):
    the remainder ``(r0/H, r1/H, c0/W, c1/W)``, the step ``k / (N - 1)``; per slot: present,
    assigned, its tile ``(r0/H, r1/H, c0/W, c1/W)`` (zeros until assigned), speed (fastest
    whole-image time over its own), its whole-image time (log10 s over [-4, 2]), activation-share
    cap (1: none), memory cap (log10 MiB over [2, 5]; 1: none), bandwidth (log10 Mbps over
    [-1, 3]); then the model (one-hot over the distribution's ``M`` models) and the image
    size (log10 px over [1.5, 4]).

    **Markov** (for any ``N``, v0's is not for ``N >= 4``): the state is the instance, the tiles
    given so far and the remainder. The observation holds all three: every assigned tile and its
    device (v0 shows only the remainder, and for ``N >= 4`` different earlier cuts leave the same
    remainder with different tiles, so the same observation leads to different rewards), and the
    instance up to what the cost model reads (each board is identified by its whole-image time on
    the drawn model and size, its caps by value, the links by bandwidth; the latency per message
    is a constant of the distribution). So the next observation and the reward are functions of
    the observation and the action.

    ## Rewards
    0 until the last step, then ``"relative"``: ``T_strips / T'`` (``T_strips``: equal strips by
    height on the same instance) or ``"neg_ms"``: ``-T'`` in ms, with ``T' = T`` for a feasible
    layout and :func:`penalised_latency` otherwise (grows with the bytes over the caps).

    ## Episode End
    Terminates after ``N - 1`` steps; no truncation.

    ## Arguments
    ``instances``: the distribution (a mapping, :class:`InstanceSpace`; None: the default space);
    ``reward``; ``scatter`` (default True: the end-to-end objective; False: the paper's Eq. 9);
    ``overflow_weight`` (default 10); ``render_mode`` as v0. ``split`` (``"nptp-v1/train"``,
    ``splitgym list splits``) instead of ``instances``: a uniform draw among the split's instances
    per reset, ``instance=i`` its i-th alone, ``reset(options={"instance": i})`` the i-th for one
    episode (the benchmark's way); the model one-hot is over the family's train models.

    ## Version History
    * v1: instances drawn per reset, device choice in the action, assigned tiles and instance
      features in the observation, graded penalty, scatter and per-message latency on.
    """

    def __init__(
        self,
        instances: Mapping[str, Any] | InstanceSpace | None = None,
        reward: str = "relative",
        scatter: bool = True,
        overflow_weight: float = 10.0,
        render_mode: str | None = None,
        split: str | None = None,
        instance: int | None = None,
    ) -> None:
        if split is not None and instances is not None:
            raise EnvArgumentError(f"split: give split or instances, not both (split={split!r})")
        if instance is not None and split is None:
            raise EnvArgumentError(f"instance: {instance!r} needs a split to index")
        if reward not in REWARDS:
            raise EnvArgumentError(f"reward: must be one of {REWARDS}, got {reward!r}")
        if isinstance(overflow_weight, bool) or not isinstance(overflow_weight, (int, float)) or overflow_weight <= 0:
            raise EnvArgumentError(f"overflow_weight: must be a number > 0, got {overflow_weight!r}")
        if not isinstance(scatter, bool):
            raise EnvArgumentError(f"scatter: must be true or false, got {scatter!r}")
        self._set_render_mode(render_mode)
        self.space: InstanceSpace | SplitSpace
        if split is not None:
            self.space = SplitSpace.from_split(split, instance)
        else:
            self.space = instances if isinstance(instances, InstanceSpace) else InstanceSpace.from_config(instances)
        self.reward_mode, self.scatter, self.overflow_weight = reward, scatter, float(overflow_weight)
        self.n_max = self.space.n_max
        self.action_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
        size = 5 + PER_DEVICE * self.n_max + len(self.space.models) + 1
        self.observation_space = spaces.Box(0.0, 1.0, (size,), dtype=np.float32)
        self._models: OrderedDict[tuple[Any, ...], tuple[TileCostModel, float, np.ndarray]] = OrderedDict()
        self._profiles: dict[tuple[str, int], dict[str, DeviceProfile]] = {}
        self._rates: dict[tuple[Any, ...], list[Any]] = {}
        self.last_layout: list[Region] | None = None
        self._load(self._draw(np.random.default_rng(0), None))
        self._reset_episode()

    # -- instances ------------------------------------------------------------------------------
    def _draw(self, rng: np.random.Generator, options: dict[str, Any] | None) -> Instance:
        """This reset's instance: from the split (``options["instance"]``: that one) or the space."""
        if isinstance(self.space, SplitSpace):
            return pick(self.space.items, rng, options).value
        if (options or {}).get("instance") is not None:
            raise EnvArgumentError("options.instance: needs an env built on a split (split=...)")
        return self.space.draw(rng)

    def _load(self, inst: Instance) -> None:
        """Make ``inst`` the current instance (its cost model cached by instance)."""
        self.instance = inst
        key = inst.key()
        if key not in self._models:
            graph = cached_graph(resolve_model_spec(inst.model), inst.input)
            cluster = inst.cluster()
            caps = memory_caps({"devices": [dict(d) for d in inst.devices]})
            profiles = self._profiles.setdefault((inst.model, inst.input), {})
            model = TileCostModel(
                graph,
                cluster,
                profiles,
                caps.mb,
                activation_share=caps.share,
                scatter=self.scatter,
                rate_cache=self._rates,
            )
            profiles.update({d.board: p for d, p in zip(cluster.devices, model.profiles)})
            _, h, w = graph.input_shape
            t_ref = model.score(equal_strips(h, w, cluster.size), path=SCORE_PATH).latency
            self._models[key] = (model, t_ref, self._device_features(model, caps.mb))
            if len(self._models) > CACHE_SIZE:
                self._models.popitem(last=False)
        self._models.move_to_end(key)
        self.model, self.T_ref, self._features = self._models[key]
        self.graph, self.cluster = self.model.graph, self.model.cluster
        self.N = self.cluster.size
        _, self.H, self.W = self.graph.input_shape
        self.episode_steps = self.N - 1

    def _device_features(self, model: TileCostModel, mb: Mapping[str, float]) -> np.ndarray:
        """(N, 5): speed, whole-image time, share cap, memory cap, bandwidth (see the docstring)."""
        full = np.array([model.full_seconds(d) for d in range(model.N)])
        net = model.cluster.network
        rows = []
        for d, name in enumerate(model.names):
            share = min(1.0, model.caps.share.get(name, 1.0))
            cap = 1.0 if name not in mb else _squash(mb[name], 2.0, 5.0)
            rows.append([full.min() / full[d], _squash(full[d], -4, 2), share, cap, _squash(net.cap(name), -1, 3)])
        return np.array(rows)

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._load(self._draw(self.np_random, options))
        self._reset_episode()
        return self._obs(), {"step": 0, "instance": self._describe()}

    def step(self, action: np.ndarray):
        if self.k >= self.episode_steps:
            raise RuntimeError("step: the episode has ended; call reset() first")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (4,) or not np.all(np.isfinite(a)):
            raise ValueError(f"action: expected 4 finite values (axis, side, share, device), got {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        self.actions.append(a)
        left = [d for d in range(self.N) if self.tiles[d] is None]
        d = left[min(len(left) - 1, int((a[3] + 1.0) / 2.0 * len(left)))]
        after = self.N - 1 - self.k  # devices still to get a tile after this one
        pad = [0] * (after - 1)  # later steps: only their count matters for this cut (rows left for them)
        cut = fraction_cuts(
            self.remainder.rows,
            self.remainder.cols,
            [COLS if a[0] >= 0 else ROWS, *pad],
            [1 if a[1] >= 0 else 0, *pad],
            [(a[2] + 1.0) / 2.0, *pad],
        )[0]
        self.tiles[d], self.remainder = _take(self.remainder, cut.axis, cut.size, cut.side)
        self.k += 1
        if self.k < self.episode_steps:
            return self._obs(), 0.0, False, False, {"step": self.k}
        last = next(i for i in range(self.N) if self.tiles[i] is None)
        self.tiles[last], self.remainder = self.remainder, Region(0, 0, 0, 0)
        layout = [t for t in self.tiles if t is not None]
        s = self.model.score(layout, path=SCORE_PATH)
        latency = self.penalised(s)
        self.last_layout = layout
        info = {
            "step": self.k,
            "latency": latency,
            "model_latency": s.latency,
            "feasible": s.feasible,
            "overflow_bytes": s.overflow,
            "tiles": [list(r) for r in layout],
            "decision": np.stack(self.actions).tolist(),
            "reference_latency": self.T_ref,
            "instance": self._describe(),
        }
        reward = self.T_ref / latency if self.reward_mode == "relative" else -latency * 1e3
        return self._obs(), float(reward), True, False, info

    # -- results --------------------------------------------------------------------------------
    def penalised(self, s: TileScore) -> float:
        return penalised_latency(
            s.latency, s.overflow, self.T_ref, self.model.full_activation_bytes, self.overflow_weight
        )

    def plan(self, method: str = "nptp-rl") -> Plan:
        """The last finished episode's layout as a tile plan of its instance."""
        if self.last_layout is None:
            raise RuntimeError("plan: no episode has finished yet")
        s = self.model.score(self.last_layout)
        caps = memory_caps({"devices": [dict(d) for d in self.instance.devices]})
        return tile_plan(
            method,
            self.graph,
            self.cluster,
            s.rects,
            caps=caps,
            latency_s=s.latency,
            feasible=s.feasible,
            **self.model.options(),
        )

    def render_text(self) -> str:
        names = self.cluster.names
        shown = self._shown()
        rows = [[names[i], f"{p.r0}..{p.r1}", f"{p.c0}..{p.c1}"] for i, p in enumerate(shown) if p is not None]
        text = text_table(["device", "rows", "cols"], rows) if rows else f"{self.H}x{self.W} image, no tile cut yet"
        if self.k >= self.episode_steps and self.last_layout is not None:
            s = self.model.score(self.last_layout)
            note = "feasible" if s.feasible else f"over a memory cap by {s.overflow / 2**20:.1f} MiB: penalised"
            text += f"\nlatency {self.penalised(s) * 1e3:.2f} ms ({note})"
        return text

    def render_grid(self) -> np.ndarray:
        grid = np.full((128, 128), NOTHING, dtype=np.int64)
        for d, p in enumerate(self._shown()):
            if p is not None:
                grid[
                    p.r0 * 128 // self.H : -(-p.r1 * 128 // self.H), p.c0 * 128 // self.W : -(-p.c1 * 128 // self.W)
                ] = d
        return grid

    # -- internals ------------------------------------------------------------------------------
    def _shown(self) -> list[Region | None]:
        if any(t is not None for t in self.tiles) or self.last_layout is None:
            return list(self.tiles)
        return list(self.last_layout)

    def _describe(self) -> dict[str, Any]:
        i = self.instance
        return {"model": i.model, "input": i.input, "devices": self.cluster.names, "bandwidth_mbps": i.bandwidth_mbps}

    def _reset_episode(self) -> None:
        self.k = 0
        self.actions: list[np.ndarray] = []
        self.tiles: list[Region | None] = [None] * self.N
        self.remainder = Region(0, self.H, 0, self.W)

    def _obs(self) -> np.ndarray:
        r = self.remainder
        head = [r.r0 / self.H, r.r1 / self.H, r.c0 / self.W, r.c1 / self.W, self.k / self.episode_steps]
        slots = np.zeros((self.n_max, PER_DEVICE))
        for d in range(self.N):
            t = self.tiles[d]
            tile = [0.0] * 4 if t is None else [t.r0 / self.H, t.r1 / self.H, t.c0 / self.W, t.c1 / self.W]
            slots[d, :6] = (1.0, float(t is not None), *tile)
            slots[d, 6:] = self._features[d]
        model = [float(m == self.instance.model) for m in self.space.models]
        size = _squash(self.instance.input, 1.5, 4.0)
        obs = np.concatenate([head, slots.ravel(), model, [size]])
        return np.clip(obs, 0.0, 1.0).astype(np.float32)


def _take(rem: Region, axis: int, size: int, side: int) -> tuple[Region, Region]:
    """Cut a piece of ``size`` rows/columns off ``rem`` from its start (side 0) or end: (piece, rest)."""
    r0, r1, c0, c1 = rem
    if axis == ROWS:
        if side == 0:
            return Region(r0, r0 + size, c0, c1), Region(r0 + size, r1, c0, c1)
        return Region(r1 - size, r1, c0, c1), Region(r0, r1 - size, c0, c1)
    if side == 0:
        return Region(r0, r1, c0, c0 + size), Region(r0, r1, c0 + size, c1)
    return Region(r0, r1, c1 - size, c1), Region(r0, r1, c0, c1 - size)
