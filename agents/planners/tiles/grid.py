"""Grid: a penetrative ``p x q`` grid of tiles (p * q = devices), the best on a coarse grid.

A second penetrative baseline beside CoEdge's strips (REFERENCE.md section 2 names "strips or a
grid" for the penetrative schemes; PAPERS-AUDIT B.2 item 26 notes that this is REF's gloss):
every row cut and every column cut runs through the whole image. For every factorisation
``p x q`` of the number of devices (so for a prime number of devices only strips, ``1 x N`` and
``N x 1``), every choice of row edges and column edges on a grid of ``grid`` steps and, for up to
``max_orders`` devices, every assignment of devices to cells is scored with the tile cost model
(:mod:`costmodels.tiles`); the best feasible one is returned. ``caps`` as for ``coedge-strips``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.tiles.tile_cost import TileCostModel, cluster_caps, tile_plan
from splitgym.costmodels.tiles.tile_layouts import grid as grid_layout

__all__ = ["plan_grid"]


def _edges(extent: int, parts: int, steps: int) -> list[list[int]]:
    pts = sorted(set(np.round(np.arange(steps + 1) * extent / steps).astype(int).tolist()))
    inner = [p for p in pts if 0 < p < extent]
    return [[0, *c, extent] for c in itertools.combinations(inner, parts - 1)]


def plan_grid(
    graph: ModelGraph,
    cluster: Cluster,
    grid: int = 16,
    max_orders: int = 4,
    caps: str = "auto",
    profiles: Mapping[str, DeviceProfile] | None = None,
    scatter: bool = False,
    compute: str = "profile",
) -> Plan:
    if grid < 1:
        raise ConfigError(f"grid: must be >= 1, got {grid}")
    t0 = time.perf_counter()
    _, h, w = graph.input_shape
    n = cluster.size
    memory = cluster_caps(cluster, caps)
    model = TileCostModel(
        graph, cluster, profiles, memory.mb, activation_share=memory.share, scatter=scatter, compute=compute
    )
    orders = list(itertools.permutations(range(n))) if n <= max_orders else [tuple(range(n))]
    best, shape, evaluations = None, None, 0
    for p in (k for k in range(1, n + 1) if n % k == 0):
        q = n // p
        for re in _edges(h, p, max(grid, p)):
            for ce in _edges(w, q, max(grid, q)):
                cells = grid_layout(h, w, re, ce)
                for order in orders:
                    s = model.score([cells[order.index(d)] for d in range(n)])
                    evaluations += 1
                    if best is None or s.key < best.key:
                        best, shape = s, (p, q)
    if best is None:
        raise ConfigError(f"grid: no {n}-cell grid fits a {h}x{w} image on a grid of {grid}")
    return tile_plan(
        "grid",
        graph,
        cluster,
        best.rects,
        caps=memory,
        latency_s=best.latency,
        feasible=best.feasible,
        shape=list(shape),
        grid=grid,
        evaluations=evaluations,
        **model.options(),
        search_s=time.perf_counter() - t0,
    )
