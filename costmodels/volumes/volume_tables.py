"""Per-volume lookup tables for the batched simulator: a part's compute and input rows by its cuts.

Everything :meth:`Simulator.advance <splitgym.costmodels.volumes.volume_simulator.Simulator.advance>`
needs from a part before its transfers depends on the part's two cut points ``(a, b)`` on the
volume's last unit alone: the rows it computes at every unit (the row maths), their seconds
summed over units on each device, and the input rows it needs. A volume whose last unit has
height H has only ``(H + 1)^2`` such pairs, so they are tabulated once per volume, by the very
code the per-step path ran (:meth:`SplitMaths.ranges` and the same gather and sum over units), and
a step then looks them up: three ``take`` calls instead of ~6 numpy calls per unit of the volume
(VGG-16's first DistrEdge volume has 14 units). The tables hold the same doubles the per-step
arithmetic produced, so the results are equal, not merely close (``tests/test_fast_advance.py``).

The compute table is (H + 1)^2 x N doubles; above :data:`MAX_TABLE` entries (a 224-row volume on
64 devices would be 26 MB) only the input-row tables are kept and the compute is summed per unit
as before. Building a table costs ~1-300 ms (VGG-16, 4-64 devices), so the simulator builds one on
a volume's second step (the first goes through :func:`direct_lookup`) and keeps the last
:data:`~splitgym.costmodels.volumes.volume_simulator.MAX_TABLES` it built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from splitgym.costmodels.errors import PlanError

__all__ = ["VolumeTables", "MAX_TABLE", "check_cuts", "direct_lookup"]

#: the largest compute table built, in entries ((H + 1)^2 x N doubles; 2^20 = 8 MiB)
MAX_TABLE = 1 << 20


def check_cuts(cuts_t: np.ndarray, first: int, last: int, H1: int) -> None:
    """Refuse, in one line, cuts outside ``0..H`` (``cuts_t`` (N+1, B)): in a table they would index
    another pair's entry."""
    if cuts_t.min() < 0 or cuts_t.max() >= H1:
        raise PlanError(
            f"cuts: volume {first}..{last} takes cut points in 0..{H1 - 1}, "
            f"got {int(cuts_t.min())}..{int(cuts_t.max())}"
        )


def direct_lookup(
    sim: Any, first: int, last: int, cuts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """:meth:`VolumeTables.lookup` without a table, by the per-unit maths: (compute, in_lo, in_hi)
    (N, B), the last two as doubles, and the input rows (B, N) as integers. The simulator uses it
    on a volume's first step, so a one-off score of a new partition does not pay for a table."""
    ranges = sim.split.ranges(first, last, cuts)
    lo, hi = ranges[-1]
    comp = unit_compute(sim, first, last, ranges)
    return np.ascontiguousarray(comp.T), lo.T.astype(float), hi.T.astype(float), (lo, hi)


def unit_compute(sim: Any, first: int, last: int, ranges: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(B, N) seconds of every part: each device's latency for its rows at every unit of the volume,
    summed over units last to first (the per-step maths, kept as the tables' source and fallback)."""
    rows = np.stack([b - a for a, b in ranges[:-1]])
    units = np.arange(last, first - 1, -1)[:, None, None]
    return sim.lat[np.arange(sim.N), units, rows].sum(axis=0)


class VolumeTables:
    """The lookups of one volume (units ``first..last``) of one simulator, indexed by a part's cuts."""

    def __init__(self, sim: Any, first: int, last: int) -> None:
        self.first, self.last, self.N = first, last, sim.N
        self.H1 = H1 = int(sim.heights[last]) + 1
        pairs = np.stack(np.divmod(np.arange(H1 * H1, dtype=np.int64), H1), axis=1)  # (P, 2): a, b
        ranges = sim.split.ranges(first, last, pairs)
        self.in_lo = np.ascontiguousarray(ranges[-1][0][:, 0])  # (P,) by a * H1 + b
        self.in_hi = np.ascontiguousarray(ranges[-1][1][:, 0])
        self.in_lo_f, self.in_hi_f = self.in_lo.astype(float), self.in_hi.astype(float)  # exact
        self.compute: np.ndarray | None = None
        if H1 * H1 * sim.N <= MAX_TABLE:
            # (N, P), flattened: device k's seconds for the pair p at k * P + p
            self.compute = np.ascontiguousarray(unit_compute(sim, first, last, ranges).T).ravel()
            self._dev_offset = (np.arange(sim.N, dtype=np.int64) * (H1 * H1))[:, None]

    def index(self, cuts_t: np.ndarray) -> np.ndarray:
        """(N, B) table index ``a * (H + 1) + b`` of every part of a batch of cuts given device-first,
        (N+1, B); a cut outside ``0..H`` is refused (it would index another pair's entry)."""
        check_cuts(cuts_t, self.first, self.last, self.H1)
        idx = cuts_t[:-1] * self.H1
        idx += cuts_t[1:]
        return idx

    def lookup(self, sim: Any, cuts: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(compute, in_lo, in_hi), each (N, B) (device-first), of a batch of (B, N+1) ``cuts`` whose
        :meth:`index` is ``idx``; the input rows as doubles (exact), for the transfer arithmetic."""
        lo, hi = self.in_lo_f.take(idx), self.in_hi_f.take(idx)
        if self.compute is None:
            comp = unit_compute(sim, self.first, self.last, sim.split.ranges(self.first, self.last, cuts))
            return np.ascontiguousarray(comp.T), lo, hi
        return self.compute.take(idx + self._dev_offset), lo, hi
