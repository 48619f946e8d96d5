"""DistrEdge's split-decision MDP (OSDS, DE Section IV-C) as a Gymnasium environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import EnvArgumentError
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.costmodels.volumes.partition_pilot import PILOTS, PilotResult, pilot_partition
from splitgym.costmodels.volumes.share_actions import SHARE_RANGE, prior_shares, share_cuts
from splitgym.costmodels.volumes.volume_simulator import Breakdown, Simulator
from splitgym.envs.plan_render import NOTHING, PlanRender, text_table
from splitgym.envs.scenarios import Scenario, scenario_with

__all__ = ["DistrEdgeEnv", "REWARDS", "ACTIONS", "map_action", "check_modes"]

REWARDS = ("paper", "relative", "neg_ms")
ACTIONS = ("cuts", "shares")
OBS_HIGH = 1e3


def map_action(action: np.ndarray, height: int) -> np.ndarray:
    """DE Eq. 9: sort the N-1 actor outputs in [-1, 1] and map them to integer cut rows in
    [0, H]; returns the N+1 cut points (device i gets rows [x_i, x_{i+1}), possibly empty)."""
    x = np.sort(np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0))
    rows = np.round(height * (x + 1.0) / 2.0).astype(np.int64)
    return np.concatenate([[0], rows, [height]])


def check_modes(reward: str, action: str) -> None:
    """The reward and action modes DistrEdge's envs know, refused in one line otherwise."""
    if reward not in REWARDS:
        raise EnvArgumentError(f"reward: must be one of {REWARDS}, got {reward!r}")
    if action not in ACTIONS:
        raise EnvArgumentError(f"action: must be one of {ACTIONS}, got {action!r}")


