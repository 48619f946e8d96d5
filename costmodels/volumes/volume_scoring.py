"""The ``volumes`` kind's scorer: the volume simulator's breakdown as a :class:`Score`.

``stages`` plans (AR-MDI: each volume whole on one worker) are volume plans too and reuse it.
"""

from __future__ import annotations

from typing import Any

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.scoring import Score, register_scorer
from splitgym.costmodels.volumes.volume_simulator import Breakdown, Simulator

__all__ = ["score_volumes", "breakdown_score"]


def breakdown_score(plan: Plan, bd: Breakdown) -> Score:
    acc: list[dict[str, Any]] = [
        {"volume": i, "units": f"{f}..{l}", **{d: bd.T[i, k] * 1e3 for k, d in enumerate(bd.devices)}}
        for i, (f, l) in enumerate(bd.volumes)
    ]
    summary = (
        f"head on {bd.head_device}: starts {bd.head_start * 1e3:.2f} ms, runs {bd.head_seconds * 1e3:.2f} ms,"
        f" result back {bd.result_seconds * 1e3:.2f} ms"
        f"\nend-to-end latency {bd.latency * 1e3:.2f} ms  ->  {bd.ips:.2f} images/s"
    )
    return Score(
        plan.kind,
        plan.method,
        float(bd.latency),
        bd.per_device(),
        ips=bd.ips,
        detail=bd.to_json(),
        tables=[("accumulated latency after each volume (ms)", acc)],
        summary=summary,
    )


@register_scorer("volumes")
def score_volumes(plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score:
    return breakdown_score(plan, Simulator(graph, plan.cluster(), at=at).simulate(plan))
