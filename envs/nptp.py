"""NPTP's multilevel tile partitioning as a Gymnasium environment (``splitgym/NPTP-v0``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import EnvArgumentError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import resolve_model_spec
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.slicing import Region
from splitgym.costmodels.tiles.tile_cost import (
    MemoryCaps,
    TileCostModel,
    TileScore,
    cluster_caps,
    memory_caps,
    tile_plan,
)
from splitgym.costmodels.tiles.tile_layouts import (
    COLS,
    ROWS,
    equal_strips,
    fraction_cuts,
    multilevel,
)
from splitgym.envs.plan_render import NOTHING, PlanRender, text_table
from splitgym.envs.scenarios import Scenario, cached_graph, get_scenario, input_arg, network_arg

__all__ = ["NPTPEnv", "REWARDS", "decode"]

REWARDS = ("relative", "neg_ms")
INFEASIBLE_FACTOR = 10.0  # an infeasible layout counts as this many reference latencies (+ its own)


def decode(actions: np.ndarray, h: int, w: int) -> list[Region]:
    """Rows of ``(axis, side, fraction)`` actions in [-1, 1] -> one rectangle per device (device
    ``k`` gets the piece cut at step ``k``; the last device the remainder)."""
    a = np.clip(np.asarray(actions, dtype=np.float64).reshape(-1, 3), -1.0, 1.0)
    axes = [COLS if x >= 0 else ROWS for x in a[:, 0]]
    sides = [1 if x >= 0 else 0 for x in a[:, 1]]
    fracs = ((a[:, 2] + 1.0) / 2.0).tolist()
    return multilevel(h, w, fraction_cuts(h, w, axes, sides, fracs))


class NPTPEnv(PlanRender, gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description
    Partition an image into one tile per device, as NPTP's MPA does (NP Section III-D): step
    ``k`` cuts device ``k``'s sub-image off what remains of the image, along the height or the
    width; the last device gets the remainder. Every device then runs the feature extractor on
    its tile and exchanges halos with its neighbours after every layer; the layout is scored by
    the tile cost model (:mod:`splitgym.costmodels.tiles.tile_cost`: profiled compute, per-layer halo over
    the links, memory caps).

    ## Action Space
    ``Box(-1, 1, (3,))``: ``a[0] < 0`` cuts across the height (a piece of rows), ``>= 0`` across
    the width; ``a[1] < 0`` takes the piece from the top/left of the remainder, ``>= 0`` from the
    bottom/right; ``(a[2] + 1) / 2`` is the piece's share of the remainder's extent (at least one
    row/column, leaving one for each later device; :func:`tile_layouts.fraction_cuts`).

    ## Observation Space
    ``Box(0, 1, (5 + 3N,))``: the remainder ``(r0/H, r1/H, c0/W, c1/W)``, the step ``k/(N-1)``,
    then per device its speed (whole-image compute time of the fastest over its own), its
    activation-share cap (1 when none) and its bandwidth cap over the largest.

    ## Rewards
    0 until the last step, then (``reward=``) ``"relative"``: ``T_strips / T`` with ``T_strips``
    the latency of equal strips by height (1 at that reference); ``"neg_ms"``: ``-T`` in
    milliseconds. A layout over a memory cap counts as ``T = 10 T_strips + T``.

    ## Starting State
    The whole image remains; step 0.

    ## Episode End
    Terminates after N-1 steps (the last device's tile is the remainder). No truncation.

    ## Arguments
    ``scenario``: a registered scenario name or :class:`Scenario` (its model, input size, device
    group and network), or None to use the next four; ``model`` (a torchvision name or
    ``path/to/file.py:factory``), ``input`` (pixels; the old ``input_size`` still works, with a
    DeprecationWarning), ``devices`` (a device group name, path or mapping; ``nptp3`` carries
    NPTP's memory caps), ``bandwidth_mbps`` (Mbps on every device; 0.8-8 is the paper's 0.1-1
    MB/s) or ``network`` (a network name, Mbps or mapping); ``caps``: ``"auto"`` (the device
    group's), ``"none"`` or a group name; ``reward``; ``render_mode``: ``"ansi"`` (the tiles so
    far as text), ``"human"`` (printed) or ``"rgb_array"`` (the tiles in their devices' colours).

    ## Version History
    * v0: initial version.
    * v0 (same dynamics): ``render_mode``; ``input`` (``input_size`` deprecated); groups as mappings.
    """

    def __init__(
        self,
        scenario: str | Scenario | None = None,
        model: str = "vgg16",
        input: int | None = None,
        devices: str | Mapping[str, Any] = "nptp3",
        bandwidth_mbps: float | None = 4.0,
        network: str | float | Mapping[str, Any] | None = None,
        caps: str = "auto",
        reward: str = "relative",
        render_mode: str | None = None,
        input_size: int | None = None,
    ) -> None:
        if reward not in REWARDS:
            raise EnvArgumentError(f"reward: must be one of {REWARDS}, got {reward!r}")
        self._set_render_mode(render_mode)
        if input_size is not None:
            warnings.warn("NPTPEnv: input_size is deprecated, use input (as DistrEdge-v0)", DeprecationWarning, 2)
            input = input if input is not None else input_size
        if scenario is not None:
            sc = get_scenario(scenario)
            self.graph: ModelGraph = sc.graph()
            self.cluster: Cluster = sc.cluster()
        else:
            size = None if input is None else input_arg(input)
            self.graph = cached_graph(resolve_model_spec(str(model)), size)
            net = network_arg(network if network is not None else 4.0 if bandwidth_mbps is None else bandwidth_mbps)
            self.cluster = Cluster.from_config(devices, net)
        self.reward_mode = reward
        self.N = self.cluster.size
        if self.N < 2:
            raise EnvArgumentError(f"devices: NPTP needs at least 2 devices, got {self.N}")
        _, self.H, self.W = self.graph.input_shape
        self.caps = _caps(self.cluster, caps, devices if scenario is None else None)
        self.model = TileCostModel(self.graph, self.cluster, memory_mb=self.caps.mb, activation_share=self.caps.share)
        self.T_ref = self.model.score(equal_strips(self.H, self.W, self.N)).latency
        full = np.array([self.model.full_seconds(d) for d in range(self.N)])
        caps_mbps = np.array([self.cluster.network.cap(n) for n in self.cluster.names])
        share = np.array([min(1.0, self.caps.share.get(n, 1.0)) for n in self.cluster.names])
        self._devices = np.concatenate([full.min() / full, share, caps_mbps / caps_mbps.max()])
        self.episode_steps = self.N - 1
        self.action_space = spaces.Box(-1.0, 1.0, (3,), dtype=np.float32)
        self.observation_space = spaces.Box(0.0, 1.0, (5 + 3 * self.N,), dtype=np.float32)
        self.last_decision: np.ndarray | None = None
        self._reset_episode()

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._reset_episode()
        return self._obs(), {"step": 0}

    def step(self, action: np.ndarray):
        if self.k >= self.episode_steps:
            raise RuntimeError("step: the episode has ended; call reset() first")
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (3,) or not np.all(np.isfinite(a)):
            raise ValueError(f"action: expected 3 finite values (axis, side, share), got {a.tolist()}")
        self.actions.append(np.clip(a, -1.0, 1.0))
        self.k += 1
        pieces = decode(np.stack(self.actions), self.H, self.W)
        self.remainder = pieces[-1]
        if self.k < self.episode_steps:
            return self._obs(), 0.0, False, False, {"step": self.k}
        decision = np.stack(self.actions)
        s = self.score(decision)
        latency = self.penalised(s)
        self.last_decision = decision
        info = {
            "step": self.k,
            "latency": latency,
            "model_latency": s.latency,
            "feasible": s.feasible,
            "decision": decision.tolist(),
            "tiles": [list(r) for r in s.rects],
            "reference_latency": self.T_ref,
        }
        reward = self.T_ref / latency if self.reward_mode == "relative" else -latency * 1e3
        return self._obs(), float(reward), True, False, info

    # -- results --------------------------------------------------------------------------------
    def score(self, decision: np.ndarray) -> TileScore:
        """The layout of a decision (N-1 actions), scored."""
        return self.model.score(decode(decision, self.H, self.W))

    def penalised(self, s: TileScore) -> float:
        """The latency the env reports: the model's, or far worse when over a memory cap."""
        return s.latency if s.feasible else INFEASIBLE_FACTOR * self.T_ref + s.latency

    def plan(self, decision: np.ndarray | None = None, method: str = "nptp-rl") -> Plan:
        """The last finished episode (or a given decision) as a tile plan."""
        decision = self.last_decision if decision is None else np.asarray(decision)
        if decision is None:
            raise RuntimeError("plan: no episode has finished yet")
        s = self.score(decision)
        return tile_plan(
            method,
            self.graph,
            self.cluster,
            s.rects,
            caps=self.caps,
            latency_s=s.latency,
            feasible=s.feasible,
            decision=np.asarray(decision).tolist(),
        )

    def render_text(self) -> str:
        """The tiles cut so far (rows and columns per device) and the latency at the end."""
        pieces = self._shown_pieces()
        names = self.cluster.names
        rows = [[names[i], f"{p.r0}..{p.r1}", f"{p.c0}..{p.c1}"] for i, p in enumerate(pieces)]
        text = text_table(["device", "rows", "cols"], rows) if rows else f"{self.H}x{self.W} image, no tile cut yet"
        if (self.k >= self.episode_steps or not self.actions) and self.last_decision is not None:
            s = self.score(self.last_decision)
            note = (
                "feasible" if s.feasible else f"over a memory cap: penalised, the layout's own {s.latency * 1e3:.2f} ms"
            )
            text += f"\nlatency {self.penalised(s) * 1e3:.2f} ms ({note})"
        return text

    def render_grid(self) -> np.ndarray:
        """The image at 128 x 128, each tile in its device's colour (uncut: empty)."""
        grid = np.full((128, 128), NOTHING, dtype=np.int64)
        for d, p in enumerate(self._shown_pieces()):
            rows = slice(p.r0 * 128 // self.H, -(-p.r1 * 128 // self.H))
            grid[rows, p.c0 * 128 // self.W : -(-p.c1 * 128 // self.W)] = d
        return grid

    # -- internals ------------------------------------------------------------------------------
    def _shown_pieces(self) -> list[Region]:
        """The tiles cut so far (between episodes: the last finished layout's)."""
        last = self.last_decision if not self.actions else None
        shown = self.actions if self.actions else ([] if last is None else list(last))
        return decode(np.stack(shown), self.H, self.W) if shown else []

    def _reset_episode(self) -> None:
        self.k = 0
        self.actions: list[np.ndarray] = []
        self.remainder = Region(0, self.H, 0, self.W)

    def _obs(self) -> np.ndarray:
        r = self.remainder
        head = [r.r0 / self.H, r.r1 / self.H, r.c0 / self.W, r.c1 / self.W, self.k / self.episode_steps]
        return np.clip(np.concatenate([head, self._devices]), 0.0, 1.0).astype(np.float32)


def _caps(cluster: Cluster, caps: str, devices: str | Mapping[str, Any] | None) -> MemoryCaps:
    """``caps="auto"`` on a device group given as a mapping reads the caps from that mapping (an
    override of ``memory_mb`` takes effect); otherwise :func:`cluster_caps` decides."""
    if caps == "auto" and isinstance(devices, Mapping):
        return memory_caps(devices)
    return cluster_caps(cluster, caps)
