"""Scoring two-level (node x processor) plans: latency, energy, and a stream of mixed requests.

HiDP's cost equations (HI Eq. 5-6, Theta = gamma * omega) cannot be evaluated as written
(PAPERS-AUDIT B.5 item 43), so this module writes down the concrete cost every HiDP-style method
(HiDP, DisNet, MoDNN, OmniBoost, DistrEdge's planners) is scored with:

* **Plan shape.** A volume plan over the nodes (``Plan.volumes``: units ``first..last``, the rows
  of the last unit's output each node computes); a volume where one node has every row is *model
  mode*, several nodes *data mode*. ``Plan.shares`` entries with ``volume = v`` divide a node's
  rows of volume v among its processors (consecutive row ranges in the listed order;
  ``volume = len(volumes)``: the processor that runs the head); without an entry the node's
  default processor (``node_processors.py``: the GPU, TF's default) does all of it.
* **Compute.** Processor k of node j computes its row range of every unit of the volume, halo
  included (the row maths, :class:`traffic.SplitMaths`), at its derived profile's seconds.
* **Intra-node transfer.** A node's data lives in its DRAM next to its default processor; any
  other processor first receives its input rows and then returns its output rows, each a hand-off
  of ``overhead + bytes / intra rate`` (``Node.intra_seconds``); the head likewise (its full
  input in, its output back). Where ``Node.default_handoff`` is set (this machine's executor:
  the node's memory is the node process, every processor a pinned worker,
  ``predicted_vs_measured_hidp.py``) the default processor pays them too.
* **Inter-node transfer.** The leader holds the input. A node starts a volume once its previous
  part is done and every input row it lacks has arrived from the nodes holding the previous
  volume's output (``latency + 8 bytes / min(beta_a, beta_b)``; sends overlap each other and
  compute; no contention, as in ``volume_simulator.py``).
* **Head and result.** The head runs on the node with the largest share of the last volume (ties
  to the first) or ``head_device``, after gathering every other node's rows; its result goes to
  the leader.
* **Energy** (derived power figures): sum over processor tasks of ``active_w x seconds`` plus every
  available node's ``idle_w`` over the request's latency (or over a workload's makespan).
* **Concurrent requests.** :meth:`HiDPScorer.schedule` places one request on processor timelines
  that earlier requests have already filled: every processor task starts at the earliest time its
  inputs are there *and* the processor is free after the tasks already placed (first come, first
  served, no preemption, no backfilling). A single request on idle timelines is the latency above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from splitgym.costmodels.errors import PlanError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.node_cluster import NodeCluster, processor_profiles
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.traffic import SplitMaths

__all__ = ["HiDPScorer", "Task", "RequestResult", "node_split", "local_cuts"]


@dataclass(frozen=True)
class Task:
    """One processor's part of one volume of one request."""

    node: int
    processor: str
    volume: int  # len(volumes): the head
    start: float
    end: float


@dataclass
class RequestResult:
    start: float
    end: float
    tasks: list[Task] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return self.end - self.start


def local_cuts(a: int, b: int, fractions: list[float]) -> np.ndarray:
    """Cut points splitting rows ``[a, b)`` among processors by ``fractions`` (largest remainder)."""
    n = b - a
    f = np.clip(np.asarray(fractions, dtype=float), 0, None)
    if f.sum() <= 0:
        raise PlanError(f"shares: processor shares must not all be 0, got {fractions}")
    exact = f / f.sum() * n
    rows = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - rows), kind="stable")
    rows[order[: n - int(rows.sum())]] += 1
    return a + np.concatenate([[0], np.cumsum(rows)])


def node_split(plan: Plan, nodes: NodeCluster) -> dict[tuple[int, int], tuple[list[str], list[float]]]:
    """``(volume, node index) -> (processors, fractions)`` from the plan's shares."""
    out: dict[tuple[int, int], tuple[list[str], list[float]]] = {}
    for i, s in enumerate(plan.shares or []):
        if s.volume is None:
            continue
        j = nodes.names.index(s.device)
        for p in s.shares:
            nodes.nodes[j].processor(p.processor)  # unknown processor: one ConfigError line
        if (s.volume, j) in out:
            raise PlanError(f"shares.{i}: a second entry for volume {s.volume} on {s.device}")
        out[(s.volume, j)] = ([p.processor for p in s.shares], [p.share for p in s.shares])
    return out