class DistrEdgeEnv(PlanRender, gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description
    Split a CNN across N heterogeneous devices, one layer-volume at a time (DistrEdge's OSDS).
    The partition into volumes is fixed by the scenario (LC-PSS by default); each step decides
    where the current volume's output rows are cut between the devices. Latencies come from the
    simulator on *measured* (or derived) device profiles and the scenario's links.

    ## Action Space
    ``action="cuts"`` (DE Eq. 9): ``Box(-1, 1, (N-1,))``, the actor's raw outputs; the env sorts
    them and maps each to a row ``round(H_l * (a + 1) / 2)``. Device i gets rows
    ``[x_i, x_{i+1})``; empty parts are allowed.
    ``action="shares"`` (ours, :mod:`splitgym.costmodels.volumes.share_actions`): ``Box(-1, 1, (N,))``, one
    weight per device around the whole model's linear-ratio split p (one capability per device
    and its link, as AOFL splits), ``w_i = p_i exp(4 a_i)``, the same weights for every volume's
    rows. a = 0 is that classical ratio on this partition; empty parts are reachable. With the
    scenario's ``partition="lcpss-pilot"`` or ``"pilot-search"`` the centre is the pilot's best
    sampled decision instead (:attr:`~splitgym.costmodels.volumes.partition_pilot.PilotResult.centre`, one
    row of weights per volume).

    ## Observation Space
    ``Box(0, 1000, (N+4,))``: the accumulated latency of every device after the previous volume
    (T_{l-1}, divided by the equal split's end-to-end latency so ~1 means "as slow as equal"),
    then the height, channels, filter size and stride of the current volume's last unit (each
    divided by its maximum over the model's units).

    ## Rewards
    0 until the last volume, then (``reward=``) ``"paper"``: 1/T with T the end-to-end latency in
    seconds (DE Alg. 2); ``"relative"``: T_equal / T (1 at the equal split; same optimum, a scale
    that suits default learning rates); ``"neg_ms"``: -T in milliseconds.

    ## Starting State
    T_0 = 0 on every device and the first volume's configuration. With a time-varying network
    the network is sampled at the env's clock, which advances by each image's latency (or
    ``time_per_episode`` seconds), so one actor faces changing links (DE Section V-F). A reset
    without a seed keeps the clock running (training's episodes follow one another); a reset
    with a seed restores the whole initial state, the clock at 0 included, unless
    ``options={"keep_clock": True}``; ``options={"clock": t}`` sets it.

    ## Episode End
    Terminates after the last volume (one image per episode). No truncation.

    ## Arguments
    ``scenario``: a registered name (``splitgym.envs.list_scenarios()``) or a :class:`Scenario`
    (None: ``vgg16-DB-300``); ``model`` (a torchvision name or ``path/to/file.py:factory``),
    ``input`` (pixels), ``devices`` (a group name, YAML path or mapping), ``network`` (a name,
    Mbps or a mapping) and ``alpha`` replace the scenario's parts, with the same names as
    NPTP-v0's; ``partition``: a partition name (``lcpss``, ``lcpss-pilot``, ``pilot-search``,
    ``layers``, ``single``, ``stages``, ``"0,4,9"``) or a list of ``(first, last)`` units;
    ``reward``: one of ``REWARDS``; ``action``: one of ``ACTIONS``; ``time_per_episode``: seconds
    the clock advances per episode (None: the image's latency); ``render_mode``: ``"ansi"`` (the
    plan so far as text), ``"human"`` (printed) or ``"rgb_array"`` (a band per volume, a colour
    per device); ``profiles``: device profiles already built for this graph, keyed by
    :meth:`ProfileSpec.key` (DistrEdge-v1 reuses them across the instances it draws).

    ## Version History
    * v0: initial version (``action="shares"`` added later as an option; the default is Eq. 9).
    * v0: ``reset(seed=...)`` puts the clock back to 0 (``keep_clock`` option to keep it).
    * v0 (same dynamics): ``render_mode``; ``model``/``input``/``devices``/``network``/``alpha`` kwargs and
      partition names through ``partition``.
    """

    def __init__(
        self,
        scenario: str | Scenario | None = None,
        reward: str = "paper",
        time_per_episode: float | None = None,
        partition: str | list[tuple[int, int]] | None = None,
        action: str = "cuts",
        *,
        model: str | None = None,
        input: int | None = None,
        devices: str | Mapping[str, Any] | None = None,
        network: str | float | Mapping[str, Any] | None = None,
        alpha: float | None = None,
        render_mode: str | None = None,
        profiles: Mapping[str, Any] | None = None,
    ) -> None:
        check_modes(reward, action)
        self._set_render_mode(render_mode)
        self.action_mode = action
        named = partition if isinstance(partition, str) else None  # a name goes into the scenario
        partition = None if isinstance(partition, str) else partition
        self.scenario = scenario_with(
            scenario, model=model, input=input, devices=devices, network=network, partition=named, alpha=alpha
        )
        self.reward_mode = reward
        self.time_per_episode = time_per_episode
        self.graph = self.scenario.graph()
        self.cluster = self.scenario.cluster()
        self.sim = Simulator(self.graph, self.cluster, profiles=dict(profiles or {}))
        # the pilot partition with the share action: its best sampled decision is the action centre
        pilot = self.scenario.pilot(self.graph) if action == "shares" and partition is None else None
        self.pilot = pilot  # where training starts (reported in the run's summary)
        if not partition:  # LC-PSS only where no partition is given (DistrEdge-v1 brings its cached one)
            partition = pilot.partition if pilot else self.scenario.volumes(self.graph, self.cluster.size)
        self.N = self.cluster.size
        units = self.graph.units
        self._conf_max = np.array(
            [
                max(u.height for u in units),
                max(u.out_shape[0] for u in units),
                max(u.kernel for u in units),
                max(u.stride for u in units),
            ],
            dtype=np.float64,
        )
        self._set_partition(
            partition,
            None if action != "shares" else pilot.centre if pilot else prior_shares(self.graph, self.cluster),
        )
        n_act = self.N if action == "shares" else self.N - 1
        self.action_space = spaces.Box(-1.0, 1.0, (n_act,), dtype=np.float32)
        self.observation_space = spaces.Box(0.0, OBS_HIGH, (self.N + 4,), dtype=np.float32)
        self.clock = 0.0
        self._dynamic = bool(self.cluster.network.traces)
        self._reset_episode()
        self.last_cuts: np.ndarray | None = None
        self.last_latency: float | None = None

    def _set_partition(self, partition: list[tuple[int, int]], prior: np.ndarray | None) -> None:
        self.partition = [tuple(p) for p in partition]
        self.L = len(self.partition)
        self._last = [self.graph.units[last] for _, last in self.partition]
        self._conf = (
            np.array([[u.height, u.out_shape[0], u.kernel, u.stride] for u in self._last], dtype=np.float64)
            / self._conf_max
        )
        equal = np.stack([equal_cuts(u.height, self.N) for u in self._last])
        self.T_equal = float(self.sim.score(self.partition, equal))
        self.T_scale = self.T_equal
        self.prior = prior

    def repilot(self, cluster: Cluster) -> PilotResult:
        """Re-run the scenario's partition pilot on ``cluster`` (the links as monitored now) and
        train from its choice: its partition and, for the share action, its decision as the centre.
        Why: a re-plan on a changed network (DE Section V-F) with a centre from the old one would
        start the agent from a split priced for links that are gone. Between episodes only."""
        if self.action_mode != "shares" or self.scenario.partition not in PILOTS:
            raise ValueError(
                f"repilot: needs action='shares' and a pilot partition ({', '.join(PILOTS)}), got "
                f"{self.action_mode!r} and {self.scenario.partition!r}"
            )
        self.pilot = pilot_partition(self.graph, cluster, **PILOTS[self.scenario.partition])
        self._set_partition(self.pilot.partition, self.pilot.centre)
        self._reset_episode()
        return self.pilot

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"clock", "keep_clock"})
        if unknown:
            raise ValueError(f"reset: unknown option(s) {unknown} (known: clock, keep_clock)")
        if seed is not None and not options.get("keep_clock", False):
            # a seeded reset is the initial state, so two runs with one seed see the same network
            self.clock = 0.0
            self.last_cuts, self.last_latency = None, None
        if "clock" in options:
            self.clock = float(options["clock"])
        if self._dynamic:
            self.sim.set_time(self.clock)
        self._reset_episode()
        return self._obs(), {"volume": 0, "clock": self.clock}

    def step(self, action: np.ndarray):
        if self.l >= self.L:
            raise RuntimeError("step: the episode has ended; call reset() first")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        n_act = self.action_space.shape[0]
        if action.shape != (n_act,) or not np.all(np.isfinite(action)):
            raise ValueError(f"action: expected {n_act} finite values, got {action.tolist()}")
        first, last = self.partition[self.l]
        cuts = self.decode(action, self.l)
        fast = self.sim.single  # one decision in plain Python (None: the batched numpy path)
        if fast is None:
            self.T = self.sim.advance(first, last, cuts, self.T, self.prev).T
        else:
            prev = None if self.prev is None else self.prev[0].tolist()
            self.T = np.array([fast.advance(first, last, cuts[0].tolist(), self.T[0].tolist(), prev).T])
        self.prev = cuts
        self.cuts.append(cuts[0])
        self.l += 1
        info: dict[str, Any] = {"volume": self.l - 1, "rows": cuts[0].tolist()}
        if self.l < self.L:
            return self._obs(), 0.0, False, False, info
        if fast is None:
            latency = float(self.sim.finish(cuts, self.T)[0][0])
        else:
            latency = fast.finish(cuts[0].tolist(), self.T[0].tolist())[0]
        self.last_cuts = np.stack(self.cuts)
        self.last_latency = latency
        self.clock += latency if self.time_per_episode is None else self.time_per_episode
        info.update(
            latency=latency,
            ips=1.0 / latency,
            cuts=self.last_cuts.tolist(),
            decision=self.last_cuts,
            equal_latency=self.T_equal,
            clock=self.clock,
        )
        return self._obs(final=True), self._reward(latency), True, False, info

    def decode(self, action: np.ndarray, volume: int) -> np.ndarray:
        """(1, N+1) cut points of one action for one volume."""
        height = int(self._last[volume].height)
        if self.action_mode == "shares":
            prior = self.prior[volume] if self.prior.ndim == 2 else self.prior
            return share_cuts(action[None], prior, [height], SHARE_RANGE)[:, 0]
        return map_action(action, height)[None]

    # -- results --------------------------------------------------------------------------------
    def plan(self, cuts: np.ndarray | None = None, method: str = "distredge") -> Plan:
        """The last finished episode (or given cuts) as a Plan document."""
        cuts = self.last_cuts if cuts is None else np.asarray(cuts)
        if cuts is None:
            raise RuntimeError("plan: no episode has finished yet")
        return Plan.from_volumes(
            method,
            self.graph,
            self.cluster,
            self.partition,
            cuts,
            meta={"scenario": self.scenario.to_dict(), "cluster": self.cluster.name},
        )

    def render_text(self) -> str:
        """The plan so far: rows per device of every decided volume, and the latency at the end."""
        header = ["volume", "units", *self.cluster.names]
        rows = [
            [i, f"{first}..{last}", *np.diff(cuts).tolist()]
            for i, ((first, last), cuts) in enumerate(zip(self.partition, self.cuts))
        ]
        if not rows and self.last_cuts is not None:  # between episodes (a VecEnv resets at once): the last plan
            rows = [
                [i, f"{f}..{la}", *np.diff(c).tolist()]
                for i, ((f, la), c) in enumerate(zip(self.partition, self.last_cuts))
            ]
        text = text_table(header, rows) if rows else f"{self.scenario.name}: no volume decided yet ({self.L} to go)"
        if (self.l >= self.L or not self.cuts) and self.last_latency is not None:
            text += f"\nlatency {self.last_latency * 1e3:.2f} ms (equal split {self.T_equal * 1e3:.2f} ms)"
        return text

    def render_grid(self) -> np.ndarray:
        """One band of 8 pixel rows per volume, 256 columns shared between the devices in
        proportion to their rows (between episodes: the last finished plan)."""
        cuts = self.cuts if self.cuts else ([] if self.last_cuts is None else list(self.last_cuts))
        grid = np.full((8 * self.L, 256), NOTHING, dtype=np.int64)
        for v, c in enumerate(cuts):
            edges = np.round(256 * np.asarray(c, dtype=np.float64) / max(1, c[-1])).astype(np.int64)
            for d in range(self.N):
                grid[8 * v : 8 * (v + 1), edges[d] : edges[d + 1]] = d
        return grid

    def breakdown(self, cuts: np.ndarray | None = None) -> Breakdown:
        return self.sim.simulate(self.plan(cuts))

    def raw_state(self) -> np.ndarray:
        """The un-normalised state (T_{l-1} in seconds, H, C, F, S) the paper writes s_l."""
        conf = self._conf[min(self.l, self.L - 1)] * self._conf_max
        return np.concatenate([self.T[0], conf])

    @property
    def obs_scale(self) -> np.ndarray:
        """Divide a raw state by this to get the observation (exported with the actor)."""
        return np.concatenate([np.full(self.N, self.T_scale), self._conf_max])

    # -- internals ------------------------------------------------------------------------------
    def _reset_episode(self) -> None:
        self.l = 0
        self.T = np.zeros((1, self.N))
        self.prev: np.ndarray | None = None
        self.cuts: list[np.ndarray] = []

    def _obs(self, final: bool = False) -> np.ndarray:
        conf = self._conf[self.L - 1 if final else self.l]
        obs = np.concatenate([self.T[0] / self.T_scale, conf])
        return np.clip(obs, 0.0, OBS_HIGH).astype(np.float32)

    def _reward(self, latency: float) -> float:
        if self.reward_mode == "paper":
            return 1.0 / latency
        if self.reward_mode == "relative":
            return self.T_equal / latency
        return -latency * 1e3
