"""DeeperThings: several fused volumes (one per down-sampling stage), each split equally.

The method, as DistrEdge describes it (DE L38, L256; PAPERS-AUDIT C.1 item 11): *multiple* fused
blocks, each split *equally* among the devices; homogeneous devices assumed, network ignored.

Choices where DistrEdge is silent (it does not say how DeeperThings chooses its blocks):

* the blocks are the **down-sampling stages** (``agents.partitions`` ``"stages"``): a pooling or
  strided unit closes a volume, so VGG-16 gets its 5 conv+pool stages. This bounds each block's
  halo (the receptive field grows fastest across strides) while keeping few transfers, which is
  the trade-off DeeperThings' fused blocks are after; another partition can be passed;
* each volume's output rows get floor or ceil of H/N per device (:func:`.equal.equal_cuts`);
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

__all__ = ["plan_deeperthings"]


def plan_deeperthings(
    graph: ModelGraph, cluster: Cluster, partition: str = "stages", profiles: Mapping[str, DeviceProfile] | None = None
) -> Plan:
    part = named_partition(partition, graph)
    cuts = [equal_cuts(graph.units[last].height, cluster.size) for _, last in part]
    return Plan.from_volumes("deeperthings", graph, cluster, part, cuts, meta={"partition": partition})
