"""MS-MDI's queueing simulator: sources, a ring of workers, local and MDI queues, a policy.

N workers form a ring; a subset are *sources* receiving images as Poisson(a_i) arrivals into a
reservoir (MS L54-L60, PAPERS-AUDIT C.3). Every slot each source moves a fixed number of images
from its reservoir to its local queue ``q_l^i`` or its MDI queue ``q_i^i`` (the policy's admission
choice), and every idle worker picks a queue to serve (the policy's service choice): a local image
runs the whole model on the source; an MDI item runs the worker's stage of the chain for its
source (AR-MDI allocation, :mod:`mdi_allocation`) and its activation goes to the next worker of the
chain, the final output back to the source. Compute delays per unit come from the device profiles
(full-height latency of each unit, plus the head on the last stage); transfers from the links
(:class:`Network`'s pair rule). The policy is an object (``costmodels/stages/queue_policies.py``): back-pressure
MS-MDI, AR-MDI, Local, or an external one (the Gymnasium env drives admission through
:meth:`QueueSim.steps`).

Choices where the paper is silent (PAPERS-AUDIT B.3 items 28-31, C.3):

* *Time.* Decisions are taken on a grid of slots of ``slot_s`` seconds (default 1 ms; 0 = at
  every event). Slots in which nothing can change are skipped, so the cost is per event, not per
  slot. Service is non-preemptive: a worker that starts an item is busy for its compute delay and
  picks again at the first slot boundary after it finishes.
* *Admission.* ``admit_per_slot`` images (default 1; the paper's "fixed amount") move from each
  non-empty reservoir per slot, all to the queue the policy picks.
* *Queue lengths* count the items waiting in a queue, not the one in service nor those on a link.
* *Chain.* Source j's chain is the alive workers in ring order from j with a non-empty stage; an
  item's progress is its next unit, and it is always queued at the worker that owns that unit in
  the current allocation, so re-allocation (a worker joins or leaves, a delay changes) just
  re-routes queued items (a re-routed item pays the transfer from where it sits).
* *Transfers* overlap compute. ``contention="none"`` (default, as :mod:`network`): they also
  overlap each other; ``"sender"``: a worker's uplink sends one transfer at a time (FIFO);
  ``"shared"``: one medium for everyone, one transfer at a time (Wi-Fi through one access point,
  the paper's testbed; a network whose ``medium`` is ``shared`` implies it, and refuses
  ``"sender"``). The bookkeeping is :class:`network.MediumClock`, the rule every kind's links
  share. A transfer between a worker and itself is free; the input image of a
  local or first-stage item is already at the source.
* *Dynamics.* :class:`WorkerEvent` makes a worker leave, join, or change its compute delay (a
  factor on its profiled delays) at a given time. Sources never leave. The item a leaving worker
  is running, the items in its queues and those in flight to it restart at their source (the
  source still holds the image) and are counted in ``restarts``. With ``adaptive=True`` (AR-MDI's
  "adaptive") the allocation is recomputed from the alive workers' current delays at every change;
  an item already running keeps the delay it started with.
* *Calibration.* ``image_s`` rescales every compute delay by one factor so that worker 0 takes
  ``image_s`` for a whole image. The derived TX2 profile (TensorRT-like efficiency) runs
  MobileNetV2-256 in about a millisecond, which makes 5-10 images/s a trivial load on which every
  policy finishes when the last image arrives; the paper's 11-74 % differences in total time are
  only possible when sources are overloaded, so its scenarios set ``image_s`` (stated where used).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.network import MediumClock, Network, link_seconds
from splitgym.costmodels.profiles import DeviceProfile, profile_for
from splitgym.costmodels.stages.mdi_allocation import allocate, ring_order, unit_weights

__all__ = ["IDLE", "LOCAL", "WorkerEvent", "QueueSystem", "QueueSim", "QueueResult", "Policy", "poisson_arrivals"]

#: Service choices besides "serve MDI queue of source s" (s >= 0).
IDLE = -1
LOCAL = -2

_DONE, _DELIVER, _RETURN, _ARRIVE, _CHANGE = range(5)


class Policy(Protocol):
    """A scheduling policy: where each admitted image goes, and which queue a worker serves."""

    name: str

    def admit(self, sim: QueueSim, s: int) -> bool:
        """True: source ``s``'s next images go to its local queue; False: to its MDI queue."""
        ...

    def serve(self, sim: QueueSim, n: int) -> int:
        """For idle worker ``n``: ``LOCAL``, ``IDLE`` or a source index s (serve ``q_n^s``)."""
        ...


