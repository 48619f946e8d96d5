"""The ``tiles`` kind's scorer: NPTP's tile cost model (halo exchange per layer) as a :class:`Score`."""

from __future__ import annotations

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.scoring import Score, register_scorer
from splitgym.costmodels.tiles.tile_cost import score_tiles

__all__ = ["score_tile_plan"]


@register_scorer("tiles")
def score_tile_plan(plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score:
    sc = score_tiles(graph, rects=plan)
    js = sc.to_json()
    rows = [
        {k: v for k, v in p.items() if k not in ("tile", "memory_cap_mb", "activation_cap_mb")}
        for p in js["per_device"]
    ]
    summary = (
        f"feature extractor {sc.latency * 1e3:.2f} ms (slowest device), end-to-end "
        f"{sc.end_to_end * 1e3:.2f} ms with the head on {sc.head_device}; halo "
        f"{sc.total_bytes / 2**20:.2f} MiB in {sc.messages} messages; feasible: {sc.feasible}"
    )
    return Score(
        plan.kind, plan.method, float(sc.end_to_end), rows, ips=1.0 / sc.end_to_end, detail=js, summary=summary
    )
