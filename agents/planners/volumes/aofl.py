"""AOFL: fused volumes found by brute-force search, each split by the linear compute+network ratio.

The method, as DistrEdge describes it (DE L38, L119, L256, L354; PAPERS-AUDIT C.1 item 11):
*multiple* fused blocks; the partition locations are found by **brute force**; every block is
split by a **linear ratio** computed from linear models of the devices (one computing capability
each) and of the network (transmission proportional to data over throughput). It re-plans online
from the monitored throughput; its search took DistrEdge ~10 minutes on a laptop.

Choices where DistrEdge is silent:

* **the model AOFL plans with** is :class:`..linear.LinearModel` (the one CoEdge uses, extended to
  fused volumes): a part of ``r`` output rows of volume ``first..last`` on device d takes
  ``alpha_d + beta_d r``, counting the rows every unit of the volume recomputes for the halo (an
  interior part, unclipped) at the device's capability, and the part's whole input slice over its
  throughput (from the requester for the first volume); no I/O overhead or latency. Charging
  the whole slice at every volume boundary is what makes fusing pay in AOFL's model;
* **the split** of a volume is that model's min-max optimum (:func:`..linear.water_fill`, every
  active device ends together), made integer by largest remainder;
* **the score** of a partition is AOFL's own model, not the simulator: volumes run in lock step
  (each takes its slowest part), plus the gather at the head device, the head at that device's
  capability and the result's return. The chosen plan's *true* simulated latency is reported next
  to the model's in ``meta`` (``model_latency_s``, ``simulated_latency_s``);
* **brute force, without enumerating**: a volume's split and time depend only on its own
  ``(first, last)``, so the U(U+1)/2 possible volumes are priced once; a partition's cost is then a
  sum over its volumes, so a min-sum dynamic programme over cut positions
  (:func:`~splitgym.costmodels.volumes.partition_search.search_partitions`, O(K U^2)) returns
  exactly the brute-force minimum over all 2^(U-1) partitions, ties included (the numerically
  smallest mask; tests check it against the enumeration, which is kept as
  ``brute_force_partitions``). DistrEdge counts |M|! candidates for AOFL (DE L119); contiguous
  partitions of U units number 2^(U-1), which is what the search covers (``meta["candidates"]``).
  ``max_volumes`` limits it to partitions of at most that many volumes. ``meta`` gives the time to
  price the volumes (``price_s``, profiles included) and to search them (``search_s``). The
  enumeration took ~15 ms on VGG-16 (18 units) and never finished ResNet-152 (52 units: 2^51).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import LinearModel
from splitgym.costmodels.volumes.partition_search import price_volumes, search_partitions
from splitgym.costmodels.volumes.partitions import from_starts
from splitgym.costmodels.volumes.volume_simulator import Simulator

__all__ = ["plan_aofl"]


def plan_aofl(
    graph: ModelGraph,
    cluster: Cluster,
    max_volumes: int | None = None,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    if max_volumes is not None and max_volumes < 1:
        raise ConfigError(f"max_volumes: must be >= 1, got {max_volumes}")
    t0 = time.perf_counter()
    # 1. AOFL's view of the cluster: capabilities and throughputs
    model = LinearModel.build(graph, cluster, profiles)
    U = graph.num_units
    # 2. every possible volume, split by the linear ratio and priced by the model
    tau, splits = price_volumes(model, U)
    t1 = time.perf_counter()
    # 3. the best of all partitions (a dynamic programme equal to the brute force)
    mask, cost, seen = search_partitions(tau, max_volumes)
    t2 = time.perf_counter()
    starts = [0] + [i for i in range(1, U) if mask >> (i - 1) & 1]
    part = from_starts(starts, U)
    cuts = [splits[v] for v in part]
    # 4. what the plan really costs (reported, not used to choose)
    simulated = float(Simulator(graph, cluster, profiles=dict(profiles or {})).score(part, np.stack(cuts)))
    return Plan.from_volumes(
        "aofl",
        graph,
        cluster,
        part,
        cuts,
        meta={
            "partition": ",".join(map(str, starts)),
            "model_latency_s": cost,
            "simulated_latency_s": simulated,
            "candidates": seen,
            "price_s": t1 - t0,
            "search_s": t2 - t1,
            "max_volumes": max_volumes,
        },
    )