@dataclass(frozen=True)
class WorkerEvent:
    """At ``time`` worker ``worker`` leaves, joins, or its compute delays become ``factor`` x
    the profiled ones (``kind="delay"``)."""

    time: float
    worker: int
    kind: Literal["leave", "join", "delay"]
    factor: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("leave", "join", "delay"):
            raise ConfigError(f"events.kind: must be leave, join or delay, got {self.kind!r}")
        if not (self.time >= 0 and math.isfinite(self.time)):
            raise ConfigError(f"events.time: must be >= 0, got {self.time}")
        if self.kind == "delay" and not self.factor > 0:
            raise ConfigError(f"events.factor: must be > 0, got {self.factor}")


def poisson_arrivals(rng: np.random.Generator, rate: float, count: int) -> np.ndarray:
    """Arrival times of ``count`` images of a Poisson process with ``rate`` per second."""
    return np.cumsum(rng.exponential(1.0 / rate, count))


@dataclass
class QueueSystem:
    """Everything static about one MS-MDI set-up (build with :meth:`from_graph`).

    Attributes:
        unit_s: (N, U) seconds of each whole unit on each worker; head_s: (N,) the head.
        in_bytes: (U + 1,) bytes entering unit u (u = 0: the image); the last entry is the result.
        weights: (U,) allocation weight per unit (parameters by default).
        sources: worker index of each source; rates: images/s; images: how many each receives.
    """

    names: list[str]
    unit_s: np.ndarray
    head_s: np.ndarray
    in_bytes: np.ndarray
    weights: np.ndarray
    network: Network
    sources: list[int]
    rates: list[float]
    images: list[int]
    slot_s: float = 1e-3
    admit_per_slot: int = 1
    events: list[WorkerEvent] = field(default_factory=list)
    alive: list[bool] | None = None
    adaptive: bool = True
    contention: Literal["none", "sender", "shared"] = "none"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        N = len(self.names)
        if N < 1:
            raise ConfigError("workers: need at least one worker")
        if self.unit_s.shape[0] != N or self.head_s.shape != (N,):
            raise ConfigError(f"unit_s: expected {N} workers, got shape {self.unit_s.shape}")
        if not self.sources:
            raise ConfigError("sources: need at least one source worker, got none")
        if len(set(self.sources)) != len(self.sources) or not all(0 <= s < N for s in self.sources):
            raise ConfigError(f"sources: must be distinct worker indices in 0..{N - 1}, got {self.sources}")
        if len(self.rates) != len(self.sources) or any(not r > 0 for r in self.rates):
            raise ConfigError(f"rates: need one rate > 0 per source ({len(self.sources)}), got {self.rates}")
        if len(self.images) != len(self.sources) or any(i < 0 for i in self.images):
            raise ConfigError(f"images: need one count >= 0 per source ({len(self.sources)}), got {self.images}")
        if self.slot_s < 0:
            raise ConfigError(f"slot_s: must be >= 0, got {self.slot_s}")
        if self.contention not in ("none", "sender", "shared"):
            raise ConfigError(f"contention: must be none, sender or shared, got {self.contention!r}")
        if self.network.shared and self.contention == "sender":
            raise ConfigError("contention: 'sender' contradicts the network's medium 'shared' (one medium for all)")
        if self.network.shared:
            self.contention = "shared"
        if self.admit_per_slot < 1:
            raise ConfigError(f"admit_per_slot: must be >= 1, got {self.admit_per_slot}")
        if self.alive is None:
            self.alive = [True] * N
        if len(self.alive) != N or not all(self.alive[s] for s in self.sources):
            raise ConfigError(f"alive: need one flag per worker with every source alive, got {self.alive}")
        for e in self.events:
            if not 0 <= e.worker < N:
                raise ConfigError(f"events.worker: {e.worker} outside 0..{N - 1}")
            if e.worker in self.sources and e.kind == "leave":
                raise ConfigError(f"events: source worker {e.worker} cannot leave (its images live there)")
        self.events = sorted(self.events, key=lambda e: e.time)

    @property
    def N(self) -> int:
        return len(self.names)

    @property
    def U(self) -> int:
        return self.unit_s.shape[1]

    def full_s(self) -> np.ndarray:
        """(N,) seconds for a whole image on each worker alone."""
        return self.unit_s.sum(axis=1) + self.head_s

    @classmethod
    def from_graph(
        cls,
        graph: ModelGraph,
        cluster: Cluster,
        sources: Sequence[int | str],
        rates: Sequence[float],
        images: Sequence[int],
        profiles: Mapping[str, DeviceProfile] | None = None,
        image_s: float | None = None,
        weight: str = "params",
        **kwargs: Any,
    ) -> QueueSystem:
        """Per-unit delays from the boards' profiles (measured or derived), links from the
        cluster's network; ``sources`` by worker index or device name."""
        cache = dict(profiles or {})
        profs = [profile_for(d.spec, graph, cache) for d in cluster.devices]
        unit_s = np.stack(
            [np.array([float(p.unit_latency(i, u.height)) for i, u in enumerate(graph.units)]) for p in profs]
        )
        head_s = np.array([p.head_seconds if graph.head is not None else 0.0 for p in profs])
        scale = 1.0
        if image_s is not None:
            if not image_s > 0:
                raise ConfigError(f"image_s: must be > 0 seconds, got {image_s}")
            scale = image_s / float(unit_s[0].sum() + head_s[0])
        in_bytes = np.array(
            [u.in_shape[0] * u.in_shape[1] * u.in_shape[2] * 4 for u in graph.units]
            + [graph.head.out_bytes if graph.head else graph.units[-1].out_bytes],
            dtype=float,
        )
        src = [cluster.index(s) if isinstance(s, str) else int(s) for s in sources]
        meta = {
            "model": graph.name,
            "input": list(graph.input_shape),
            "boards": [d.board for d in cluster.devices],
            "compute_scale": scale,
            "weight": weight,
            "cluster": cluster.name,
        }
        return cls(
            cluster.names,
            unit_s * scale,
            head_s * scale,
            in_bytes,
            unit_weights(graph, weight),
            cluster.network,
            src,
            [float(r) for r in rates],
            [int(i) for i in images],
            meta=meta | dict(kwargs.pop("meta", {})),
            **kwargs,
        )


