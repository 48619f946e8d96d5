"""CoEdge's own splitting rule on tiles: strips sized by a linear programme over linear models.

``coedge-strips`` gives CoEdge the *best* strips our cost model can find (a grid search over strip
sizes and device orders): a strong baseline that isolates the layout. CoEdge itself (Zeng et al.,
ToN 2020, ref. [24] of NPTP; as NPTP uses it, NP L15, L53; DistrEdge's description, PAPERS-AUDIT
C.1 item 11) does not search: it sizes each device's share of the rows from **linear** models of
compute (proportional to computing capability) and of the network (transmission time = data /
throughput), by a linear programme (a min-max, relaxed to reals and rounded). Here:

* **devices along the strips** in order of capability, fastest first (CoEdge fixes no order and
  does not search one); a device with two neighbours pays two halo boundaries;
* **compute**: ``a_d`` seconds per input row, the device's whole-image time from its profile over
  the image height (CoEdge's linear device model, profiled); with the cost model's ``scatter`` on,
  plus the row's input bytes over the requester's link (linear in rows too);
* **network**: ``c_d`` fixed seconds, per unit the halo rows of one boundary (half the unit's
  widest row halo, rounded up) x the layer's width x ``C_in`` x 4 bytes over the device's link,
  plus the per-message latency, times the number of neighbours;
* **memory** (NPTP's Eq. 8, which CoEdge's programme also carries as a constraint): at most 95% of
  the device's activation-share cap of the rows;
* **the programme** ``min t`` s.t. ``a_d x_d + c_d <= t``, ``sum x_d = H``, ``1 <= x_d <= ub_d``:
  its optimum makes every device inside its bounds end together at one level, found by bisection
  (:func:`bounded_fill`); rows rounded by largest remainder (at least one each).

The plan is scored by the same tile cost model as every other tile planner (:mod:`tile_cost`);
``meta`` carries the programme's own prediction (``lp_latency_s``) beside the model's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import DTYPE_BYTES, ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.tiles.tile_cost import TileCostModel, cluster_caps, tile_plan
from splitgym.costmodels.tiles.tile_layouts import ROWS, strips

__all__ = ["plan_coedge_lp", "linear_models", "bounded_fill"]


def linear_models(model: TileCostModel, order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per device (index order): ``a_d`` seconds per input row and ``c_d`` fixed seconds of the
    halo exchange when the devices lie along the strips in ``order``."""
    c0, h, w = model.graph.input_shape
    a = np.array([model.full_seconds(d) / h for d in range(model.N)])
    if model.scatter_mbps is not None:
        a = a + w * c0 * DTYPE_BYTES * 8.0 / (model.scatter_mbps * 1e6)
    per_boundary = np.zeros(model.N)
    for u in model.graph.units:
        rows = math.ceil(u.row_map.widest[1] / 2)
        nbytes = rows * u.in_shape[2] * u.in_shape[0] * DTYPE_BYTES
        if nbytes:
            caps = np.array([min(model.bw[d][e] for e in range(model.N) if e != d) for d in range(model.N)])
            per_boundary += model.latency_s + model.overhead_s + nbytes * 8.0 / (caps * 1e6)
    neighbours = np.zeros(model.N)
    for k, d in enumerate(order):
        neighbours[d] = (k > 0) + (k < len(order) - 1)
    return a, per_boundary * neighbours


def bounded_fill(
    a: np.ndarray, c: np.ndarray, total: float, lo: np.ndarray, ub: np.ndarray
) -> tuple[np.ndarray, float]:
    """The LP ``min t: a_d x_d + c_d <= t, sum x = total, lo <= x <= ub`` (for ``sum lo <= total
    <= sum ub``): at the optimum ``x_d = clip((t - c_d) / a_d, lo_d, ub_d)`` with the level ``t``
    where the rows add up to ``total`` (every device inside its bounds ends at ``t``); the sum is
    monotone in ``t``, so bisection finds it. Returns the rows and the programme's latency."""
    ub = np.minimum(ub, total)

    def rows(t: float) -> np.ndarray:
        return np.clip((t - c) / a, lo, ub)

    t_lo, t_hi = float((a * lo + c).min()), float((a * ub + c).max())
    for _ in range(200):
        mid = 0.5 * (t_lo + t_hi)
        t_lo, t_hi = (mid, t_hi) if rows(mid).sum() < total else (t_lo, mid)
    x = rows(t_hi)
    x *= total / x.sum()  # the bisection's last rounding, spread
    return x, float((a * x + c).max())


def integer_rows(x: np.ndarray, total: int) -> list[int]:
    """Largest-remainder rounding of real rows to integers summing to ``total``, each >= 1."""
    base = np.maximum(1, np.floor(x)).astype(int)
    while base.sum() > total:
        base[int(np.argmax(base))] -= 1
    frac = x - np.floor(x)
    for i in np.argsort(-frac, kind="stable")[: total - base.sum()]:
        base[i] += 1
    return base.tolist()


def plan_coedge_lp(
    graph: ModelGraph,
    cluster: Cluster,
    caps: str = "auto",
    scatter: bool = False,
    compute: str = "profile",
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    t0 = time.perf_counter()
    _, h, w = graph.input_shape
    n = cluster.size
    if h < n:
        raise ConfigError(f"coedge-lp: {h} rows cannot hold {n} non-empty strips")
    memory = cluster_caps(cluster, caps)
    model = TileCostModel(
        graph, cluster, profiles, memory.mb, activation_share=memory.share, scatter=scatter, compute=compute
    )
    order = sorted(range(n), key=lambda d: model.full_seconds(d))  # fastest first
    a, c = linear_models(model, order)
    ub = np.array([0.95 * memory.share.get(name, math.inf) * h for name in model.names])
    ub = np.maximum(ub, 1.0) if ub.sum() >= h else np.full(n, float(h))  # infeasible caps: no bound
    x, lp_t = bounded_fill(a, c, float(h), np.ones(n), ub)
    sizes = integer_rows(x, h)
    layout = strips(h, w, [sizes[d] for d in order], ROWS)
    rects = [layout[order.index(d)] for d in range(n)]
    s = model.score(rects)
    return tile_plan(
        "coedge-lp",
        graph,
        cluster,
        rects,
        caps=memory,
        latency_s=s.latency,
        feasible=s.feasible,
        lp_latency_s=lp_t,
        rows=sizes,
        order=[model.names[d] for d in order],
        search_s=time.perf_counter() - t0,
        **model.options(),
    )
