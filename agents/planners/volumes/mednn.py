"""MeDNN: layer-by-layer row split, greedy on per-unit linear latency models of each device.

DistrEdge describes MeDNN exactly as MoDNN (DE L38, L256: "linear models for devices,
layer-by-layer split", network ignored; PAPERS-AUDIT C.1 item 11). MeDNN's own paper (Mao et al.,
ICCAD 2017) refines MoDNN's proportional partition with a *greedy* partition that adapts to each
device's measured behaviour; we keep DistrEdge's description and take from that idea the one
defensible difference:

* MoDNN uses one computing capability per device for every layer; MeDNN uses a **per-unit linear
  model** of each device, ``t_du(rows) = a_du + b_du * rows``: the least-squares line through the
  device's profile table of that unit (the same regression as ``DeviceProfile.fitted("linear")``),
  so a unit that runs relatively better on one device gets more of its rows there, and the fixed
  cost ``a_du`` can leave a slow device with no rows at all;
* rows are handed out **greedily, one at a time**, to the device whose predicted time after taking
  the row is smallest (a device with no rows costs nothing). For increasing cost functions this
  greedy gives the integer split that minimises the predicted slowest part, so no rounding step is
  needed;
* a negative fitted intercept (a fitting artefact of a noisy table) is clipped to 0;
* with ``partition`` other than the default ``"layers"``, a fused volume's unit u computes
  ``s_u * r + h_u`` rows for ``r`` output rows (:func:`..linear.volume_rows`), still linear in r;
* the network is ignored, as DistrEdge says.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import device_profiles, volume_rows
from splitgym.costmodels.volumes.partitions import named_partition

__all__ = ["plan_mednn", "unit_lines", "greedy_rows"]


def unit_lines(profile: DeviceProfile) -> tuple[np.ndarray, np.ndarray]:
    """Per unit ``(a, b)``: least-squares seconds = a + b * rows through the profile table."""
    a, b = [], []
    for table in profile.units:
        h = np.asarray(table.heights, dtype=float)
        s = np.asarray(table.seconds, dtype=float)[:, -1]
        slope, icpt = np.polyfit(h, s, 1) if len(h) > 1 else (s[0] / h[0], 0.0)
        a.append(max(float(icpt), 0.0))
        b.append(max(float(slope), 1e-15))
    return np.array(a), np.array(b)


def greedy_rows(alpha: np.ndarray, beta: np.ndarray, height: int) -> np.ndarray:
    """N+1 cut points: each row in turn to the device with the smallest predicted time after it."""
    rows = np.zeros(len(alpha), dtype=np.int64)
    for _ in range(height):
        rows[np.argmin(alpha + beta * (rows + 1))] += 1
    return np.concatenate([[0], np.cumsum(rows)])


def plan_mednn(
    graph: ModelGraph, cluster: Cluster, partition: str = "layers", profiles: Mapping[str, DeviceProfile] | None = None
) -> Plan:
    # 1. per device and unit, a fitted line of seconds against output rows
    lines = [unit_lines(p) for p in device_profiles(graph, cluster, profiles)]
    A = np.stack([a for a, _ in lines])  # (N, U)
    B = np.stack([b for _, b in lines])
    # 2. one volume per unit (or the given partition)
    part = named_partition(partition, graph)
    # 3. per volume, the volume's linear model per device, then the greedy split
    cuts = []
    for first, last in part:
        s, h = volume_rows(graph, first, last)
        units = slice(first, last + 1)
        alpha = A[:, units].sum(1) + B[:, units] @ h[:-1]
        beta = B[:, units] @ s[:-1]
        cuts.append(greedy_rows(alpha, beta, graph.units[last].height))
    return Plan.from_volumes("mednn", graph, cluster, part, cuts, meta={"partition": partition})
