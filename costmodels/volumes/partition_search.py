"""Searches over partitions on the linear model: every volume priced once, then all partitions.

AOFL (``agents/planners/volumes/aofl.py``), its HiDP-side twin and the partition pilot of
DistrEdge's env (:mod:`.partition_pilot`) share it, so it sits with the volume cost model below them.

A partition's cost is the sum of its volumes' ``tau[first, last]``, so the best partition of units
``0..e-1`` ends with a volume ``f..e-1`` after the best partition of ``0..f-1``: a min-sum dynamic
programme over cut positions, O(K U^2) for at most K volumes, finds what AOFL's brute force over
all 2^(U-1) partitions finds (:func:`search_partitions`; ResNet-152's 52 units are 2^51
partitions, which the brute force, :func:`brute_force_partitions`, never finishes). Sums run left
to right as the brute force's do, so the costs are the same floats, and ties go the brute force's
way: the numerically smallest mask, i.e. the latest volume starting as early as possible, then the
same rule on what comes before it.
"""

from __future__ import annotations

import math

import numpy as np

from splitgym.costmodels.volumes.linear_model import LinearModel

__all__ = ["price_volumes", "search_partitions", "brute_force_partitions", "count_partitions"]


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


def count_partitions(units: int, max_volumes: int | None = None) -> int:
    """How many partitions of ``units`` units into at most ``max_volumes`` volumes there are."""
    k = units if max_volumes is None else min(max_volumes, units)
    return sum(math.comb(units - 1, j) for j in range(k))


def search_partitions(tau: np.ndarray, max_volumes: int | None = None) -> tuple[int, float, int]:
    """The best partition of ``U`` units by dynamic programming: ``(mask, cost, partitions covered)``,
    the mask and cost :func:`brute_force_partitions` returns (bit ``i-1`` set: a volume starts at
    unit ``i``)."""
    U = tau.shape[0]
    K = U if max_volumes is None else max(1, min(max_volumes, U))
    # best[k, e]: the cheapest partition of units 0..e-1 into at most k volumes
    best = np.full((K + 1, U + 1), np.inf)
    best[:, 0] = 0.0
    arg = np.zeros((K + 1, U + 1), dtype=np.int64)
    for k in range(1, K + 1):
        for e in range(1, U + 1):
            c = best[k - 1, :e] + tau[:e, e - 1]
            arg[k, e] = int(np.argmin(c))  # the first minimum: the latest volume starts earliest
            best[k, e] = c[arg[k, e]]
    mask, k, e = 0, K, U
    while e > 0:
        f = int(arg[k, e])
        if f > 0:
            mask |= 1 << (f - 1)
        e, k = f, k - 1
    return mask, float(best[K, U]), count_partitions(U, max_volumes)


def brute_force_partitions(
    tau: np.ndarray, max_volumes: int | None = None, chunk: int = 1 << 17
) -> tuple[int, float, int]:
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
