"""DistrEdge's side in HiDP's comparison (``aofl-hidp``): the AOFL planner on the node cluster.

The issue asks for "DistrEdge's planner" among the baselines. DistrEdge's own split is a trained
DDPG actor (an environment and training run per cluster); of the classical planners in this
project we pick **AOFL** (``aofl.py``: fused volumes by brute force, each split by the linear
compute+network ratio), the strongest non-learned planner of DistrEdge's comparison. It plans with
its own linear model of each node's *default processor* (derived processor profiles passed as its
``profiles``), so it is, like HiDP's other baselines, global only; AOFL's brute force minimises a *sum* of
per-volume model times (``partition_search.price_volumes``), so its optimum over partitions of at
most ``max_volumes`` volumes is AOFL's own search, the min-sum dynamic programme
(``partition_search.search_partitions``, O(U^2 K), equal to the brute force). The plan
is scored by :class:`HiDPScorer` like every HiDP-style plan (default processor, no
shares).
"""

from __future__ import annotations

from collections.abc import Mapping

from splitgym.agents.planners.nodes.hidp import node_cluster
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import LinearModel
from splitgym.costmodels.volumes.partition_search import price_volumes, search_partitions
from splitgym.costmodels.volumes.partitions import from_starts

__all__ = ["plan_aofl_hidp"]


def plan_aofl_hidp(
    graph: ModelGraph,
    cluster: Cluster,
    nodes: str | NodeCluster | None = None,
    max_volumes: int = 4,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    nc = node_cluster(cluster, nodes)
    scorer = HiDPScorer(graph, nc, boards=profiles)
    default_profiles = {n.board: scorer.profiles[(n.name, n.default)] for n in nc.nodes}
    cluster = nc.to_cluster()
    tau, splits = price_volumes(LinearModel.build(graph, cluster, default_profiles), graph.num_units)
    if max_volumes < 1:
        raise ConfigError(f"max_volumes: must be >= 1, got {max_volumes}")
    mask, cost, _ = search_partitions(tau, max_volumes)
    starts = [0] + [i for i in range(1, graph.num_units) if mask >> (i - 1) & 1]
    part = from_starts(starts, graph.num_units)
    return Plan.from_volumes(
        "aofl-hidp",
        graph,
        cluster,
        part,
        [splits[v] for v in part],
        kind="nodes",
        meta={
            "partition": ",".join(map(str, starts)),
            "model_latency_s": cost,
            "max_volumes": max_volumes,
            "leader": nc.leader,
            "local": "default",
            "cluster": nc.name,
            **({"efficiency": nc.efficiency} if nc.efficiency else {}),
        },
    )
