"""Processor-level execution: a node's share of a volume split over its processors, for real.

HiDP's local partition (``Plan.shares`` with ``volume``) gives each processor of a node a range of
the node's rows. On this machine a *processor* is a worker process pinned to one CPU core
(``os.sched_setaffinity``, one torch thread): :class:`ProcessorPool` starts one per core, each
holding the model (built from the plan's name with seed 0, like the distributed executor), and a
plan's processors are mapped onto the cores in order (``cores``: processor name -> core index;
by default the i-th processor of a node goes to core ``i % len(cores)``, so two processors of
one node run at once on two cores; more processors than cores queue on a worker).

:func:`run_shares` runs a whole plan this way: volume by volume, node by node (the nodes are
simulated one after another on this machine; the node level over real processes and links is
``distributed.py``'s job, which runs the same plan's volumes), each node's processors in
parallel; their output rows are merged into the node's rows, the nodes' into the volume's output,
and the head runs on the processor the plan gives it. It returns the output (equal to the unsplit
model's up to float reassociation) and, per (volume, node), the wall time of the parallel part,
each processor's compute seconds and the *predicted* seconds of the same part from the local
measured profile (one core per processor: the local profile is the prediction of a pinned core;
``predicted_scale`` corrects for the profile's thread count when known).
"""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.multiprocessing as mp

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.hidp_score import local_cuts
from splitgym.costmodels.models import build_model
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.slicing import Region, SlicedSegment
from splitgym.costmodels.traffic import SplitMaths

__all__ = ["ProcessorPool", "run_shares", "PartTiming", "SharesResult"]


def _worker(core: int, name: str, shape: tuple[int, int, int], tasks: Any, results: Any) -> None:
    os.sched_setaffinity(0, {core})
    torch.set_num_threads(1)
    graph = ModelGraph.from_module(build_model(name, seed=0), shape, name=name)
    cache: dict[tuple[int, int, int, int], SlicedSegment] = {}
    with torch.inference_mode():
        while True:
            msg = tasks.get()
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
    """One pinned worker process per core; use as a context manager."""

    def __init__(self, model: str, input_shape: tuple[int, int, int], cores: list[int] | None = None,
                 timeout_s: float = 120.0) -> None:
        allowed = sorted(os.sched_getaffinity(0))
        self.cores = list(allowed[:2] if cores is None else cores)
        bad = [c for c in self.cores if c not in allowed]
        if bad or not self.cores:
            raise ConfigError(f"cores: {self.cores} not within this process's cores {allowed}")
        ctx = mp.get_context("spawn")
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in self.cores]
        self.procs = [ctx.Process(target=_worker, args=(c, model, tuple(input_shape), q, self.results), daemon=True)
                      for c, q in zip(self.cores, self.tasks)]
        self.timeout_s = timeout_s
        for p in self.procs:
            p.start()

    def submit(self, worker: int, tag: Any, first: int, last: int, rows: tuple[int, int], width: int,
               x: torch.Tensor) -> None:
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
        return [{"volume": p.volume, "node": p.node, "rows": f"{p.rows[0]}-{p.rows[1]}",
                 "processors": "+".join(p.processors), "wall_ms": p.wall_s * 1e3,
                 "compute_ms": "+".join(f"{c * 1e3:.2f}" for c in p.compute_s),
                 "predicted_ms": p.predicted_wall_s * 1e3} for p in self.parts]


def _take(held: list[tuple[int, torch.Tensor]], want: Region) -> torch.Tensor:
    pieces = []
    for lo, slab in held:
        a, b = max(want.r0, lo), min(want.r1, lo + slab.shape[2])
        if b > a:
            pieces.append(slab[:, :, a - lo:b - lo, want.c0:want.c1])
    if not pieces:
        ref = held[0][1]
        return ref.new_empty((ref.shape[0], ref.shape[1], want.rows, want.cols))
    return pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=2)


def run_shares(plan: Plan, graph: ModelGraph, x: torch.Tensor, pool: ProcessorPool,
               profile: DeviceProfile | None = None, cores: dict[str, int] | None = None) -> SharesResult:
    """Run ``plan`` with every node's processor shares in parallel on ``pool`` (see module doc)."""
    plan.check(graph)
    names = [d.name for d in plan.devices]
    shares = {(s.volume, s.device): s for s in plan.shares or [] if s.volume is not None}
    res = SharesResult(torch.empty(0))
    maths = SplitMaths(graph)
    held: list[tuple[int, torch.Tensor]] = [(0, x)]

    def worker_of(i: int, proc: str) -> int:
        return (cores[proc] if cores and proc in cores else i) % len(pool.cores)

    def predict(first: int, last: int, r0: int, r1: int) -> float:
        if profile is None or r1 <= r0:
            return float("nan")
        rng = maths.ranges(first, last, np.array([[r0, r1]]))
        return float(sum(profile.unit_latency(u, int(hi[0, 0] - lo[0, 0]))
                         for (lo, hi), u in zip(rng, range(last, first - 1, -1))))

    for v, vol in enumerate(plan.volumes):
        width = graph.units[vol.last].out_shape[2]
        out: list[tuple[int, torch.Tensor]] = []
        for j, name in enumerate(names):
            a, b = vol.rows[j], vol.rows[j + 1]
            if b <= a:
                continue
            s = shares.get((v, name))
            procs = [p.processor for p in s.shares] if s else ["default"]
            cuts = local_cuts(a, b, [p.share for p in s.shares]) if s else np.array([a, b])
            t0 = time.perf_counter()
            n, rows = 0, []
            for i, proc in enumerate(procs):
                r0, r1 = int(cuts[i]), int(cuts[i + 1])
                rows.append((r0, r1))
                if r1 <= r0:
                    continue
                seg = SlicedSegment(graph, vol.first, vol.last, Region(r0, r1, 0, width))
                pool.submit(worker_of(i, proc), i, vol.first, vol.last, (r0, r1), width, _take(held, seg.in_region))
                n += 1
            got = pool.collect(n)
            wall = time.perf_counter() - t0
            for i in sorted(got):
                out.append((rows[i][0], got[i][0]))
            res.parts.append(PartTiming(v, name, (a, b), procs, rows, [got[i][2] for i in sorted(got)], wall,
                                        [got[i][1] for i in sorted(got)],
                                        [predict(vol.first, vol.last, r0, r1) for r0, r1 in rows if r1 > r0]))
        held = sorted(out, key=lambda t: t[0])
    if graph.head is not None:
        full = _take(held, Region(0, graph.units[-1].height, 0, graph.units[-1].out_shape[2]))
        pool.submit(0, "head", graph.num_units, graph.num_units, (0, 1), 1, full)
        res.output = pool.collect(1)["head"][0]
    else:
        res.output = _take(held, Region(0, graph.units[-1].height, 0, graph.units[-1].out_shape[2]))
    return res
