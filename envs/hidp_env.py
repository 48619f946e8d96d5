"""HiDP's online problem as a Gymnasium environment: plan each request of several streams over
nodes with processors whose availability changes (``splitgym/HiDP-v0``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from splitgym.costmodels.errors import ConfigError, EnvArgumentError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer, RequestResult
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.envs.hidp_render import HiDPRender
from splitgym.envs.hidp_streams import Menu, poisson_arrivals, template_menu, trace_arrivals

__all__ = ["HiDPEnv", "REWARDS", "graph_of"]

REWARDS = ("latency", "throughput")
_GRAPHS: dict[str, ModelGraph] = {}


def graph_of(model: str) -> ModelGraph:
    """The model's graph, built once per process (torch.fx tracing takes seconds)."""
    if model not in _GRAPHS:
        _GRAPHS[model] = ModelGraph.from_torchvision(model)
    return _GRAPHS[model]


class HiDPEnv(HiDPRender, gym.Env[np.ndarray, np.int64]):
    """
    ## Description
    Requests of several streams (one model each) arrive at the leader node of a HiDP cluster
    (``conf/devices/hidp-dynamic.yaml`` by default: nodes leave and come back). At each arrival
    the agent picks the request's plan; the request is placed at once on the processors'
    timelines, first come first served (:meth:`HiDPScorer.schedule`), behind the work already
    placed, so a plan that is fastest on an idle cluster can be slow under load.

    **Why a choice among candidate plans, not a mode per block plus the local split.** A mode per
    unit over m nodes (m + 1 states) for 18-52 units, each with a local split, is a combinatorial
    action (6^52 for ResNet-152) whose valid region changes with availability; most of it is
    dominated, and the DP already finds the best plan of that space for an *idle* cluster in
    13-71 ms. What the DP cannot see is the load: the queue on each processor and the requests to
    come. So the action is an index into a *menu* of K plans computed for the current availability
    (cached per (model, availability mask)): with the planners' menu
    (``agents/planners/nodes/hidp_menu.py``) that is HiDP's DP, DisNet, OmniBoost and the whole
    model on each node with HiDP's local split, so the learnt policy keeps HiDP's plans and adds
    the load-aware choice between them. The baselines are policies over the same env that always
    pick their planner's entry. The default menu (``hidp_streams.template_menu``, no planners) is
    the whole model on each node's default processor plus a data-mode split by node rate.

    ## Action Space
    ``Discrete(K)``: the menu entry. An entry for an unavailable node is the menu's stand-in
    (the leader's plan for the templates, marked ``meta["stand_in"]``); ``info["action_mask"]``
    marks the entries that are what they are named.

    ## Observation Space
    ``Box(0, 1, (N*P + N + S + 1,))``: for every node and processor slot (P the most processors
    on a node, missing ones 0) its backlog ``b`` (seconds until it is free) as ``1 - exp(-b/s)``
    with ``s = backlog_scale``; each node's availability (0/1); the stream of this request
    (one-hot); the time since the previous arrival, scaled the same way. With ``preview=True``, K
    more: for each menu entry, when this request would finish if it took it, from now, scaled the
    same way (K schedules per step: the one-step consequence of every action, so a policy need not
    learn the simulator to see it).

    ## Rewards
    ``"latency"`` (default): minus the request's latency over its model's reference (the best
    menu plan on the idle, fully available cluster): the return is minus the mean slowdown times
    the request count. ``"throughput"``: minus how far the request pushes the last finish time
    (the makespan) out, over the same reference: the return is minus the makespan in reference
    units, so maximising it maximises requests per second.

    ## Starting State
    Idle processors; the arrivals drawn from ``self.np_random`` (Poisson at ``rates`` per stream,
    or ``trace``), starting at a time drawn uniformly in ``[0, span)`` of the availability
    schedule (``span`` = the last availability step + 20 s), so episodes see different phases.

    ## Episode End
    Truncated after ``requests`` requests (the trace's length with a trace). No termination.

    ## Arguments
    ``models`` (one per stream), ``rates`` (requests/s per stream), ``devices`` (a HiDP device
    group), ``requests``, ``reward``, ``menu`` (a :data:`Menu`), ``trace``, ``backlog_scale``,
    ``efficiency`` (processor-kind fractions of peak, a sensitivity run), ``start`` (a fixed start
    time instead of the random one), ``preview`` (the look-ahead features above), ``render_mode``
    (``"ansi"``: the processors' backlogs, the nodes' availability and the current request as text;
    ``"human"``: printed; ``"rgb_array"``: a band per processor, ``envs/hidp_render.py``).

    ## Version History
    * v0: initial version.
    * v0 (same dynamics): ``render_mode``.
    """

    def __init__(
        self,
        models: Sequence[str] = ("inception_v3", "vgg19"),
        rates: Sequence[float] = (16.0, 8.0),
        devices: str = "hidp-dynamic",
        requests: int = 64,
        reward: str = "latency",
        menu: Menu | None = None,
        trace: Sequence[Sequence[float]] | None = None,
        backlog_scale: float = 1.0,
        efficiency: dict[str, float] | None = None,
        start: float | None = None,
        preview: bool = False,
        render_mode: str | None = None,
    ) -> None:
        self._set_render_mode(render_mode)
        if reward not in REWARDS:
            raise EnvArgumentError(f"reward: must be one of {REWARDS}, got {reward!r}")
        if len(models) != len(rates) or not models:
            raise ConfigError(f"rates: need one rate per model ({len(models)} models), got {list(rates)}")
        if int(requests) < 1:
            raise ConfigError(f"requests: an episode needs at least one request, got {requests}")
        if not backlog_scale > 0:
            raise ConfigError(f"backlog_scale: must be > 0 seconds, got {backlog_scale}")
        self.models, self.rates = [str(m) for m in models], [float(r) for r in rates]
        self.nodes = NodeCluster.from_config(devices, efficiency=efficiency)
        self.trace = trace_arrivals(trace, len(self.models)) if trace is not None else None
        poisson_arrivals(np.random.default_rng(0), self.rates, 1)  # a bad rate: one line, now
        self.requests = len(self.trace) if self.trace is not None else int(requests)
        self.episode_steps = self.requests
        self.reward_mode, self.menu, self.scale = reward, menu or template_menu, float(backlog_scale)
        self.start, self.show_preview = start, bool(preview)
        steps = [t for n in self.nodes.nodes for t, _ in n.availability.steps]
        self.span = (max(steps) if steps else 0.0) + 20.0
        self.scorers = {m: HiDPScorer(graph_of(m), self.nodes) for m in set(self.models)}
        self._menus: dict[tuple[str, tuple[bool, ...]], list[Plan]] = {}
        full = tuple(True for _ in self.nodes.nodes)
        self.K = len(self.plans(self.models[0], full))
        self.ref = {m: min(self.scorers[m].latency(p) for p in self.plans(m, full)) for m in set(self.models)}
        self.N, self.P = self.nodes.size, max(len(n.processors) for n in self.nodes.nodes)
        self.action_space = spaces.Discrete(self.K)
        dim = self.N * self.P + self.N + len(self.models) + 1 + (self.K if self.show_preview else 0)
        self.observation_space = spaces.Box(0.0, 1.0, (dim,), dtype=np.float32)

    @property
    def cluster(self) -> NodeCluster:
        """The nodes the requests are planned on (the name the other envs use)."""
        return self.nodes

    # -- the menu -----------------------------------------------------------------------------
    def plans(self, model: str, mask: tuple[bool, ...]) -> list[Plan]:
        key = (model, mask)
        if key not in self._menus:
            got = self.menu(graph_of(model), self.nodes, mask)
            if self._menus and len(got) != self.K:
                raise ConfigError(f"menu: must give the same number of plans ({self.K}) every time, got {len(got)}")
            self._menus[key] = got
        return self._menus[key]

    def mask(self, t: float) -> tuple[bool, ...]:
        return tuple(self.nodes.available(t))

    # -- gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        t0 = self.start if self.start is not None else float(self.np_random.uniform(0.0, self.span))
        if self.trace is not None:
            arrivals = self.trace
        else:
            arrivals = poisson_arrivals(self.np_random, self.rates, self.requests)
        self.arrivals = [(t0 + t, s) for t, s in arrivals]
        self.free: dict[tuple[int, str], float] = {}
        self.i, self.prev_t, self.makespan = 0, t0, t0
        self.results: list[tuple[str, RequestResult]] = []
        return self._obs(), self._info()

    def step(self, action: Any):
        if not self.action_space.contains(np.int64(action)):
            raise EnvArgumentError(f"action: must be an int in 0..{self.K - 1}, got {action!r}")
        t, s = self.arrivals[self.i]
        model = self.models[s]
        plan = self.plans(model, self.mask(t))[int(action)]
        res = self.scorers[model].schedule(plan, t, self.free, checked=True)
        self.results.append((model, res))
        ref = self.ref[model]
        if self.reward_mode == "latency":
            reward = -res.latency / ref
        else:
            reward = -max(0.0, res.end - self.makespan) / ref
        self.makespan = max(self.makespan, res.end)
        self.prev_t, self.i = t, self.i + 1
        done = self.i >= self.requests
        info = {"latency_s": res.latency, "model": model, "method": plan.method, "slowdown": res.latency / ref}
        if done:
            lat = [r.latency for _, r in self.results]
            span = self.makespan - self.arrivals[0][0]
            info.update({"latency": float(np.mean(lat)), "throughput": len(lat) / span, "decision": None})
            return self._obs_final(), float(reward), False, True, info
        return self._obs(), float(reward), False, False, {**info, **self._info()}

    # -- observations -------------------------------------------------------------------------
    def _squash(self, seconds: float) -> float:
        return float(1.0 - np.exp(-max(seconds, 0.0) / self.scale))

    def _obs_at(self, t: float, stream: int) -> np.ndarray:
        back = np.zeros((self.N, self.P))
        for j, n in enumerate(self.nodes.nodes):
            for k, p in enumerate(n.processors):
                back[j, k] = self._squash(self.free.get((j, p.name), 0.0) - t)
        onehot = np.zeros(len(self.models))
        onehot[stream] = 1.0
        gap = self._squash(t - self.prev_t)
        obs = np.concatenate([back.ravel(), np.array(self.mask(t), dtype=float), onehot, [gap]])
        return obs.astype(np.float32)

    def _obs(self) -> np.ndarray:
        t, s = self.arrivals[self.i]
        obs = self._obs_at(t, s)
        if not self.show_preview:
            return obs
        ahead = [self._squash(self.preview(a).end - t) for a in range(self.K)]
        return np.concatenate([obs, np.array(ahead, dtype=np.float32)])

    def _obs_final(self) -> np.ndarray:
        obs = self._obs_at(self.prev_t, self.arrivals[-1][1])
        return np.concatenate([obs, np.zeros(self.K, dtype=np.float32)]) if self.show_preview else obs

    def _info(self) -> dict[str, Any]:
        t, s = self.arrivals[self.i]
        mask = self.mask(t)
        menu = self.plans(self.models[s], mask)
        named = np.array([not p.meta.get("stand_in", False) for p in menu], dtype=bool)
        return {"t_s": t, "stream": s, "action_mask": named}

    def preview(self, action: int) -> RequestResult:
        """What ``step(action)`` would give the current request, leaving the timelines as they
        are (for one-step look-ahead baselines)."""
        t, s = self.arrivals[self.i]
        model = self.models[s]
        plan = self.plans(model, self.mask(t))[int(action)]
        return self.scorers[model].schedule(plan, t, dict(self.free), checked=True)
