"""The planners' menu for ``splitgym/HiDP-v0``: the K candidate plans a request chooses among.

For one model under one availability mask (nodes away get no rows), in this order:

* ``hidp``: HiDP's DP (global modes, local splits) for the available nodes;
* ``disnet``: the same DP on default processors only (DisNet as HiDP implements it);
* ``omniboost``: OmniBoost's MCTS pipeline over (node, processor) stages;
* ``hidp-on-<node>`` for every node: the whole model on that node in model mode, each unit with
  HiDP's local split over its processors; a node that is away gets HiDP's plan as a stand-in
  (``meta["stand_in"]``, shown in the env's ``info["action_mask"]``).

The first three are what HiDP compares (HI Figs. 5-8); the per-node entries are what a scheduler
needs under load: a request that runs whole on an idle node does not queue behind the requests
that HiDP's plan spreads over every node. Plans are computed once per (model, mask) by the env.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from splitgym.agents.planners.nodes.disnet import plan_disnet
from splitgym.agents.planners.nodes.hidp import plan_hidp
from splitgym.agents.planners.nodes.hidp_local import LocalPartitioner, build_plan
from splitgym.agents.planners.nodes.omniboost import plan_omniboost
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import Availability, NodeCluster
from splitgym.costmodels.plan import Plan

__all__ = ["planner_menu", "menu_names", "BASELINES", "masked"]

BASELINES = ("hidp", "disnet", "omniboost")


def menu_names(nodes: NodeCluster) -> list[str]:
    """The menu's entries by name, in action order."""
    return [*BASELINES, *(f"hidp-on-{n}" for n in nodes.names)]


def masked(nodes: NodeCluster, mask: tuple[bool, ...]) -> NodeCluster:
    """The cluster with the nodes off in ``mask`` away from t = 0 on (the leader never is)."""
    away = Availability(((0.0, False),))
    kept = [replace(n, availability=Availability() if ok else away) for n, ok in zip(nodes.nodes, mask)]
    return NodeCluster(nodes.name, kept, nodes.leader, nodes.latency_s)


def _whole_on(graph: ModelGraph, nodes: NodeCluster, local: LocalPartitioner, j: int) -> Plan:
    vols = [(u, u) for u in range(graph.num_units)]
    cuts = []
    for u in graph.units:
        c = np.zeros(nodes.size + 1, dtype=np.int64)
        c[j + 1 :] = u.height
        cuts.append(c)
    return build_plan(f"hidp-on-{nodes.names[j]}", graph, nodes, vols, cuts, local)


def planner_menu(graph: ModelGraph, nodes: NodeCluster, mask: tuple[bool, ...]) -> list[Plan]:
    """The menu (module doc) for ``graph`` on ``nodes`` with availability ``mask``."""
    sub = masked(nodes, mask)
    cluster = sub.to_cluster()
    hidp = plan_hidp(graph, cluster, nodes=sub)
    out = [hidp, plan_disnet(graph, cluster, nodes=sub), plan_omniboost(graph, cluster, nodes=sub)]
    local = LocalPartitioner(HiDPScorer(graph, sub), "hidp")
    for j, ok in enumerate(sub.available()):
        if ok:
            out.append(_whole_on(graph, sub, local, j))
        else:
            out.append(hidp.evolve(meta={**hidp.meta, "stand_in": True}))
    return out