@dataclass
class QueueResult:
    """What one run produced: per-image times and totals."""

    policy: str
    makespan_s: float
    arrive: np.ndarray
    admit: np.ndarray
    done: np.ndarray
    source: np.ndarray
    path: np.ndarray  # 0 local, 1 MDI
    restarts: int
    busy_s: np.ndarray
    bytes_sent: float
    backlog_area: float

    @property
    def images(self) -> int:
        return int(self.done.size)

    def summary(self) -> dict[str, Any]:
        soj = self.done - self.arrive
        return {
            "policy": self.policy,
            "images": self.images,
            "total_time_s": self.makespan_s,
            "per_image_s": self.makespan_s / max(self.images, 1),
            "mean_sojourn_s": float(soj.mean()) if soj.size else 0.0,
            "local_fraction": float((self.path == 0).mean()) if soj.size else 0.0,
            "restarts": self.restarts,
            "busy_fraction": (self.busy_s / max(self.makespan_s, 1e-12)).round(4).tolist(),
            "bytes_sent": self.bytes_sent,
        }


class QueueSim:
    """One run of a :class:`QueueSystem` under a policy (fresh state per run).

    Public state a policy reads: ``qlocal[s]`` and ``qmdi[n][s]`` (deques of item ids), ``succ[s][n]``
    (next worker of source s's chain after n, -1 for the last stage), ``src_of[n]`` (source index
    of worker n, -1 for a helper), ``alive``, ``busy``, ``adm[k]`` (admission time of item k).
    """

    def __init__(self, system: QueueSystem, seed: int = 0, record: bool = False) -> None:
        self.sys = sys_ = system
        self.record = record
        #: with ``record``: one (start, worker, item, first unit, last unit, local) per service
        self.trace: list[tuple[float, int, int, int, int, bool]] = []
        N, U, S = sys_.N, sys_.U, len(sys_.sources)
        self.N, self.U, self.S = N, U, S
        self.rng = np.random.default_rng(seed)
        self.src_of = [-1] * N
        for s, w in enumerate(sys_.sources):
            self.src_of[w] = s
        self.cum = np.concatenate([np.zeros((N, 1)), np.cumsum(sys_.unit_s, axis=1)], axis=1).tolist()
        self.head = sys_.head_s.tolist()
        self.full = sys_.full_s().tolist()
        self.in_bytes = sys_.in_bytes.tolist()
        self.factor = [1.0] * N
        self.alive = list(sys_.alive or [True] * N)
        self.busy = [False] * N
        self.token = [0] * N
        self.current: list[tuple[int, int] | None] = [None] * N
        self.reservoir: list[deque[int]] = [deque() for _ in range(S)]
        self.qlocal: list[deque[int]] = [deque() for _ in range(S)]
        self.qmdi: list[list[deque[int]]] = [[deque() for _ in range(S)] for _ in range(N)]
        # arrivals, drawn up front (one stream per source, in order)
        arr = [poisson_arrivals(self.rng, r, c) for r, c in zip(sys_.rates, sys_.images)]
        self.offset = np.concatenate([[0], np.cumsum(sys_.images)]).astype(int).tolist()
        self.total = self.offset[-1]
        self.arr = np.concatenate(arr) if arr else np.zeros(0)
        self.src = np.repeat(np.arange(S), sys_.images).tolist()
        self.adm = [math.nan] * self.total
        self.done_t = [math.nan] * self.total
        self.path = [-1] * self.total
        self.nxt = [0] * self.total
        self.restarts = 0
        self.fallbacks = 0  # external service values that named an empty queue
        self.n_done = 0
        self.n_arrived = 0
        self.n_admitted = 0
        self.busy_s = [0.0] * N
        self.bytes_sent = 0.0
        self.area = 0.0
        self._last_t = 0.0
        self._heap: list[tuple[float, int, int, int, int, int]] = []
        self._seq = 0
        arr_list = self.arr.tolist()
        self._arr_list = arr_list
        for s in range(S):
            if sys_.images[s]:
                self._push(arr_list[self.offset[s]], _ARRIVE, self.offset[s], 0, 0)
        for i, e in enumerate(sys_.events):
            self._push(e.time, _CHANGE, i, 0, 0)
        self._caps = [sys_.network.cap(n) for n in sys_.names]
        self._media = MediumClock()  # when a sender's uplink (or the shared medium) is free
        self._dynamic_net = bool(sys_.network.traces)
        self.t = 0.0
        self._reallocate()

    # -- allocation -----------------------------------------------------------------------------
    def _reallocate(self) -> None:
        """AR-MDI allocation of every source's chain on the alive workers' current speeds."""
        sys_ = self.sys
        speeds = [1.0 / (self.full[n] * self.factor[n]) for n in range(self.N)]
        self.owner: list[list[int]] = []
        self.stage_end: list[list[int]] = []
        self.succ: list[list[int]] = []
        self.stages: list[list[tuple[int, int, int]]] = []
        for w in sys_.sources:
            order = ring_order(w, self.alive)
            ranges = allocate(sys_.weights, [speeds[n] for n in order])
            owner = [0] * self.U
            end = [-1] * self.N
            chain = [(n, a, b) for n, (a, b) in zip(order, ranges) if b > a]
            for n, a, b in chain:
                owner[a:b] = [n] * (b - a)
                end[n] = b - 1
            succ = [-1] * self.N
            for (n, _, _), (m, _, _) in zip(chain, chain[1:]):
                succ[n] = m
            self.owner.append(owner)
            self.stage_end.append(end)
            self.succ.append(succ)
            self.stages.append(chain)

    def stage_seconds(self, s: int, n: int) -> float:
        """Current compute seconds of worker n's whole stage for source s (0: no stage)."""
        for m, a, b in self.stages[s]:
            if m == n:
                return (self.cum[n][b] - self.cum[n][a] + (self.head[n] if b == self.U else 0.0)) * self.factor[n]
        return 0.0

    def full_seconds(self, n: int) -> float:
        """Current seconds of a whole image on worker n."""
        return self.full[n] * self.factor[n]

    def _reroute(self, t: float) -> None:
        for m in range(self.N):
            for s in range(self.S):
                q = self.qmdi[m][s]
                if q and any(self.owner[s][self.nxt[k]] != m for k in q):
                    keep = deque(k for k in q if self.owner[s][self.nxt[k]] == m)
                    moved = [k for k in q if self.owner[s][self.nxt[k]] != m]
                    self.qmdi[m][s] = keep
                    for k in moved:
                        self._send(k, m, t)

    # -- events ---------------------------------------------------------------------------------
    def _push(self, t: float, kind: int, a: int, b: int, c: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, kind, a, b, c))

    def xfer(self, a: int, b: int, nbytes: float, t: float) -> float:
        """Seconds to move ``nbytes`` from worker a to worker b at time t."""
        if a == b or nbytes <= 0:
            return 0.0
        net = self.sys.network
        if self._dynamic_net:
            bw = min(net.cap(self.sys.names[a], t), net.cap(self.sys.names[b], t))
        else:
            bw = min(self._caps[a], self._caps[b])
        self.bytes_sent += nbytes
        dur = link_seconds(nbytes, bw, net.latency_s, net.message_s)
        mode = self.sys.contention
        if mode == "none":
            return dur
        return self._media.book(a if mode == "sender" else -1, t, dur) - t

    def _send(self, k: int, frm: int, t: float) -> None:
        """Put MDI item k in the queue of the worker owning its next unit (after the transfer)."""
        s = self.src[k]
        dest = self.owner[s][self.nxt[k]]
        if dest == frm:
            self.qmdi[dest][s].append(k)
        else:
            self._push(t + self.xfer(frm, dest, self.in_bytes[self.nxt[k]], t), _DELIVER, k, dest, 0)

    def _restart(self, k: int, t: float) -> None:
        self.restarts += 1
        self.nxt[k] = 0
        self._send(k, self.sys.sources[self.src[k]], t)

    def _finish(self, k: int, t: float) -> None:
        self.done_t[k] = t
        self.n_done += 1

    def _handle(self, ev: tuple[float, int, int, int, int, int]) -> None:
        t, _, kind, a, b, c = ev
        if kind == _ARRIVE:
            s = self.src[a]
            self.reservoir[s].append(a)
            self.n_arrived += 1
            if a + 1 < self.offset[s + 1]:
                self._push(self._arr_list[a + 1], _ARRIVE, a + 1, 0, 0)
        elif kind == _DONE:
            n, k = a, b
            if c != self.token[n]:
                return  # the worker left while running it; the item was restarted
            self.busy[n] = False
            cur = self.current[n]
            assert cur is not None
            self.current[n] = None
            if self.path[k] == 0:
                self._finish(k, t)
                return
            s = self.src[k]
            self.nxt[k] = cur[1] + 1
            if self.nxt[k] == self.U:
                home = self.sys.sources[s]
                dt = self.xfer(n, home, self.in_bytes[self.U], t)
                if dt == 0.0:
                    self._finish(k, t)
                else:
                    self._push(t + dt, _RETURN, k, 0, 0)
            else:
                self._send(k, n, t)
        elif kind == _DELIVER:
            k, dest = a, b
            if not self.alive[dest]:
                self._restart(k, t)
            else:
                self._send(k, dest, t)
        elif kind == _RETURN:
            self._finish(a, t)
        else:
            self._change(self.sys.events[a], t)

    def _change(self, e: WorkerEvent, t: float) -> None:
        n = e.worker
        if e.kind == "delay":
            self.factor[n] = e.factor
            if not self.sys.adaptive:
                return
        elif e.kind == "join":
            if self.alive[n]:
                return
            self.alive[n] = True
        else:
            if not self.alive[n]:
                return
            self.alive[n] = False
            self.token[n] += 1
            if self.busy[n]:
                self.busy[n] = False
                cur = self.current[n]
                self.current[n] = None
                assert cur is not None
                self._restart(cur[0], t)
            for s in range(self.S):
                q, self.qmdi[n][s] = self.qmdi[n][s], deque()
                for k in q:
                    self._restart(k, t)
        self._reallocate()
        self._reroute(t)

    def _advance_to(self, t: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= t:
            ev = heapq.heappop(heap)
            self.area += (self.n_arrived - self.n_done) * (ev[0] - self._last_t)
            self._last_t = ev[0]
            self._handle(ev)
        self.area += (self.n_arrived - self.n_done) * (t - self._last_t)
        self._last_t = t
        self.t = t

    # -- decisions --------------------------------------------------------------------------------
    def _admit(self, s: int, local: bool, t: float) -> None:
        res = self.reservoir[s]
        for _ in range(min(self.sys.admit_per_slot, len(res))):
            k = res.popleft()
            self.adm[k] = t
            self.n_admitted += 1
            if local:
                self.path[k] = 0
                self.qlocal[s].append(k)
            else:
                self.path[k] = 1
                self.nxt[k] = 0
                self._send(k, self.sys.sources[s], t)

    def _start(self, n: int, choice: int, t: float) -> None:
        if choice == LOCAL:
            s = self.src_of[n]
            if s < 0 or not self.qlocal[s]:
                raise RuntimeError(f"policy: worker {n} chose its local queue, which is empty or absent")
            k = self.qlocal[s].popleft()
            dur = self.full[n] * self.factor[n]
            u, last = 0, self.U - 1
        else:
            if not 0 <= choice < self.S or not self.qmdi[n][choice]:
                raise RuntimeError(f"policy: worker {n} chose MDI queue {choice}, which is empty or absent")
            k = self.qmdi[n][choice].popleft()
            u = self.nxt[k]
            last = self.stage_end[choice][n]
            cum = self.cum[n]
            dur = (cum[last + 1] - cum[u] + (self.head[n] if last == self.U - 1 else 0.0)) * self.factor[n]
        if self.record:
            self.trace.append((t, n, k, u, last, choice == LOCAL))
        self.busy[n] = True
        self.current[n] = (k, last)
        self.busy_s[n] += dur
        self._push(t + dur, _DONE, n, k, self.token[n])

    def _servable(self) -> bool:
        """Whether some idle alive worker has a non-empty queue it may serve."""
        for n in range(self.N):
            if self.alive[n] and not self.busy[n]:
                s_own = self.src_of[n]
                if (s_own >= 0 and self.qlocal[s_own]) or any(self.qmdi[n]):
                    return True
        return False

    def _serve_choice(self, n: int, value: int, policy: Policy) -> int:
        """An external service value as a choice: 0 = local, 1 + s = MDI queue s, S + 1 = the
        rule (``policy.serve``). A value naming an empty or absent queue also falls back to the
        rule (counted in ``fallbacks``), so an external service never idles a worker the rule
        would keep busy."""
        if value == 0 and self.src_of[n] >= 0 and self.qlocal[self.src_of[n]]:
            return LOCAL
        if 1 <= value <= self.S and self.qmdi[n][value - 1]:
            return value - 1
        if value <= self.S:
            self.fallbacks += 1
        return policy.serve(self, n)

    def steps(
        self, policy: Policy, external: bool = False, external_service: bool = False
    ) -> Generator[list[int], Sequence[int] | None, QueueResult]:
        """Run to the end. With ``external``, yield the sources that must admit at each decision
        slot and receive one 0/1 per source (1 = local); otherwise ``policy.admit`` decides.
        With ``external_service`` too, also yield at slots where an idle worker has a queue to
        serve, and receive S + N values: the admissions, then per worker 0 = its local queue or
        1 + s = its MDI queue of source s, S + 1 = the rule (:meth:`_serve_choice`; ignored for busy
        workers)."""
        slot = self.sys.slot_s
        t, k_slot = 0.0, 0
        N, S = self.N, self.S
        want = S + N if external_service else S
        decisions: Sequence[int] | None = None
        while True:
            self._advance_to(t)
            pending = [s for s in range(S) if self.reservoir[s]]
            asked = external and (bool(pending) or (external_service and self._servable()))
            if asked:
                decisions = yield pending
                if decisions is None or len(decisions) != want:
                    raise ValueError(f"admission: need {want} values (sources, then workers), got {decisions!r}")
                for s in pending:
                    self._admit(s, bool(decisions[s]), t)
            else:
                for s in pending:
                    self._admit(s, policy.admit(self, s), t)
            for n in range(N):
                if self.alive[n] and not self.busy[n]:
                    if external_service and asked:
                        c = self._serve_choice(n, int(decisions[S + n]), policy)  # type: ignore[index]
                    else:
                        c = policy.serve(self, n)
                    if c != IDLE:
                        self._start(n, c, t)
            if self.n_done == self.total:
                break
            cand = t if any(self.reservoir) else math.inf
            if self._heap:
                cand = min(cand, self._heap[0][0])
            if cand == math.inf:
                raise RuntimeError(
                    f"policy {policy.name}: deadlock at t={t:.3f}s, {self.total - self.n_done} "
                    f"images unfinished and every worker idle"
                )
            if slot > 0:
                k_slot = max(k_slot + 1, math.ceil(cand / slot - 1e-9))
                t = k_slot * slot
            else:
                t = cand
        return self.result(policy.name)

    def run(self, policy: Policy) -> QueueResult:
        gen = self.steps(policy)
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
        raise AssertionError("unreachable: a non-external run never yields")

    def result(self, name: str) -> QueueResult:
        done = np.array(self.done_t)
        return QueueResult(
            policy=name,
            makespan_s=float(np.nanmax(done)) if done.size else 0.0,
            arrive=self.arr.copy(),
            admit=np.array(self.adm),
            done=done,
            source=np.array(self.src),
            path=np.array(self.path),
            restarts=self.restarts,
            busy_s=np.array(self.busy_s),
            bytes_sent=self.bytes_sent,
            backlog_area=self.area,
        )
