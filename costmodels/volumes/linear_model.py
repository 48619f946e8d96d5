"""Linear device and network models: the maths CoEdge, MoDNN, MeDNN and AOFL share.

DistrEdge (DE L38) describes these baselines by the models they plan with, not by the true costs:
compute is *linear* in the work, with one **computing capability** per device, and transmission is
*proportional to the data over the throughput* (CoEdge, AOFL; no I/O overhead or latency, which is
DistrEdge's own criticism of them). This module writes those models down once:

* :func:`capability` -- a device's computing capability in FLOP/s: the FLOPs of the spatial units
  over the seconds its profile gives them at full height (the head is not split, so it is left out).
* :class:`LinearModel` -- for a volume (units ``first..last``) and a part of ``r`` output rows of
  its last unit, device d's predicted time is ``alpha_d + beta_d * r``:

  - every unit u of the volume computes ``s_u * r + h_u`` rows (``s_u`` the stride from the volume
    output back to u, ``h_u`` the halo, of an *interior* part, unclipped at the borders: the
    position-free linear model); it costs ``flops_u / H_u`` FLOPs per row at capability ``c_d``;
  - the part receives its whole input slice, ``s_in * r + h_in`` rows of the volume input: from
    the requester for the first volume (at ``min(cap_requester, cap_d)``), from the other devices
    for a later one (at the device's own cap; the pair rule with an unknown neighbour is ignored).
    The model does not know which of those rows the device already holds (that depends on the
    neighbours' decisions), so it charges them all: a pessimistic reading of "transmission
    proportional to the data" that never under-prices a change of split ratio between volumes.
    (Charging only the halo instead made CoEdge 3-10x slower in the simulator than MoDNN, which
    ignores the network: every ratio change between layers moves whole feature maps unpriced.)
  - a device with ``r = 0`` costs nothing.
* :func:`water_fill` -- the split that minimises ``max_d (alpha_d + beta_d r_d)`` with
  ``sum r_d = H`` in closed form: every active device finishes at the same level ``tau``.
* :func:`largest_remainder` -- real-valued shares to integer cut points (Hamilton's method).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.profiles import DeviceProfile, profile_for

__all__ = [
    "equal_cuts",
    "device_profiles",
    "capability",
    "largest_remainder",
    "hamilton_rows",
    "water_fill",
    "volume_rows",
    "LinearModel",
]


def device_profiles(
    graph: ModelGraph, cluster: Cluster, profiles: Mapping[str, DeviceProfile] | None = None
) -> list[DeviceProfile]:
    """One profile per device, as the simulator builds them: ``profiles`` (by board name) first,
    then measured (local-*) or derived boards."""
    cache = dict(profiles or {})
    return [profile_for(d.spec, graph, cache) for d in cluster.devices]


def capability(graph: ModelGraph, profile: DeviceProfile) -> float:
    """Computing capability (FLOP/s): spatial FLOPs over the profiled full-height seconds."""
    secs = sum(float(profile.unit_latency(i, u.height)) for i, u in enumerate(graph.units))
    flops = sum(u.flops for u in graph.units)
    return flops / max(secs, 1e-12)


def largest_remainder(shares: np.ndarray | list[float], total: int) -> np.ndarray:
    """N+1 cut points giving each device floor(share) rows, the leftover rows going to the
    largest fractional parts (ties: the first device). ``shares`` need not sum to ``total``."""
    s = np.clip(np.asarray(shares, dtype=float), 0.0, None)
    if not s.sum() > 0:
        s = np.ones_like(s)
    rows = hamilton_rows(s / s.sum() * total)
    return np.concatenate([[0], np.cumsum(rows)]).astype(np.int64)


def hamilton_rows(exact: np.ndarray) -> np.ndarray:
    """Integer rows from real-valued ones along the last axis (any leading batch axes): each gets
    its floor, and the rows left over (sum of the exact values minus the floors, rounded) go to the
    largest fractional parts, ties to the first device."""
    exact = np.asarray(exact, dtype=np.float64)
    rows = np.floor(exact).astype(np.int64)
    left = np.rint(exact.sum(axis=-1)).astype(np.int64) - rows.sum(axis=-1)
    order = np.argsort(-(exact - rows), axis=-1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(exact.shape[-1]), order.shape).copy(), axis=-1)
    return rows + (rank < left[..., None])


def water_fill(alpha: np.ndarray, beta: np.ndarray, total: float) -> tuple[np.ndarray, float]:
    """Real rows ``r`` minimising ``max over r_d > 0 of alpha_d + beta_d r_d``, ``sum r = total``.

    At the optimum every active device ends at one level ``tau`` and device d is active iff
    ``alpha_d < tau``; so activate devices in order of ``alpha`` until the next one's ``alpha``
    is above the level: ``tau = (total + sum alpha/beta) / sum 1/beta`` over the active set.
    """
    alpha = np.asarray(alpha, dtype=float)
    beta = np.maximum(np.asarray(beta, dtype=float), 1e-15)
    order = np.argsort(alpha, kind="stable")
    a, b = alpha[order], beta[order]
    n = len(a)
    k, tau = n, 0.0
    for k in range(1, n + 1):  # the k devices of lowest alpha are active
        tau = (total + (a[:k] / b[:k]).sum()) / (1.0 / b[:k]).sum()
        if k == n or tau <= a[k]:
            break
    rows = np.zeros(n)
    rows[order[:k]] = (tau - a[:k]) / b[:k]
    return rows, float(tau)


def volume_rows(graph: ModelGraph, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts ``(s, h)`` of the rows an interior part of ``r`` output rows needs,
    ``s * r + h``: entries ``0..last-first`` for units ``first..last``, then the volume input.

    Each unit contributes its widest path: ``rows_in = S * rows_out + (P + C)`` (unclipped).
    """
    s, h = [1.0], [0.0]
    for u in range(last, first - 1, -1):
        S, halo = graph.units[u].row_map.widest
        s.append(S * s[-1])
        h.append(S * h[-1] + halo)
    # built from the last unit backwards; reorder to units first..last, then the input
    units_s, units_h = s[:-1][::-1], h[:-1][::-1]
    return np.array(units_s + [s[-1]]), np.array(units_h + [h[-1]])