class HiDPScorer:
    """Per (model, node cluster): processor tables, then plans scored at both levels."""

    def __init__(
        self,
        graph: ModelGraph,
        nodes: NodeCluster,
        profiles: Mapping[tuple[str, str], DeviceProfile] | None = None,
        boards: Mapping[str, DeviceProfile] | None = None,
    ) -> None:
        self.graph = graph
        self.nodes = nodes
        self.split = SplitMaths(graph)
        profs = dict(profiles) if profiles is not None else processor_profiles(graph, nodes, boards=boards)
        self.profiles = profs
        self.table = {key: p.table(graph) for key, p in profs.items()}
        self.head_s = {key: p.head_seconds for key, p in profs.items()}
        self.H = [u.height for u in graph.units]

    # -- pieces the planners share ------------------------------------------------------------
    def unit_seconds(self, j: int, proc: str, u: int, rows: int) -> float:
        return float(self.table[(self.nodes.names[j], proc)][u, max(0, min(rows, self.H[u]))])

    def part_detail(
        self, j: int, first: int, last: int, a: int, b: int, procs: list[str], fractions: list[float]
    ) -> list[tuple[str, float, float, float]]:
        """Per processor with rows: ``(processor, intra_in_s, compute_s, intra_out_s)`` for node j
        computing rows ``[a, b)`` of the volume's last unit, split by ``fractions``."""
        node = self.nodes.nodes[j]
        cuts = local_cuts(a, b, fractions)[None]
        ranges = self.split.ranges(first, last, cuts)
        in_rb = self.split.input_row_bytes if first == 0 else self.split.row_bytes[first - 1]
        out = []
        for i, proc in enumerate(procs):
            if cuts[0, i + 1] <= cuts[0, i]:
                continue
            comp = sum(
                self.unit_seconds(j, proc, u, int(hi[0, i] - lo[0, i]))
                for (lo, hi), u in zip(ranges, range(last, first - 1, -1))
            )
            if not node.pays_handoff(proc):
                out.append((proc, 0.0, comp, 0.0))
                continue
            lo, hi = ranges[-1]
            t_in = node.intra_seconds(float(hi[0, i] - lo[0, i]) * in_rb)
            t_out = node.intra_seconds(float(cuts[0, i + 1] - cuts[0, i]) * self.split.row_bytes[last])
            out.append((proc, t_in, comp, t_out))
        return out

    def part_seconds(
        self, j: int, first: int, last: int, a: int, b: int, procs: list[str], fractions: list[float]
    ) -> float:
        """Node j's time for its rows of a volume with this local partition (idle processors)."""
        return max((i + c + o for _, i, c, o in self.part_detail(j, first, last, a, b, procs, fractions)), default=0.0)

    def head_seconds(self, j: int, proc: str) -> float:
        return float(self.head_s[(self.nodes.names[j], proc)])

    def head_detail(self, j: int, proc: str) -> tuple[float, float, float]:
        """``(intra_in_s, compute_s, intra_out_s)`` of the head on processor ``proc`` of node j."""
        node = self.nodes.nodes[j]
        comp = self.head_seconds(j, proc)
        if not node.pays_handoff(proc) or self.graph.head is None:
            return 0.0, comp, 0.0
        full_in = float(self.split.row_bytes[-1]) * self.H[-1]
        return node.intra_seconds(full_in), comp, node.intra_seconds(float(self.graph.head.out_bytes))

    # -- one request --------------------------------------------------------------------------
    def check(self, plan: Plan) -> None:
        plan.check(self.graph)
        if not plan.volumes:
            raise PlanError("volumes: a HiDP-style plan needs volumes (node rows)")
        if [d.name for d in plan.devices] != self.nodes.names:
            raise PlanError(
                f"devices: plan devices {[d.name for d in plan.devices]} differ from the nodes {self.nodes.names}"
            )

    def schedule(
        self, plan: Plan, t0: float = 0.0, free: dict[tuple[int, str], float] | None = None, checked: bool = False
    ) -> RequestResult:
        """Place one request arriving at ``t0`` on processor timelines ``free`` (updated)."""
        if not checked:
            self.check(plan)
        free = {} if free is None else free
        nodes, N = self.nodes, self.nodes.size
        local = node_split(plan, nodes)
        leader = nodes.leader_index
        T = np.full(N, t0)
        tasks: list[Task] = []
        prev = None
        for v, vol in enumerate(plan.volumes):
            cuts = np.asarray(vol.rows, dtype=np.int64)[None]
            lo, hi = self.split.ranges(vol.first, vol.last, cuts)[-1]
            nbytes = self.split.received_bytes(vol.first, lo, hi, prev)[0]  # (N, M)
            srcs = [leader] if prev is None else list(range(N))
            ready = np.full(1, t0) if prev is None else T.copy()
            if prev is None:
                nbytes[leader] = 0.0  # the leader holds the input
            for j in range(N):
                a, b = int(cuts[0, j]), int(cuts[0, j + 1])
                if b <= a:
                    continue
                arrive = max(
                    (
                        ready[m] + nodes.transfer_seconds(src, j, nbytes[j, m])
                        for m, src in enumerate(srcs)
                        if nbytes[j, m] > 0
                    ),
                    default=t0,
                )
                start = max(T[j], arrive)
                procs, fr = local.get((v, j), ([nodes.nodes[j].default], [1.0]))
                done = start
                for proc, t_in, comp, t_out in self.part_detail(j, vol.first, vol.last, a, b, procs, fr):
                    s = max(start + t_in, free.get((j, proc), 0.0))
                    free[(j, proc)] = s + comp
                    tasks.append(Task(j, proc, v, s, s + comp))
                    done = max(done, s + comp + t_out)
                T[j] = done
            prev = cuts
        # head: gather at the head node, run, return to the leader
        last = plan.volumes[-1]
        share = np.diff(np.asarray(last.rows))
        h = nodes.names.index(plan.head_device) if plan.head_device else int(np.argmax(share))
        gather = max(
            (
                T[m] + nodes.transfer_seconds(m, h, float(share[m]) * self.split.row_bytes[-1])
                for m in range(N)
                if share[m] > 0
            ),
            default=t0,
        )
        start = max(T[h], gather)
        if self.graph.head is not None:
            hp = local.get((len(plan.volumes), h), ([nodes.nodes[h].default], [1.0]))[0][0]
            t_in, comp, t_out = self.head_detail(h, hp)
            s = max(start + t_in, free.get((h, hp), 0.0))
            free[(h, hp)] = s + comp
            tasks.append(Task(h, hp, len(plan.volumes), s, s + comp))
            e = s + comp + t_out
            out_bytes = float(self.graph.head.out_bytes)
        else:
            e, out_bytes = start, float(share[h] * self.split.row_bytes[-1])
        end = e + nodes.transfer_seconds(h, leader, out_bytes)
        return RequestResult(t0, float(end), tasks)

    def latency(self, plan: Plan) -> float:
        return self.schedule(plan).latency

    def energy(self, result: RequestResult | list[RequestResult], span: float | None = None, at: float = 0.0) -> float:
        """Joules: active power of every task plus idle power of the available nodes over ``span``
        (default: from the first start to the last end)."""
        results = result if isinstance(result, list) else [result]
        if span is None:
            span = max(r.end for r in results) - min(r.start for r in results)
        active = sum(
            self.nodes.nodes[t.node].processor(t.processor).active_w * (t.end - t.start)
            for r in results
            for t in r.tasks
        )
        idle = sum(n.idle_w for n, ok in zip(self.nodes.nodes, self.nodes.available(at)) if ok)
        return float(active + idle * span)
