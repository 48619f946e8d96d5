"""The simulator's single-plan fast path: one split decision advanced in plain Python.

The batched core (:meth:`Simulator.advance <splitgym.costmodels.volumes.volume_simulator.Simulator.advance>`)
pays numpy's per-call cost (~1 us) on every one of its ~420 calls per VGG-16 plan, whatever the
batch size; for one decision on a few devices that overhead is almost all of the time. This
module does the same arithmetic on Python ints and floats: the same operations on the same IEEE
doubles in the same order (sums over units last to first, ``latency + overhead + 8 n / (mbps
1e6)``, the max over senders), so its results *equal* the batched path's, they are not merely
close (``tests/test_single_plan.py`` checks it on random plans, models, device counts and
time-varying networks).

It pays off for small clusters only (its cost grows with N^2 Python operations per volume):
:data:`FAST_MAX_N` is where the simulator stops using it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from splitgym.costmodels.network import fifo_finish_list

__all__ = ["SinglePlan", "StepDetail", "FAST_MAX_N"]

FAST_MAX_N = 16


@dataclass
class StepDetail:
    """One volume of one decision, as plain lists: what the simulator's breakdown is built from."""

    T: list[float]  # (N,) accumulated latency after this volume
    compute: list[float]  # (N,) seconds of compute of each part
    recv_bytes: list[list[float]]  # (N, M) bytes device k gets from source j
    recv_seconds: list[list[float]]  # (N, M)
    ranges: list[tuple[list[int], list[int]]]  # last unit's output .. volume input: (lo, hi), (N,) each


def _unit_maps(sim: Any) -> list[tuple[tuple[int, int, int, int], ...]]:
    """Each unit's row map as (S, P, C, hi) tuples, one per path."""
    return [tuple((p.S, p.P, p.C, p.hi) for p in m.paths) for m in sim.maps]


def _map_range(paths: tuple[tuple[int, int, int, int], ...], a: int, b: int) -> tuple[int, int]:
    """:class:`~splitgym.costmodels.rowmap.UnitMap` on one range: the input rows ``[a, b)`` needs."""
    if b <= a:
        return 0, 0
    start = end = -1
    for S, P, C, hi in paths:
        s = S * a - P
        s = 0 if s < 0 else hi if s > hi else s
        e = S * b + C
        e = hi if e > hi else e
        e = s if s > e else e
        if start < 0 or s < start:
            start = s
        if e > end:
            end = e
    return start, end


