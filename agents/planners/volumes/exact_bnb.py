"""Branch and bound for the exact search: the same optimum as enumerating every cut vector, with
most of the search space ruled out by a bound that the timing model guarantees.

Why a bound exists: in :meth:`Simulator.advance` a device's clock only moves forward (a part
starts at ``max(own clock, arrivals)`` and adds its compute; an empty part keeps its clock), and
every row a part computes is needed by some part of the next volume, which cannot start before it
arrives; the last volume's rows all go to the head (or the requester). So the end-to-end latency
of any plan is at least the latest device clock after any prefix of its volumes. A prefix whose
latest clock already exceeds a plan we have scored cannot lead to a better plan and is dropped with
all its completions.

"Every row is needed" depends on the model's row maps: a 1x1 stride-2 layer alone skips rows. It
is checked per volume boundary (:func:`bound_holds`); where it fails the search enumerates.

Same result, same ties: survivors are kept in enumeration order (prefix-major), a prefix is dropped
only when its bound is *strictly* above the incumbent (so every plan tying the optimum is scored),
and the first strict improvement wins, exactly as in the enumeration. Both score through the same
``advance``/``finish`` calls, element by element, so the latencies are bit-identical.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.volumes.clock_bound import rows_covered
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["bound_holds", "branch_and_bound", "cut_vectors", "enumerate_all"]

Partition = list[tuple[int, int]]
#: a volume with at most this many cut vectors is expanded whole (one step), not device by device
TABLE_MAX = 4096


def bound_holds(sim: Simulator, partition: Partition) -> bool:
    """True when every output row of each volume is read by some output row of the next one
    (:func:`rows_covered` at every boundary; a partition's volumes are contiguous)."""
    return all(rows_covered(sim, first, last) for first, last in partition[1:])


def enumerate_all(
    sim: Simulator, partition: Partition, tables: list[np.ndarray], chunk: int, head_device: int | None
) -> tuple[int, float, int]:
    """Score every combination, in chunks: (flat index of the best, its latency, plans scored)."""
    shape = tuple(len(t) for t in tables)
    total = int(np.prod(shape, dtype=np.int64))
    best_i, best = 0, np.inf
    for start in range(0, total, chunk):
        idx = np.unravel_index(np.arange(start, min(start + chunk, total)), shape)
        cuts = np.stack([t[i] for t, i in zip(tables, idx, strict=True)], axis=1)  # (B, V, N+1)
        lat = sim.score(partition, cuts, head_device)
        k = int(np.argmin(lat))
        if lat[k] < best:
            best_i, best = start + k, float(lat[k])
    return best_i, best, total


def cut_vectors(points: np.ndarray, n: int) -> np.ndarray:
    """Every sorted vector of N+1 cut points on ``points`` (first 0, last the height): (K, N+1)."""
    inner = itertools.combinations_with_replacement(points.tolist(), n - 1)
    return np.array([[0, *c, int(points[-1])] for c in inner], dtype=np.int64)


class _Frontier:
    """Surviving partial plans: the cuts chosen so far (B, V, N+1), the device clocks after the
    last complete volume (B, N), and how far the current volume's cut vector is filled."""

    def __init__(self, cuts: np.ndarray, T: np.ndarray) -> None:
        self.cuts, self.T = cuts, T

    def __len__(self) -> int:
        return len(self.cuts)

    def take(self, keep: np.ndarray) -> _Frontier:
        return _Frontier(self.cuts[keep], self.T[keep])


def _check_budget(advanced: int, budget: int) -> None:
    if advanced > budget:
        raise ConfigError(
            f"max_candidates: the branch and bound advanced more than {budget:,} partial plans; "
            "use a coarser grid, fewer volumes or raise it"
        )


def _part_costs(sim: Simulator, part: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    """(N, P, P): each device's compute for the part from grid point i to grid point k (0 when
    empty, inf when k < i)."""
    n, P = sim.N, len(pts)
    a, b = np.meshgrid(pts, pts, indexing="ij")  # a part from pts[i] to pts[k]
    cuts = np.stack([a.ravel(), np.maximum(a, b).ravel()], axis=1)
    first, last = part
    ranges = sim.split.ranges(first, last, cuts)
    rows = np.stack([hi - lo for lo, hi in ranges[:-1]])[:, :, 0]  # (L, P*P)
    units = np.arange(last, first - 1, -1)[:, None]
    cost = np.stack([sim.lat[k][units, rows].sum(axis=0).reshape(P, P) for k in range(n)])
    return np.where(b >= a, np.where(b > a, cost, 0.0), np.inf)


def _rest_bounds(cost: np.ndarray) -> np.ndarray:
    """(N, P): the least compute makespan with which devices j.. can cover rows pts[i]..H of the
    volume (a min-max partition DP over devices on the grid; transfers and clocks left out, so it
    is a lower bound of what they need)."""
    n, P, _ = cost.shape
    rest = np.empty((n, P))
    rest[n - 1] = cost[n - 1][:, -1]  # the last device takes everything left
    for j in range(n - 2, -1, -1):
        rest[j] = np.maximum(cost[j], rest[j + 1][None, :]).min(axis=1)
    return rest


def _next_volume_bound(cost: np.ndarray, T: np.ndarray) -> np.ndarray:
    """(B,): the least makespan of the next volume's compute with each device starting at its
    clock ``T`` (B, N): the same DP as :func:`_rest_bounds`, per plan, from row 0. Arrivals are
    left out, so it is a lower bound of every later clock."""
    n = cost.shape[0]
    last = cost[n - 1][None, :, -1]  # the last device from point i to H
    rest = np.where(last > 0, T[:, n - 1 : n] + last, 0.0)  # (B, P)
    for j in range(n - 2, 0, -1):
        own = T[:, j, None, None] + cost[j][None]  # (B, P, P)
        own = np.where(cost[j][None] > 0, own, 0.0)  # an empty part adds nothing
        rest = np.maximum(own, rest[:, None, :]).min(axis=2)
    own = np.where(cost[0][None, 0] > 0, T[:, :1] + cost[0][None, 0], 0.0)  # device 0 from row 0: (B, P)
    return np.maximum(own, rest).min(axis=1) if n > 1 else own[:, -1]


class _Search:
    """One pass over (volume, device) choices; ``bound`` prunes, ``keep`` makes it a beam."""

    def __init__(self, sim: Simulator, partition: Partition, points: list[np.ndarray], chunk: int, budget: int):
        self.sim, self.partition, self.points, self.chunk, self.budget = sim, partition, points, chunk, budget
        self.advanced = 0
        self.costs = [_part_costs(sim, part, pts) for part, pts in zip(partition, points, strict=True)]
        self.rest = [_rest_bounds(c) for c in self.costs]

    def run(self, bound: float, keep: int | None) -> tuple[np.ndarray | None, float]:
        n, V = self.sim.N, len(self.partition)
        fr = _Frontier(np.zeros((1, V, n + 1), dtype=np.int64), np.zeros((1, n)))
        for v, height in enumerate(int(p[-1]) for p in self.points):
            fr.cuts[:, v, -1] = height
            table = self._table(v)
            steps = [(0, table)] if table is not None else [(j, None) for j in range(1, n)]
            for j, tab in steps:  # a whole cut vector from the table, or cut j (device j-1's end)
                fr = self._step(fr, v, j, bound, keep, tab)
                if not len(fr):
                    return None, np.inf
        return self._finish(fr)

    def _table(self, v: int) -> np.ndarray | None:
        """A small volume's every cut vector (one step, one ``advance`` per child), else None:
        the cuts are then chosen one device at a time (more steps, pruned between them)."""
        pts, n = self.points[v], self.sim.N
        if n > 1 and math.comb(len(pts) + n - 2, n - 1) > TABLE_MAX:
            return None
        return cut_vectors(pts, n)

    def _clocks(self, fr: _Frontier, v: int, filled: int) -> np.ndarray:
        """Device clocks after volume ``v`` with cuts ``0..filled`` chosen and later parts empty."""
        cuts = fr.cuts[:, v].copy()
        if filled < self.sim.N:
            cuts[:, filled + 1 :] = cuts[:, filled : filled + 1]
        prev = fr.cuts[:, v - 1] if v else None
        first, last = self.partition[v]
        self.advanced += len(cuts)
        _check_budget(self.advanced, self.budget)
        return self.sim.advance(first, last, cuts, fr.T, prev).T

    def _step(
        self, fr: _Frontier, v: int, j: int, bound: float, keep: int | None, table: np.ndarray | None
    ) -> _Frontier:
        pts = self.points[v] if table is None else table
        kids, clocks = [], []
        per = max(1, self.chunk // len(pts))
        for s in range(0, len(fr), per):
            part = fr.take(np.arange(s, min(s + per, len(fr))))
            if table is None:
                rep, pick = np.nonzero(pts[None, :] >= part.cuts[:, v, j - 1][:, None])  # prefix-major
                child = part.take(rep)
                child.cuts[:, v, j] = pts[pick]
            else:
                rep = np.repeat(np.arange(len(part)), len(table))
                child = part.take(rep)
                child.cuts[:, v] = np.tile(table, (len(part), 1))
            done = table is not None or j == self.sim.N - 1
            T = self._clocks(child, v, j if not done else self.sim.N)
            lb = T.max(axis=1)
            if not done:  # devices j.. must still cover rows cut_j..H: no faster than alone on them
                at = np.searchsorted(self.points[v], child.cuts[:, v, j])
                lb = np.maximum(lb, child.T[:, j:].min(axis=1) + self.rest[v][j][at])
            if done:
                child.T = T
                if v + 1 < len(self.partition):
                    lb = np.maximum(lb, _next_volume_bound(self.costs[v + 1], T))
            ok = lb <= bound
            kids.append(child.take(ok))
            clocks.append(lb[ok])
        out = _Frontier(np.concatenate([k.cuts for k in kids]), np.concatenate([k.T for k in kids]))
        lb = np.concatenate(clocks)
        if keep is not None and len(out) > keep:
            out = out.take(np.sort(np.argsort(lb, kind="stable")[:keep]))  # still in search order
        return out

    def _finish(self, fr: _Frontier) -> tuple[np.ndarray | None, float]:
        best_cuts, best = None, np.inf
        for s in range(0, len(fr), self.chunk):
            part = fr.take(np.arange(s, min(s + self.chunk, len(fr))))
            lat, _ = self.sim.finish(part.cuts[:, -1], part.T)
            k = int(np.argmin(lat))
            if lat[k] < best:
                best_cuts, best = part.cuts[k], float(lat[k])
        return best_cuts, best


def branch_and_bound(
    sim: Simulator,
    partition: Partition,
    points: list[np.ndarray],
    chunk: int,
    budget: int,
    beam: int = 64,
) -> tuple[np.ndarray, float, int]:
    """(the optimum's cuts (V, N+1), its latency, partial plans advanced).

    The search fills each volume's cut vector one device at a time, from the first volume to the
    last; a partial plan's bound is its latest device clock with the unfilled parts empty (an
    added part never makes another part earlier: its own link, or a later place in the shared
    medium's queue). A beam pass (the ``beam`` lowest bounds at each step) first finds a good plan,
    whose latency is the incumbent the exact pass prunes against.
    """
    search = _Search(sim, partition, points, chunk, budget)
    _, incumbent = search.run(np.inf, keep=beam)
    cuts, best = search.run(incumbent, keep=None)
    assert cuts is not None  # the beam's own plan survives: its clocks never exceed its latency
    return cuts, best, search.advanced