@dataclass
class LinearModel:
    """The baselines' view of a cluster: one capability and one throughput per device.

    Args:
        caps: computing capability per device (FLOP/s).
        mbps: each device's own bandwidth cap.
        mbps_in: throughput from the requester to each device (the pair rule's min).
        mbps_out: throughput from each device back to the requester (the result).
    """

    graph: ModelGraph
    caps: np.ndarray
    mbps: np.ndarray
    mbps_in: np.ndarray
    mbps_out: np.ndarray

    @classmethod
    def build(
        cls, graph: ModelGraph, cluster: Cluster, profiles: Mapping[str, DeviceProfile] | None = None
    ) -> LinearModel:
        profs = device_profiles(graph, cluster, profiles)
        net = cluster.network
        req = cluster.requester
        return cls(
            graph=graph,
            caps=np.array([capability(graph, p) for p in profs]),
            mbps=np.array([net.cap(d) for d in cluster.names]),
            mbps_in=np.array([net.link(req, d).bandwidth_mbps for d in cluster.names]),
            mbps_out=np.array([net.link(d, req).bandwidth_mbps for d in cluster.names]),
        )

    @cached_property
    def per_row_flops(self) -> np.ndarray:
        """FLOPs of one output row of each unit."""
        return np.array([u.flops / u.height for u in self.graph.units])

    def coefficients(self, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Per device ``(alpha, beta)``: predicted seconds ``alpha + beta * r`` for a part of
        ``r`` rows of volume ``first..last`` (valid for ``r > 0``)."""
        g = self.graph
        s, h = volume_rows(g, first, last)
        per_row = self.per_row_flops[first : last + 1]
        beta = float(per_row @ s[:-1]) / self.caps
        alpha = float(per_row @ h[:-1]) / self.caps
        # the part's whole input slice, from the requester or from the other devices
        mbps = self.mbps_in if first == 0 else self.mbps
        per_byte = 8.0 * g.units[first].in_row_bytes / (mbps * 1e6)
        return alpha + per_byte * h[-1], beta + per_byte * s[-1]

    def split(self, first: int, last: int) -> tuple[np.ndarray, float]:
        """The linear ratio: integer cut points of the water-filling optimum, and its model time."""
        alpha, beta = self.coefficients(first, last)
        height = self.graph.units[last].height
        rows, _ = water_fill(alpha, beta, height)
        cuts = largest_remainder(rows, height)
        return cuts, self.volume_seconds(first, last, cuts, (alpha, beta))

    def volume_seconds(
        self, first: int, last: int, cuts: np.ndarray, coefficients: tuple[np.ndarray, np.ndarray] | None = None
    ) -> float:
        """Model time of one volume under integer cuts: the slowest non-empty part
        (``coefficients``: this volume's, when the caller has them already)."""
        alpha, beta = coefficients if coefficients is not None else self.coefficients(first, last)
        r = np.diff(np.asarray(cuts))
        return float(np.where(r > 0, alpha + beta * r, 0.0).max())

    def finish_seconds(self, cuts: np.ndarray) -> float:
        """Model time after the last volume: gather at the head device (largest share), run the
        head at its capability, return the result (or, without a head, every part returns)."""
        g = self.graph
        share = np.diff(np.asarray(cuts))
        part_bytes = share * g.units[-1].row_bytes
        if g.head is None:
            back = 8.0 * part_bytes / (self.mbps_out * 1e6)
            return float(np.where(share > 0, back, 0.0).max())
        head = int(np.argmax(share))
        others = np.arange(len(share)) != head
        links = np.minimum(self.mbps, self.mbps[head])
        gather = float((8.0 * part_bytes / (links * 1e6))[others].max(initial=0.0))
        result = 8.0 * g.head.out_bytes / (self.mbps_out[head] * 1e6)
        return float(gather + g.head.flops / self.caps[head] + result)

    def plan_seconds(self, partition: list[tuple[int, int]], cuts: np.ndarray) -> float:
        """Model end-to-end time of a plan: volumes run in lock step (each waits for its slowest
        part), then the finish."""
        vols = sum(self.volume_seconds(first, last, c) for (first, last), c in zip(partition, cuts, strict=True))
        return float(vols + self.finish_seconds(np.asarray(cuts)[-1]))


def equal_cuts(height: int, n: int) -> np.ndarray:
    """N+1 cut points giving each of ``n`` devices floor or ceil of height/n rows."""
    return np.round(np.arange(n + 1) * height / n).astype(np.int64)