class SinglePlan:
    """Plain-Python tables of a :class:`Simulator` for one decision at a time.

    It reads the simulator's network (``bw``, ``latency_s``, ``overhead_s``) on every call, so
    :meth:`Simulator.set_time` (a new ``bw`` array) is seen; an in-place edit of ``sim.bw`` is not.
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.N = sim.N
        self.lat = sim.lat.transpose(1, 0, 2).tolist()  # [u][k][rows]
        self.maps = _unit_maps(sim)
        self.row_bytes = [float(x) for x in sim.row_bytes]
        self.input_row_bytes = float(sim.input_row_bytes)
        self.input_height = int(sim.split.input_height)
        self.head_lat = [float(x) for x in sim.head_lat]
        self.result_bytes = float(sim.result_bytes)
        self.has_head = sim.graph.head is not None
        self._bw_src: Any = None
        self._bw: list[list[float]] = []

    def _network(self) -> tuple[list[list[float]], float]:
        """The bandwidth matrix as lists (refreshed when the simulator's array changes) and the
        fixed cost of one message."""
        sim = self.sim
        if sim.bw is not self._bw_src:
            self._bw_src, self._bw = sim.bw, sim.bw.tolist()
        return self._bw, sim.latency_s + sim.overhead_s

    def advance(
        self,
        first: int,
        last: int,
        cuts: list[int],
        T_prev: list[float],
        prev_cuts: list[int] | None,
        detail: bool = False,
    ) -> StepDetail:
        """:meth:`Simulator.advance` for one decision: ``cuts`` the N+1 cut points of this volume,
        ``T_prev`` the N accumulated latencies, ``prev_cuts`` the previous volume's cuts (None for
        the first volume). Without ``detail`` only ``T`` of the result is filled."""
        if self.sim.shared:
            return self._advance_shared(first, last, cuts, T_prev, prev_cuts)
        N = self.N
        bw, base = self._network()
        units = range(last, first - 1, -1)
        lat, maps = self.lat, self.maps
        if prev_cuts is None:
            src_lo, src_hi, ready, rb, src_ids = [0], [self.input_height], [0.0], self.input_row_bytes, [N]
        else:
            src_lo, src_hi, ready, rb, src_ids = prev_cuts[:-1], prev_cuts[1:], T_prev, self.row_bytes[first - 1], None
        M = len(src_lo)
        out = StepDetail([0.0] * N, [], [], [], [])
        for k in range(N):
            a, b = cuts[k], cuts[k + 1]
            nonempty = b > a
            c = 0.0
            path = [(a, b)] if detail else None
            for u in units:
                c += lat[u][k][b - a]
                a, b = _map_range(maps[u], a, b)
                if path is not None:
                    path.append((a, b))
            arrival = 0.0
            nbs = [0.0] * M if detail else None
            secs = [0.0] * M if detail else None
            for j in range(M):
                if src_ids is None and j == k:
                    continue  # a part's own rows are free
                lo, hi = src_lo[j], src_hi[j]
                ov = (b if b < hi else hi) - (a if a > lo else lo)
                if ov > 0:
                    nb = ov * rb
                    s = base + nb * 8.0 / (bw[j if src_ids is None else src_ids[j]][k] * 1e6)
                    v = ready[j] + s
                    if v > arrival:
                        arrival = v
                    if nbs is not None and secs is not None:
                        nbs[j], secs[j] = nb, s
            t = T_prev[k]
            out.T[k] = ((arrival if arrival > t else t) + c) if nonempty else t
            if path is not None:
                out.compute.append(c)
                out.recv_bytes.append(nbs)  # type: ignore[arg-type]
                out.recv_seconds.append(secs)  # type: ignore[arg-type]
                out.ranges.append(path)  # type: ignore[arg-type]
        if detail:  # per device -> per unit
            out.ranges = [([p[i][0] for p in out.ranges], [p[i][1] for p in out.ranges]) for i in range(len(units) + 1)]  # type: ignore[index]
        return out

    def _advance_shared(
        self, first: int, last: int, cuts: list[int], T_prev: list[float], prev_cuts: list[int] | None
    ) -> StepDetail:
        """:meth:`advance` on a shared medium, always in detail: every transfer of the step is
        priced first, then they are queued (:func:`network.fifo_finish_list`, the batched path's
        rule and operations), then each part starts when its last one has arrived."""
        N = self.N
        bw, base = self._network()
        units = range(last, first - 1, -1)
        if prev_cuts is None:
            src_lo, src_hi, ready, rb, src_ids = [0], [self.input_height], [0.0], self.input_row_bytes, [N]
        else:
            src_lo, src_hi, ready, rb, src_ids = prev_cuts[:-1], prev_cuts[1:], T_prev, self.row_bytes[first - 1], None
        M = len(src_lo)
        out = StepDetail([0.0] * N, [], [[0.0] * M for _ in range(N)], [[0.0] * M for _ in range(N)], [])
        paths, moves = [], []  # moves: (k, j, ready, seconds alone)
        for k in range(N):
            a, b = cuts[k], cuts[k + 1]
            c, path = 0.0, [(a, b)]
            for u in units:
                c += self.lat[u][k][b - a]
                a, b = _map_range(self.maps[u], a, b)
                path.append((a, b))
            out.compute.append(c)
            paths.append(path)
            for j in range(M):
                lo, hi = src_lo[j], src_hi[j]
                ov = (b if b < hi else hi) - (a if a > lo else lo)
                if ov > 0 and not (src_ids is None and j == k):
                    out.recv_bytes[k][j] = nb = ov * rb
                    moves.append(
                        (k, j, ready[j], base + nb * 8.0 / (bw[j if src_ids is None else src_ids[j]][k] * 1e6))
                    )
        done = fifo_finish_list([m[2] for m in moves], [m[3] for m in moves])
        arrival = [0.0] * N
        for (k, j, r, _), f in zip(moves, done):
            out.recv_seconds[k][j] = s = f - r
            v = r + s
            arrival[k] = v if v > arrival[k] else arrival[k]
        for k in range(N):
            t = T_prev[k]
            out.T[k] = ((arrival[k] if arrival[k] > t else t) + out.compute[k]) if cuts[k + 1] > cuts[k] else t
        out.ranges = [([p[i][0] for p in paths], [p[i][1] for p in paths]) for i in range(len(units) + 1)]
        return out

    def _gather(self, T: list[float], nbytes: list[float], dst: int) -> tuple[list[float], float]:
        """Seconds of each device's message to ``dst`` (0: none; on a shared medium, from its
        readiness to its arrival) and when the last arrives (0 without messages)."""
        bw, base = self._network()
        secs = [base + nb * 8.0 / (bw[m][dst] * 1e6) if nb > 0 else 0.0 for m, nb in enumerate(nbytes)]
        if self.sim.shared:
            sent = [m for m in range(self.N) if nbytes[m] > 0]
            done = fifo_finish_list([T[m] for m in sent], [secs[m] for m in sent])
            for m, f in zip(sent, done):
                secs[m] = f - T[m]
        last = 0.0
        for m in range(self.N):
            if nbytes[m] > 0:
                v = T[m] + secs[m]
                last = v if v > last else last
        return secs, last

    def finish(
        self, last_cuts: list[int], T: list[float], head_device: int | None = None
    ) -> tuple[float, dict[str, Any]]:
        """:meth:`Simulator.finish` for one decision: the end-to-end latency and, as plain values,
        the head (-1 without one), its start, the result's return, the gather bytes and seconds."""
        N = self.N
        bw, base = self._network()
        rb = self.row_bytes[-1]
        nbytes = [(last_cuts[k + 1] - last_cuts[k]) * rb for k in range(N)]
        if not self.has_head:
            end = self._gather(T, nbytes, N)[1]
            return end, {"head": -1, "head_start": end, "result": 0.0}
        h = max(range(N), key=nbytes.__getitem__) if head_device is None else head_device
        nbytes[h] = 0.0
        secs, arrive = self._gather(T, nbytes, h)
        start = arrive if arrive > T[h] else T[h]
        result = base + self.result_bytes * 8.0 / (bw[h][N] * 1e6) if self.result_bytes > 0 else 0.0
        end = start + self.head_lat[h] + result
        return end, {"head": h, "head_start": start, "result": result, "gather_bytes": nbytes, "gather_s": secs}

    def score(self, partition: list[tuple[int, int]], cuts: list[list[int]], head_device: int | None = None) -> float:
        """End-to-end latency of one decision (``cuts``: V lists of N+1 cut points)."""
        T = [0.0] * self.N
        prev = None
        for (f, l), c in zip(partition, cuts):
            T = self.advance(f, l, c, T, prev).T
            prev = c
        return self.finish(prev, T, head_device)[0]  # type: ignore[arg-type]
