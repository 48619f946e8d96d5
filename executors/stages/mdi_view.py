"""What one worker of the live MS-MDI ring knows when it decides: a :class:`QueueSim` look-alike.

The schedulers of :mod:`splitgym.costmodels.stages.queue_policies` (and the learned admission policy) read a
simulator's public state: ``qlocal[s]``, ``qmdi[n][s]``, ``reservoir[s]``, ``succ``, ``src_of``,
``busy``, ``adm`` and a few delays. On the real ring no process sees all of that. A
:class:`RingView` gives the same attributes from what worker ``me`` holds: its own queues exactly
(lengths and, for its MDI queues, the head item and its admission time) and every other worker's
lengths *as last reported* by that worker (the report rows of :mod:`mdi_live`). The policy runs
unchanged on the view, so a decision on the ring is the policy's decision on that view.

A report row per worker (``ROW`` fields, then one MDI length per source): the length of its local
queue (sources only), of its reservoir, whether it is busy, how many of its images it has
admitted, and its MDI queue for each source. :meth:`RingView.snapshot` turns the view into a
JSON-able record, and :func:`check_decisions` rebuilds a view from each logged record and asks the
policy again: an empty list means every logged decision is what the policy gives for the state the
worker saw.

:class:`RingLayout` is the static part (the AR-MDI allocation of the simulator's
``_reallocate``, the per-worker delays used by rate-aware policies), the same for every worker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Any

from splitgym.costmodels.stages.queue_sim import QueueSim

__all__ = ["ROW", "RingLayout", "QueueLen", "RingView", "check_decisions"]

#: report row fields before the per-source MDI lengths
ROW = ("local", "reservoir", "busy", "admitted")
LOCAL_F, RES_F, BUSY_F, ADM_F = range(4)


@dataclass(frozen=True)
class RingLayout:
    """The allocation and delays every worker shares (from a :class:`QueueSim` at time 0)."""

    N: int
    U: int
    sources: list[int]
    owner: list[list[int]]  # owner[s][u]: worker running unit u for source s
    stage_end: list[list[int]]  # stage_end[s][n]: last unit of n's stage for s (-1: none)
    succ: list[list[int]]  # succ[s][n]: next worker of s's chain after n (-1: last stage)
    stages: list[list[tuple[int, int, int]]]  # per source: (worker, first unit, end unit exclusive)
    full: list[float]  # seconds of a whole image per worker
    stage_s: list[list[float]]  # stage_s[s][n]: seconds of n's stage for s
    slot_s: float
    admit_per_slot: int

    @property
    def S(self) -> int:
        return len(self.sources)

    @classmethod
    def from_sim(cls, sim: QueueSim) -> RingLayout:
        return cls(
            sim.N,
            sim.U,
            list(sim.sys.sources),
            [list(o) for o in sim.owner],
            [list(e) for e in sim.stage_end],
            [list(s) for s in sim.succ],
            [[tuple(x) for x in st] for st in sim.stages],
            list(sim.full),  # type: ignore[misc]
            [[sim.stage_seconds(s, n) for n in range(sim.N)] for s in range(sim.S)],
            sim.sys.slot_s,
            sim.sys.admit_per_slot,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RingLayout:
        return cls(**{**d, "stages": [[tuple(x) for x in st] for st in d["stages"]]})


class QueueLen:
    """A queue seen through its length (and, for the viewer's own MDI queues, its head item)."""

    __slots__ = ("n", "head")

    def __init__(self, n: int, head: int | None = None) -> None:
        self.n, self.head = int(n), head

    def __len__(self) -> int:
        return self.n

    def __bool__(self) -> bool:
        return self.n > 0

    def __getitem__(self, i: int) -> int:
        if i != 0 or self.head is None:
            raise IndexError(f"ring view: only the head of the viewer's own non-empty queue is known (index {i})")
        return self.head


class RingView:
    """Worker ``me``'s view, with the attributes the schedulers read from a :class:`QueueSim`."""

    def __init__(self, layout: RingLayout, me: int) -> None:
        self.layout, self.me = layout, me
        self.N, self.S, self.U = layout.N, layout.S, layout.U
        self.sys = SimpleNamespace(sources=layout.sources)
        self.src_of = [-1] * self.N
        for s, w in enumerate(layout.sources):
            self.src_of[w] = s
        self.succ, self.stages, self.full = layout.succ, layout.stages, layout.full
        self.factor = [1.0] * self.N
        self.alive = [True] * self.N
        self.rows = [[0] * (len(ROW) + self.S) for _ in range(self.N)]
        self.heads: list[tuple[int, float] | None] = [None] * self.S  # own MDI heads: (item, admitted at)
        self.t = 0.0
        self.decision = 0  # one number per decision (the learned policy's cache key)

    # -- what the policies read -------------------------------------------------------------------
    @property
    def qlocal(self) -> list[QueueLen]:
        return [QueueLen(self.rows[w][LOCAL_F]) for w in self.layout.sources]

    @property
    def reservoir(self) -> list[QueueLen]:
        return [QueueLen(self.rows[w][RES_F]) for w in self.layout.sources]

    @property
    def qmdi(self) -> list[list[QueueLen]]:
        k = len(ROW)
        return [
            [
                QueueLen(self.rows[n][k + s], self.heads[s][0] if n == self.me and self.heads[s] else None)
                for s in range(self.S)
            ]
            for n in range(self.N)
        ]

    @property
    def adm(self) -> dict[int, float]:
        return {h[0]: h[1] for h in self.heads if h is not None}

    @property
    def busy(self) -> list[bool]:
        return [bool(r[BUSY_F]) for r in self.rows]

    @property
    def n_admitted(self) -> int:
        return sum(self.rows[w][ADM_F] for w in self.layout.sources)

    def full_seconds(self, n: int) -> float:
        return self.full[n]

    def stage_seconds(self, s: int, n: int) -> float:
        return self.layout.stage_s[s][n]

    # -- records --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "decision": self.decision,
            "rows": [list(r) for r in self.rows],
            "heads": [list(h) if h is not None else None for h in self.heads],
        }

    @classmethod
    def from_snapshot(cls, layout: RingLayout, me: int, snap: dict[str, Any]) -> RingView:
        v = cls(layout, me)
        v.t, v.decision = float(snap["t"]), int(snap["decision"])
        v.rows = [list(r) for r in snap["rows"]]
        v.heads = [(int(h[0]), float(h[1])) if h is not None else None for h in snap["heads"]]
        return v


def check_decisions(layout: RingLayout, policy: Any, log: list[dict[str, Any]]) -> list[str]:
    """Ask ``policy`` again on every logged view; one line per decision that differs (empty: all
    agree). Entries: ``{"kind": "admit" | "serve", "worker", "choice", "view"}``; an admission's
    choice is 1 for the local queue, a service's is ``LOCAL``, ``IDLE`` or a source index."""
    bad = []
    for i, e in enumerate(log):
        view = RingView.from_snapshot(layout, int(e["worker"]), e["view"])
        if e["kind"] == "admit":
            again = int(bool(policy.admit(view, layout.sources.index(int(e["worker"])))))
        else:
            again = int(policy.serve(view, int(e["worker"])))
        if again != int(e["choice"]):
            bad.append(
                f"decision {i} ({e['kind']} by worker {e['worker']} at {e['view']['t']:.4f} s): "
                f"logged {e['choice']}, the policy gives {again}"
            )
    return bad
