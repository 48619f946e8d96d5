"""Processor-level execution: a node's share of a volume split over its processors, for real.

HiDP's local partition (``Plan.shares`` with ``volume``) gives each processor of a node a range of
the node's rows. On this machine a *processor* is a worker process pinned to one CPU core
(``os.sched_setaffinity``, one torch thread): :class:`ProcessorPool` starts one per entry of
``cores``, each holding the model (built from the plan's name with seed 0, like the distributed
executor, or handed over through shared memory), and waits until all are ready. A node's
processors map onto the workers by name (:func:`worker_map`: sorted, the i-th on worker
``i % workers``), so a processor keeps its core in every volume; ``cores`` (processor name ->
worker) overrides it. :func:`run_part` is the one split-and-merge both runners use: each
processor's rows (:func:`local_cuts`) computed at once on its worker, fed the input rows it needs,
the outputs concatenated in row order.

* :func:`run_shares` runs a whole plan in this process: volume by volume, node by node (the nodes
  one after another), each node's processors in parallel, then the head on its processor. It returns
  the output (equal to the unsplit model's up to float reassociation) and, per (volume, node), the
  wall time of the parallel part, each processor's compute seconds and the *predicted* seconds of
  each processor's range from ``profile``.
* :class:`NodeProcessors` does the same inside a node's process of ``volume_distributed.py``: the node
  rows go over torch.distributed as before, and each node splits its parts over its own pinned
  workers, so one distributed run executes both levels.

Workers die with the process that started them (Linux's parent-death signal, armed before the
pool reports ready, and a poll of the parent as a fallback), so a node process that fails with
``os._exit`` or is killed leaves none behind. Every processor, the default one included, gets its
input and returns its output through a queue: the hand-off HiDP's cost model charges only
non-default processors (``hidp_cost.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import queue
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.models import build_model
from splitgym.costmodels.nodes.hidp_cost import local_cuts
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.slicing import Region, SlicedSegment
from splitgym.costmodels.traffic import SplitMaths
from splitgym.executors.volumes.volume_local import head_index

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_READY = "__ready__"

__all__ = [
    "ProcessorPool",
    "run_shares",
    "run_part",
    "worker_map",
    "PartRun",
    "PartTiming",
    "SharesResult",
    "NodeProcessors",
]


def _die_with(parent: int) -> None:
    """Leave when the process that started this worker dies (a node process that failed with
    ``os._exit`` or was killed): Linux's parent-death signal, and at once if it is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(0)


def _worker(
    core: int,
    name: str,
    shape: tuple[int, int, int],
    tasks: Any,
    results: Any,
    module: torch.nn.Module | None = None,
    parent: int | None = None,
) -> None:
    parent = os.getppid() if parent is None else parent
    _die_with(parent)
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    graph = ModelGraph.from_module(build_model(name, seed=0) if module is None else module, shape, name=name)
    cache: dict[tuple[int, int, int, int], SlicedSegment] = {}
    results.put((_READY, None, 0.0, sorted(os.sched_getaffinity(0))))
    with torch.inference_mode():
        while True:
            try:
                msg = tasks.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:  # the node process died (os._exit, SIGKILL): leave too
                    return
                continue
            if msg is None:
                return
            tag, first, last, r0, r1, width, x = msg
            key = (first, last, r0, r1)
            if key not in cache:
                out = None if first == graph.num_units else Region(r0, r1, 0, width)
                cache[key] = SlicedSegment(graph, first, last, out)
            t0 = time.perf_counter()
            y = cache[key](x)
            results.put((tag, y, time.perf_counter() - t0, sorted(os.sched_getaffinity(0))))


