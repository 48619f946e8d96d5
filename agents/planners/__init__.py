"""Classical planners behind one interface: ``planner(graph, cluster, **options) -> Plan``.

``PLANNERS`` maps the names ``splitgym plan METHOD`` accepts to the functions; each lives in its
own module and reads top to bottom.
"""

from __future__ import annotations

from typing import Callable

from splitgym.costmodels.cluster import Cluster
from splitgym.costmodels.errors import ConfigError
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan

from .equal import plan_equal

__all__ = ["PLANNERS", "get_planner"]

Planner = Callable[..., Plan]

PLANNERS: dict[str, Planner] = {
    "equal": plan_equal,
}


def get_planner(name: str) -> Planner:
    try:
        return PLANNERS[name]
    except KeyError:
        raise ConfigError(f"method: unknown planner {name!r} (known: {', '.join(sorted(PLANNERS))})") from None


def run_planner(name: str, graph: ModelGraph, cluster: Cluster, **options: object) -> Plan:
    return get_planner(name)(graph, cluster, **options)
