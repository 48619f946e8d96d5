"""MS-MDI's open choices and operating regimes on the queueing simulator: where the paper's ordering
(MS-MDI < AR-MDI < Local in total time) holds and where it does not.

    python -m splitgym.experiments.msmdi_regimes [rules|regimes|dynamic|all] [--seeds 2]

* ``rules`` (``msmdi_rules.csv``): the paper's rule under every combination of the tie-break and
  idle rules the paper leaves open (``RULE_OPTIONS`` of ``BackPressure``), on ``ms-mdi-2/3/5``
  (40K images) with AR-MDI allocated by parameters and by FLOPs; MS-MDI's % over AR-MDI and Local.
* ``regimes`` (``msmdi_regimes.csv``): the arrival rates set so that neither source, one
  source or both are overloaded (a source alone serves ``1 / image_s`` = 2.5 images/s), 400 s of
  arrivals each, every rule scheduler, both allocations, 2, 3 and 5 workers.
* ``dynamic`` (``msmdi_dynamic.csv``): workers leaving and joining (``ms-mdi-3-dynamic``'s
  events and variants of them) against the same scenario without events.

Every policy runs on the same arrival streams (seeds ``0 .. seeds-1``); numbers are seed means.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from splitgym.costmodels.stages.queue_policies import RULE_OPTIONS, SCHEDULERS, get_scheduler
from splitgym.costmodels.stages.queue_sim import QueueSim, QueueSystem, WorkerEvent
from splitgym.envs.msmdi_scenarios import get_mdi_scenario
from splitgym.experiments.results_csv import RESULTS_DIR, write_csv

__all__ = ["REGIMES", "DYNAMIC", "rule_rows", "regime_rows", "dynamic_rows", "main"]

#: arrival rates (images/s) of sources 0 and 1 per regime; a source alone serves 2.5 images/s
REGIMES: dict[str, tuple[float, float]] = {
    "none overloaded": (1.0, 1.5),
    "source 1 overloaded": (1.0, 10.0),
    "both overloaded (paper)": (5.0, 10.0),
}
#: worker events of the join/leave table, on 3 workers (sources 0 and 1; worker 2 a helper)
DYNAMIC: dict[str, tuple[WorkerEvent, ...]] = {
    "static": (),
    "helper leaves at 200 s": (WorkerEvent(200.0, 2, "leave"),),
    "helper leaves at 200 s; rejoins at 400 s": (WorkerEvent(200.0, 2, "leave"), WorkerEvent(400.0, 2, "join")),
    "helper absent, joins at 200 s": (WorkerEvent(0.0, 2, "leave"), WorkerEvent(200.0, 2, "join")),
    "ms-mdi-3-dynamic (leave; join; worker 1 slowed 2x)": get_mdi_scenario("ms-mdi-3-dynamic").events,
}


def _mean_total(system: QueueSystem, policy: str, seeds: int, **options: str) -> tuple[float, float]:
    """Seed-mean total time and restarts of one policy."""
    res = [QueueSim(system, seed=s).run(get_scheduler(policy, **options)) for s in range(seeds)]
    return float(np.mean([r.makespan_s for r in res])), float(np.mean([r.restarts for r in res]))


def _pct(base: float, ms: float) -> float:
    return round(100 * (base - ms) / base, 1)


def rule_rows(scenarios: list[str], seeds: int) -> list[dict[str, Any]]:
    """MS-MDI's total time and gains under each tie-break/idle combination."""
    rows = []
    for name, weight in itertools.product(scenarios, ("params", "flops")):
        system = get_mdi_scenario(name).system(weight=weight)
        ar, _ = _mean_total(system, "ar-mdi", seeds)
        local, _ = _mean_total(system, "local", seeds)
        for combo in itertools.product(*RULE_OPTIONS.values()):
            opts = dict(zip(RULE_OPTIONS, combo))
            ms, _ = _mean_total(system, "ms-mdi", seeds, **opts)
            rows.append(
                {"scenario": name, "weight": weight, **opts, "ms_mdi_s": round(ms, 1), "ar_mdi_s": round(ar, 1)}
                | {"local_s": round(local, 1), "ms_vs_ar_mdi_pct": _pct(ar, ms), "ms_vs_local_pct": _pct(local, ms)}
            )
    return rows


def regime_rows(workers: list[int], seeds: int, arrivals_s: float = 400.0) -> list[dict[str, Any]]:
    """Every rule scheduler per regime, worker count and allocation, and whether the paper's order holds."""
    rows = []
    for (regime, rates), n, weight in itertools.product(REGIMES.items(), workers, ("params", "flops")):
        images = tuple(round(r * arrivals_s) for r in rates)
        system = get_mdi_scenario(f"ms-mdi-{n}").system(weight=weight, rates=rates, images=images)
        total = {p: _mean_total(system, p, seeds)[0] for p in SCHEDULERS}
        order = sorted(total, key=total.get)
        rows.append(
            {"regime": regime, "rates": f"{rates[0]:g}/{rates[1]:g}", "workers": n, "weight": weight}
            | {f"{p}_s": round(v, 1) for p, v in total.items()}
            | {
                "ms_vs_ar_mdi_pct": _pct(total["ar-mdi"], total["ms-mdi"]),
                "ms_vs_local_pct": _pct(total["local"], total["ms-mdi"]),
                "paper_order_holds": total["ms-mdi"] < total["ar-mdi"] < total["local"],
                "order": " < ".join(order),
            }
        )
    return rows


def dynamic_rows(seeds: int) -> list[dict[str, Any]]:
    """Total time and restarts per policy with workers leaving and joining (2K + 6K images)."""
    base = get_mdi_scenario("ms-mdi-3-dynamic")
    rows = []
    for case, events in DYNAMIC.items():
        system = base.system(events=events)
        row: dict[str, Any] = {"case": case, "workers": system.N, "images": "+".join(map(str, system.images))}
        for p in SCHEDULERS:
            total, restarts = _mean_total(system, p, seeds)
            row[f"{p}_s"], row[f"{p}_restarts"] = round(total, 1), round(restarts, 1)
        row["order"] = " < ".join(sorted(SCHEDULERS, key=lambda p: row[f"{p}_s"]))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table", nargs="?", default="all", choices=["rules", "regimes", "dynamic", "all"])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--scenarios", nargs="+", default=["ms-mdi-2", "ms-mdi-3", "ms-mdi-5"])
    ap.add_argument("--workers", nargs="+", type=int, default=[2, 3, 5])
    ap.add_argument("--out", default=RESULTS_DIR)
    args = ap.parse_args(argv)
    out, done = Path(args.out), {}
    tables = {
        "rules": lambda: rule_rows(args.scenarios, args.seeds),
        "regimes": lambda: regime_rows(args.workers, args.seeds),
        "dynamic": lambda: dynamic_rows(args.seeds),
    }
    for name, make in tables.items():
        if args.table in (name, "all"):
            done[name] = make()
            write_csv(out / f"msmdi_{name}.csv", done[name])
            print(f"wrote {out}/msmdi_{name}.csv ({len(done[name])} rows)")
    return done


if __name__ == "__main__":
    main()
