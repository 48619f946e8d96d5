"""DistrEdge's side in HiDP's comparison (``aofl-hidp``): the AOFL planner on the node cluster.

The issue asks for "DistrEdge's planner" among the baselines. DistrEdge's own split is a trained
DDPG actor (an environment and training run per cluster); of the classical planners in this
project we pick **AOFL** (``aofl.py``: fused volumes by brute force, each split by the linear
compute+network ratio), the strongest non-learned planner of DistrEdge's comparison. It plans with
its own linear model of each node's *default processor* (derived processor profiles passed as its
``profiles``), so it is, like HiDP's other baselines, global only; AOFL's brute force minimises a *sum* of
per-volume model times (``aofl.price_volumes``), so its optimum over partitions of at most
``max_volumes`` volumes is found here by the equivalent min-sum dynamic programme over (last unit,
volumes used), O(U^2 K), instead of enumerating 2^(U-1) bit masks (2^51 for ResNet-152). The plan
is scored by :class:`HiDPScorer` like every HiDP-style plan (default processor, no
shares).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.agents.planners.nodes.hidp import node_cluster
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import LinearModel
from splitgym.costmodels.volumes.partition_search import price_volumes
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
    starts, cost = min_sum_partition(tau, max_volumes)
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


def min_sum_partition(tau: np.ndarray, max_volumes: int) -> tuple[list[int], float]:
    """Volume starts minimising ``sum tau[first, last]`` with at most ``max_volumes`` volumes."""
    if max_volumes < 1:
        raise ConfigError(f"max_volumes: must be >= 1, got {max_volumes}")
    U = tau.shape[0]
    best = np.full((max_volumes + 1, U + 1), np.inf)  # best[k][e]: units 0..e-1 in k volumes
    arg = np.zeros((max_volumes + 1, U + 1), dtype=np.int64)
    best[0, 0] = 0.0
    for k in range(1, max_volumes + 1):
        for e in range(1, U + 1):
            c = best[k - 1, :e] + tau[np.arange(e), e - 1]
            arg[k, e] = int(np.argmin(c))
            best[k, e] = c[arg[k, e]]
    k = int(np.argmin(best[1:, U])) + 1
    cost, starts, e = float(best[k, U]), [], U
    while k > 0:
        f = int(arg[k, e])
        starts.append(f)
        e, k = f, k - 1
    return starts[::-1], cost
