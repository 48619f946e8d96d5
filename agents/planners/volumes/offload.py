"""Offload: the whole model on the one device that runs it fastest alone.

The method, as DistrEdge describes it (DE L256): "select the service provider with the best
computing hardware (e.g., the best GPU) to offload the CNN inference" -- no split at all
(DistrEdge's Fig. 1 special case: one volume, one part).

Choices where DistrEdge is silent:

* "best" is measured, not read off a spec sheet: every device is tried alone in the simulator (one
  batched :meth:`Simulator.score` call) and the lowest end-to-end latency wins, so the input sent
  from the requester, the head and the result's return over that device's link all count (ties:
  the first device);
* the plan is one volume of every spatial unit whose rows all go to that device; the head runs
  there too (it holds the whole last volume).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["plan_offload", "alone_cuts"]


def alone_cuts(height: int, n: int, device: int) -> np.ndarray:
    """N+1 cut points giving every row to ``device``."""
    return np.array([0] * (device + 1) + [height] * (n - device), dtype=np.int64)


def plan_offload(graph: ModelGraph, cluster: Cluster, profiles: Mapping[str, DeviceProfile] | None = None) -> Plan:
    sim = Simulator(graph, cluster, profiles=dict(profiles or {}))
    part = named_partition("single", graph)
    height = graph.units[-1].height
    # one candidate per device: (N, volumes=1, N+1)
    cands = np.stack([alone_cuts(height, cluster.size, d)[None] for d in range(cluster.size)])
    latency = sim.score(part, cands)
    best = int(np.argmin(latency))
    return Plan.from_volumes(
        "offload",
        graph,
        cluster,
        part,
        cands[best],
        meta={
            "partition": "single",
            "device": cluster.names[best],
            "alone_latency_s": {n: float(t) for n, t in zip(cluster.names, latency, strict=True)},
        },
    )
