"""The rows of DistrEdge's claims table that read plans device by device (``distredge_plan_loads.csv``):
Fig. 14 (which maximum bounds each method on DB at 50 Mbps) and Sec. VI (the Pi3 of DC left empty).

Why apart from :mod:`distredge_claims_more`: both rows classify plans from one per-device CSV
rather than quote ratios, and the classification (which maximum is larger, which device computes
nothing) is the claim being checked.
"""

from __future__ import annotations

import statistics
from typing import Any

from splitgym.experiments.distredge_claims_data import NOT_RUN, Results, row

__all__ = ["fig14_row", "pi3_row"]

CSV = "distredge_plan_loads.csv"
#: the methods Fig. 14's text names, by the bound it says they hit
PAPER_TRANSMISSION = ("coedge", "modnn", "mednn")
PAPER_COMPUTE = ("deepthings", "deeperthings")


def _maxima(rows: list[dict[str, Any]], group: str) -> dict[str, tuple[float, float]]:
    """Per method, the median over seeds of (max receive time, max compute time) among devices."""
    per: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for r in rows:
        if r["group"] == group:
            per.setdefault((r["method"], r["seed"]), []).append(r)
    seeds: dict[str, list[tuple[float, float]]] = {}
    for (method, _), devs in per.items():
        seeds.setdefault(method, []).append((max(d["recv_ms"] for d in devs), max(d["compute_ms"] for d in devs)))
    return {m: (statistics.median(t for t, _ in v), statistics.median(c for _, c in v)) for m, v in seeds.items()}


def fig14_row(res: Results) -> dict[str, str]:
    """Fig. 14: CoEdge/MoDNN/MeDNN transmission-bound, DeepThings/DeeperThings compute-bound."""
    figure, claim = "Fig. 14", "DB 50: CoEdge/MoDNN/MeDNN transmission-bound, DeepThings compute-bound"
    if not res.has(CSV):
        return row(figure, claim, "yes", res.not_run(CSV), NOT_RUN, "")
    maxima = _maxima(res.rows(CSV), "DB_bw50")
    cells = ", ".join(f"{m} {t:.0f}/{c:.0f}" for m, (t, c) in maxima.items())
    ours = f"max transmission / max compute among the 4 devices (ms; DistrEdge: median of seeds): {cells}"
    bound = {m: "transmission" if t > c else "compute" for m, (t, c) in maxima.items()}
    agree = [m for m in PAPER_TRANSMISSION if bound.get(m) == "transmission"]
    agree += [m for m in PAPER_COMPUTE if bound.get(m) == "compute"]
    differ = [m for m in (*PAPER_TRANSMISSION, *PAPER_COMPUTE) if m in bound and m not in agree]
    others = {
        b: [m for m in bound if bound[m] == b and m not in PAPER_TRANSMISSION + PAPER_COMPUTE]
        for b in set(bound.values())
    }
    why = (
        f"as the paper for {', '.join(agree) or 'none'}"
        + (f"; not for {', '.join(f'{m} ({bound[m]}-bound)' for m in differ)}" if differ else "")
        + "".join(f"; {', '.join(ms)} {b}-bound" for b, ms in sorted(others.items()) if ms)
        + f"; {sum(b == 'transmission' for b in bound.values())} of {len(bound)} methods transmission-bound. "
        "A device's transmission is the sum of its receive times (the input scatter included), which at 50 Mbps "
        "outweighs the compute of a VGG-16 share on these boards"
    )
    return row(figure, claim, "yes", ours, CSV, why)


def pi3_row(res: Results) -> dict[str, str]:
    """Sec. VI: the Pi3 in group DC gets no computation under DistrEdge."""
    figure, claim = "Sec. VI", "the Pi3 in DC gets no computation"
    if not res.has(CSV):
        return row(figure, claim, "yes", res.not_run(CSV), NOT_RUN, "")
    pi3 = [r for r in res.rows(CSV) if r["group"].startswith("DC_") and r["board"] == "pi3"]
    learned = [r for r in pi3 if r["method"].startswith("distredge")]
    empty = [r for r in learned if r["compute_ms"] == 0]
    classical = [r for r in pi3 if not r["method"].startswith("distredge")]  # both DC groups
    busy = [r["compute_ms"] for r in classical if r["compute_ms"] > 0]
    idle = sorted({r["method"] for r in classical} - {r["method"] for r in classical if r["compute_ms"] > 0})
    groups = "/".join(sorted({r["group"].removeprefix("DC_bw") for r in learned}, key=int)) or "-"
    variants = ", ".join(sorted({r["method"].removeprefix("distredge-") for r in learned})) or "-"
    seeds = ", ".join(str(s) for s in sorted({r["seed"] for r in learned}))
    ours = (
        f"the Pi3 computes nothing in {len(empty)} of {len(learned)} trained plans (DC at {groups} Mbps; "
        f"variants {variants}; seeds {seeds}); classical plans leaving it empty: {', '.join(idle) or 'none'}"
    )
    why = (
        f"agrees: the other classical plans give the Pi3 {min(busy):.0f}-{max(busy):.0f} ms of compute"
        if busy and len(empty) == len(learned)
        else "the Pi3 computes in some trained plans (the rows of the CSV say which)"
    )
    return row(figure, claim, "yes", ours, CSV, why)
