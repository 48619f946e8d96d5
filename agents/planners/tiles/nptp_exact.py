"""NPTP exact: the best tile layout over *every* partition of a coarse grid, to state MPA's gap.

Not from the paper: a yardstick for small cases. The image is seen as a ``grid x grid`` board of
cells (edges at ``round(k * H / grid)``); every partition of the board into N rectangles
(:func:`tile_layouts.all_partitions`: strips, grids, T-junctions, every non-guillotine layout
too for N >= 5) and every assignment of the devices to the rectangles is scored with the tile
cost model; the best feasible one is returned. On its grid nothing can beat it; MPA, which places
its cuts at any row, may (the grid restricts the positions, not the shapes).

Size: N = 3 at grid 8 has 238 partitions x 6 assignments = 1,428 layouts; grid 16 has 1,110 x 6
= 6,660; N = 4 at grid 8 has tens of thousands x 24. ``max_candidates`` (default 200,000)
refuses a larger search with one ``ConfigError`` line before it starts counting assignments.
``caps`` as for ``coedge-strips``.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.tiles.tile_cost import TileCostModel, cluster_caps, tile_plan
from splitgym.costmodels.tiles.tile_layouts import all_partitions, scale_rects

__all__ = ["plan_nptp_exact"]


def plan_nptp_exact(
    graph: ModelGraph,
    cluster: Cluster,
    grid: int = 8,
    max_candidates: int = 200_000,
    caps: str = "auto",
    profiles: Mapping[str, DeviceProfile] | None = None,
    scatter: bool = False,
    compute: str = "profile",
) -> Plan:
    _, h, w = graph.input_shape
    n = cluster.size
    if not 1 <= grid <= min(h, w):
        raise ConfigError(f"grid: must lie in 1..{min(h, w)} (the image side), got {grid}")
    t0 = time.perf_counter()
    parts = list(all_partitions(grid, grid, n))
    total = len(parts) * math.factorial(n)
    if total > max_candidates:
        raise ConfigError(
            f"grid: {total:,} layouts ({len(parts):,} partitions x {n}! assignments) exceed "
            f"max_candidates={max_candidates:,}; use a coarser grid or raise it"
        )
    if not parts:
        raise ConfigError(f"grid: a {grid}x{grid} board has no partition into {n} rectangles")
    memory = cluster_caps(cluster, caps)
    model = TileCostModel(
        graph, cluster, profiles, memory.mb, activation_share=memory.share, scatter=scatter, compute=compute
    )
    best = None
    for p in parts:
        rects = scale_rects(p, grid, grid, h, w)
        for perm in itertools.permutations(range(n)):
            s = model.score([rects[perm[d]] for d in range(n)])
            if best is None or s.key < best.key:
                best = s
    assert best is not None
    return tile_plan(
        "nptp-exact",
        graph,
        cluster,
        best.rects,
        caps=memory,
        latency_s=best.latency,
        feasible=best.feasible,
        grid=grid,
        partitions=len(parts),
        candidates=total,
        **model.options(),
        search_s=time.perf_counter() - t0,
    )
