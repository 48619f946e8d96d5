"""What HiDP-v0 is driven by: request arrivals (seeded Poisson streams or a trace) and the plan menu.

Arrivals: every stream (one model each) is a Poisson process of its own rate; the streams are
merged by time. A trace (``[[t_s, stream], ...]``) replaces them for replayed workloads.

A *menu* gives, for one model under one availability mask, the K candidate plans a request's
action chooses among. The planners' menu (HiDP's DP, DisNet, OmniBoost, ...) lives with the
planners (``agents/planners/nodes/hidp_menu.py``): the envs do not import the planners that are
judged on them (``tests/test_layout.py``). The default here, :func:`template_menu`, needs only the
cost model: the whole model on each node's default processor (model mode), then the rows of every
unit split over the available nodes in proportion to their rates (data mode), so
``gym.make("splitgym/HiDP-v0")`` works on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.nodes.node_cluster import NodeCluster
from splitgym.costmodels.plan import Plan

__all__ = ["Menu", "poisson_arrivals", "trace_arrivals", "template_menu", "template_size", "whole_on"]

#: (graph, nodes, availability mask) -> K plans, K fixed for a node count; a plan may repeat
Menu = Callable[[ModelGraph, NodeCluster, tuple[bool, ...]], list[Plan]]


def poisson_arrivals(rng: np.random.Generator, rates: Sequence[float], count: int) -> list[tuple[float, int]]:
    """The first ``count`` arrivals ``(t_s, stream)`` of independent Poisson streams."""
    if not rates or any(not r > 0 for r in rates):
        raise ConfigError(f"rates: every stream needs a rate > 0 (requests/s), got {list(rates)}")
    per = [np.cumsum(rng.exponential(1.0 / r, size=count)) for r in rates]
    merged = sorted((float(t), i) for i, ts in enumerate(per) for t in ts)
    return merged[:count]


def trace_arrivals(trace: Sequence[Sequence[float]], streams: int) -> list[tuple[float, int]]:
    """A replayed trace, checked: times >= 0, stream indices in range; sorted by time."""
    out = []
    for i, row in enumerate(trace):
        if len(row) != 2 or not float(row[0]) >= 0 or int(row[1]) not in range(streams):
            raise ConfigError(f"trace.{i}: expected [t_s >= 0, stream in 0..{streams - 1}], got {list(row)}")
        out.append((float(row[0]), int(row[1])))
    if not out:
        raise ConfigError("trace: needs at least one arrival, got []")
    return sorted(out)


def whole_on(graph: ModelGraph, nodes: NodeCluster, j: int, method: str, stand_in: bool = False) -> Plan:
    """The whole model (one volume, head included) on node ``j``'s default processor;
    ``stand_in``: it replaces a menu entry whose node is away (``meta["stand_in"]``)."""
    cuts = np.zeros(nodes.size + 1, dtype=np.int64)
    cuts[j + 1 :] = graph.units[-1].height
    return _nodes_plan(graph, nodes, cuts, method, "model", nodes.names[j], stand_in)


def _proportional(graph: ModelGraph, nodes: NodeCluster, mask: tuple[bool, ...]) -> Plan:
    rate = np.array([n.rate_gflops if ok else 0.0 for n, ok in zip(nodes.nodes, mask)])
    H = graph.units[-1].height
    rows = np.floor(rate / rate.sum() * H).astype(np.int64)
    rows[int(np.argmax(rate))] += H - int(rows.sum())
    cuts = np.concatenate([[0], np.cumsum(rows)])
    return _nodes_plan(graph, nodes, cuts, "data-proportional", "data", nodes.names[int(np.argmax(rate))])


def _nodes_plan(
    graph: ModelGraph, nodes: NodeCluster, cuts: np.ndarray, method: str, mode: str, head: str, stand_in: bool = False
) -> Plan:
    base = Plan.from_volumes(method, graph, nodes.to_cluster(), [(0, graph.num_units - 1)], [cuts])
    meta = {"leader": nodes.leader, "cluster": nodes.name, "stand_in": stand_in}
    return base.evolve(kind="nodes", modes=[mode], head_device=head, meta=meta)


def template_size(nodes: NodeCluster) -> int:
    return nodes.size + 1


def template_menu(graph: ModelGraph, nodes: NodeCluster, mask: tuple[bool, ...]) -> list[Plan]:
    """Model mode on each node (an unavailable node's entry is the leader's), then data mode over
    the available nodes by rate; default processors only, one volume."""
    lead = nodes.leader_index
    whole = [
        whole_on(graph, nodes, j, f"whole-{name}") if ok else whole_on(graph, nodes, lead, f"whole-{name}", True)
        for j, (name, ok) in enumerate(zip(nodes.names, mask))
    ]
    return whole + [_proportional(graph, nodes, mask)]
