"""Benchmark: how long each classical planner takes, and how far the exact search scales.

    python -m splitgym.experiments.bench_planners [--model vgg16] [--devices DB] [--bandwidth 300]
        [--repeats 5] [--max-candidates 5000000] [--json]

Part 1 runs every registered planner on the model / device group / bandwidth (default VGG-16, DB,
300 Mbps) and prints the median planning time over ``--repeats`` runs (profiles are loaded or
derived inside each run, as a user's call would), the simulated latency of its plan and, where the
planner searches, its number of candidates. Part 2 runs the exact search on sub-groups of the
devices (the first 2, 3 and all 4 of DB: Xavier, Xavier, Nano, Nano -> for 2 devices one Xavier
and one Nano), grids 4 and 8 and partitions of 1 to 5 volumes, skipping searches over
``--max-candidates`` plans. All numbers come from one run on one machine, so they compare.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from splitgym.agents.planners import VOLUME_PLANNERS, run_planner
from splitgym.agents.planners.volumes.exact import count_candidates
from splitgym.costmodels.cluster import Cluster, load_conf
from splitgym.costmodels.graph import ModelGraph
from splitgym.costmodels.volumes.partitions import named_partition
from splitgym.costmodels.volumes.volume_simulator import Simulator

EXACT_PARTITIONS = ["single", "0,10", "0,5,10", "0,5,10,14", "stages"]
EXACT_GRIDS = [4, 8]


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median wall seconds of ``repeats`` calls and the last call's result (bench scripts share it)."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _subgroup(devices: str, bandwidth: float, n: int) -> Cluster:
    """The first ``n`` devices of a group; for n = 2 the first and the last (e.g. Xavier + Nano)."""
    devs = load_conf("devices", devices)["devices"]
    pick = [devs[0], devs[-1]] if n == 2 and len(devs) > 2 else devs[:n]
    return Cluster.from_config({"name": f"{devices}[{n}]", "devices": pick}, bandwidth)


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    cells = [[f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.rjust(w) for x, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="vgg16")
    ap.add_argument("--devices", default="DB")
    ap.add_argument("--bandwidth", type=float, default=300.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--max-candidates", type=int, default=5_000_000)
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return ap.parse_args(argv)


def time_planners(g: ModelGraph, cluster: Cluster, repeats: int) -> list[dict[str, Any]]:
    """Part 1: every registered planner's median planning time and its plan's simulated latency."""
    sim = Simulator(g, cluster)
    planners = []
    for name in (*VOLUME_PLANNERS, "exact"):
        secs, plan = median_time(lambda name=name: run_planner(name, g, cluster), repeats)
        planners.append(
            {
                "planner": name,
                "plan_s": secs,
                "latency_ms": sim.simulate(plan).latency * 1e3,
                "volumes": len(plan.volumes),
                "candidates": plan.meta.get("candidates", ""),
                "search_s_last_run": plan.meta.get("search_s", ""),
            }
        )
    return planners


def _bench_exact(g: ModelGraph, cluster: Cluster, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Part 2: the exact search on sub-groups, grids and partitions, skipping those over ``--max-candidates``."""
    exact = []
    for n in range(2, cluster.size + 1):
        sub = _subgroup(args.devices, args.bandwidth, n)
        for partition in EXACT_PARTITIONS:
            part = named_partition(partition, g)
            for grid in EXACT_GRIDS:
                heights = [g.units[last].height for _, last in part]
                cands = count_candidates(heights, n, grid)
                row: dict[str, Any] = {
                    "devices": n,
                    "volumes": len(part),
                    "partition": partition,
                    "grid": grid,
                    "candidates": cands,
                }
                if cands > args.max_candidates:
                    exact.append({**row, "search_s": "skipped", "plans_per_s": "", "latency_ms": ""})
                    continue
                reps = args.repeats if cands <= 100_000 else 1
                secs, plan = median_time(
                    lambda sub=sub, partition=partition, grid=grid: run_planner(
                        "exact", g, sub, partition=partition, grid=grid, max_candidates=args.max_candidates
                    ),
                    reps,
                )
                exact.append(
                    {
                        **row,
                        "search_s": secs,
                        "plans_per_s": cands / plan.meta["search_s"],
                        "latency_ms": plan.meta["latency_s"] * 1e3,
                    }
                )
    return exact


def main() -> None:
    args = _parse_args()
    g = ModelGraph.from_torchvision(args.model)
    cluster = Cluster.from_config(args.devices, args.bandwidth)
    planners = time_planners(g, cluster, args.repeats)
    exact = _bench_exact(g, cluster, args)

    if args.json:
        print(
            json.dumps(
                {
                    "model": g.name,
                    "devices": cluster.name,
                    "bandwidth_mbps": args.bandwidth,
                    "repeats": args.repeats,
                    "planners": planners,
                    "exact": exact,
                },
                indent=1,
            )
        )
        return
    print(f"{g.name} on {cluster.name} at {args.bandwidth:g} Mbps; median of {args.repeats} runs\n")
    print(_table(planners))
    print(f"\nexact search on sub-groups of {cluster.name} (skipped above {args.max_candidates:,} plans)\n")
    print(_table(exact))


if __name__ == "__main__":
    main()
