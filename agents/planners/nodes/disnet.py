"""DisNet as HiDP implements it: hybrid model/data partitioning, global only (HI L191).

HiDP "used the data and model partitioning algorithm of HiDP to implement DisNet" and DisNet has
no local partitioning (HI Table I, L191; PAPERS-AUDIT B.5 item 49): so this is HiDP's global DP
(:class:`.hidp.GlobalDP`, the same modes, transfers and data-mode splits) with every node part run
the TF-default way, on the node's default processor only (``local="default"``, P1 in HI L49).
DisNet's own micro-split heuristic (Samikwa et al., 2024) is not what HiDP compares against, so
it is not reproduced.
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.agents.planners.nodes.hidp import plan_hidp
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile

__all__ = ["plan_disnet"]


def plan_disnet(
    graph: ModelGraph,
    cluster: Cluster,
    nodes: str | NodeCluster | None = None,
    at: float = 0.0,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    return plan_hidp(graph, cluster, nodes=nodes, local="default", at=at, method="disnet", profiles=profiles)