class ProcessorPool:
    """One pinned worker process per entry of ``cores``; use as a context manager. Each worker
    builds ``model`` with seed 0, or receives ``module`` (its weights through shared memory, which
    saves every worker the random initialisation)."""

    def __init__(
        self,
        model: str,
        input_shape: tuple[int, int, int],
        cores: list[int] | None = None,
        timeout_s: float = 120.0,
        module: torch.nn.Module | None = None,
    ) -> None:
        allowed = sorted(os.sched_getaffinity(0))
        self.cores = list(allowed[:2] if cores is None else cores)
        bad = [c for c in self.cores if c not in allowed]
        if bad or not self.cores:
            raise ConfigError(f"cores: {self.cores} not within this process's cores {allowed}")
        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in self.cores]
        self.procs = [
            ctx.Process(
                target=_worker, args=(c, model, tuple(input_shape), q, self.results, module, os.getpid()), daemon=True
            )
            for c, q in zip(self.cores, self.tasks)
        ]
        self.timeout_s = timeout_s
        for p in self.procs:
            p.start()
        self._ready()

    def _ready(self) -> None:
        """Wait until every worker holds the model (and so dies with this process), or fail."""
        waiting, deadline = len(self.procs), time.monotonic() + self.timeout_s
        while waiting:
            try:
                tag, *_ = self.results.get(timeout=0.5)
                waiting -= tag == _READY
                continue
            except queue.Empty:
                pass
            dead = [(c, p.exitcode) for c, p in zip(self.cores, self.procs) if p.exitcode is not None]
            if dead or time.monotonic() > deadline:
                self.close()
                why = (
                    f"the worker on core {dead[0][0]} exited with {dead[0][1]}"
                    if dead
                    else f"not ready within {self.timeout_s:g} s"
                )
                raise RuntimeError(f"processor pool: {why} while starting")

    def submit(
        self, worker: int, tag: Any, first: int, last: int, rows: tuple[int, int], width: int, x: torch.Tensor
    ) -> None:
        self.tasks[worker].put((tag, first, last, rows[0], rows[1], width, x))

    def collect(self, n: int) -> dict[Any, tuple[torch.Tensor, float, list[int]]]:
        out = {}
        for _ in range(n):
            try:
                tag, y, secs, aff = self.results.get(timeout=self.timeout_s)
            except queue.Empty:
                raise RuntimeError(f"processor pool: no result within {self.timeout_s} s") from None
            out[tag] = (y, secs, aff)
        return out

    def close(self) -> None:
        for q in self.tasks:
            q.put(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()

    def __enter__(self) -> ProcessorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class PartTiming:
    volume: int
    node: str
    rows: tuple[int, int]
    processors: list[str]
    proc_rows: list[tuple[int, int]]
    cores: list[list[int]]
    wall_s: float
    compute_s: list[float]
    predicted_s: list[float]

    @property
    def predicted_wall_s(self) -> float:
        return max(self.predicted_s, default=0.0)


@dataclass
class SharesResult:
    output: torch.Tensor
    parts: list[PartTiming] = field(default_factory=list)

    def to_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "volume": p.volume,
                "node": p.node,
                "rows": f"{p.rows[0]}-{p.rows[1]}",
                "processors": "+".join(p.processors),
                "wall_ms": p.wall_s * 1e3,
                "compute_ms": "+".join(f"{c * 1e3:.2f}" for c in p.compute_s),
                "predicted_ms": p.predicted_wall_s * 1e3,
            }
            for p in self.parts
        ]


def _take(held: list[tuple[int, torch.Tensor]], want: Region) -> torch.Tensor:
    pieces = []
    for lo, slab in held:
        a, b = max(want.r0, lo), min(want.r1, lo + slab.shape[2])
        if b > a:
            pieces.append(slab[:, :, a - lo : b - lo, want.c0 : want.c1])
    if not pieces:
        ref = held[0][1]
        return ref.new_empty((ref.shape[0], ref.shape[1], want.rows, want.cols))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)


def worker_map(plan: Plan, node: str, workers: int) -> dict[str, int]:
    """Processor name -> pool worker for one node: the processors its shares name, sorted, the
    i-th on worker ``i % workers``, so a processor keeps its worker (its core) in every volume,
    whether it runs a part alone (local model mode) or a range of it (data mode)."""
    names = sorted(
        {p.processor for s in plan.shares or [] if s.device == node and s.volume is not None for p in s.shares}
    )
    return {p: i % workers for i, p in enumerate(names)}


@dataclass
class PartRun:
    """One node part split over processors: the merged output rows and what each processor did."""

    output: torch.Tensor
    proc_rows: list[tuple[int, int]]
    cores: list[list[int]]
    compute_s: list[float]
    wall_s: float


