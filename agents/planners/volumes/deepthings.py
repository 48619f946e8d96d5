"""DeepThings: one fused volume of every spatial unit, its rows split equally among the devices.

The method, as DistrEdge describes it (DE L38, L256; PAPERS-AUDIT C.1 item 11): fuse the layers
into *one* fused-layer block ("one fused-layers") and split it *equally*, assuming homogeneous
devices and ignoring the network.

Choices where DistrEdge is silent:

* the fused block is **every spatial unit** (DeepThings' own paper fuses only the early layers and
  runs the rest on a gateway; DistrEdge's one-volume reading covers the whole model, which is also
  DistrEdge's Fig. 1 "parallel" case); the head runs, as for every plan, on the device with the
  largest share (ties: the first);
* the split is by output rows of the last unit (a 1-D strip split, as every DistrEdge plan; not
  DeepThings' 2-D grid), floor or ceil of H/N rows each (:func:`.equal.equal_cuts`);
* ``profiles`` is accepted for a uniform interface and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.costmodels.volumes.partitions import named_partition

__all__ = ["plan_deepthings"]


def plan_deepthings(graph: ModelGraph, cluster: Cluster, profiles: Mapping[str, DeviceProfile] | None = None) -> Plan:
    part = named_partition("single", graph)
    cuts = [equal_cuts(graph.units[last].height, cluster.size) for _, last in part]
    return Plan.from_volumes("deepthings", graph, cluster, part, cuts, meta={"partition": "single"})
