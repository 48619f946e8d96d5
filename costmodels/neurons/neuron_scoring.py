"""The ``neurons`` kind's scorer: HyPS's sequence of partitions (compute, communication, memory)."""

from __future__ import annotations

from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.neurons.hyps_cost import score_hybrid
from splitgym.costmodels.plan import Plan
from splitgym.costmodels.scoring import Score, register_scorer

__all__ = ["score_neurons"]


@register_scorer("neurons")
def score_neurons(plan: Plan, graph: ModelGraph, *, at: float = 0.0) -> Score:
    sc = score_hybrid(plan, graph).to_json()
    compute: dict[str, float] = {d.name: 0.0 for d in plan.devices}
    for p in sc["partitions"]:
        for d, c in p["device_compute_s"].items():
            compute[d] += c
    per = [
        {"device": r["device"], "compute_s": compute[r["device"]], "peak_memory_mb": r["peak_memory_mb"]}
        for r in sc["per_device"]
    ]
    parts = [
        {
            "partition": p["partition"],
            "layers": f"{p['layers'][0]}..{p['layers'][-1]}",
            "devices": p.get("device") or ",".join(p["devices"]),
            "compute_ms": p["compute_s"] * 1e3,
            "comm_ms": p["communication_s"] * 1e3,
            "peak_MB": p["peak_memory_mb"],
        }
        for p in sc["partitions"]
    ]
    summary = (
        f"latency {sc['latency_s'] * 1e3:.2f} ms (compute {sc['compute_s'] * 1e3:.2f} ms, communication "
        f"{sc['communication_s'] * 1e3:.2f} ms); fits every memory budget: {sc['fits']}"
    )
    return Score(
        plan.kind,
        plan.method,
        float(sc["latency_s"]),
        per,
        ips=1.0 / sc["latency_s"],
        detail=sc,
        tables=[("partitions", parts)],
        summary=summary,
    )
