"""Model-only split maths, vectorised: rows each part computes, bytes parts exchange, operations.

Nothing here knows a device or a link: these are the quantities of a split decision that depend
on the model alone. The simulator turns them into time; LC-PSS (which, as DistrEdge defines it,
sees only layer configurations) scores partitions with them directly.
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.graph import DTYPE_BYTES, ModelGraph
from splitgym.costmodels.rowmap import UnitMap

__all__ = ["SplitMaths", "range_tables"]


def range_tables(row_map: UnitMap, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A unit map tabulated over its ``height + 1`` possible cut points: (min start, max start,
    max end) over its paths, indexed by a cut. A part ``[a, b)`` then needs input rows
    ``[min_start[a], max(max_start[a], max_end[b]))`` (empty parts ``(0, 0)``): the same numbers as
    :meth:`UnitMap.__call__`, by lookup, because a batch's per-path numpy arithmetic costs more than
    the table's indexing on the deep models whose volumes are priced many times (pilot search)."""
    r = np.arange(height + 1, dtype=np.int64)
    starts = np.stack([np.clip(p.S * r - p.P, 0, p.hi) for p in row_map.paths])
    ends = np.stack([np.minimum(p.hi, p.S * r + p.C) for p in row_map.paths])
    return starts.min(axis=0), starts.max(axis=0), ends.max(axis=0)


class SplitMaths:
    """Per-model tables for batches of split decisions (B, N+1 cut points per volume)."""

    def __init__(self, graph: ModelGraph) -> None:
        self.graph = graph
        self.maps = [u.row_map for u in graph.units]
        self.tables = [range_tables(u.row_map, u.height) for u in graph.units]
        self.heights = np.array([u.height for u in graph.units])
        self.row_bytes = np.array([u.row_bytes for u in graph.units], dtype=float)
        self.row_flops = np.array([u.flops / u.height for u in graph.units], dtype=float)
        c, h, w = graph.input_shape
        self.input_height = h
        self.input_row_bytes = float(c * w * DTYPE_BYTES)

    def ranges(self, first: int, last: int, cuts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Output ranges every part computes, from unit ``last`` back to unit ``first``, then the
        input range of the volume: ``last - first + 2`` pairs of (B, N) arrays."""
        a, b = cuts[:, :-1], cuts[:, 1:]
        out = [(a, b)]
        for u in range(last, first - 1, -1):
            min_start, max_start, max_end = self.tables[u]
            lo, hi = min_start[a], np.maximum(max_start[a], max_end[b])
            empty = b <= a
            if empty.any():
                lo, hi = np.where(empty, 0, lo), np.where(empty, 0, hi)
            a, b = lo, hi
            out.append((a, b))
        return out

    def received_bytes(
        self, first: int, in_lo: np.ndarray, in_hi: np.ndarray, prev_cuts: np.ndarray | None
    ) -> np.ndarray:
        """(B, N, M) bytes part k needs from source m: the requester (M = 1) for the first volume,
        else the N parts of the previous volume (a part's own rows are free)."""
        B, N = in_lo.shape
        if prev_cuts is None:
            src_lo = np.zeros((B, 1), dtype=np.int64)
            src_hi = np.full((B, 1), self.input_height)
            row_bytes = self.input_row_bytes
        else:
            src_lo, src_hi = prev_cuts[:, :-1], prev_cuts[:, 1:]
            row_bytes = self.row_bytes[first - 1]
        overlap = np.minimum(in_hi[:, :, None], src_hi[:, None, :]) - np.maximum(in_lo[:, :, None], src_lo[:, None, :])
        nbytes = np.clip(overlap, 0, None) * row_bytes
        if prev_cuts is not None:
            idx = np.arange(N)
            nbytes[:, idx, idx] = 0.0
        return nbytes

    def operations(self, first: int, last: int, ranges: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """(B,) FLOPs of all parts of the volume, halo recomputation included (a block's internal
        halo is not counted: its FLOPs scale with the rows of its output)."""
        total = 0.0
        for (a, b), u in zip(ranges, range(last, first - 1, -1)):
            total = total + (b - a).sum(axis=1) * self.row_flops[u]
        return np.asarray(total, dtype=float)

    def gather_bytes(self, last_cuts: np.ndarray) -> np.ndarray:
        """(B, N) bytes each part of the last volume holds (what the head or requester gathers)."""
        return (last_cuts[:, 1:] - last_cuts[:, :-1]) * self.row_bytes[-1]
