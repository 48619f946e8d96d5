"""MoDNN: layer-by-layer row split proportional to each device's computing capability.

The method, as DistrEdge describes it (DE L38, L256; PAPERS-AUDIT C.1 item 11): split the model
*layer by layer* and give each device a share of every layer proportional to one **linear**
computing capability; the network is ignored. (MoDNN's own name for its conv-layer rule is the
Biased One-Dimensional Partition; its fully connected layers are out of scope here, as the head is
never split.)

Choices where DistrEdge is silent:

* capability = the FLOPs of the spatial units over the device's profiled full-height seconds
  (:func:`..linear.capability`): one number per device, the same for every layer;
* rows of every volume = height x capability / total capability, made integer by largest remainder
  (so the split is the same ratio in every layer, up to rounding);
* ``partition`` (default ``"layers"``, the paper's) may be changed for comparisons.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import capability, device_profiles, largest_remainder
from splitgym.costmodels.volumes.partitions import named_partition

__all__ = ["plan_modnn"]


def plan_modnn(
    graph: ModelGraph, cluster: Cluster, partition: str = "layers", profiles: Mapping[str, DeviceProfile] | None = None
) -> Plan:
    # 1. one computing capability per device
    caps = np.array([capability(graph, p) for p in device_profiles(graph, cluster, profiles)])
    # 2. one volume per unit (or the given partition)
    part = named_partition(partition, graph)
    # 3. every volume's rows proportional to the capabilities
    cuts = [largest_remainder(caps, graph.units[last].height) for _, last in part]
    return Plan.from_volumes(
        "modnn",
        graph,
        cluster,
        part,
        cuts,
        meta={
            "partition": partition,
            "capability_gflops": [float(c) / 1e9 for c in caps],
        },
    )