def run_part(
    pool: ProcessorPool,
    graph: ModelGraph,
    first: int,
    last: int,
    rows: tuple[int, int],
    processors: list[str],
    fractions: list[float],
    take: Callable[[Region], torch.Tensor],
    worker: Callable[[int, str], int],
    regions: dict[tuple[int, int, int, int], Region] | None = None,
) -> PartRun:
    """Rows ``[a, b)`` of units ``first..last`` split by ``fractions`` (:func:`local_cuts`), each
    processor's range computed on its pool worker at once (``worker(i, processor)``), fed the input
    rows it needs by ``take(region)``, and the ranges merged in row order. ``first`` =
    ``graph.num_units`` is the head, run whole by the first processor. ``regions`` caches each
    range's input region (the row maths), so that repeated runs time only the work."""
    regions = {} if regions is None else regions
    t0 = time.perf_counter()
    head = first == graph.num_units
    width = 1 if head else graph.units[last].out_shape[2]
    cuts = np.array([0, 1]) if head else local_cuts(rows[0], rows[1], fractions)
    proc_rows, busy = [], []
    for i, proc in enumerate(processors[:1] if head else processors):
        r0, r1 = int(cuts[i]), int(cuts[i + 1])
        proc_rows.append((r0, r1))
        if r1 <= r0:
            continue
        key = (first, last, r0, r1)
        if key not in regions:
            regions[key] = SlicedSegment(graph, first, last, None if head else Region(r0, r1, 0, width)).in_region
        # a copy of its own per processor: each queue's feeder thread moves what it sends to shared
        # memory, and two of them moving one storage at once race (seen as garbage rows)
        pool.submit(worker(i, proc), i, first, last, (r0, r1), width, take(regions[key]).clone())
        busy.append(i)
    got = pool.collect(len(busy))
    out = got[busy[0]][0] if len(busy) == 1 else torch.cat([got[i][0] for i in busy], dim=2)
    return PartRun(out, proc_rows, [got[i][2] for i in busy], [got[i][1] for i in busy], time.perf_counter() - t0)


def _worker_picker(node_workers: dict[str, int], cores: dict[str, int] | None, n: int) -> Callable[[int, str], int]:
    """For one node: the pool worker of its i-th processor, ``cores`` (processor -> worker) first,
    then the node's :func:`worker_map`, else ``i % n``."""

    def pick(i: int, proc: str) -> int:
        if cores and proc in cores:
            return cores[proc] % n
        return node_workers.get(proc, i % n)

    return pick


def _predicted_seconds(
    maths: SplitMaths, profile: DeviceProfile | None, first: int, last: int, r0: int, r1: int
) -> float:
    """What ``profile`` predicts for output rows ``[r0, r1)`` of units ``first..last`` (NaN without one)."""
    if profile is None or r1 <= r0:
        return float("nan")
    rng = maths.ranges(first, last, np.array([[r0, r1]]))
    return float(
        sum(profile.unit_latency(u, int(hi[0, 0] - lo[0, 0])) for (lo, hi), u in zip(rng, range(last, first - 1, -1)))
    )


def _run_volume(
    v: int,
    plan: Plan,
    graph: ModelGraph,
    pool: ProcessorPool,
    held: list[tuple[int, torch.Tensor]],
    shares: dict[tuple[int, str], Any],
    pickers: dict[str, Callable[[int, str], int]],
    predict: Callable[[int, int, int, int], float],
    regions: dict[tuple[int, int, int, int], Region] | None,
    parts: list[PartTiming],
) -> list[tuple[int, torch.Tensor]]:
    """Volume ``v``, node by node, each node's processors in parallel, from the rows ``held``; its
    output rows in row order, each node part's timing appended to ``parts``."""
    vol = plan.volumes[v]
    out: list[tuple[int, torch.Tensor]] = []
    for j, name in enumerate(d.name for d in plan.devices):
        a, b = vol.rows[j], vol.rows[j + 1]
        if b <= a:
            continue
        s = shares.get((v, name))
        procs = [p.processor for p in s.shares] if s else ["default"]
        fr = [p.share for p in s.shares] if s else [1.0]
        run = run_part(
            pool, graph, vol.first, vol.last, (a, b), procs, fr, functools.partial(_take, held), pickers[name], regions
        )
        out.append((a, run.output))
        parts.append(
            PartTiming(
                v,
                name,
                (a, b),
                procs,
                run.proc_rows,
                run.cores,
                run.wall_s,
                run.compute_s,
                [predict(vol.first, vol.last, r0, r1) for r0, r1 in run.proc_rows if r1 > r0],
            )
        )
    return sorted(out, key=lambda t: t[0])


