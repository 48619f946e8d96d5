"""Searches over partitions on the linear model: every volume priced once, then all partitions.

AOFL's brute force (``agents/planners/volumes/aofl.py``) and the partition pilot of DistrEdge's env
(:mod:`.partition_pilot`) share it, so it sits with the volume cost model below both.
"""

from __future__ import annotations

import numpy as np

from splitgym.costmodels.volumes.linear_model import LinearModel

__all__ = ["price_volumes", "search_partitions"]


def price_volumes(model: LinearModel, num_units: int) -> tuple[np.ndarray, dict[tuple[int, int], np.ndarray]]:
    """Model seconds ``tau[first, last]`` of every possible volume under its linear-ratio split
    (the last unit's volumes include the finish), and those splits."""
    tau = np.full((num_units, num_units), np.inf)
    cuts: dict[tuple[int, int], np.ndarray] = {}
    for first in range(num_units):
        for last in range(first, num_units):
            c, secs = model.split(first, last)
            cuts[(first, last)] = c
            tau[first, last] = secs + (model.finish_seconds(c) if last == num_units - 1 else 0.0)
    return tau, cuts


def search_partitions(tau: np.ndarray, max_volumes: int | None = None, chunk: int = 1 << 17) -> tuple[int, float, int]:
    """Brute force over every partition of ``U`` units: ``(best mask, its cost, candidates)``.

    The cost of a partition is the sum of ``tau`` over its volumes; mask bit ``i-1`` set means a
    volume starts at unit ``i``.
    """
    U = tau.shape[0]
    total = 1 << (U - 1)
    best_mask, best_cost, seen = 0, np.inf, 0
    for start in range(0, total, chunk):
        masks = np.arange(start, min(start + chunk, total), dtype=np.int64)
        if max_volumes is not None:
            masks = masks[np.bitwise_count(masks) + 1 <= max_volumes]
            if masks.size == 0:
                continue
        seen += masks.size
        cost = np.zeros(masks.size)
        first = np.zeros(masks.size, dtype=np.int64)
        for i in range(1, U):
            cut = ((masks >> (i - 1)) & 1).astype(bool)
            cost += np.where(cut, tau[first, i - 1], 0.0)
            first = np.where(cut, i, first)
        cost += tau[first, U - 1]
        k = int(np.argmin(cost))
        if cost[k] < best_cost:
            best_mask, best_cost = int(masks[k]), float(cost[k])
    return best_mask, best_cost, seen
