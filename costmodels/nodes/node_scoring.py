"""The ``nodes`` kind's scorer: HiDP's two levels (node rows, processor shares) as a :class:`Score`.

The node cluster is rebuilt from the plan itself (boards, rates, latency, the leader in ``meta``),
so a plan file is scored exactly as its planner priced it: before plan kinds, ``splitgym
simulate`` sent these plans to the volume simulator, which ignores processors and intra-node
hand-offs (85.51 ms where HiDP's own model gave 67.45 ms on VGG-19 / hidp-5).
"""

from __future__ import annotations

from typing import Any

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.hidp_cost import HiDPScorer
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.scoring import Score, register_scorer

__all__ = ["score_nodes", "plan_nodes"]


def plan_nodes(plan: Plan) -> NodeCluster:
    """The plan's nodes: its devices with their boards' processors, the leader and any overridden
    processor efficiency (a sensitivity run's) from ``meta``."""
    return NodeCluster.from_cluster(
        plan.cluster(), leader=plan.meta.get("leader"), efficiency=plan.meta.get("efficiency")
    )


@register_scorer("nodes")
def score_nodes(plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score:
    nodes = plan_nodes(plan)
    scorer = HiDPScorer(graph, nodes)
    res = scorer.schedule(plan)
    energy = scorer.energy(res, at=at)
    per: list[dict[str, Any]] = []
    procs: list[dict[str, Any]] = []
    for j, name in enumerate(nodes.names):
        mine = [t for t in res.tasks if t.node == j]
        per.append(
            {
                "device": name,
                "compute_s": sum(t.end - t.start for t in mine),
                "finish_s": max((t.end for t in mine), default=0.0) - res.start,
            }
        )
        for p in sorted({t.processor for t in mine}):
            procs.append(
                {
                    "node": name,
                    "processor": p,
                    "compute_ms": sum(t.end - t.start for t in mine if t.processor == p) * 1e3,
                }
            )
    detail = {
        "latency_s": res.latency,
        "energy_j": energy,
        "leader": nodes.leader,
        "tasks": [
            {
                "node": nodes.names[t.node],
                "processor": t.processor,
                "volume": t.volume,
                "start_s": t.start,
                "end_s": t.end,
            }
            for t in res.tasks
        ],
    }
    summary = (
        f"leader {nodes.leader}; end-to-end latency {res.latency * 1e3:.2f} ms  ->  "
        f"{1.0 / res.latency:.2f} images/s; energy {energy:.3f} J per request"
    )
    return Score(
        plan.kind,
        plan.method,
        float(res.latency),
        per,
        ips=1.0 / res.latency,
        energy_j=energy,
        detail=detail,
        tables=[("compute per processor", procs)],
        summary=summary,
    )
