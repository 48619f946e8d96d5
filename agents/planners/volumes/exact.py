"""Exact: the minimum simulated latency over every split decision on a grid, for a given partition.

Not from the papers: a yardstick. For a fixed partition, every volume's N-1 cut points are drawn
from a grid of its output rows, every combination of every volume is considered (scored by the
simulator's batched :meth:`Simulator.advance`, or ruled out by a bound, below), and the best is
returned. On its grid and partition nothing can beat it: any heuristic
whose plan lies on the same grid and partition is at best equal (tests/test_planners.py checks it).

Options:

* ``partition`` -- a named partition or unit indices (default ``"single"``: one fused volume);
* ``grid`` -- cut points at ``round(k * H / grid)``, ``k = 0..grid`` on each volume's output
  height H (duplicates removed, so a volume lower than ``grid`` uses every row); ``grid=0`` uses
  every row. Default 8 (multiples of H/8);
* ``max_candidates`` -- refuse (one ``ConfigError`` line) a search larger than this (default
  20 million, about a minute here; see below);
* ``method`` -- ``bnb`` (default) or ``enumerate``;
* ``profiles`` -- per board name, as for the simulator.

Size of the search: a volume whose output height H has P distinct grid points (P = G+1 for H >= G)
has C(P+N-2, N-1) sorted cut vectors (empty parts allowed; device i takes the i-th part, as in
every DistrEdge plan), and a partition of V volumes has their product (``meta["candidates"]``).

``method="bnb"`` (the default) searches them by branch and bound
(:mod:`~splitgym.agents.planners.volumes.exact_bnb`): it fills the cuts volume by volume (a small
volume's cut vectors at once, a large one's device by device) and drops every partial plan whose
latest device clock, or a DP bound on the compute still ahead, already exceeds a plan it has
scored; the result and its tie-break are those of ``method="enumerate"`` (tested equal), which
scores every candidate in batches of ``chunk``. ``meta["scored"]`` counts the partial plans
advanced. Where the model skips rows between two volumes (a lone 1x1 stride-2 layer) the bound
does not hold and the search enumerates (``meta["method"]`` says which ran).
``max_candidates`` refuses an enumeration larger than it before starting, and stops a branch and
bound that advances more partial plans than it. ``python -m splitgym.experiments.bench_exact``
measures both side by side and how far branch and bound reaches in devices (README, "Exact search").

Ties go to the first candidate in enumeration order (the earliest cut vectors of the first volumes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from splitgym.agents.planners.volumes.exact_bnb import bound_holds, branch_and_bound, cut_vectors, enumerate_all
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["plan_exact", "grid_points", "grid_cuts", "count_candidates"]

DEFAULT_MAX_CANDIDATES = 20_000_000
METHODS = ("bnb", "enumerate")


def grid_points(height: int, grid: int) -> np.ndarray:
    """The distinct rows a cut may take: ``round(k * height / grid)``, or every row for grid 0."""
    if grid <= 0:
        return np.arange(height + 1, dtype=np.int64)
    return np.unique(np.round(np.arange(grid + 1) * height / grid).astype(np.int64))


def grid_cuts(height: int, n: int, grid: int) -> np.ndarray:
    """Every sorted vector of N+1 cut points (first 0, last ``height``) on the grid: (K, N+1)."""
    return cut_vectors(grid_points(height, grid), n)


def count_candidates(heights: list[int], n: int, grid: int) -> int:
    """Number of plans the exact search scores: the product over volumes of C(P+N-2, N-1)."""
    return math.prod(math.comb(len(grid_points(h, grid)) + n - 2, n - 1) for h in heights)


def plan_exact(
    graph: ModelGraph,
    cluster: Cluster,
    partition: str = "single",
    grid: int = 8,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    chunk: int = 1 << 15,
    profiles: Mapping[str, DeviceProfile] | None = None,
    method: str = "bnb",
) -> Plan:
    if method not in METHODS:
        raise ConfigError(f"method: must be one of {', '.join(METHODS)}, got {method!r}")
    if grid < 0:
        raise ConfigError(f"grid: must be >= 0 (0 = every row), got {grid}")
    part = named_partition(partition, graph)
    heights = [graph.units[last].height for _, last in part]
    n = cluster.size
    total = count_candidates(heights, n, grid)
    too_many = ConfigError(
        f"grid: {total:,} candidate plans ({len(part)} volumes, {n} devices, grid {grid}) exceed "
        f"max_candidates={max_candidates:,}; use a coarser grid, fewer volumes or raise it"
    )
    if method == "enumerate" and total > max_candidates:
        raise too_many  # before the simulator (and any profiling it needs) is built
    t0 = time.perf_counter()
    sim = Simulator(graph, cluster, profiles=dict(profiles or {}))
    enumerate_ = method == "enumerate" or not bound_holds(sim, part)
    if enumerate_ and total > max_candidates:
        raise too_many
    if enumerate_:
        tables = [grid_cuts(h, n, grid) for h in heights]  # per volume, every cut vector on the grid
        best_i, best, scored = enumerate_all(sim, part, tables, chunk, head_device=None)
        cuts = np.stack([t[i] for t, i in zip(tables, np.unravel_index(best_i, [len(t) for t in tables]), strict=True)])
        used = "enumerate"
    else:
        points = [grid_points(h, grid) for h in heights]
        cuts, best, scored = branch_and_bound(sim, part, points, chunk, budget=max_candidates)
        used = "branch-and-bound"
    search_s = time.perf_counter() - t0
    return Plan.from_volumes(
        "exact",
        graph,
        cluster,
        part,
        cuts,
        meta={
            "partition": partition,
            "grid": grid,
            "latency_s": best,
            "candidates": total,
            "scored": scored,
            "method": used,
            "search_s": search_s,
        },
    )
