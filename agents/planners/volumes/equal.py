"""Equal split: every volume's output rows divided as evenly as possible among the devices.

The simplest reference method (DeepThings splits its fused block this way); it ignores device
speeds and the network entirely, which is why it anchors the comparisons.
"""

from __future__ import annotations

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.volumes.linear_model import equal_cuts
from splitgym.costmodels.volumes.partitions import named_partition

__all__ = ["equal_cuts", "plan_equal"]


def plan_equal(graph: ModelGraph, cluster: Cluster, partition: str = "layers") -> Plan:
    part = named_partition(partition, graph)
    cuts = [equal_cuts(graph.units[last].height, cluster.size) for _, last in part]
    return Plan.from_volumes("equal", graph, cluster, part, cuts, meta={"partition": partition})