def run_shares(
    plan: Plan,
    graph: ModelGraph,
    x: torch.Tensor,
    pool: ProcessorPool,
    profile: DeviceProfile | None = None,
    cores: dict[str, int] | None = None,
    regions: dict[tuple[int, int, int, int], Region] | None = None,
) -> SharesResult:
    """Run ``plan`` with every node's processor shares in parallel on ``pool`` (see module doc);
    the head is the last part (``volume = len(plan.volumes)``)."""
    plan.check(graph)
    names = [d.name for d in plan.devices]
    shares = {(s.volume, s.device): s for s in plan.shares or [] if s.volume is not None}
    res = SharesResult(torch.empty(0))
    predict = functools.partial(_predicted_seconds, SplitMaths(graph), profile)
    held: list[tuple[int, torch.Tensor]] = [(0, x)]
    pickers = {n: _worker_picker(worker_map(plan, n, len(pool.cores)), cores, len(pool.cores)) for n in names}
    for v in range(len(plan.volumes)):
        held = _run_volume(v, plan, graph, pool, held, shares, pickers, predict, regions, res.parts)
    full = _take(held, Region(0, graph.units[-1].height, 0, graph.units[-1].out_shape[2]))
    if graph.head is None:
        res.output = full
        return res
    h = names[head_index(plan)]
    s = shares.get((len(plan.volumes), h))
    procs = [s.shares[0].processor] if s else ["default"]
    run = run_part(
        pool, graph, graph.num_units, graph.num_units, (0, 1), procs, [1.0], lambda r: full, pickers[h], regions
    )
    res.output = run.output
    head_s = profile.head_seconds if profile is not None else float("nan")
    res.parts.append(
        PartTiming(len(plan.volumes), h, (0, 1), procs, run.proc_rows, run.cores, run.wall_s, run.compute_s, [head_s])
    )
    return res


class NodeProcessors:
    """One node's processors inside its distributed worker (``volume_distributed.py``).

    The node process (its rank) keeps the node's memory: it receives the node's input rows over
    the network as before, then hands each processor the rows of its share (:func:`run_part`) on
    a :class:`ProcessorPool` worker of its own (one per processor the node's shares name, pinned to
    core ``i % cores``: on this 2-core machine two nodes' processors share the cores), merges
    their output rows and sends them on. Parts and heads without a share entry run in the node
    process itself. The pool starts before the process group forms; its workers leave when the
    node process dies.
    """

    def __init__(
        self,
        plan: Plan,
        graph: ModelGraph,
        node: str,
        cores: list[int] | None = None,
        timeout_s: float = 120.0,
        module: torch.nn.Module | None = None,
    ) -> None:
        self.graph = graph
        self.shares = {
            s.volume: ([p.processor for p in s.shares], [p.share for p in s.shares])
            for s in plan.shares or []
            if s.device == node and s.volume is not None
        }
        allowed = sorted(os.sched_getaffinity(0)) if cores is None else list(cores)
        self.workers = worker_map(plan, node, 1 << 30)  # one worker per processor
        self.pool = ProcessorPool(
            plan.model.name,
            tuple(plan.model.input),
            cores=[allowed[i % len(allowed)] for i in range(len(self.workers))],
            timeout_s=timeout_s,
            module=module,
        )
        self.compute_s = dict.fromkeys(self.workers, 0.0)
        self.regions: dict[tuple[int, int, int, int], Region] = {}

    @staticmethod
    def wanted(plan: Plan, node: str) -> bool:
        """Whether the plan gives ``node`` processor shares (a HiDP-style plan)."""
        return any(s.device == node and s.volume is not None for s in plan.shares or [])

    def handles(self, stage: int) -> bool:
        return stage in self.shares

    def run(self, stage: int, segment: SlicedSegment, rows: tuple[int, int], inp: torch.Tensor) -> torch.Tensor:
        """The node's part of ``stage`` (``segment`` is the whole part, ``inp`` its input region)."""
        procs, fr = self.shares[stage]
        lo = segment.in_region.r0
        run = run_part(
            self.pool,
            self.graph,
            segment.first,
            segment.last,
            rows,
            procs,
            fr,
            lambda r: _take([(lo, inp)], r),
            lambda i, p: self.workers[p],
            self.regions,
        )
        busy = [p for p, (r0, r1) in zip(procs, run.proc_rows) if r1 > r0]
        for p, c in zip(busy, run.compute_s):
            self.compute_s[p] += c
        return run.output

    def take(self) -> dict[str, float]:
        """Per processor, the compute seconds since the last call."""
        out, self.compute_s = self.compute_s, dict.fromkeys(self.workers, 0.0)
        return out

    def close(self) -> None:
        self.pool.close()
