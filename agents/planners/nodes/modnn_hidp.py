"""MoDNN as HiDP describes it (``modnn-hidp``): the input split proportionally among the available
nodes, every layer, global only (HI L191; PAPERS-AUDIT B.5 item 49).

HiDP "implemented MoDNN using the data partitioning module of HiDP": every unit is in data mode,
each available node gets a share of its output rows proportional to one computing capability,
and every node part runs on the node's default processor (TF default, P1, HI L49). This is the
same rule as ``modnn.py`` (DistrEdge's MoDNN: layer-by-layer rows proportional to a linear
capability, the network ignored); the difference is only whose capability: here the node's
default processor's (:func:`..linear.capability` on its derived processor profile), there the
board-level profile; and nodes that are unavailable at ``at`` get no rows. So the maths of
``modnn.py`` (``capability``, ``largest_remainder``) is reused, and the plan is scored by
:class:`HiDPScorer` like every HiDP-style plan.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from splitgym.agents.planners.nodes.hidp import node_cluster
from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner, build_plan
from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.profiles import DeviceProfile
from splitgym.costmodels.volumes.linear_model import capability, largest_remainder

__all__ = ["plan_modnn_hidp"]


def plan_modnn_hidp(
    graph: ModelGraph,
    cluster: Cluster,
    nodes: str | NodeCluster | None = None,
    at: float = 0.0,
    profiles: Mapping[str, DeviceProfile] | None = None,
) -> Plan:
    nc = node_cluster(cluster, nodes)
    scorer = HiDPScorer(graph, nc, boards=profiles)
    avail = np.array(nc.available(at))
    caps = np.array([capability(graph, scorer.profiles[(n.name, n.default)]) for n in nc.nodes]) * avail
    vols = [(u, u) for u in range(graph.num_units)]
    cuts = [largest_remainder(caps, u.height) for u in graph.units]
    return build_plan(
        "modnn-hidp",
        graph,
        nc,
        vols,
        cuts,
        LocalPartitioner(scorer, "default"),
        {"capability_gflops": [float(c) / 1e9 for c in caps], "at": at},
    )
